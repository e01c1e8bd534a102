package dev.pluck.fs.ext4;

import dev.pluck.fs.FileSystemException;

/** An ext2/3/4 that uses a feature this reader does not understand: which structure says so, and what. */
public final class Ext4UnsupportedException extends FileSystemException {
  private static final long serialVersionUID = 1L;

  public Ext4UnsupportedException(String structure, String where, String what) {
    super("ext4 " + structure + " " + where + ": " + what);
  }
}
