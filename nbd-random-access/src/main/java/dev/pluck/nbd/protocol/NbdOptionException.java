package dev.pluck.nbd.protocol;

import java.io.IOException;

/** The server refused an option during the handshake (unknown export, TLS required, ...). */
public class NbdOptionException extends IOException {
  private static final long serialVersionUID = 1L;
  private final int option;
  private final int reply;

  public NbdOptionException(int option, int reply, String serverMessage) {
    super(Nbd.optionName(option) + " refused: " + Nbd.replyErrorName(reply)
        + (serverMessage == null || serverMessage.isEmpty() ? "" : " (" + serverMessage + ")"));
    this.option = option;
    this.reply = reply;
  }

  public int option() {
    return option;
  }

  public int reply() {
    return reply;
  }
}
