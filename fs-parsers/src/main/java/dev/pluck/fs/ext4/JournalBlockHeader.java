package dev.pluck.fs.ext4;

/** The 12-byte header of every JBD2 metadata block ("journal_header_t"): magic, type, sequence. */
record JournalBlockHeader(int type, long sequence) {
  static final long MAGIC = 0xC03B3998L;
  static final int DESCRIPTOR = 1;
  static final int COMMIT = 2;
  static final int SUPERBLOCK_V1 = 3;
  static final int SUPERBLOCK_V2 = 4;
  static final int REVOKE = 5;
  static final int SIZE = 12;

  /** The header, or null when the block does not start with the JBD2 magic (the log ends there). */
  static JournalBlockHeader parse(byte[] b) {
    if (b.length < SIZE || be32(b, 0) != MAGIC) {
      return null;
    }
    return new JournalBlockHeader((int) be32(b, 4), be32(b, 8));
  }

  static long be32(byte[] b, int at) {
    return (b[at] & 0xffL) << 24 | (b[at + 1] & 0xffL) << 16 | (b[at + 2] & 0xffL) << 8 | (b[at + 3] & 0xffL);
  }

  static int be16(byte[] b, int at) {
    return (b[at] & 0xff) << 8 | (b[at + 1] & 0xff);
  }
}
