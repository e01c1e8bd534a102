package dev.pluck.nbd.protocol;

import dev.pluck.nbd.BlockDeviceException;

/** The server answered a request with an error: carries the errno name and the request. */
public class NbdException extends BlockDeviceException {
  private static final long serialVersionUID = 1L;
  private final int error;
  private final int command;

  public NbdException(int command, long offset, long length, int error, String serverMessage) {
    super(Nbd.commandName(command) + " failed: " + Nbd.errnoName(error)
        + (serverMessage == null || serverMessage.isEmpty() ? "" : " (" + serverMessage + ")"), offset, length, null);
    this.error = error;
    this.command = command;
  }

  /** The NBD error value (an errno: 5 = EIO, 22 = EINVAL, ...). */
  public int error() {
    return error;
  }

  public String errnoName() {
    return Nbd.errnoName(error);
  }

  public int command() {
    return command;
  }
}
