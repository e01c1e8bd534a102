package dev.pluck.fs.volume;

import java.io.IOException;

/** On-disk data that cannot be what it claims: says which structure, where, and why. */
public class CorruptStructureException extends IOException {
  private static final long serialVersionUID = 1L;

  public CorruptStructureException(String structure, long offset, String why) {
    super(structure + " at byte " + offset + ": " + why);
  }
}
