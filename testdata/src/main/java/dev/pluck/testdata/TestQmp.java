package dev.pluck.testdata;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A minimal, blocking QMP exchange for setting up fixtures in tests (adding bitmaps, exports).
 * pluck's own QMP client lives in the qmp module; this one only sends a command and waits for
 * its return, skipping events.
 */
public final class TestQmp implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final SocketChannel channel;
  private final BufferedReader in;
  private final OutputStream out;

  public TestQmp(Path socket) throws IOException {
    channel = SocketChannel.open(StandardProtocolFamily.UNIX);
    channel.connect(UnixDomainSocketAddress.of(socket));
    in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
    out = Channels.newOutputStream(channel);
    String greeting = in.readLine();
    if (greeting == null || !JSON.readTree(greeting).has("QMP")) {
      throw new IOException("no QMP greeting on " + socket + ": " + greeting);
    }
    execute("qmp_capabilities");
  }

  /** Runs a command without arguments. */
  public JsonNode execute(String command) throws IOException {
    return execute(command, null);
  }

  /** Runs a command with arguments given as JSON text (or null); returns its "return". */
  public JsonNode execute(String command, String argumentsJson) throws IOException {
    ObjectNode request = JSON.createObjectNode().put("execute", command);
    if (argumentsJson != null) {
      request.set("arguments", JSON.readTree(argumentsJson));
    }
    out.write((JSON.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8));
    out.flush();
    while (true) {
      String line = in.readLine();
      if (line == null) {
        throw new IOException("QMP closed while waiting for " + command);
      }
      JsonNode reply = JSON.readTree(line);
      if (reply.has("return")) {
        return reply.get("return");
      }
      if (reply.has("error")) {
        throw new IOException(command + ": " + reply.get("error"));
      }
    }
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
