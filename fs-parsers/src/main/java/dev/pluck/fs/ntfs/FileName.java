package dev.pluck.fs.ntfs;

import dev.pluck.fs.LittleEndian;

/** $FILE_NAME (in a record, and as the key of a directory index entry). */
record FileName(long parent, long dataSize, long flags, int namespace, String name) {
  static final int PARENT = 0x00;         // 48-bit record number, 16-bit sequence
  static final int REAL_SIZE = 0x30;
  static final int FLAGS = 0x38;
  static final int NAME_LENGTH = 0x40;    // UTF-16 units
  static final int NAMESPACE = 0x41;      // 0 POSIX, 1 Win32, 2 DOS, 3 Win32 and DOS
  static final int NAME = 0x42;
  static final int DOS = 2;

  static FileName parse(byte[] b, int at, int end, String where) throws NtfsCorruptException {
    if (at + NAME > end) {
      throw new NtfsCorruptException("$FILE_NAME", where, "shorter than its header");
    }
    int length = LittleEndian.u8(b, at + NAME_LENGTH);
    if (at + NAME + 2 * length > end) {
      throw new NtfsCorruptException("$FILE_NAME", where, "name of " + length + " characters runs past it");
    }
    return new FileName(LittleEndian.u64(b, at + PARENT) & 0xFFFFFFFFFFFFL, LittleEndian.u64(b, at + REAL_SIZE),
        LittleEndian.u32(b, at + FLAGS), LittleEndian.u8(b, at + NAMESPACE),
        Utf16.decode(b, at + NAME, length));
  }

  /** Whether the $FILE_NAME value {@code v} is a DOS 8.3 name only, without decoding it. */
  static boolean dosOnly(byte[] v) {
    return v.length > NAMESPACE && LittleEndian.u8(v, NAMESPACE) == DOS;
  }

  boolean dosOnly() {
    return namespace == DOS;
  }
}
