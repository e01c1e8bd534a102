package dev.pluck.fs.ntfs;

import dev.pluck.fs.LittleEndian;
import java.nio.charset.StandardCharsets;

/** $REPARSE_POINT: a tag, and for symlinks and junctions their substitute and print names. */
record ReparsePoint(long tag, String target, boolean relative) {
  static final int TAG = 0x00;
  static final int DATA_LENGTH = 0x04;
  static final int SUBSTITUTE_OFFSET = 0x08;  // within the path buffer
  static final int SUBSTITUTE_LENGTH = 0x0A;
  static final int PRINT_OFFSET = 0x0C;
  static final int PRINT_LENGTH = 0x0E;
  static final int SYMLINK_FLAGS = 0x10;      // symlinks only: 1 = relative
  static final int SYMLINK_PATH_BUFFER = 0x14;
  static final int MOUNT_POINT_PATH_BUFFER = 0x10;

  static final long IO_REPARSE_TAG_MOUNT_POINT = 0xA0000003L;
  static final long IO_REPARSE_TAG_SYMLINK = 0xA000000CL;
  static final long IO_REPARSE_TAG_WOF = 0x80000017L;

  static ReparsePoint parse(byte[] v, String where) throws NtfsCorruptException {
    if (v.length < 8) {
      throw new NtfsCorruptException("$REPARSE_POINT", where, v.length + " bytes");
    }
    long tag = LittleEndian.u32(v, TAG);
    if (tag != IO_REPARSE_TAG_SYMLINK && tag != IO_REPARSE_TAG_MOUNT_POINT) {
      return new ReparsePoint(tag, null, false);
    }
    boolean symlink = tag == IO_REPARSE_TAG_SYMLINK;
    int buffer = symlink ? SYMLINK_PATH_BUFFER : MOUNT_POINT_PATH_BUFFER;
    if (v.length < buffer) {
      throw new NtfsCorruptException("$REPARSE_POINT", where, "link data of " + v.length + " bytes");
    }
    boolean relative = symlink && (LittleEndian.u32(v, SYMLINK_FLAGS) & 1) != 0;
    String print = name(v, buffer, PRINT_OFFSET, PRINT_LENGTH, where);
    String target = print;
    if (target.isEmpty()) {
      target = name(v, buffer, SUBSTITUTE_OFFSET, SUBSTITUTE_LENGTH, where);
      if (target.startsWith("\\??\\")) {
        target = target.substring(4);
      }
    }
    return new ReparsePoint(tag, relative ? target.replace('\\', '/') : target, relative);
  }

  private static String name(byte[] v, int buffer, int offsetField, int lengthField, String where) throws NtfsCorruptException {
    int offset = LittleEndian.u16(v, offsetField);
    int length = LittleEndian.u16(v, lengthField);
    if (buffer + offset + length > v.length || (length & 1) != 0) {
      throw new NtfsCorruptException("$REPARSE_POINT", where, "name of " + length + " bytes at " + offset + " runs past it");
    }
    return new String(v, buffer + offset, length, StandardCharsets.UTF_16LE);
  }

  /** Symlinks and junctions; everything else (WOF, dedup, cloud files) is another kind of reparse point. */
  boolean isLink() {
    return target != null;
  }
}
