package dev.pluck.nbd.protocol;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;

/** The event loops and channel types pluck's NBD connections run on: native epoll where it loads. */
final class NbdTransport {
  private static final boolean EPOLL = Epoll.isAvailable();
  private static volatile EventLoopGroup group;

  private NbdTransport() {}

  static EventLoopGroup group() {
    EventLoopGroup g = group;
    if (g == null) {
      synchronized (NbdTransport.class) {
        g = group;
        if (g == null) {
          int threads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
          DefaultThreadFactory factory = new DefaultThreadFactory("pluck-nbd", true);
          g = EventLoops.register(new MultiThreadIoEventLoopGroup(threads, factory,
              EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory()));
          group = g;
        }
      }
    }
    return g;
  }

  static Class<? extends Channel> channelType(NbdUri uri) {
    if (uri.socket() != null) {
      return EPOLL ? EpollDomainSocketChannel.class : NioDomainSocketChannel.class;
    }
    return EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
  }

  static SocketAddress address(NbdUri uri) {
    if (uri.socket() != null) {
      return EPOLL ? new DomainSocketAddress(uri.socket().toString()) : UnixDomainSocketAddress.of(uri.socket());
    }
    return new InetSocketAddress(uri.host(), uri.port());
  }
}
