package dev.pluck.fs.volume;

import dev.pluck.fs.LittleEndian;
import java.nio.charset.StandardCharsets;

/** Little-endian field access on on-disk structures, bounds-checked by the array. */
final class Bytes {
  private Bytes() {}

  static int u8(byte[] b, int at) {
    return LittleEndian.u8(b, at);
  }

  static int u16(byte[] b, int at) {
    return LittleEndian.u16(b, at);
  }

  static long u32(byte[] b, int at) {
    return LittleEndian.u32(b, at);
  }

  static long u64(byte[] b, int at) {
    return LittleEndian.u64(b, at);
  }

  static boolean ascii(byte[] b, int at, String s) {
    if (at < 0 || at + s.length() > b.length) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      if (b[at + i] != (byte) s.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  /** A NUL- or space-padded string field, trimmed. */
  static String string(byte[] b, int at, int length) {
    int end = at;
    while (end < at + length && b[end] != 0) {
      end++;
    }
    return new String(b, at, end - at, StandardCharsets.UTF_8).strip();
  }

  /** Bytes as an RFC 4122 UUID string, in the order they are stored (ext4, XFS, btrfs, swap). */
  static String uuid(byte[] b, int at) {
    StringBuilder s = new StringBuilder(36);
    for (int i = 0; i < 16; i++) {
      if (i == 4 || i == 6 || i == 8 || i == 10) {
        s.append('-');
      }
      s.append(String.format("%02x", b[at + i] & 0xff));
    }
    return s.toString();
  }

  /** A GUID as Microsoft stores it: the first three fields little-endian (GPT). */
  static String guid(byte[] b, int at) {
    return String.format("%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X", u32(b, at), u16(b, at + 4), u16(b, at + 6),
        b[at + 8] & 0xff, b[at + 9] & 0xff, b[at + 10] & 0xff, b[at + 11] & 0xff, b[at + 12] & 0xff, b[at + 13] & 0xff,
        b[at + 14] & 0xff, b[at + 15] & 0xff);
  }

  static boolean allZero(byte[] b, int at, int length) {
    for (int i = at; i < at + length; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }
}
