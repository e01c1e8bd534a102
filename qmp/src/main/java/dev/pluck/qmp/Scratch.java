package dev.pluck.qmp;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

/**
 * The fleecing scratch space: checked before a view begins and watched while it lives. The guest
 * comes first: when the scratch outgrows its limit (or its file system runs low), the view is
 * given up rather than letting a full disk fail a guest write.
 */
public final class Scratch {
  /** A view does not begin with less free space than this on the scratch file system. */
  public static final long MIN_FREE = 64L << 20;
  /** Below this much free space a living view is given up, whatever its limit. */
  public static final long RESERVE = 32L << 20;

  private Scratch() {}

  /**
   * The limit a view may use: {@code requested}, or half the free space when 0; fails plainly
   * when the file system is too full to start.
   */
  public static long limit(Path dir, long requested) throws IOException {
    Files.createDirectories(dir);
    FileStore store = Files.getFileStore(dir);
    long free = store.getUsableSpace();
    if (free < MIN_FREE) {
      throw new QmpException("begin", "ScratchFull", "the scratch file system of " + dir + " has " + (free >> 20)
          + " MiB free; a view needs at least " + (MIN_FREE >> 20) + " MiB (choose another --scratch)");
    }
    long limit = requested > 0 ? requested : free / 2;
    return Math.min(limit, free - RESERVE);
  }

  /** Bytes the files take on disk (not their apparent size: scratch files are sparse). */
  public static long allocated(List<Path> files) {
    long total = 0;
    for (Path f : files) {
      try {
        if (Files.exists(f)) {
          Process p = new ProcessBuilder("du", "--block-size=1", f.toString()).redirectErrorStream(true).start();
          String out = new String(p.getInputStream().readAllBytes()).trim();
          p.waitFor();
          total += Long.parseLong(out.split("\\s+")[0]);
        }
      } catch (IOException | NumberFormatException e) {
        // unreadable now: count nothing, the next look will tell
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    return total;
  }

  /**
   * Watches a view's scratch files on a daemon thread; calls {@code breach} once, with the reason,
   * when they use more than {@code limit} bytes or their file system gets below {@link #RESERVE}.
   * Returns the thread (interrupt it to stop watching).
   */
  public static Thread watch(PullView.View view, long limit, Duration every, Consumer<String> breach) {
    List<Path> files = view.drives().stream().map(d -> Path.of(d.scratchFile())).toList();
    Thread t = new Thread(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        long used = allocated(files);
        long free = Long.MAX_VALUE;
        try {
          if (!files.isEmpty() && Files.exists(files.get(0).getParent())) {
            free = Files.getFileStore(files.get(0).getParent()).getUsableSpace();
          }
        } catch (IOException ignored) {
          // keep the last answer
        }
        if (used > limit || free < RESERVE) {
          breach.accept(used > limit
              ? "the view's scratch files use " + (used >> 20) + " MiB, over the limit of " + (limit >> 20) + " MiB"
              : "the scratch file system is down to " + (free >> 20) + " MiB free");
          return;
        }
        try {
          Thread.sleep(every.toMillis());
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "pluck-scratch-watch");
    t.setDaemon(true);
    t.start();
    return t;
  }
}
