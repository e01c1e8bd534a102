package dev.pluck.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.LineBasedFrameDecoder;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A QMP connection: the greeting and capability negotiation, then many commands in flight matched
 * by {@code id}, events handed to subscribers, errors as {@link QmpException}, and a timeout per
 * command. Async at the wire ({@link #executeAsync}), simple synchronous calls above it.
 *
 * <p>QEMU's monitor serves one client at a time, and the host's own management daemons need it:
 * connect for one step, then close.
 */
public final class QmpClient implements Closeable {
  /** Longest line accepted from QEMU (query-qmp-schema is the largest reply, well under this). */
  private static final int MAX_LINE = 64 << 20;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final MonitorAddress address;
  private final Channel channel;
  private final Duration timeout;
  private final Map<String, Pending> pending = new ConcurrentHashMap<>();
  private final List<Consumer<QmpEvent>> subscribers = new CopyOnWriteArrayList<>();
  private final AtomicLong ids = new AtomicLong();
  private final CompletableFuture<JsonNode> greeting = new CompletableFuture<>();
  private final List<Consumer<String>> tracers = new CopyOnWriteArrayList<>();
  private volatile IOException failure;

  private record Pending(String command, CompletableFuture<JsonNode> future) {}

  /** Tracers every client of this process gets (--trace-qmp): each hears the monitor and every line. */
  private static final List<java.util.function.BiConsumer<MonitorAddress, String>> GLOBAL_TRACERS = new CopyOnWriteArrayList<>();

  private QmpClient(MonitorAddress address, Channel channel, Duration timeout) {
    this.address = address;
    this.channel = channel;
    this.timeout = timeout;
    for (java.util.function.BiConsumer<MonitorAddress, String> t : GLOBAL_TRACERS) {
      tracers.add(line -> t.accept(address, line));
    }
  }

  /**
   * Makes every client connected from now on report every line it sends and receives to {@code
   * tracer}, with its monitor's address ("-> " or "<- " prefixed, as {@link #trace} does).
   */
  public static void traceAll(java.util.function.BiConsumer<MonitorAddress, String> tracer) {
    GLOBAL_TRACERS.add(tracer);
  }

  /**
   * Reports a line of the guest agent's protocol ("qga -> " or "qga <- " prefixed) to the tracers
   * of {@link #traceAll}, so a trace shows the freeze where it happened among the QMP commands.
   */
  static void traceOther(MonitorAddress address, String line) {
    for (java.util.function.BiConsumer<MonitorAddress, String> t : GLOBAL_TRACERS) {
      t.accept(address, line);
    }
  }

  /** Forgets the tracers {@link #traceAll} added (clients already connected keep theirs). */
  public static void untraceAll() {
    GLOBAL_TRACERS.clear();
  }

  /** Connects, reads the greeting and enters command mode ({@code qmp_capabilities}). */
  public static QmpClient connect(MonitorAddress address, Duration timeout) throws IOException {
    QmpClient[] holder = new QmpClient[1];
    CompletableFuture<QmpClient> ready = new CompletableFuture<>();
    Bootstrap b = new Bootstrap()
        .group(MonitorAddress.group())
        .channel(address.channelType())
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            QmpClient c = new QmpClient(address, ch, timeout);
            holder[0] = c;
            ready.complete(c);
            ch.pipeline().addLast(new LineBasedFrameDecoder(MAX_LINE, true, true), c.new Handler());
          }
        });
    ChannelFuture f = b.connect(address.socketAddress());
    try {
      if (!f.await(timeout.toMillis()) || !f.isSuccess()) {
        f.channel().close();
        Throwable cause = f.cause();
        String why = cause == null ? " (timed out)"
            : address.socket() != null && !java.nio.file.Files.exists(address.socket()) ? ": no such socket"
            : ": " + (cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName());
        throw new IOException("cannot connect to QMP monitor " + address + why, cause);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted connecting to " + address);
    }
    QmpClient c = holder[0];
    try {
      JsonNode hello = await(c.greeting, timeout,
          "the QMP greeting from " + address + " (QEMU serves one monitor client at a time: is another one connected?)");
      if (!hello.has("QMP")) {
        throw new IOException(address + " is not a QMP monitor: " + hello);
      }
      c.execute("qmp_capabilities");
      return c;
    } catch (IOException | RuntimeException e) {
      c.close();
      throw e;
    }
  }

  public static QmpClient connect(MonitorAddress address) throws IOException {
    return connect(address, Duration.ofSeconds(30));
  }

  /** QEMU's version, from the greeting. */
  public QemuVersion version() {
    JsonNode v = greeting.join().path("QMP").path("version");
    JsonNode q = v.path("qemu");
    return new QemuVersion(q.path("major").asInt(), q.path("minor").asInt(), q.path("micro").asInt(), v.path("package").asText(""));
  }

  public MonitorAddress address() {
    return address;
  }

  /** Receives every event as it arrives (on the connection's event loop: be quick). */
  public void subscribe(Consumer<QmpEvent> subscriber) {
    subscribers.add(subscriber);
  }

  public void unsubscribe(Consumer<QmpEvent> subscriber) {
    subscribers.remove(subscriber);
  }

  /** Receives every line sent and received, prefixed "-> " or "<- " (for --trace-qmp). */
  public void trace(Consumer<String> tracer) {
    tracers.add(tracer);
  }

  /** Sends a command; the future holds its {@code return} or fails with {@link QmpException}. */
  public CompletableFuture<JsonNode> executeAsync(String command, JsonNode arguments) {
    IOException f = failure;
    if (f != null) {
      return CompletableFuture.failedFuture(new IOException("QMP connection to " + address + " is closed: " + f.getMessage(), f));
    }
    String id = "pluck-" + ids.incrementAndGet();
    ObjectNode request = JSON.createObjectNode().put("execute", command);
    if (arguments != null && !arguments.isEmpty()) {
      request.set("arguments", arguments);
    }
    request.put("id", id);
    CompletableFuture<JsonNode> future = new CompletableFuture<>();
    pending.put(id, new Pending(command, future));
    String line;
    try {
      line = JSON.writeValueAsString(request);
    } catch (IOException e) {
      pending.remove(id);
      return CompletableFuture.failedFuture(e);
    }
    tracers.forEach(t -> t.accept("-> " + line));
    channel.writeAndFlush(Unpooled.copiedBuffer(line + "\n", StandardCharsets.UTF_8));
    channel.eventLoop().schedule(() -> {
      Pending p = pending.remove(id);
      if (p != null) {
        p.future().completeExceptionally(new IOException("QMP command " + command + " got no answer from " + address + " within " + timeout.toSeconds() + " s"));
      }
    }, timeout.toNanos(), TimeUnit.NANOSECONDS);
    return future;
  }

  /** Runs a command and waits for its {@code return}. */
  public JsonNode execute(String command, JsonNode arguments) throws IOException {
    return await(executeAsync(command, arguments), timeout.plusSeconds(1), command);
  }

  /** Runs a command given its arguments as JSON text. */
  public JsonNode execute(String command, String argumentsJson) throws IOException {
    return execute(command, argumentsJson == null ? null : JSON.readTree(argumentsJson));
  }

  public JsonNode execute(String command) throws IOException {
    return execute(command, (JsonNode) null);
  }

  private static JsonNode await(CompletableFuture<JsonNode> f, Duration timeout, String what) throws IOException {
    try {
      return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted waiting for " + what);
    } catch (TimeoutException e) {
      throw new IOException("no answer within " + timeout.toSeconds() + " s waiting for " + what);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof IOException io) {
        throw io;
      }
      throw new IOException(c);
    }
  }

  public boolean isOpen() {
    return channel.isActive() && failure == null;
  }

  @Override
  public void close() {
    channel.close().awaitUninterruptibly(2000);
    fail(new IOException("connection closed"));
  }

  private void fail(IOException cause) {
    if (failure == null) {
      failure = cause;
    }
    greeting.completeExceptionally(cause);
    for (String id : List.copyOf(pending.keySet())) {
      Pending p = pending.remove(id);
      if (p != null) {
        p.future().completeExceptionally(new IOException("QMP command " + p.command() + " lost: " + cause.getMessage(), cause));
      }
    }
  }

  private final class Handler extends SimpleChannelInboundHandler<ByteBuf> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, ByteBuf line) {
      String text = line.toString(StandardCharsets.UTF_8);
      tracers.forEach(t -> t.accept("<- " + text));
      JsonNode msg;
      try {
        msg = JSON.readTree(text);
      } catch (IOException e) {
        fail(new IOException("QEMU sent something that is not JSON: " + text.substring(0, Math.min(200, text.length()))));
        ctx.close();
        return;
      }
      if (msg.has("QMP")) {
        greeting.complete(msg);
      } else if (msg.has("event")) {
        JsonNode ts = msg.path("timestamp");
        QmpEvent event = new QmpEvent(msg.path("event").asText(), msg.path("data"),
            Instant.ofEpochSecond(ts.path("seconds").asLong(), ts.path("microseconds").asLong() * 1000));
        for (Consumer<QmpEvent> s : subscribers) {
          s.accept(event);
        }
      } else {
        Pending p = pending.remove(msg.path("id").asText(""));
        if (p == null) {
          return;  // a reply after its timeout, or to another client's id: nothing waits for it
        }
        if (msg.has("return")) {
          p.future().complete(msg.get("return"));
        } else if (msg.has("error")) {
          JsonNode err = msg.get("error");
          p.future().completeExceptionally(new QmpException(p.command(), err.path("class").asText(), err.path("desc").asText()));
        } else {
          p.future().completeExceptionally(new IOException("QMP reply to " + p.command() + " has neither return nor error"));
        }
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      fail(new IOException("QMP monitor " + address + " closed the connection"));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      fail(new IOException("QMP connection to " + address + " failed: " + cause.getMessage(), cause));
      ctx.close();
    }
  }
}
