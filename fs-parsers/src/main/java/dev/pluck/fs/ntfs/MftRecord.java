package dev.pluck.fs.ntfs;

import dev.pluck.fs.LittleEndian;
import java.util.ArrayList;
import java.util.List;

/** One MFT record ("FILE"): header fields and its attributes, after the fixup. */
record MftRecord(long number, int sequence, int linkCount, int flags, long baseRecord, List<AttributeRecord> attributes) {
  static final int SEQUENCE = 0x10;
  static final int LINK_COUNT = 0x12;
  static final int FIRST_ATTRIBUTE = 0x14;
  static final int FLAGS = 0x16;           // 0x1 in use, 0x2 directory
  static final int BYTES_USED = 0x18;
  static final int BYTES_ALLOCATED = 0x1C;
  static final int BASE_RECORD = 0x20;     // 48-bit record number, 16-bit sequence; 0 for a base record

  static final int IN_USE = 0x1;
  static final int DIRECTORY = 0x2;
  /** Attributes one record can hold (each is at least 24 bytes of at most 64 KiB). */
  static final int MAX_ATTRIBUTES = 65536 / 24;

  boolean inUse() {
    return (flags & IN_USE) != 0;
  }

  boolean isDirectory() {
    return (flags & DIRECTORY) != 0;
  }

  static MftRecord parse(long number, byte[] b, long clusters) throws NtfsCorruptException {
    String where = "record " + number;
    if (b[0] != 'F' || b[1] != 'I' || b[2] != 'L' || b[3] != 'E') {
      throw new NtfsCorruptException("MFT record", "" + number, "no FILE signature");
    }
    Fixup.apply(b, "MFT record", "" + number);
    long used = LittleEndian.u32(b, BYTES_USED);
    int first = LittleEndian.u16(b, FIRST_ATTRIBUTE);
    if (used > b.length || used < first || first < 0x30 || (first & 7) != 0) {
      throw new NtfsCorruptException("MFT record", "" + number, used + " bytes used, first attribute at " + first);
    }
    List<AttributeRecord> attributes = new ArrayList<>();
    int at = first;
    while (true) {
      AttributeRecord a = AttributeRecord.parse(b, at, (int) used, number, clusters, where);
      if (a == null) {
        break;
      }
      attributes.add(a);
      at += (int) LittleEndian.u32(b, at + AttributeRecord.LENGTH);
      if (attributes.size() > MAX_ATTRIBUTES) {
        throw new NtfsCorruptException("MFT record", "" + number, "more than " + MAX_ATTRIBUTES + " attributes");
      }
    }
    return new MftRecord(number, LittleEndian.u16(b, SEQUENCE), LittleEndian.u16(b, LINK_COUNT), LittleEndian.u16(b, FLAGS),
        LittleEndian.u64(b, BASE_RECORD) & 0xFFFFFFFFFFFFL, attributes);
  }
}
