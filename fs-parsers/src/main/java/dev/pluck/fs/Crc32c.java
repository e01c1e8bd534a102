package dev.pluck.fs;

import java.util.zip.CRC32C;

/**
 * CRC-32C as ext4 and JBD2 chain it: {@code crc32c(seed, bytes)} without the final inversion,
 * where the seed is often the checksum of something else (the filesystem UUID, an inode number).
 *
 * <p>The JDK's {@link CRC32C} (hardware accelerated) always starts from ~0 and inverts its
 * result. Any other seed is reached by first feeding four bytes chosen so that the register
 * goes from ~0 to the seed: four bytes pass through an invertible linear map, so such bytes
 * always exist and are found by running the register's 32 shifts backwards.
 */
public final class Crc32c {
  /** The reflected Castagnoli polynomial. */
  private static final int POLY = 0x82F63B78;
  /** The register's starting value in ext4's {@code ext4_chksum(sbi, ~0, ...)}. */
  public static final int INITIAL = ~0;

  private Crc32c() {}

  /** Continues a raw CRC-32C register {@code seed} over {@code b[from, to)}. */
  public static int update(int seed, byte[] b, int from, int to) {
    CRC32C crc = new CRC32C();
    if (seed != INITIAL) {
      crc.update(bytesLeading(INITIAL, seed));
    }
    crc.update(b, from, to - from);
    return ~(int) crc.getValue();
  }

  public static int update(int seed, byte[] b) {
    return update(seed, b, 0, b.length);
  }

  /** A running CRC from any seed, for checksums over several pieces without copying them together. */
  public static final class Running {
    private final CRC32C crc = new CRC32C();

    public Running(int seed) {
      if (seed != INITIAL) {
        crc.update(bytesLeading(INITIAL, seed));
      }
    }

    public Running update(byte[] b, int from, int to) {
      crc.update(b, from, to - from);
      return this;
    }

    public Running updateLe32(long value) {
      for (int i = 0; i < 4; i++) {
        crc.update((int) (value >>> (8 * i)) & 0xff);
      }
      return this;
    }

    /** Continues over {@code n} zero bytes (a checksum field left out of its own sum). */
    public Running zeros(int n) {
      for (int i = 0; i < n; i++) {
        crc.update(0);
      }
      return this;
    }

    /** The raw register, as {@link #update(int, byte[])} returns it. */
    public int value() {
      return ~(int) crc.getValue();
    }
  }

  /** Continues {@code seed} over a 32-bit little-endian value (an inode number, a group). */
  public static int updateLe32(int seed, long value) {
    return update(seed, new byte[] {(byte) value, (byte) (value >> 8), (byte) (value >> 16), (byte) (value >> 24)});
  }

  /** Continues {@code seed} over a 32-bit big-endian value (JBD2's sequence numbers). */
  public static int updateBe32(int seed, long value) {
    return update(seed, new byte[] {(byte) (value >> 24), (byte) (value >> 16), (byte) (value >> 8), (byte) value});
  }

  /** Four bytes that take the register from {@code from} to {@code to}. */
  private static byte[] bytesLeading(int from, int to) {
    int r = to;
    for (int i = 0; i < 32; i++) {  // undo the 32 shifts of four bytes
      r = (r & 0x80000000) != 0 ? ((r ^ POLY) << 1) | 1 : r << 1;
    }
    int x = r ^ from;  // the register was xor-ed with the bytes, little end first
    return new byte[] {(byte) x, (byte) (x >> 8), (byte) (x >> 16), (byte) (x >> 24)};
  }
}
