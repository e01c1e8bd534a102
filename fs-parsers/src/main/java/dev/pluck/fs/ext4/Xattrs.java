package dev.pluck.fs.ext4;

import dev.pluck.fs.LittleEndian;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Extended attributes: in the inode after its extra fields, and in an external block (header
 * magic 0xEA020000); with ea_inode, a value may live in an inode of its own (e_value_inum).
 * Names are rebuilt from their index prefix; POSIX ACLs are given in the form getxattr(2) returns,
 * not ext4's compact one. {@code system.data} (inline data) is kept apart.
 */
final class Xattrs {
  static final long MAGIC = 0xEA020000L;
  static final int BLOCK_HEADER = 32;
  static final int H_CHECKSUM = 0x10;  // crc32c(seed, block number, block) with metadata_csum
  static final String INLINE_DATA = "system.data";

  static final int E_VALUE_INUM = 0x4;  // ext4_xattr_entry.e_value_inum: the inode holding the value, or 0
  /** The largest value getxattr(2) returns (XATTR_SIZE_MAX). */
  static final int MAX_VALUE = 65536;

  private Xattrs() {}

  /** Reads a value kept in an inode of its own (ea_inode): {@code size} bytes of inode {@code inum}. */
  interface ValueInodes {
    byte[] read(long inum, int size, String where) throws java.io.IOException;
  }

  static String prefix(int index) {
    return switch (index) {
      case 1 -> "user.";
      case 2 -> "system.posix_acl_access";
      case 3 -> "system.posix_acl_default";
      case 4 -> "trusted.";
      case 6 -> "security.";
      case 7 -> "system.";
      case 8 -> "system.richacl";
      default -> null;
    };
  }

  /** Entries from {@code entriesAt}; values at {@code valueBase} + e_value_offs. */
  static void parse(byte[] b, int entriesAt, int valueBase, int end, Map<String, byte[]> out, String where,
      ValueInodes valueInodes) throws java.io.IOException {
    int e = entriesAt;
    for (int guard = 0; guard < 4096; guard++) {
      if (e + 4 > end || LittleEndian.u32(b, e) == 0) {
        return;
      }
      if (e + 16 > end) {
        throw new Ext4CorruptException("xattr entry", where, "runs past its area at " + e);
      }
      int nameLen = LittleEndian.u8(b, e);
      int index = LittleEndian.u8(b, e + 1);
      int valueOffs = LittleEndian.u16(b, e + 2);
      long valueInum = LittleEndian.u32(b, e + E_VALUE_INUM);
      long valueSize = LittleEndian.u32(b, e + 8);
      if (e + 16 + nameLen > end) {
        throw new Ext4CorruptException("xattr entry", where, "name runs past its area");
      }
      String suffix = new String(b, e + 16, nameLen, StandardCharsets.UTF_8);
      String prefix = prefix(index);
      byte[] value;
      if (valueInum != 0) {
        if (valueSize > MAX_VALUE) {
          throw new Ext4CorruptException("xattr value", where, "of " + valueSize + " bytes in inode " + valueInum
              + ", more than " + MAX_VALUE);
        }
        value = valueInodes.read(valueInum, (int) valueSize, where);
      } else {
        long vs = valueBase + valueOffs;
        if (vs + valueSize > end || valueSize > MAX_VALUE) {
          throw new Ext4CorruptException("xattr value", where, "of " + valueSize + " bytes at " + vs + " runs past its area");
        }
        value = java.util.Arrays.copyOfRange(b, (int) vs, (int) (vs + valueSize));
      }
      if (prefix != null) {
        String name = prefix + (index == 2 || index == 3 || index == 8 ? "" : suffix);
        out.put(name, index == 2 || index == 3 ? aclToXattr(value, where) : value);
      }
      e += (16 + nameLen + 3) & ~3;
    }
    throw new Ext4CorruptException("xattr area", where, "more than 4096 entries");
  }

  /** ext4's compact POSIX ACL (version 1; short entries without id) to the xattr form (version 2). */
  static byte[] aclToXattr(byte[] v, String where) throws Ext4CorruptException {
    if (v.length < 4 || LittleEndian.u32(v, 0) != 1) {
      throw new Ext4CorruptException("POSIX ACL", where, "not an ext4 ACL (version " + (v.length < 4 ? "?" : LittleEndian.u32(v, 0)) + ")");
    }
    ByteBuffer out = ByteBuffer.allocate(4 + (v.length / 4) * 8).order(ByteOrder.LITTLE_ENDIAN);
    out.putInt(2);
    int p = 4;
    while (p + 4 <= v.length) {
      int tag = LittleEndian.u16(v, p);
      int perm = LittleEndian.u16(v, p + 2);
      long id = 0xFFFFFFFFL;
      p += 4;
      if (tag == 0x02 || tag == 0x08) {  // ACL_USER, ACL_GROUP carry an id
        if (p + 4 > v.length) {
          throw new Ext4CorruptException("POSIX ACL", where, "entry without its id");
        }
        id = LittleEndian.u32(v, p);
        p += 4;
      }
      out.putShort((short) tag).putShort((short) perm).putInt((int) id);
    }
    return java.util.Arrays.copyOf(out.array(), out.position());
  }

  /** All of an inode's xattrs (in the inode, then its block); the inline-data one included. */
  static Map<String, byte[]> of(Inode inode, byte[] externalBlock, ValueInodes valueInodes) throws java.io.IOException {
    byte[] raw = inode.raw();
    int start = 128 + inode.extraIsize();
    boolean inInode = inode.extraIsize() > 0 && start + 4 <= raw.length && LittleEndian.u32(raw, start) == MAGIC;
    if (!inInode && externalBlock == null) {
      return Map.of();  // most inodes: no map to build
    }
    Map<String, byte[]> out = new LinkedHashMap<>();
    if (inInode) {
      parse(raw, start + 4, start + 4, raw.length, out, "in inode " + inode.number(), valueInodes);
    }
    if (externalBlock != null) {
      if (LittleEndian.u32(externalBlock, 0) != MAGIC) {
        throw new Ext4CorruptException("xattr block", "of inode " + inode.number(), "bad magic");
      }
      parse(externalBlock, BLOCK_HEADER, 0, externalBlock.length, out, "xattr block of inode " + inode.number(), valueInodes);
    }
    return out;
  }
}
