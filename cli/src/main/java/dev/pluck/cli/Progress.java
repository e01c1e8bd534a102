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

  private final String verb;

  Progress(String label, long total) {
    this(label, total, "read");
  }

  /** {@code verb}: what status lines say of their bytes ("read", "written", "served"). */
  Progress(String label, long total, String verb) {
    this.verb = verb;
    this.err = System.err;
    this.label = label;
    this.total = total;
    this.enabled = enabled();
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

  /**
   * Whether to draw: stderr is a terminal that is not dumb. The launcher tells, as {@code
   * -Dpluck.stderr.tty}; without it, the JDK can only say whether stdin and stdout are terminals.
   */
  static boolean enabled() {
    if (Pluck.quiet) {
      return false;
    }
    String told = System.getProperty("pluck.stderr.tty");
    if (told != null) {
      return Boolean.parseBoolean(told);
    }
    return System.console() != null && !"dumb".equals(System.getenv("TERM"));
  }

  /** A line without a total: what was done so far and the rate ({@code text} says the rest). */
  synchronized void status(long done, String text) {
    status(done, -1, text);
  }

  /**
   * What was done so far and the rate; with {@code expected} (about what will be done at the end,
   * -1 when unknown) also that and the time left at the rate so far.
   */
  synchronized void status(long done, long expected, String text) {
    if (!enabled) {
      return;
    }
    long now = System.nanoTime();
    if (now - lastDraw < 100_000_000L) {
      return;
    }
    lastDraw = now;
    double seconds = Math.max(1e-9, (now - start) / 1e9);
    double rate = done / seconds;
    String amount = RepoCommands.human(done) + (expected > done ? " of ~" + RepoCommands.human(expected) : "");
    String eta = expected > done && rate > 0 ? ", ETA " + duration((expected - done) / rate) : "";
    err.printf("\r%s %s %s, %.1f MiB/s%s, %s\033[K", label, amount, verb, rate / (1 << 20), eta, text);
    err.flush();
  }

  /** "42s", "3m05s", "2h07m". */
  static String duration(double seconds) {
    long s = Math.round(seconds);
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return String.format("%dm%02ds", s / 60, s % 60);
    }
    return String.format("%dh%02dm", s / 3600, (s % 3600) / 60);
  }

  @Override
  public void close() {
    if (enabled) {
      err.print("\r\033[K");
      err.flush();
    }
  }
}
