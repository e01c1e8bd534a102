package dev.pluck.fs.ext4;

import dev.pluck.fs.Crc32c;
import dev.pluck.fs.LittleEndian;

/** One block group's descriptor ("struct ext4_group_desc"), 32 or 64 bytes and more. */
record GroupDescriptor(long group, long blockBitmap, long inodeBitmap, long inodeTable, int flags, long blockBitmapChecksum,
    boolean checksumValid) {
  static final int BG_BLOCK_BITMAP_LO = 0x0;
  static final int BG_INODE_BITMAP_LO = 0x4;
  static final int BG_INODE_TABLE_LO = 0x8;
  static final int BG_FLAGS = 0x12;
  static final int BG_BLOCK_BITMAP_CSUM_LO = 0x18;  // crc32c(seed, bitmap), low half
  static final int BG_CHECKSUM = 0x1E;  // crc32c(seed, group, descriptor) & 0xFFFF with metadata_csum
  static final int BG_BLOCK_BITMAP_HI = 0x20;
  static final int BG_INODE_BITMAP_HI = 0x24;
  static final int BG_INODE_TABLE_HI = 0x28;
  static final int BG_BLOCK_BITMAP_CSUM_HI = 0x38;

  /** The block bitmap was never written: only the group's own metadata is in use. */
  static final int BLOCK_UNINIT = 0x2;

  static GroupDescriptor parse(long group, byte[] b, int at, Superblock sb) {
    boolean wide = sb.descSize() >= 64;
    return new GroupDescriptor(group,
        field(b, at, BG_BLOCK_BITMAP_LO, BG_BLOCK_BITMAP_HI, wide),
        field(b, at, BG_INODE_BITMAP_LO, BG_INODE_BITMAP_HI, wide),
        field(b, at, BG_INODE_TABLE_LO, BG_INODE_TABLE_HI, wide),
        LittleEndian.u16(b, at + BG_FLAGS),
        LittleEndian.u16(b, at + BG_BLOCK_BITMAP_CSUM_LO) | (wide ? (long) LittleEndian.u16(b, at + BG_BLOCK_BITMAP_CSUM_HI) << 16 : 0),
        checksumValid(group, b, at, sb));
  }

  private static long field(byte[] b, int at, int lo, int hi, boolean wide) {
    return LittleEndian.u32(b, at + lo) | (wide ? LittleEndian.u32(b, at + hi) << 32 : 0);
  }

  private static boolean checksumValid(long group, byte[] b, int at, Superblock sb) {
    if (!sb.metadataCsum()) {
      return true;  // gdt_csum's CRC16 is not verified
    }
    byte[] copy = java.util.Arrays.copyOfRange(b, at, at + sb.descSize());
    copy[BG_CHECKSUM] = 0;
    copy[BG_CHECKSUM + 1] = 0;
    int crc = Crc32c.update(Crc32c.updateLe32(sb.checksumSeed(), group), copy);
    return (crc & 0xFFFF) == LittleEndian.u16(b, at + BG_CHECKSUM);
  }
}
