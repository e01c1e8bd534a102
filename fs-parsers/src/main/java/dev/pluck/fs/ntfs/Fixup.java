package dev.pluck.fs.ntfs;

import dev.pluck.fs.LittleEndian;

/**
 * The update sequence array of multi-sector structures (MFT records "FILE", index buffers
 * "INDX"): the last two bytes of every 512-byte stride hold the update sequence number while on
 * disk, the real bytes wait in the array. A stride whose last bytes differ was torn by a partial
 * write.
 */
final class Fixup {
  static final int USA_OFFSET = 0x04;
  static final int USA_COUNT = 0x06;
  static final int STRIDE = 512;

  private Fixup() {}

  /** Restores the real bytes in place; {@code what} names the structure for errors. */
  static void apply(byte[] b, String structure, String where) throws NtfsCorruptException {
    int offset = LittleEndian.u16(b, USA_OFFSET);
    int count = LittleEndian.u16(b, USA_COUNT);
    if (count != b.length / STRIDE + 1 || offset < 8 || offset + 2 * count > b.length || (offset & 1) != 0) {
      throw new NtfsCorruptException(structure, where, "update sequence array of " + count + " at " + offset
          + " does not fit " + b.length + " bytes");
    }
    int usn = LittleEndian.u16(b, offset);
    for (int i = 1; i < count; i++) {
      int end = i * STRIDE - 2;
      if (LittleEndian.u16(b, end) != usn) {
        throw new NtfsCorruptException(structure, where, "torn write: sector " + (i - 1) + " does not end in update sequence "
            + usn);
      }
      b[end] = b[offset + 2 * i];
      b[end + 1] = b[offset + 2 * i + 1];
    }
  }
}
