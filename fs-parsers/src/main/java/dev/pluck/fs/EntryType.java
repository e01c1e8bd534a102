package dev.pluck.fs;

/** What a directory entry is, as stat(2) tells it. */
public enum EntryType {
  FILE("file"), DIRECTORY("dir"), SYMLINK("symlink"), CHAR_DEVICE("chardev"), BLOCK_DEVICE("blockdev"), FIFO("fifo"),
  SOCKET("socket");

  private final String label;

  EntryType(String label) {
    this.label = label;
  }

  /** The short name used in listings and JSON (file, dir, symlink, ...). */
  public String label() {
    return label;
  }
}
