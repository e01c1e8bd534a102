package dev.pluck.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * A device whose reads are held to a byte rate, so a backup spares the storage a VM runs on.
 * One {@link Rate} may be shared by several devices (a machine's disks): the limit is theirs
 * together. The caller's thread waits before a read is issued; reads in flight are not delayed.
 */
public final class RateLimitedDevice extends ForwardingBlockDevice {
  private final Rate rate;

  public RateLimitedDevice(BlockDevice inner, Rate rate) {
    super(inner);
    this.rate = rate;
  }

  @Override
  public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
    try {
      rate.acquire(dst.remaining());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return CompletableFuture.failedFuture(new BlockDeviceException("interrupted while waiting for the read rate limit", offset,
          dst.remaining(), e));
    }
    return inner.readAsync(offset, dst);
  }

  /** A token bucket of bytes per second; a tenth of a second's worth may be read at once. */
  public static final class Rate {
    private final long bytesPerSecond;
    private final long burst;
    private double tokens;
    private long last = System.nanoTime();

    public Rate(long bytesPerSecond) {
      if (bytesPerSecond <= 0) {
        throw new IllegalArgumentException("a read rate must be positive: " + bytesPerSecond);
      }
      this.bytesPerSecond = bytesPerSecond;
      this.burst = Math.max(1, bytesPerSecond / 10);
      this.tokens = burst;
    }

    public long bytesPerSecond() {
      return bytesPerSecond;
    }

    /** Waits until {@code bytes} may be read (a request larger than the burst waits for its whole size). */
    public void acquire(long bytes) throws InterruptedException {
      long waitNanos;
      synchronized (this) {
        long now = System.nanoTime();
        tokens = Math.min(burst, tokens + (now - last) * 1e-9 * bytesPerSecond);
        last = now;
        tokens -= bytes;  // may go negative: this read is allowed, later ones wait it off
        waitNanos = tokens >= 0 ? 0 : (long) (-tokens / bytesPerSecond * 1e9);
      }
      if (waitNanos > 0) {
        Thread.sleep(waitNanos / 1_000_000, (int) (waitNanos % 1_000_000));
      }
    }
  }
}
