package dev.pluck.fs.volume;

/**
 * LVM2's checksum (lib/misc/crc.c): the CRC-32 polynomial, started at 0xf597a6cf and without the
 * final inversion, so it is not java.util.zip.CRC32's value.
 */
final class LvmCrc {
  static final long INITIAL = 0xf597a6cfL;
  private static final int[] TABLE = new int[256];

  static {
    for (int i = 0; i < 256; i++) {
      int c = i;
      for (int k = 0; k < 8; k++) {
        c = (c & 1) != 0 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
      }
      TABLE[i] = c;
    }
  }

  private LvmCrc() {}

  static long of(byte[] b, int at, int length) {
    int crc = (int) INITIAL;
    for (int i = at; i < at + length; i++) {
      crc = TABLE[(crc ^ b[i]) & 0xff] ^ (crc >>> 8);
    }
    return crc & 0xffffffffL;
  }
}
