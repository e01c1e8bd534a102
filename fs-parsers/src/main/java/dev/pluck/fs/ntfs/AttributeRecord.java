package dev.pluck.fs.ntfs;

import dev.pluck.fs.LittleEndian;
import java.util.List;

/**
 * One attribute of an MFT record ("ATTR_RECORD"): type, name and flags, then either the value
 * itself (resident) or where its clusters are (non-resident: a VCN range and its runlist, and on
 * the first piece the sizes).
 */
record AttributeRecord(int type, String name, int flags, int id, long record, byte[] value, long startVcn, long endVcn,
    List<DataRun> runs, int compressionUnit, long allocatedSize, long dataSize, long initializedSize) {
  static final int TYPE = 0x00;
  static final int LENGTH = 0x04;
  static final int NON_RESIDENT = 0x08;
  static final int NAME_LENGTH = 0x09;   // UTF-16 units
  static final int NAME_OFFSET = 0x0A;
  static final int FLAGS = 0x0C;
  static final int ATTRIBUTE_ID = 0x0E;
  static final int VALUE_LENGTH = 0x10;  // resident
  static final int VALUE_OFFSET = 0x14;  // resident
  static final int START_VCN = 0x10;     // non-resident
  static final int END_VCN = 0x18;
  static final int RUNLIST_OFFSET = 0x20;
  static final int COMPRESSION_UNIT = 0x22;  // log2 of clusters per compression unit
  static final int ALLOCATED_SIZE = 0x28;
  static final int DATA_SIZE = 0x30;
  static final int INITIALIZED_SIZE = 0x38;

  static final int END_MARKER = 0xFFFFFFFF;
  static final int STANDARD_INFORMATION = 0x10;
  static final int ATTRIBUTE_LIST = 0x20;
  static final int FILE_NAME = 0x30;
  static final int SECURITY_DESCRIPTOR = 0x50;
  static final int DATA = 0x80;
  static final int INDEX_ROOT = 0x90;
  static final int INDEX_ALLOCATION = 0xA0;
  static final int BITMAP = 0xB0;
  static final int REPARSE_POINT = 0xC0;
  static final int EA = 0xE0;

  static final int FLAG_COMPRESSED = 0x0001;
  static final int FLAG_ENCRYPTED = 0x4000;
  static final int FLAG_SPARSE = 0x8000;

  /** The largest resident value or attribute read: an MFT record holds at most 64 KiB. */
  static final int MAX_LENGTH = 65536;

  boolean resident() {
    return runs == null;
  }

  /** Parses the attribute at {@code at} of a fixed-up record; returns null at the end marker. */
  static AttributeRecord parse(byte[] b, int at, int end, long record, long clusters, String where) throws NtfsCorruptException {
    if (at + 4 > end) {
      throw new NtfsCorruptException("attribute", where, "runs past the record's used bytes at " + at);
    }
    int type = (int) LittleEndian.u32(b, at + TYPE);
    if (type == END_MARKER) {
      return null;
    }
    if (at + 0x18 > end) {
      throw new NtfsCorruptException("attribute", where, "header at " + at + " runs past the record");
    }
    long length = LittleEndian.u32(b, at + LENGTH);
    if (length < 0x18 || at + length > end || (length & 7) != 0) {
      throw new NtfsCorruptException("attribute", where, "type 0x" + Integer.toHexString(type) + " at " + at + " of length " + length);
    }
    int stop = (int) (at + length);
    boolean nonResident = b[at + NON_RESIDENT] != 0;
    int nameLength = LittleEndian.u8(b, at + NAME_LENGTH);
    int nameOffset = LittleEndian.u16(b, at + NAME_OFFSET);
    if (nameLength > 0 && at + nameOffset + 2 * nameLength > stop) {
      throw new NtfsCorruptException("attribute", where, "name runs past the attribute at " + at);
    }
    String name = nameLength == 0 ? "" : Utf16.decode(b, at + nameOffset, nameLength);
    int flags = LittleEndian.u16(b, at + FLAGS);
    int id = LittleEndian.u16(b, at + ATTRIBUTE_ID);
    String self = where + " attribute 0x" + Integer.toHexString(type) + (name.isEmpty() ? "" : " \"" + name + "\"");
    if (!nonResident) {
      long valueLength = LittleEndian.u32(b, at + VALUE_LENGTH);
      int valueOffset = LittleEndian.u16(b, at + VALUE_OFFSET);
      if (at + valueOffset + valueLength > stop) {
        throw new NtfsCorruptException("resident attribute", self, "value of " + valueLength + " bytes at " + valueOffset
            + " runs past its " + length + " bytes");
      }
      byte[] value = java.util.Arrays.copyOfRange(b, at + valueOffset, (int) (at + valueOffset + valueLength));
      return new AttributeRecord(type, name, flags, id, record, value, 0, 0, null, 0, valueLength, valueLength, valueLength);
    }
    if (length < 0x40) {
      throw new NtfsCorruptException("non-resident attribute", self, "header of " + length + " bytes");
    }
    long startVcn = LittleEndian.u64(b, at + START_VCN);
    long endVcn = LittleEndian.u64(b, at + END_VCN);
    int runlist = LittleEndian.u16(b, at + RUNLIST_OFFSET);
    long allocated = LittleEndian.u64(b, at + ALLOCATED_SIZE);
    long data = LittleEndian.u64(b, at + DATA_SIZE);
    long initialized = LittleEndian.u64(b, at + INITIALIZED_SIZE);
    if (startVcn < 0 || endVcn < startVcn - 1 || endVcn > clusters || runlist < 0x40 || at + runlist > stop
        || data < 0 || allocated < 0 || initialized < 0 || initialized > data) {
      throw new NtfsCorruptException("non-resident attribute", self, "VCNs " + startVcn + ".." + endVcn + ", runlist at "
          + runlist + ", sizes " + allocated + "/" + data + "/" + initialized);
    }
    List<DataRun> runs = DataRun.decode(b, at + runlist, stop, startVcn, clusters, self);
    int unit = LittleEndian.u16(b, at + COMPRESSION_UNIT);
    if (unit > 16) {
      throw new NtfsCorruptException("non-resident attribute", self, "compression unit 2^" + unit);
    }
    return new AttributeRecord(type, name, flags, id, record, null, startVcn, endVcn, runs, unit, allocated, data, initialized);
  }
}
