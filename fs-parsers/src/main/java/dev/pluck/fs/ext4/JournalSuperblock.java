package dev.pluck.fs.ext4;

import dev.pluck.fs.Crc32c;

/** The JBD2 journal superblock ("journal_superblock_t"): block 0 of the journal, big-endian. */
record JournalSuperblock(int blockSize, long maxLen, long first, long sequence, long start, long incompat,
    byte[] uuid, boolean checksumValid) {
  static final int S_BLOCKSIZE = 0xC;
  static final int S_MAXLEN = 0x10;        // blocks in the journal
  static final int S_FIRST = 0x14;         // first block of the log
  static final int S_SEQUENCE = 0x18;      // first commit id expected in the log
  static final int S_START = 0x1C;         // block of the log's start; 0: the journal is empty
  static final int S_FEATURE_INCOMPAT = 0x28;
  static final int S_UUID = 0x30;
  static final int S_CHECKSUM = 0xFC;      // crc32c(~0, superblock) with v2/v3 checksums

  static final long INCOMPAT_REVOKE = 0x1;
  static final long INCOMPAT_64BIT = 0x2;
  static final long INCOMPAT_ASYNC_COMMIT = 0x4;
  static final long INCOMPAT_CSUM_V2 = 0x8;
  static final long INCOMPAT_CSUM_V3 = 0x10;
  static final long INCOMPAT_FAST_COMMIT = 0x20;
  static final long INCOMPAT_KNOWN = INCOMPAT_REVOKE | INCOMPAT_64BIT | INCOMPAT_ASYNC_COMMIT | INCOMPAT_CSUM_V2
      | INCOMPAT_CSUM_V3 | INCOMPAT_FAST_COMMIT;

  static JournalSuperblock parse(byte[] b, String where) throws Ext4CorruptException {
    JournalBlockHeader h = JournalBlockHeader.parse(b);
    if (h == null || (h.type() != JournalBlockHeader.SUPERBLOCK_V1 && h.type() != JournalBlockHeader.SUPERBLOCK_V2)) {
      throw new Ext4CorruptException("journal superblock", where, "no JBD2 superblock magic");
    }
    boolean v2 = h.type() == JournalBlockHeader.SUPERBLOCK_V2;
    long incompat = v2 ? JournalBlockHeader.be32(b, S_FEATURE_INCOMPAT) : 0;
    if ((incompat & ~INCOMPAT_KNOWN) != 0) {
      throw new Ext4CorruptException("journal superblock", where, "unknown incompatible features 0x" + Long.toHexString(incompat));
    }
    int blockSize = (int) JournalBlockHeader.be32(b, S_BLOCKSIZE);
    long maxLen = JournalBlockHeader.be32(b, S_MAXLEN);
    long first = JournalBlockHeader.be32(b, S_FIRST);
    long start = JournalBlockHeader.be32(b, S_START);
    if (first < 1 || first >= maxLen || (start != 0 && (start < first || start >= maxLen))) {
      throw new Ext4CorruptException("journal superblock", where, "log blocks " + first + ".." + maxLen + " starting at " + start);
    }
    boolean valid = true;
    if ((incompat & (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3)) != 0) {
      byte[] copy = java.util.Arrays.copyOf(b, 1024);
      java.util.Arrays.fill(copy, S_CHECKSUM, S_CHECKSUM + 4, (byte) 0);
      valid = Crc32c.update(Crc32c.INITIAL, copy) == (int) JournalBlockHeader.be32(b, S_CHECKSUM);
    }
    return new JournalSuperblock(blockSize, maxLen, first, JournalBlockHeader.be32(b, S_SEQUENCE), start, incompat,
        java.util.Arrays.copyOfRange(b, S_UUID, S_UUID + 16), valid);
  }

  boolean has(long flag) {
    return (incompat & flag) != 0;
  }

  boolean checksums() {
    return has(INCOMPAT_CSUM_V2) || has(INCOMPAT_CSUM_V3);
  }

  /** Bytes of one block tag in a descriptor block ("journal_tag_bytes" in the kernel). */
  int tagBytes() {
    if (has(INCOMPAT_CSUM_V3)) {
      return 16;
    }
    int size = 12 + (has(INCOMPAT_CSUM_V2) ? 2 : 0);
    return has(INCOMPAT_64BIT) ? size : size - 4;
  }
}
