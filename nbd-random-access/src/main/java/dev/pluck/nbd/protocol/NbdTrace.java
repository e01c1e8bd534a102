package dev.pluck.nbd.protocol;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * What NBD connections report for {@code --trace-nbd}: each handshake option sent and each reply,
 * and when a connection closes a summary of its requests (counts and bytes per command, the
 * largest request, the most requests in flight at once). Events are maps, in the order they happen.
 */
public final class NbdTrace {
  private static final List<Consumer<Map<String, Object>>> SINKS = new CopyOnWriteArrayList<>();

  private NbdTrace() {}

  /** Makes every NBD connection of this process report to {@code sink} from now on. */
  public static void to(Consumer<Map<String, Object>> sink) {
    SINKS.add(sink);
  }

  /** Stops every report (a new command line starts without the last one's traces). */
  public static void clear() {
    SINKS.clear();
  }

  static boolean on() {
    return !SINKS.isEmpty();
  }

  static void emit(Map<String, Object> event) {
    for (Consumer<Map<String, Object>> s : SINKS) {
      s.accept(event);
    }
  }
}
