package dev.pluck.testdata;

import java.util.List;
import java.util.Map;

/**
 * One path of a filesystem as the oracle saw it (a read-only kernel or ntfs-3g mount walked by
 * {@code oracle-walk.py}).
 *
 * @param path absolute within the volume, "/" for the root
 * @param type file, dir, symlink, chardev, blockdev, fifo or socket
 * @param mode permission bits (07777)
 * @param target symlink target, else null
 * @param rdev major and minor of a device, else null
 * @param sha256 hex digest of a regular file's content, else null
 * @param xattrs extended attributes, name to value
 * @param streams alternate data streams (NTFS), name to size and digest
 * @param ntfsAttributes DOS/NTFS attribute flags (NTFS only), else null
 * @param reparse raw reparse point data in hex (NTFS only), else null
 * @param encrypted an fscrypt file the oracle could not read without its key (no sha256)
 */
public record OracleEntry(
    String path,
    String type,
    long size,
    int mode,
    long uid,
    long gid,
    long nlink,
    long inode,
    long mtimeNs,
    long atimeNs,
    long ctimeNs,
    String target,
    List<Integer> rdev,
    String sha256,
    Map<String, byte[]> xattrs,
    Map<String, Stream> streams,
    Integer ntfsAttributes,
    String reparse,
    boolean encrypted) {

  /** An alternate data stream. */
  public record Stream(long size, String sha256) {}

  public OracleEntry {
    xattrs = xattrs == null ? Map.of() : Map.copyOf(xattrs);
    streams = streams == null ? Map.of() : Map.copyOf(streams);
    rdev = rdev == null ? null : List.copyOf(rdev);
  }

  public boolean isFile() {
    return type.equals("file");
  }

  public boolean isDirectory() {
    return type.equals("dir");
  }

  public boolean isSymlink() {
    return type.equals("symlink");
  }

  /** The last path element ("" for the root). */
  public String name() {
    return path.substring(path.lastIndexOf('/') + 1);
  }
}
