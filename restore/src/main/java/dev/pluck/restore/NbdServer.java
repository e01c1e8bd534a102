package dev.pluck.restore;

import dev.pluck.nbd.BlockDevice;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A read-only NBD server (doc/proto.md of the NBD project): fixed newstyle handshake, NBD_OPT_GO
 * and NBD_OPT_INFO with block sizes, NBD_OPT_EXPORT_NAME, NBD_OPT_LIST, structured replies with
 * holes sent as NBD_REPLY_TYPE_OFFSET_HOLE, {@code base:allocation} block status, and
 * NBD_FLAG_CAN_MULTI_CONN (nothing changes, so every connection sees the same bytes). Writes are
 * refused with EPERM.
 *
 * <p>Clients are not trusted: options and requests are bounded, and reads run on a small worker
 * pool (repository reads block and decompress) with at most {@link #MAX_IN_FLIGHT} requests per
 * connection, after which the connection is not read until replies go out.
 */
public final class NbdServer implements AutoCloseable {
  /** One export: its name (the empty name is the default), a description, what it serves. */
  public record Export(String name, String description, BlockDevice device) {}

  /**
   * Largest read served in one request, advertised as NBD_INFO_BLOCK_SIZE's maximum: with
   * {@link #MAX_IN_FLIGHT}, at most 64 MiB of replies are being built per connection.
   */
  static final int MAX_REQUEST = 4 << 20;
  /** Requests of one connection being served at once. */
  static final int MAX_IN_FLIGHT = 16;

  private final List<Export> exports;
  private final EventLoopGroup group;
  private final ExecutorService workers;
  private final Channel channel;
  private final Path socket;
  private final int port;
  final AtomicLong bytesServed = new AtomicLong();
  final AtomicLong requests = new AtomicLong();
  final AtomicLong connections = new AtomicLong();
  final AtomicLong connected = new AtomicLong();

  private NbdServer(List<Export> exports, SocketAddress address) throws IOException {
    if (exports.isEmpty()) {
      throw new IllegalArgumentException("nothing to export");
    }
    this.exports = List.copyOf(exports);
    this.group = new MultiThreadIoEventLoopGroup(2, new DefaultThreadFactory("pluck-nbd-server", true), NioIoHandler.newFactory());
    this.workers = Executors.newFixedThreadPool(Math.max(2, Math.min(8, Runtime.getRuntime().availableProcessors())),
        new DefaultThreadFactory("pluck-nbd-read", true));
    boolean unix = address instanceof UnixDomainSocketAddress;
    ServerBootstrap b = new ServerBootstrap().group(group)
        .channel(unix ? NioServerDomainSocketChannel.class : NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<>() {
          @Override
          protected void initChannel(Channel ch) {
            ch.pipeline().addLast(new NbdServerHandler(NbdServer.this));
          }
        });
    try {
      this.channel = b.bind(address).sync().channel();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      group.shutdownGracefully();
      throw new IOException("interrupted while binding " + address);
    } catch (RuntimeException e) {
      group.shutdownGracefully();
      workers.shutdownNow();
      throw new IOException("cannot listen on " + address + ": " + e.getMessage(), e);
    }
    this.socket = unix ? ((UnixDomainSocketAddress) address).getPath() : null;
    this.port = unix ? -1 : ((InetSocketAddress) channel.localAddress()).getPort();
  }

  /** Serves {@code exports} on a unix socket (an existing socket file is replaced; any other file is refused). */
  public static NbdServer unix(List<Export> exports, Path socket) throws IOException {
    if (Files.exists(socket, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      if (!"socket".equals(fileType(socket))) {
        throw new IOException(socket + " exists and is not a socket");
      }
      Files.delete(socket);
    }
    return new NbdServer(exports, UnixDomainSocketAddress.of(socket));
  }

  /** Serves {@code exports} on TCP {@code bind}:{@code port} (0: a free port). */
  public static NbdServer tcp(List<Export> exports, String bind, int port) throws IOException {
    return new NbdServer(exports, new InetSocketAddress(bind, port));
  }

  private static String fileType(Path p) throws IOException {
    Object mode = Files.getAttribute(p, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
    return ((Integer) mode & 0170000) == 0140000 ? "socket" : "other";
  }

  List<Export> exports() {
    return exports;
  }

  ExecutorService workers() {
    return workers;
  }

  /** The export a client names: the name itself, else the empty name means the first. */
  Export export(String name) {
    for (Export e : exports) {
      if (e.name().equals(name)) {
        return e;
      }
    }
    return name.isEmpty() ? exports.get(0) : null;
  }

  /** The NBD URI of an export. */
  public String uri(String exportName) {
    String name = java.net.URLEncoder.encode(exportName, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
    return socket != null ? "nbd+unix:///" + name + "?socket=" + socket : "nbd://localhost:" + port + "/" + name;
  }

  public int port() {
    return port;
  }

  public long bytesServed() {
    return bytesServed.get();
  }

  public long requests() {
    return requests.get();
  }

  /** Connections accepted so far, and open now. */
  public long connections() {
    return connections.get();
  }

  public long connected() {
    return connected.get();
  }

  /** Blocks until the server is closed, or {@code millis} pass; true when closed. */
  public boolean awaitClose(long millis) throws InterruptedException {
    return channel.closeFuture().await(millis);
  }

  @Override
  public void close() {
    channel.close().awaitUninterruptibly();
    group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).awaitUninterruptibly();
    workers.shutdownNow();
    if (socket != null) {
      try {
        Files.deleteIfExists(socket);
      } catch (IOException e) {
        // gone already
      }
    }
  }
}
