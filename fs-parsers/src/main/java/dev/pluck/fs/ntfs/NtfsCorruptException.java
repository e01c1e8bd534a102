package dev.pluck.fs.ntfs;

import dev.pluck.fs.FileSystemException;

/** NTFS data that cannot be right: which structure, which record or byte, why. */
public class NtfsCorruptException extends FileSystemException {
  private static final long serialVersionUID = 1L;

  public NtfsCorruptException(String structure, String where, String why) {
    super("NTFS " + structure + " " + where + ": " + why);
  }
}
