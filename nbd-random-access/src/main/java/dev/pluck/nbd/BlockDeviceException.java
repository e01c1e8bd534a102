package dev.pluck.nbd;

import java.io.IOException;

/** A read, write or status request that failed, with where: device, offset and length. */
public class BlockDeviceException extends IOException {
  private static final long serialVersionUID = 1L;
  private final long offset;
  private final long length;

  public BlockDeviceException(String message, long offset, long length, Throwable cause) {
    super(message + " (offset " + offset + ", length " + length + ")", cause);
    this.offset = offset;
    this.length = length;
  }

  public long offset() {
    return offset;
  }

  public long length() {
    return length;
  }
}
