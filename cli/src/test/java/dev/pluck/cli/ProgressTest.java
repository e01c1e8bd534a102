package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The progress line: drawn only on a terminal, with the amount foreseen and the time left once known. */
class ProgressTest {
  @Test
  void etaOnceTheEndIsForeseen() throws Exception {
    String out = drawn("true", p -> {
      p.status(10 << 20, -1, "3 files");
      Thread.sleep(150);
      p.status(20 << 20, 100L << 20, "5 files");
    });
    assertThat(out).contains("10.0 MiB read").contains("3 files");
    assertThat(out).contains("20.0 MiB of ~100.0 MiB read").containsPattern("ETA \\d+s").contains("5 files");
  }

  @Test
  void nothingWhenStderrIsNoTerminal() throws Exception {
    assertThat(drawn("false", p -> p.status(10 << 20, 100L << 20, "x"))).isEmpty();
  }

  @Test
  void durations() {
    assertThat(Progress.duration(42.4)).isEqualTo("42s");
    assertThat(Progress.duration(185)).isEqualTo("3m05s");
    assertThat(Progress.duration(7620)).isEqualTo("2h07m");
  }

  interface Draw {
    void on(Progress p) throws Exception;
  }

  private static String drawn(String tty, Draw draw) throws Exception {
    PrintStream saved = System.err;
    String savedTty = System.getProperty("pluck.stderr.tty");
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    System.setErr(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    System.setProperty("pluck.stderr.tty", tty);
    try (Progress p = new Progress("backup", 0)) {
      draw.on(p);
    } finally {
      System.setErr(saved);
      if (savedTty == null) {
        System.clearProperty("pluck.stderr.tty");
      } else {
        System.setProperty("pluck.stderr.tty", savedTty);
      }
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }
}
