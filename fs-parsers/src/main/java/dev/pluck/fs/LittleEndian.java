package dev.pluck.fs;

/** Little-endian fields of on-disk structures, bounds-checked by the array. */
public final class LittleEndian {
  private LittleEndian() {}

  public static int u8(byte[] b, int at) {
    return b[at] & 0xff;
  }

  public static int u16(byte[] b, int at) {
    return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8;
  }

  public static long u32(byte[] b, int at) {
    return (b[at] & 0xffL) | (b[at + 1] & 0xffL) << 8 | (b[at + 2] & 0xffL) << 16 | (b[at + 3] & 0xffL) << 24;
  }

  public static long u64(byte[] b, int at) {
    return u32(b, at) | u32(b, at + 4) << 32;
  }
}
