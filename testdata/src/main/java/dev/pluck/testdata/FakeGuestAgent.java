package dev.pluck.testdata;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A FAKE guest agent: freezing a real guest needs a running guest OS, and freezing the host's own
 * filesystems (qemu-ga run on the host) is not allowed here. It answers the agent protocol as
 * qemu-ga does (guest-sync-delimited with the 0xFF sentinel, ping, fsfreeze freeze/thaw/status,
 * and guest-get-fsinfo once told what to answer) and records the commands it got. The real qemu-ga
 * is tested in the qmp module's QgaIT and the engine's LiveMountsIT.
 */
public final class FakeGuestAgent implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** Every command received, in order. */
  public final List<String> commands = new CopyOnWriteArrayList<>();
  private final ServerSocketChannel server;
  private final Path socket;
  private final boolean refuseFreeze;
  private final boolean hangFirstThaw;
  private volatile boolean frozen;
  private volatile String fsinfo;
  private volatile boolean thawHung;

  /** An agent that freezes when asked, or refuses to ({@code refuseFreeze}). */
  public FakeGuestAgent(Path dir, boolean refuseFreeze) throws IOException {
    this(dir, refuseFreeze, false);
  }

  /**
   * @param hangFirstThaw never answer the first thaw (and stay frozen): a client stuck there can
   *     be killed while the guest is frozen
   */
  public FakeGuestAgent(Path dir, boolean refuseFreeze, boolean hangFirstThaw) throws IOException {
    this.socket = dir.resolve("fake-qga.sock");
    this.refuseFreeze = refuseFreeze;
    this.hangFirstThaw = hangFirstThaw;
    Files.deleteIfExists(socket);
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
    Thread t = new Thread(this::serve, "fake-qga");
    t.setDaemon(true);
    t.start();
  }

  /** The agent's unix socket. */
  public Path socket() {
    return socket;
  }

  /** Answers guest-get-fsinfo with {@code json} (a JSON array as qemu-ga's); unanswered (CommandNotFound) until set. */
  public void answerFsinfo(String json) {
    this.fsinfo = json;
  }

  /** Whether the fake guest's filesystems are frozen now. */
  public boolean frozen() {
    return frozen;
  }

  private void serve() {
    while (server.isOpen()) {
      try (SocketChannel ch = server.accept()) {
        BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.ISO_8859_1));
        OutputStream out = Channels.newOutputStream(ch);
        String line;
        while ((line = in.readLine()) != null) {
          line = line.replace("\u00ff", "");  // the client's parser reset
          if (line.isBlank()) {
            continue;
          }
          JsonNode req = JSON.readTree(line);
          String cmd = req.path("execute").asText();
          commands.add(cmd);
          String reply = switch (cmd) {
            case "guest-sync-delimited" -> "\u00ff{\"return\": " + req.path("arguments").path("id").asLong() + "}";
            case "guest-ping" -> "{\"return\": {}}";
            case "guest-fsfreeze-freeze", "guest-fsfreeze-freeze-list" -> {
              if (refuseFreeze) {
                yield "{\"error\": {\"class\": \"GenericError\", \"desc\": \"fake agent refuses to freeze\"}}";
              }
              frozen = true;
              yield "{\"return\": 2}";
            }
            case "guest-fsfreeze-thaw" -> {
              if (hangFirstThaw && !thawHung) {
                thawHung = true;
                yield null;  // never answered; stays frozen
              }
              frozen = false;
              yield "{\"return\": 2}";
            }
            case "guest-fsfreeze-status" -> "{\"return\": \"" + (frozen ? "frozen" : "thawed") + "\"}";
            case "guest-get-fsinfo" -> fsinfo == null ? "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"fake agent has no "
                + cmd + "\"}}" : "{\"return\": " + fsinfo + "}";
            default -> "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"fake agent has no " + cmd + "\"}}";
          };
          if (reply != null) {
            out.write((reply + "\n").getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
          }
        }
      } catch (IOException e) {
        // next client
      }
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    Files.deleteIfExists(socket);
  }
}
