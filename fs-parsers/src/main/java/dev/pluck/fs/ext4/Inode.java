package dev.pluck.fs.ext4;

import dev.pluck.fs.Crc32c;
import dev.pluck.fs.LittleEndian;

import java.time.Instant;

/** An ext4 inode ("struct ext4_inode"), parsed from its on-disk bytes. */
record Inode(long number, int mode, long uid, long gid, long size, long linksCount, long flags, long fileAcl, long generation,
    Instant atime, Instant mtime, Instant ctime, Instant crtime, byte[] block, byte[] raw, int extraIsize) {
  static final int I_MODE = 0x0;
  static final int I_UID = 0x2;
  static final int I_SIZE_LO = 0x4;
  static final int I_ATIME = 0x8;
  static final int I_CTIME = 0xC;
  static final int I_MTIME = 0x10;
  static final int I_GID = 0x18;
  static final int I_LINKS_COUNT = 0x1A;
  static final int I_FLAGS = 0x20;
  static final int I_BLOCK = 0x28;        // 60 bytes: extent tree root, block map, inline data or fast symlink
  static final int I_GENERATION = 0x64;
  static final int I_FILE_ACL_LO = 0x68;
  static final int I_SIZE_HIGH = 0x6C;
  static final int I_FILE_ACL_HIGH = 0x76;
  static final int I_UID_HIGH = 0x78;
  static final int I_CHECKSUM_LO = 0x7C;  // with metadata_csum: crc32c(seed, number, generation, inode)
  static final int I_CHECKSUM_HI = 0x82;  // the upper half, when the extra fields reach it
  static final int I_GID_HIGH = 0x7A;
  static final int I_EXTRA_ISIZE = 0x80;
  static final int I_CTIME_EXTRA = 0x84;
  static final int I_MTIME_EXTRA = 0x88;
  static final int I_ATIME_EXTRA = 0x8C;
  static final int I_CRTIME = 0x90;
  static final int I_CRTIME_EXTRA = 0x94;

  static final long EXT4_EXTENTS_FL = 0x80000;
  static final long EXT4_INLINE_DATA_FL = 0x10000000;
  static final long EXT4_INDEX_FL = 0x1000;
  static final long EXT4_ENCRYPT_FL = 0x800;
  static final long EXT4_CASEFOLD_FL = 0x40000000;
  static final long EXT4_EA_INODE_FL = 0x200000;  // the inode holds one xattr's value (ea_inode)

  static final int S_IFMT = 0xF000;
  static final int S_IFSOCK = 0xC000;
  static final int S_IFLNK = 0xA000;
  static final int S_IFREG = 0x8000;
  static final int S_IFBLK = 0x6000;
  static final int S_IFDIR = 0x4000;
  static final int S_IFCHR = 0x2000;
  static final int S_IFIFO = 0x1000;

  static Inode parse(long number, byte[] b) {
    int extra = b.length > 128 ? LittleEndian.u16(b, I_EXTRA_ISIZE) : 0;
    if (128 + extra > b.length) {
      extra = 0;  // a corrupt extra size: use the base fields only
    }
    boolean hasExtra = extra >= 4 + 4 * 4;
    long size = LittleEndian.u32(b, I_SIZE_LO) | LittleEndian.u32(b, I_SIZE_HIGH) << 32;
    byte[] block = java.util.Arrays.copyOfRange(b, I_BLOCK, I_BLOCK + 60);
    return new Inode(number, LittleEndian.u16(b, I_MODE), LittleEndian.u16(b, I_UID) | (long) LittleEndian.u16(b, I_UID_HIGH) << 16,
        LittleEndian.u16(b, I_GID) | (long) LittleEndian.u16(b, I_GID_HIGH) << 16, size, LittleEndian.u16(b, I_LINKS_COUNT), LittleEndian.u32(b, I_FLAGS),
        LittleEndian.u32(b, I_FILE_ACL_LO) | (long) LittleEndian.u16(b, I_FILE_ACL_HIGH) << 32, LittleEndian.u32(b, I_GENERATION),
        time(b, I_ATIME, hasExtra && extra >= 0x10 ? I_ATIME_EXTRA : -1),
        time(b, I_MTIME, hasExtra && extra >= 0xC ? I_MTIME_EXTRA : -1),
        time(b, I_CTIME, hasExtra && extra >= 0x8 ? I_CTIME_EXTRA : -1),
        extra >= 0x18 ? time(b, I_CRTIME, I_CRTIME_EXTRA) : null, block, b, extra);
  }

  /**
   * Seconds are a signed 32-bit field; the extra field adds two epoch bits (years past 2038) and
   * nanoseconds in its upper 30 bits.
   */
  private static Instant time(byte[] b, int at, int extraAt) {
    long seconds = (int) LittleEndian.u32(b, at);
    long nanos = 0;
    if (extraAt >= 0 && extraAt + 4 <= b.length) {
      long extra = LittleEndian.u32(b, extraAt);
      seconds += (extra & 3) << 32;
      nanos = extra >>> 2;
      if (nanos > 999_999_999) {
        nanos = 0;
      }
    }
    return Instant.ofEpochSecond(seconds, nanos);
  }

  /** The seed of the checksums of this inode and of the blocks it owns (extent and directory blocks). */
  int checksumSeed(int fsSeed) {
    return Crc32c.updateLe32(Crc32c.updateLe32(fsSeed, number), generation);
  }

  /** Whether the stored checksum matches, over the whole on-disk inode with its checksum fields as zeros. */
  boolean checksumValid(int fsSeed) {
    boolean hi = extraIsize >= 4;
    Crc32c.Running crc = new Crc32c.Running(fsSeed).updateLe32(number).updateLe32(generation)
        .update(raw, 0, I_CHECKSUM_LO).zeros(2);
    if (hi) {
      crc.update(raw, I_CHECKSUM_LO + 2, I_CHECKSUM_HI).zeros(2).update(raw, I_CHECKSUM_HI + 2, raw.length);
    } else {
      crc.update(raw, I_CHECKSUM_LO + 2, raw.length);
    }
    long stored = LittleEndian.u16(raw, I_CHECKSUM_LO) | (hi ? (long) LittleEndian.u16(raw, I_CHECKSUM_HI) << 16 : 0);
    int value = crc.value();
    return hi ? (value & 0xFFFFFFFFL) == stored : (value & 0xFFFF) == stored;
  }

  int fileType() {
    return mode & S_IFMT;
  }

  boolean has(long flag) {
    return (flags & flag) != 0;
  }
}
