package dev.pluck.fs.ntfs;

import dev.pluck.fs.LittleEndian;
import java.util.ArrayList;
import java.util.List;

/** One entry of $ATTRIBUTE_LIST: which record holds (part of) which attribute. */
record AttributeListEntry(int type, long startVcn, long record, int id) {
  static final int TYPE = 0x00;
  static final int LENGTH = 0x04;
  static final int START_VCN = 0x08;
  static final int RECORD = 0x10;  // 48-bit record number, 16-bit sequence
  static final int ATTRIBUTE_ID = 0x18;

  static List<AttributeListEntry> parse(byte[] v, String where) throws NtfsCorruptException {
    List<AttributeListEntry> out = new ArrayList<>();
    int p = 0;
    while (p + 0x1A <= v.length) {
      int length = LittleEndian.u16(v, p + LENGTH);
      if (length < 0x1A || p + length > v.length) {
        throw new NtfsCorruptException("$ATTRIBUTE_LIST", where, "entry of " + length + " bytes at " + p);
      }
      out.add(new AttributeListEntry((int) LittleEndian.u32(v, p + TYPE), LittleEndian.u64(v, p + START_VCN),
          LittleEndian.u64(v, p + RECORD) & 0xFFFFFFFFFFFFL, LittleEndian.u16(v, p + ATTRIBUTE_ID)));
      p += length;
    }
    return out;
  }
}
