package dev.pluck.fs.ntfs;

/** NTFS names: UTF-16LE as stored (unpaired surrogates kept, as Windows keeps them), decoded without a charset decoder per name. */
final class Utf16 {
  private Utf16() {}

  static String decode(byte[] b, int at, int units) {
    char[] c = new char[units];
    for (int i = 0; i < units; i++) {
      c[i] = (char) ((b[at + 2 * i] & 0xff) | (b[at + 2 * i + 1] & 0xff) << 8);
    }
    return new String(c);
  }
}
