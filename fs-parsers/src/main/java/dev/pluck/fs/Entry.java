package dev.pluck.fs;

import java.time.Instant;
import java.util.Map;

/**
 * A file, directory or other node of a filesystem with its metadata.
 *
 * @param path absolute within the volume ("/" for the root)
 * @param inode the filesystem's own number for it (ext4 inode, NTFS MFT record)
 * @param mode permission bits (07777)
 * @param crtime creation time, or null where the filesystem has none
 * @param target symlink target, else null
 * @param rdevMajor device major number (devices), else 0
 * @param xattrs extended attributes, name to value, as getxattr(2) returns them
 * @param flags the filesystem's own inode flags
 */
public record Entry(String path, long inode, EntryType type, long size, int mode, long uid, long gid, long nlink,
    Instant atime, Instant mtime, Instant ctime, Instant crtime, String target, int rdevMajor, int rdevMinor,
    Map<String, byte[]> xattrs, long flags) {

  public Entry {
    xattrs = Map.copyOf(xattrs);
  }

  public String name() {
    return path.equals("/") ? "" : path.substring(path.lastIndexOf('/') + 1);
  }

  public boolean isDirectory() {
    return type == EntryType.DIRECTORY;
  }
}
