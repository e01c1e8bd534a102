package dev.pluck.fs;

import java.time.Instant;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * A file, directory or other node of a filesystem with its metadata.
 *
 * @param path absolute within the volume ("/" for the root)
 * @param inode the filesystem's own number for it (ext4 inode, NTFS MFT record)
 * @param mode permission bits (07777), or null where the filesystem has none (NTFS)
 * @param uid owner, or null where the filesystem has none (NTFS keeps security descriptors)
 * @param gid group, or null likewise
 * @param crtime creation time, or null where the filesystem has none
 * @param target symlink target, else null
 * @param rdevMajor device major number (devices), else 0
 * @param xattrs extended attributes, name to value, as getxattr(2) returns them
 * @param flags the filesystem's own flags (ext4 inode flags, NTFS file attributes)
 * @param attributes what the flags mean, in the terms every filesystem shares
 */
public record Entry(String path, long inode, EntryType type, long size, Integer mode, Long uid, Long gid, long nlink,
    Instant atime, Instant mtime, Instant ctime, Instant crtime, String target, int rdevMajor, int rdevMinor,
    Map<String, byte[]> xattrs, long flags, Set<Attribute> attributes) {

  /** Properties a backup or restore acts on, whatever the filesystem. */
  public enum Attribute {
    HIDDEN, SYSTEM, READONLY, ARCHIVE, COMPRESSED, SPARSE,
    /** Stored encrypted (NTFS EFS, ext4 fscrypt): the bytes read are not the plain text, or not readable at all. */
    ENCRYPTED,
    /** A reparse point other than a symlink or junction (NTFS): the tag is in the flags' owner record. */
    REPARSE,
    /** The system's paging or hibernation file: its content is worthless after a reboot. */
    SWAP
  }

  public Entry {
    xattrs = Map.copyOf(xattrs);
    attributes = attributes.isEmpty() ? Set.of() : java.util.Collections.unmodifiableSet(EnumSet.copyOf(attributes));
  }

  public String name() {
    return path.equals("/") ? "" : path.substring(path.lastIndexOf('/') + 1);
  }

  public boolean isDirectory() {
    return type == EntryType.DIRECTORY;
  }

  public boolean has(Attribute a) {
    return attributes.contains(a);
  }
}
