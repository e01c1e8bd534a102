package dev.pluck.fs;

import java.io.IOException;

/**
 * A filesystem reader's own refusal: corrupt data (with the structure and where) or something
 * the reader will not do (decrypt a file). Any other exception from a reader is a bug.
 */
public class FileSystemException extends IOException {
  private static final long serialVersionUID = 1L;

  public FileSystemException(String message) {
    super(message);
  }
}
