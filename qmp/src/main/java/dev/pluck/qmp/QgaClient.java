package dev.pluck.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The QEMU guest agent (qemu-ga) over its host-side socket. The channel may hold stale output of
 * an earlier client, so every session starts with {@code guest-sync-delimited}: a 0xFF byte
 * resets the agent's parser, and the answer follows a 0xFF sentinel. One command at a time, each
 * bounded by a timeout (an agent in a hung guest never answers).
 */
public final class QgaClient implements Closeable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_LINE = 16 << 20;
  private static final Object EOF = new Object();

  private final MonitorAddress address;
  private final SocketChannel channel;
  private final Duration timeout;
  private final BlockingQueue<Object> lines = new LinkedBlockingQueue<>();

  /** Filesystem of the guest as guest-get-fsinfo reports it; {@code disks} are the host-visible devices. */
  public record FsInfo(String name, String mountpoint, String type, List<Disk> disks) {
    public record Disk(String busType, int bus, int target, int unit, String serial, String dev, String pciAddress) {}
  }

  private QgaClient(MonitorAddress address, SocketChannel channel, Duration timeout) {
    this.address = address;
    this.channel = channel;
    this.timeout = timeout;
    Thread reader = new Thread(this::readLoop, "pluck-qga-reader");
    reader.setDaemon(true);
    reader.start();
  }

  /** Connects and synchronises with the agent. */
  public static QgaClient connect(MonitorAddress address, Duration timeout) throws IOException {
    SocketChannel ch = address.socket() != null ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
    try {
      ch.connect(address.socket() != null ? UnixDomainSocketAddress.of(address.socket()) : new InetSocketAddress(address.host(), address.port()));
    } catch (IOException e) {
      ch.close();
      throw new IOException("cannot connect to the guest agent at " + address + ": " + e.getMessage(), e);
    }
    QgaClient c = new QgaClient(address, ch, timeout);
    try {
      c.sync();
      return c;
    } catch (IOException | RuntimeException e) {
      c.close();
      throw e;
    }
  }

  private void readLoop() {
    try (InputStream in = Channels.newInputStream(channel)) {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) >= 0) {
        if (b == 0xFF) {
          lines.add(Boolean.TRUE);  // the sentinel: what follows answers guest-sync-delimited
          line.reset();
        } else if (b == '\n') {
          if (line.size() > 0) {
            String text = line.toString(StandardCharsets.UTF_8);
            QmpClient.traceOther(address, "qga <- " + text);
            lines.add(text);
          }
          line.reset();
        } else if (line.size() < MAX_LINE) {
          line.write(b);
        }
      }
    } catch (IOException e) {
      // closed
    }
    lines.add(EOF);
  }

  /** guest-sync-delimited: discards anything stale, then expects our random id back. */
  public void sync() throws IOException {
    lines.clear();
    long id = ThreadLocalRandom.current().nextLong(1, Integer.MAX_VALUE);
    write(new byte[] {(byte) 0xFF});
    send(JSON.createObjectNode().put("execute", "guest-sync-delimited").set("arguments", JSON.createObjectNode().put("id", id)));
    long deadline = System.nanoTime() + timeout.toNanos();
    boolean sentinel = false;
    while (true) {
      Object msg = poll(deadline, "guest-sync-delimited");
      if (msg == Boolean.TRUE) {
        sentinel = true;
        continue;
      }
      if (!sentinel) {
        continue;  // stale output from before the sentinel
      }
      JsonNode reply = parse((String) msg);
      if (reply.path("return").asLong(-1) == id) {
        return;
      }
    }
  }

  /** Runs a command; its {@code return}, or {@link QmpException} with the agent's error. */
  public synchronized JsonNode execute(String command, JsonNode arguments) throws IOException {
    ObjectNode request = JSON.createObjectNode().put("execute", command);
    if (arguments != null) {
      request.set("arguments", arguments);
    }
    send(request);
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      Object msg = poll(deadline, command);
      if (msg == Boolean.TRUE) {
        continue;
      }
      JsonNode reply = parse((String) msg);
      if (reply.has("return")) {
        return reply.get("return");
      }
      if (reply.has("error")) {
        JsonNode err = reply.get("error");
        throw new QmpException(command, err.path("class").asText(), err.path("desc").asText());
      }
    }
  }

  public JsonNode execute(String command) throws IOException {
    return execute(command, null);
  }

  public void ping() throws IOException {
    execute("guest-ping");
  }

  /** guest-info: the agent's version and which commands it has enabled. */
  public JsonNode info() throws IOException {
    return execute("guest-info");
  }

  /** Freezes every filesystem, or only the listed mountpoints; returns how many were frozen. */
  public int freeze(List<String> mountpoints) throws IOException {
    if (mountpoints == null || mountpoints.isEmpty()) {
      return execute("guest-fsfreeze-freeze").asInt();
    }
    ObjectNode args = JSON.createObjectNode();
    mountpoints.forEach(args.putArray("mountpoints")::add);
    return execute("guest-fsfreeze-freeze-list", args).asInt();
  }

  public int thaw() throws IOException {
    return execute("guest-fsfreeze-thaw").asInt();
  }

  /** "thawed" or "frozen". */
  public String freezeStatus() throws IOException {
    return execute("guest-fsfreeze-status").asText();
  }

  /** Which guest filesystem lives on which disk (to map "/home" to a drive). */
  public List<FsInfo> fsInfo() throws IOException {
    List<FsInfo> out = new ArrayList<>();
    for (JsonNode f : execute("guest-get-fsinfo")) {
      List<FsInfo.Disk> disks = new ArrayList<>();
      for (JsonNode d : f.path("disk")) {
        JsonNode pci = d.path("pci-controller");
        String pciAddress = pci.isMissingNode() ? "" : String.format("%04x:%02x:%02x.%x", pci.path("domain").asInt(),
            pci.path("bus").asInt(), pci.path("slot").asInt(), pci.path("function").asInt());
        disks.add(new FsInfo.Disk(d.path("bus-type").asText(), d.path("bus").asInt(), d.path("target").asInt(),
            d.path("unit").asInt(), d.path("serial").asText(""), d.path("dev").asText(""), pciAddress));
      }
      out.add(new FsInfo(f.path("name").asText(), f.path("mountpoint").asText(), f.path("type").asText(), disks));
    }
    return out;
  }

  private void send(JsonNode request) throws IOException {
    String text = JSON.writeValueAsString(request);
    QmpClient.traceOther(address, "qga -> " + text);
    write((text + "\n").getBytes(StandardCharsets.UTF_8));
  }

  private synchronized void write(byte[] bytes) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(bytes);
    while (b.hasRemaining()) {
      channel.write(b);
    }
  }

  private Object poll(long deadline, String what) throws IOException {
    try {
      long left = deadline - System.nanoTime();
      Object msg = left <= 0 ? null : lines.poll(left, TimeUnit.NANOSECONDS);
      if (msg == null) {
        throw new IOException("the guest agent at " + address + " did not answer " + what + " within " + timeout.toSeconds() + " s");
      }
      if (msg == EOF) {
        throw new IOException("the guest agent at " + address + " closed the connection during " + what);
      }
      return msg;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted waiting for " + what);
    }
  }

  private static JsonNode parse(String line) throws IOException {
    try {
      return JSON.readTree(line);
    } catch (IOException e) {
      throw new IOException("the guest agent sent something that is not JSON: " + line.substring(0, Math.min(200, line.length())));
    }
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException ignored) {
      // nothing left to do
    }
  }
}
