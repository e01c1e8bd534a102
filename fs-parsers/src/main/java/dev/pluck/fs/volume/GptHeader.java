package dev.pluck.fs.volume;

import java.util.zip.CRC32;

/** The GPT header (UEFI spec, table "GPT Header"), at LBA 1 and, as a backup, at the last LBA. */
record GptHeader(long myLba, long alternateLba, long firstUsableLba, long lastUsableLba, String diskGuid,
    long entriesLba, long entryCount, long entrySize, long entriesCrc) {
  /** "EFI PART". */
  static final String SIGNATURE = "EFI PART";
  static final int HEADER_SIZE = 12;      // u32: bytes of the header covered by its CRC
  static final int HEADER_CRC = 16;       // u32: CRC32 of the header with this field zeroed
  static final int MY_LBA = 24;           // u64
  static final int ALTERNATE_LBA = 32;    // u64
  static final int FIRST_USABLE = 40;     // u64
  static final int LAST_USABLE = 48;      // u64
  static final int DISK_GUID = 56;        // 16 bytes
  static final int ENTRIES_LBA = 72;      // u64
  static final int ENTRY_COUNT = 80;      // u32
  static final int ENTRY_SIZE = 84;       // u32
  static final int ENTRIES_CRC = 88;      // u32
  /** At most this many entries are read (the spec's minimum array is 128; real disks use 128). */
  static final long MAX_ENTRIES = 16384;

  /** Parses and verifies the header in {@code sector} read at byte {@code at}. */
  static GptHeader parse(byte[] sector, long at) throws CorruptStructureException {
    if (!Bytes.ascii(sector, 0, SIGNATURE)) {
      throw new CorruptStructureException("GPT header", at, "no \"EFI PART\" signature");
    }
    long size = Bytes.u32(sector, HEADER_SIZE);
    if (size < 92 || size > sector.length) {
      throw new CorruptStructureException("GPT header", at, "header size " + size + " out of range");
    }
    byte[] copy = java.util.Arrays.copyOf(sector, (int) size);
    copy[HEADER_CRC] = copy[HEADER_CRC + 1] = copy[HEADER_CRC + 2] = copy[HEADER_CRC + 3] = 0;
    CRC32 crc = new CRC32();
    crc.update(copy);
    if (crc.getValue() != Bytes.u32(sector, HEADER_CRC)) {
      throw new CorruptStructureException("GPT header", at, "CRC32 mismatch (stored " + Long.toHexString(Bytes.u32(sector, HEADER_CRC))
          + ", computed " + Long.toHexString(crc.getValue()) + ")");
    }
    long count = Bytes.u32(sector, ENTRY_COUNT);
    long entrySize = Bytes.u32(sector, ENTRY_SIZE);
    if (entrySize < 128 || entrySize % 8 != 0 || entrySize > 4096 || count > MAX_ENTRIES) {
      throw new CorruptStructureException("GPT header", at, "entry array of " + count + " entries of " + entrySize + " bytes");
    }
    return new GptHeader(Bytes.u64(sector, MY_LBA), Bytes.u64(sector, ALTERNATE_LBA), Bytes.u64(sector, FIRST_USABLE),
        Bytes.u64(sector, LAST_USABLE), Bytes.guid(sector, DISK_GUID), Bytes.u64(sector, ENTRIES_LBA), count, entrySize,
        Bytes.u32(sector, ENTRIES_CRC));
  }
}
