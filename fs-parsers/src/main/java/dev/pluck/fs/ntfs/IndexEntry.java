package dev.pluck.fs.ntfs;

import dev.pluck.fs.LittleEndian;
import java.util.ArrayList;
import java.util.List;

/** An entry of a directory index node: the file it names (a $FILE_NAME key) and the child node before it. */
record IndexEntry(long record, FileName key, long subnodeVcn, boolean last) {
  static final int FILE_REFERENCE = 0x00;
  static final int LENGTH = 0x08;
  static final int KEY_LENGTH = 0x0A;
  static final int FLAGS = 0x0C;
  static final int KEY = 0x10;
  static final int HAS_SUBNODE = 0x1;
  static final int LAST = 0x2;

  /** Index header: offsets relative to the header itself. */
  static final int FIRST_ENTRY = 0x00;
  static final int TOTAL_SIZE = 0x04;

  /** The entries of the node whose index header is at {@code header}. */
  static List<IndexEntry> node(byte[] b, int header, int limit, String where) throws NtfsCorruptException {
    long first = LittleEndian.u32(b, header + FIRST_ENTRY);
    long total = LittleEndian.u32(b, header + TOTAL_SIZE);
    if (first < 0x10 || total > limit - header || first >= total) {
      throw new NtfsCorruptException("index node", where, "entries at " + first + " of " + total + " bytes");
    }
    int end = (int) (header + total);
    List<IndexEntry> out = new ArrayList<>();
    int p = (int) (header + first);
    while (true) {
      if (p + KEY > end) {
        throw new NtfsCorruptException("index entry", where, "runs past its node at " + p);
      }
      int length = LittleEndian.u16(b, p + LENGTH);
      int keyLength = LittleEndian.u16(b, p + KEY_LENGTH);
      int flags = LittleEndian.u16(b, p + FLAGS);
      boolean sub = (flags & HAS_SUBNODE) != 0;
      if (length < KEY + (sub ? 8 : 0) || p + length > end || KEY + keyLength > length || (length & 7) != 0) {
        throw new NtfsCorruptException("index entry", where, "of " + length + " bytes with a key of " + keyLength + " at " + p);
      }
      long vcn = sub ? LittleEndian.u64(b, p + length - 8) : -1;
      boolean last = (flags & LAST) != 0;
      FileName key = last ? null : FileName.parse(b, p + KEY, p + KEY + keyLength, where);
      out.add(new IndexEntry(LittleEndian.u64(b, p + FILE_REFERENCE) & 0xFFFFFFFFFFFFL, key, vcn, last));
      if (last) {
        return out;
      }
      p += length;
    }
  }
}
