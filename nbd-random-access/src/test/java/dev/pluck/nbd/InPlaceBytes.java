package dev.pluck.nbd;

import dev.pluck.nbd.protocol.NbdTrace;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Sums, from the summaries NBD connections trace when they close, the read data the socket wrote
 * straight into request buffers ({@code receivedInPlace}). Tracing is process-wide: close it.
 */
final class InPlaceBytes implements AutoCloseable {
  private final List<Map<String, Object>> summaries = new CopyOnWriteArrayList<>();

  InPlaceBytes() {
    NbdTrace.to(e -> {
      if ("summary".equals(e.get("event"))) {
        summaries.add(e);
      }
    });
  }

  /** Over the connections closed so far. */
  long total() {
    return summaries.stream().mapToLong(e -> ((Number) e.get("receivedInPlace")).longValue()).sum();
  }

  @Override
  public void close() {
    NbdTrace.clear();
  }
}
