package dev.pluck.nbd.protocol;

import io.netty.channel.EventLoopGroup;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * The Netty event loop groups this process made, to be ended before it exits: while a thread waits
 * in native code (an event loop in epoll_wait), the JVM's exit waits 300 ms for it to come back,
 * which was a third of a short {@code nbd info}.
 */
public final class EventLoops {
  private static final List<EventLoopGroup> GROUPS = new CopyOnWriteArrayList<>();

  private EventLoops() {}

  /** Remembers {@code group} for {@link #shutdownAll}. */
  public static <G extends EventLoopGroup> G register(G group) {
    GROUPS.add(group);
    return group;
  }

  /**
   * Ends every registered group at once (no quiet period) and waits up to a second for their
   * threads. Only for a process about to exit: the groups are the modules' shared ones.
   */
  public static void shutdownAll() {
    for (EventLoopGroup g : GROUPS) {
      g.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
    for (EventLoopGroup g : GROUPS) {
      g.terminationFuture().awaitUninterruptibly(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
    }
    GROUPS.clear();
  }
}
