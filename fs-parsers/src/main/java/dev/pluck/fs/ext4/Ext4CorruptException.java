package dev.pluck.fs.ext4;

import dev.pluck.fs.FileSystemException;

/** ext4 data that cannot be right: which structure, which inode or block, why. */
public class Ext4CorruptException extends FileSystemException {
  private static final long serialVersionUID = 1L;

  public Ext4CorruptException(String structure, String where, String why) {
    super("ext4 " + structure + " " + where + ": " + why);
  }
}
