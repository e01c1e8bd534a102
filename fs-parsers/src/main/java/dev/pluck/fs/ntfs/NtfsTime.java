package dev.pluck.fs.ntfs;

import java.time.Instant;

/** NTFS timestamps: 100-nanosecond intervals since 1601-01-01 UTC. */
final class NtfsTime {
  /** Seconds from 1601-01-01 to 1970-01-01. */
  static final long EPOCH_DIFFERENCE = 11_644_473_600L;

  private NtfsTime() {}

  static Instant of(long ticks) {
    long seconds = Math.floorDiv(ticks, 10_000_000L) - EPOCH_DIFFERENCE;
    long nanos = Math.floorMod(ticks, 10_000_000L) * 100;
    return Instant.ofEpochSecond(seconds, nanos);
  }
}
