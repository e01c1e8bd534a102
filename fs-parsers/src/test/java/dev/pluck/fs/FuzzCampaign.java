package dev.pluck.fs;

import dev.pluck.nbd.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;

/**
 * Structure-targeted damage to a real volume, case after case: each case changes a few bytes of
 * named structures (found by reading the intact volume first), opens the filesystem and does
 * everything a backup does with it. A case must end within 2 s with a result or with the reader's
 * own {@link FileSystemException}; anything else (another exception, a hang, running out of the
 * 256 MiB heap the build gives these tests) fails with the image, case number and damage.
 *
 * <p>A case is reproducible alone from its image and number: {@code -Dpluck.fuzz.case=IMAGE:N}.
 */
public final class FuzzCampaign {
  public static final Duration CASE_LIMIT = Duration.ofSeconds(2);
  /** Cases per image under -Pslow. */
  public static final int SLOW_CASES = 3000;
  private static final String ONE_CASE = System.getProperty("pluck.fuzz.case", "");

  /** A named byte range of the intact volume to damage. */
  public record Target(String structure, long offset, int length) {}

  /** Opens the filesystem on a (damaged) volume. */
  public interface Opener {
    FileSystem open(BlockDevice volume, OpenOptions options) throws IOException;
  }

  private FuzzCampaign() {}

  /** Runs cases on one volume for {@code budget} (or {@link #SLOW_CASES} under -Pslow); counts "result" and "error". */
  public static Map<String, Integer> run(String name, BlockDevice volume, List<Target> targets, Opener opener, Duration budget)
      throws Exception {
    Map<String, Integer> outcomes = new LinkedHashMap<>();
    if (!ONE_CASE.isEmpty() && !ONE_CASE.startsWith(name + ":")) {
      return outcomes;
    }
    boolean slow = Boolean.getBoolean("pluck.slow");
    long start = System.nanoTime();
    for (int c = 0; slow ? c < SLOW_CASES : System.nanoTime() - start < budget.toNanos(); c++) {
      if (!ONE_CASE.isEmpty() && !ONE_CASE.equals(name + ":" + c)) {
        continue;
      }
      Random r = new Random(Objects.hash(name, c));
      DamagedDevice dev = new DamagedDevice(volume);
      StringBuilder what = new StringBuilder(name + " case " + c + ":");
      int n = 1 + r.nextInt(8);
      for (int i = 0; i < n; i++) {
        Target t = targets.get(r.nextInt(targets.size()));
        long at = t.offset() + r.nextInt(t.length());
        mutate(dev, at, r);
        what.append(' ').append(t.structure()).append('@').append(at);
      }
      outcomes.merge(runCase(dev, new OpenOptions(r.nextBoolean(), w -> { }), opener, what.toString()), 1, Integer::sum);
      if (!ONE_CASE.isEmpty()) {
        break;
      }
    }
    return outcomes;
  }

  private static void mutate(DamagedDevice dev, long at, Random r) {
    switch (r.nextInt(5)) {
      case 0 -> dev.set(at, r.nextInt(256));
      case 1 -> dev.set(at, 0xff);
      case 2 -> dev.set(at, 0);
      case 3 -> dev.setLe32(at & ~3L, new long[] {0, 1, 2, 0xFFFFFFFFL, 0x7FFFFFFFL, 0x80000000L, 12}[r.nextInt(7)]);
      default -> dev.set(at, 1 << r.nextInt(8));
    }
  }

  private static String runCase(BlockDevice dev, OpenOptions options, Opener opener, String what) throws Exception {
    String[] outcome = {"result"};
    Throwable[] failure = {null};
    Thread worker = new Thread(() -> {
      try {
        exercise(opener.open(dev, options));
      } catch (FileSystemException named) {
        if (named.getMessage() == null || named.getMessage().isBlank()) {
          failure[0] = new AssertionError("an error without a message in " + what, named);
        }
        outcome[0] = "error";
      } catch (Throwable other) {
        failure[0] = new AssertionError(what + ": " + other, other);
      }
    }, "fuzz case");
    worker.setDaemon(true);
    worker.start();
    worker.join(CASE_LIMIT.toMillis());
    if (worker.isAlive()) {
      StackTraceElement[] stack = worker.getStackTrace();
      worker.interrupt();
      AssertionError timeout = new AssertionError(what + ": still running after " + CASE_LIMIT.toMillis() + " ms");
      timeout.setStackTrace(stack);
      throw timeout;
    }
    if (failure[0] != null) {
      throw new AssertionError(failure[0].getMessage(), failure[0]);
    }
    return outcome[0];
  }

  /** Everything a backup does with a filesystem, on a budget of entries and bytes. */
  public static void exercise(FileSystem fs) throws IOException {
    fs.info();
    fs.allocatedRanges();
    fs.metadataRanges();
    ByteBuffer buf = ByteBuffer.allocate(64 << 10);
    int[] budget = {3000};
    TreeWalk.walk(fs, fs.root(), e -> {
      if (budget[0]-- <= 0) {
        return false;
      }
      for (FileSystem.Stream s : fs.streams(e)) {
        try (SeekableByteChannel ch = fs.open(e, s.name())) {
          ch.read(buf.clear());
        }
      }
      if (e.type() == EntryType.FILE) {
        fs.extents(e);
        try (SeekableByteChannel ch = fs.open(e)) {
          for (int i = 0; i < 4 && ch.read(buf.clear()) > 0; i++) {
            // the first 256 KiB
          }
          if (e.size() > buf.capacity()) {
            ch.position(e.size() - buf.capacity());
            ch.read(buf.clear());
          }
        } catch (FileSystemException refused) {
          if (!refused.getMessage().contains("encrypted") && !refused.getMessage().contains("WOF")) {
            throw refused;
          }
        }
      }
      return true;
    });
  }
}
