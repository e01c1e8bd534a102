package dev.pluck.qmp;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The one event loop of the QMP and guest-agent clients, made on first use. Kept apart from {@link
 * MonitorAddress} so that ending it at exit loads nothing when no monitor was used.
 */
public final class QmpEventLoop {
  private static volatile EventLoopGroup group;

  private QmpEventLoop() {}

  static EventLoopGroup get(boolean epoll) {
    EventLoopGroup g = group;
    if (g == null) {
      synchronized (QmpEventLoop.class) {
        g = group;
        if (g == null) {
          g = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("pluck-qmp", true),
              epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
          group = g;
        }
      }
    }
    return g;
  }

  /**
   * Ends the loop (when there is one) for a process about to exit: while its thread waits in
   * epoll_wait, the JVM's exit waits 300 ms for it.
   */
  public static void shutdown() {
    EventLoopGroup g;
    synchronized (QmpEventLoop.class) {
      g = group;
      group = null;
    }
    if (g != null) {
      g.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).awaitUninterruptibly(1000);
    }
  }
}
