package dev.pluck.qmp;

import java.io.IOException;

/** QEMU answered a command with an error: its class (GenericError, DeviceNotFound, ...) and text. */
public class QmpException extends IOException {
  private static final long serialVersionUID = 1L;
  private final String command;
  private final String errorClass;
  private final String description;

  public QmpException(String command, String errorClass, String description) {
    super(command + " failed: " + errorClass + ": " + description);
    this.command = command;
    this.errorClass = errorClass;
    this.description = description;
  }

  public String command() {
    return command;
  }

  /** QMP's error class, e.g. {@code GenericError}, {@code DeviceNotFound}, {@code CommandNotFound}. */
  public String errorClass() {
    return errorClass;
  }

  public String description() {
    return description;
  }
}
