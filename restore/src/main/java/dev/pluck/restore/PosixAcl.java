package dev.pluck.restore;

import java.io.IOException;
import java.util.StringJoiner;

/**
 * A POSIX ACL as Linux stores it in {@code system.posix_acl_access} and {@code
 * system.posix_acl_default} (include/uapi/linux/posix_acl_xattr.h), turned into the short text
 * form that {@code acl_from_text} reads back ("user::rw-,user:1000:r--,group::r-x,mask::r-x,other::r--"),
 * with numeric ids: the guest's names mean nothing on the host.
 */
final class PosixAcl {
  /** posix_acl_xattr_header.a_version. */
  private static final int VERSION = 2;
  /** sizeof(posix_acl_xattr_header): the version, a little-endian u32. */
  private static final int HEADER = 4;
  /** sizeof(posix_acl_xattr_entry): e_tag u16, e_perm u16, e_id u32, little-endian. */
  private static final int ENTRY = 8;
  private static final int ACL_USER_OBJ = 0x01;
  private static final int ACL_USER = 0x02;
  private static final int ACL_GROUP_OBJ = 0x04;
  private static final int ACL_GROUP = 0x08;
  private static final int ACL_MASK = 0x10;
  private static final int ACL_OTHER = 0x20;

  private PosixAcl() {}

  static String toText(byte[] value, String name) throws IOException {
    if (value.length < HEADER || (value.length - HEADER) % ENTRY != 0 || u32(value, 0) != VERSION) {
      throw new IOException(name + ": not a version 2 POSIX ACL (" + value.length + " bytes)");
    }
    StringJoiner text = new StringJoiner(",");
    for (int at = HEADER; at < value.length; at += ENTRY) {
      int tag = u16(value, at);
      int perm = u16(value, at + 2);
      long id = u32(value, at + 4);
      String who = switch (tag) {
        case ACL_USER_OBJ -> "user::";
        case ACL_USER -> "user:" + id + ":";
        case ACL_GROUP_OBJ -> "group::";
        case ACL_GROUP -> "group:" + id + ":";
        case ACL_MASK -> "mask::";
        case ACL_OTHER -> "other::";
        default -> throw new IOException(name + ": unknown ACL tag 0x" + Integer.toHexString(tag) + " at byte " + at);
      };
      text.add(who + ((perm & 4) != 0 ? "r" : "-") + ((perm & 2) != 0 ? "w" : "-") + ((perm & 1) != 0 ? "x" : "-"));
    }
    return text.toString();
  }

  private static int u16(byte[] b, int at) {
    return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8;
  }

  private static long u32(byte[] b, int at) {
    return (b[at] & 0xffL) | (b[at + 1] & 0xffL) << 8 | (b[at + 2] & 0xffL) << 16 | (b[at + 3] & 0xffL) << 24;
  }
}
