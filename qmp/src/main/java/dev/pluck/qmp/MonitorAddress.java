package dev.pluck.qmp;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;

/**
 * Where a monitor (QMP) or guest agent (QGA) listens: a unix socket path, or {@code host:port}
 * for TCP. Also the event loops their connections run on.
 */
public record MonitorAddress(Path socket, String host, int port) {
  private static final boolean EPOLL = Epoll.isAvailable();

  /** A path (anything with a '/' or without ':') is a unix socket; {@code host:port} is TCP. */
  public static MonitorAddress parse(String text) {
    int colon = text.lastIndexOf(':');
    if (text.contains("/") || colon < 0) {
      return new MonitorAddress(Path.of(text), null, 0);
    }
    String host = text.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    return new MonitorAddress(null, host, Integer.parseInt(text.substring(colon + 1)));
  }

  public static MonitorAddress unix(Path socket) {
    return new MonitorAddress(socket, null, 0);
  }

  SocketAddress socketAddress() {
    if (socket != null) {
      return EPOLL ? new DomainSocketAddress(socket.toString()) : UnixDomainSocketAddress.of(socket);
    }
    return new InetSocketAddress(host, port);
  }

  Class<? extends Channel> channelType() {
    if (socket != null) {
      return EPOLL ? EpollDomainSocketChannel.class : NioDomainSocketChannel.class;
    }
    return EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
  }

  static EventLoopGroup group() {
    return QmpEventLoop.get(EPOLL);
  }

  @Override
  public String toString() {
    return socket != null ? socket.toString() : host + ":" + port;
  }
}
