package dev.pluck.fs.ext4;

import dev.pluck.fs.Crc32c;
import dev.pluck.fs.LittleEndian;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The ext4 superblock (1024 bytes at byte 1024), with the fields pluck uses. */
record Superblock(long inodesCount, long blocksCount, long freeBlocks, long firstDataBlock, int blockSize,
    long blocksPerGroup, long inodesPerGroup, int inodeSize, long compat, long incompat, long roCompat,
    String uuid, String label, int descSize, long firstMetaBg, int clusterSize, long journalInode, int checksumSeed,
    boolean checksumValid, long[] backupGroups, int groupNumber, int reservedGdtBlocks) {
  static final int OFFSET = 1024;
  static final int S_INODES_COUNT = 0x0;
  static final int S_BLOCKS_COUNT_LO = 0x4;
  static final int S_FREE_BLOCKS_COUNT_LO = 0xC;
  static final int S_FIRST_DATA_BLOCK = 0x14;
  static final int S_LOG_BLOCK_SIZE = 0x18;
  static final int S_LOG_CLUSTER_SIZE = 0x1C;
  static final int S_BLOCKS_PER_GROUP = 0x20;
  static final int S_CLUSTERS_PER_GROUP = 0x24;
  static final int S_INODES_PER_GROUP = 0x28;
  static final int S_MAGIC = 0x38;
  static final int S_BLOCK_GROUP_NR = 0x5A;  // which group's copy this is
  static final int S_REV_LEVEL = 0x4C;
  static final int S_INODE_SIZE = 0x58;
  static final int S_FEATURE_COMPAT = 0x5C;
  static final int S_FEATURE_INCOMPAT = 0x60;
  static final int S_FEATURE_RO_COMPAT = 0x64;
  static final int S_UUID = 0x68;
  static final int S_VOLUME_NAME = 0x78;
  static final int S_RESERVED_GDT_BLOCKS = 0xCE;  // descriptor blocks kept for growth (resize_inode)
  static final int S_JOURNAL_INUM = 0xE0;
  static final int S_DESC_SIZE = 0xFE;
  static final int S_FIRST_META_BG = 0x104;
  static final int S_BLOCKS_COUNT_HI = 0x150;
  static final int S_FREE_BLOCKS_HI = 0x158;
  static final int S_CHECKSUM_TYPE = 0x175;  // 1: crc32c
  static final int S_BACKUP_BGS = 0x24C;     // sparse_super2: the two groups with backups
  static final int S_CHECKSUM_SEED = 0x270;  // crc32c(~0, uuid), stored when csum_seed is set
  static final int S_CHECKSUM = 0x3FC;       // crc32c of the 1020 bytes before it

  static final long COMPAT_HAS_JOURNAL = 0x4;
  static final long COMPAT_RESIZE_INODE = 0x10;
  static final long COMPAT_SPARSE_SUPER2 = 0x200;

  static final long INCOMPAT_COMPRESSION = 0x1;
  static final long INCOMPAT_FILETYPE = 0x2;
  static final long INCOMPAT_RECOVER = 0x4;
  static final long INCOMPAT_JOURNAL_DEV = 0x8;
  static final long INCOMPAT_META_BG = 0x10;
  static final long INCOMPAT_EXTENTS = 0x40;
  static final long INCOMPAT_64BIT = 0x80;
  static final long INCOMPAT_MMP = 0x100;
  static final long INCOMPAT_FLEX_BG = 0x200;
  static final long INCOMPAT_EA_INODE = 0x400;
  static final long INCOMPAT_DIRDATA = 0x1000;
  static final long INCOMPAT_CSUM_SEED = 0x2000;
  static final long INCOMPAT_LARGEDIR = 0x4000;
  static final long INCOMPAT_INLINE_DATA = 0x8000;
  static final long INCOMPAT_ENCRYPT = 0x10000;
  static final long INCOMPAT_CASEFOLD = 0x20000;
  /** What this reader understands; anything else is refused by name. */
  static final long INCOMPAT_SUPPORTED = INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_EXTENTS | INCOMPAT_64BIT
      | INCOMPAT_MMP | INCOMPAT_FLEX_BG | INCOMPAT_CSUM_SEED | INCOMPAT_LARGEDIR | INCOMPAT_INLINE_DATA | INCOMPAT_ENCRYPT
      | INCOMPAT_CASEFOLD | INCOMPAT_META_BG | INCOMPAT_EA_INODE;
  static final long RO_COMPAT_SPARSE_SUPER = 0x1;
  static final long RO_COMPAT_HUGE_FILE = 0x8;
  static final long RO_COMPAT_BIGALLOC = 0x200;
  static final long RO_COMPAT_METADATA_CSUM = 0x400;

  static Superblock parse(byte[] b) throws Ext4CorruptException, Ext4UnsupportedException {
    return parse(b, OFFSET);
  }

  /** Parses the copy found at byte {@code at} of the volume (the primary, or a group's backup). */
  static Superblock parse(byte[] b, long at) throws Ext4CorruptException, Ext4UnsupportedException {
    String where = "at byte " + at;
    if (b.length < 1024 || LittleEndian.u16(b, S_MAGIC) != 0xEF53) {
      throw new Ext4CorruptException("superblock", where, "no ext2/3/4 magic 0xEF53");
    }
    long incompat = LittleEndian.u32(b, S_FEATURE_INCOMPAT);
    long unknown = incompat & ~INCOMPAT_SUPPORTED;
    if (unknown != 0) {
      List<String> names = new ArrayList<>();
      if ((unknown & INCOMPAT_COMPRESSION) != 0) {
        names.add("compression");
      }
      if ((unknown & INCOMPAT_JOURNAL_DEV) != 0) {
        names.add("journal_dev (an external journal device, not a filesystem)");
      }
      if ((unknown & INCOMPAT_DIRDATA) != 0) {
        names.add("dirdata");
      }
      throw new Ext4UnsupportedException("superblock", where, "unsupported incompatible features 0x"
          + Long.toHexString(unknown) + (names.isEmpty() ? "" : " (" + String.join(", ", names) + ")"));
    }
    long log = LittleEndian.u32(b, S_LOG_BLOCK_SIZE);
    if (log > 6) {
      throw new Ext4CorruptException("superblock", where, "block size 2^(10+" + log + ") out of range");
    }
    int blockSize = 1024 << log;
    long roCompat = LittleEndian.u32(b, S_FEATURE_RO_COMPAT);
    long logCluster = LittleEndian.u32(b, S_LOG_CLUSTER_SIZE);
    boolean bigalloc = (roCompat & RO_COMPAT_BIGALLOC) != 0;
    if (bigalloc && (logCluster < log || logCluster > 20)) {  // without bigalloc the field is the old fragment size
      throw new Ext4CorruptException("superblock", where, "cluster size 2^(10+" + logCluster + ") with blocks of " + blockSize);
    }
    int clusterSize = bigalloc ? 1024 << logCluster : blockSize;
    boolean is64 = (incompat & INCOMPAT_64BIT) != 0;
    int descSize = is64 ? LittleEndian.u16(b, S_DESC_SIZE) : 32;
    if (descSize < 32 || descSize > 1024 || (descSize & (descSize - 1)) != 0) {
      throw new Ext4CorruptException("superblock", where, "group descriptor size " + descSize);
    }
    int inodeSize = LittleEndian.u32(b, S_REV_LEVEL) == 0 ? 128 : LittleEndian.u16(b, S_INODE_SIZE);
    if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) != 0) {
      throw new Ext4CorruptException("superblock", where, "inode size " + inodeSize);
    }
    long blocksPerGroup = LittleEndian.u32(b, S_BLOCKS_PER_GROUP);
    long inodesPerGroup = LittleEndian.u32(b, S_INODES_PER_GROUP);
    long clustersPerGroup = bigalloc ? LittleEndian.u32(b, S_CLUSTERS_PER_GROUP) : blocksPerGroup;
    if (blocksPerGroup == 0 || inodesPerGroup == 0 || clustersPerGroup > 8L * blockSize || inodesPerGroup > 8L * blockSize
        || blocksPerGroup != clustersPerGroup * (clusterSize / blockSize)) {
      throw new Ext4CorruptException("superblock", where, blocksPerGroup + " blocks and " + inodesPerGroup + " inodes per group");
    }
    long blocks = LittleEndian.u32(b, S_BLOCKS_COUNT_LO) | (is64 ? LittleEndian.u32(b, S_BLOCKS_COUNT_HI) << 32 : 0);
    long free = LittleEndian.u32(b, S_FREE_BLOCKS_COUNT_LO) | (is64 ? LittleEndian.u32(b, S_FREE_BLOCKS_HI) << 32 : 0);
    StringBuilder uuid = new StringBuilder();
    for (int i = 0; i < 16; i++) {
      if (i == 4 || i == 6 || i == 8 || i == 10) {
        uuid.append('-');
      }
      uuid.append(String.format("%02x", b[S_UUID + i] & 0xff));
    }
    int end = S_VOLUME_NAME;
    while (end < S_VOLUME_NAME + 16 && b[end] != 0) {
      end++;
    }
    return new Superblock(LittleEndian.u32(b, S_INODES_COUNT), blocks, free, LittleEndian.u32(b, S_FIRST_DATA_BLOCK), blockSize, blocksPerGroup,
        inodesPerGroup, inodeSize, LittleEndian.u32(b, S_FEATURE_COMPAT), incompat, roCompat, uuid.toString(),
        new String(b, S_VOLUME_NAME, end - S_VOLUME_NAME, StandardCharsets.UTF_8), descSize, LittleEndian.u32(b, S_FIRST_META_BG),
        clusterSize, LittleEndian.u32(b, S_JOURNAL_INUM), seed(b, incompat), checksumValid(b, roCompat),
        new long[] {LittleEndian.u32(b, S_BACKUP_BGS), LittleEndian.u32(b, S_BACKUP_BGS + 4)}, LittleEndian.u16(b, S_BLOCK_GROUP_NR),
        (compatResize(b) ? LittleEndian.u16(b, S_RESERVED_GDT_BLOCKS) : 0));
  }

  private static boolean compatResize(byte[] b) {
    return (LittleEndian.u32(b, S_FEATURE_COMPAT) & COMPAT_RESIZE_INODE) != 0;
  }

  /** The seed of every metadata checksum: stored (csum_seed), else the CRC of the UUID. */
  private static int seed(byte[] b, long incompat) {
    if ((incompat & INCOMPAT_CSUM_SEED) != 0) {
      return (int) LittleEndian.u32(b, S_CHECKSUM_SEED);
    }
    return Crc32c.update(Crc32c.INITIAL, b, S_UUID, S_UUID + 16);
  }

  private static boolean checksumValid(byte[] b, long roCompat) {
    if ((roCompat & RO_COMPAT_METADATA_CSUM) == 0) {
      return true;
    }
    return Crc32c.update(Crc32c.INITIAL, b, 0, S_CHECKSUM) == (int) LittleEndian.u32(b, S_CHECKSUM);
  }

  boolean metadataCsum() {
    return (roCompat & RO_COMPAT_METADATA_CSUM) != 0;
  }

  boolean hasJournal() {
    return (compat & COMPAT_HAS_JOURNAL) != 0;
  }

  /** Whether group {@code g} holds a copy of the superblock and group descriptors. */
  boolean hasBackup(long g) {
    if (g == 0) {
      return true;
    }
    if ((compat & COMPAT_SPARSE_SUPER2) != 0) {
      return g == backupGroups[0] || g == backupGroups[1];
    }
    if (g == 1 || (roCompat & RO_COMPAT_SPARSE_SUPER) == 0) {
      return true;
    }
    for (long base : new long[] {3, 5, 7}) {
      long p = base;
      while (p < g) {
        p *= base;
      }
      if (p == g) {
        return true;
      }
    }
    return false;
  }

  boolean has(long incompatFlag) {
    return (incompat & incompatFlag) != 0;
  }

  long groupCount() {
    return (blocksCount - firstDataBlock + blocksPerGroup - 1) / blocksPerGroup;
  }
}
