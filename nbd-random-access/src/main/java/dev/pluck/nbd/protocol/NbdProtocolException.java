package dev.pluck.nbd.protocol;

import java.io.IOException;

/**
 * The server broke the protocol (bad magic, unknown cookie, oversized chunk, ...) or the
 * connection failed; the connection is closed and every outstanding request fails with this.
 */
public class NbdProtocolException extends IOException {
  private static final long serialVersionUID = 1L;

  public NbdProtocolException(String message) {
    super(message);
  }

  public NbdProtocolException(String message, Throwable cause) {
    super(message, cause);
  }
}
