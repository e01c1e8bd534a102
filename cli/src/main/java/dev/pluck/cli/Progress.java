package dev.pluck.cli;

import java.io.PrintStream;

/** A one-line progress bar on stderr, drawn only when stderr is a terminal. */
final class Progress implements AutoCloseable {
  private final PrintStream err;
  private final String label;
  private final long total;
  private final boolean enabled;
  private final long start = System.nanoTime();
  private long lastDraw;

  Progress(String label, long total) {
    this.err = System.err;
    this.label = label;
    this.total = total;
    this.enabled = System.console() != null && !"dumb".equals(System.getenv("TERM"));
  }

  synchronized void update(long done) {
    if (!enabled) {
      return;
    }
    long now = System.nanoTime();
    if (now - lastDraw < 100_000_000L && done < total) {
      return;
    }
    lastDraw = now;
    double fraction = total == 0 ? 1 : Math.min(1.0, (double) done / total);
    int width = 30;
    int filled = (int) (fraction * width);
    double seconds = Math.max(1e-9, (now - start) / 1e9);
    err.printf("\r%s [%s%s] %5.1f%% %8.1f MiB/s", label, "#".repeat(filled), " ".repeat(width - filled),
        fraction * 100, done / seconds / (1 << 20));
    err.flush();
  }

  /** A line without a total: what was done so far and the rate ({@code text} says the rest). */
  synchronized void status(long done, String text) {
    if (!enabled) {
      return;
    }
    long now = System.nanoTime();
    if (now - lastDraw < 100_000_000L) {
      return;
    }
    lastDraw = now;
    double seconds = Math.max(1e-9, (now - start) / 1e9);
    err.printf("\r%s %s read, %.1f MiB/s, %s\033[K", label, RepoCommands.human(done), done / seconds / (1 << 20), text);
    err.flush();
  }

  @Override
  public void close() {
    if (enabled) {
      err.print("\r\033[K");
      err.flush();
    }
  }
}
