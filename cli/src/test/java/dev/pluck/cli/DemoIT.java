package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ./pluck demo}, the README's first command, as a user runs it. */
class DemoIT {
  @TempDir Path tmp;

  @Test
  void backsUpTheSampleVmTwiceAndCleansUp() throws Exception {
    Path work = tmp.resolve("demo");
    Process p = new ProcessBuilder("java", "-Dpluck.home=" + Path.of("..").toAbsolutePath().normalize(), "-jar",
        Path.of("target/pluck.jar").toAbsolutePath().toString(), "demo", "--dir", work.toString())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(out).isZero();
    assertThat(out).contains("/etc/demo.conf (new)").contains("pluck-backup-1").contains("pluck-backup-2");
    long full = bytes(out, "data read", 1);
    long incremental = bytes(out, "data read", 2);
    assertThat(full).as("the full backup reads /home and /etc").isGreaterThan(20L << 20);
    assertThat(incremental).as("the incremental reads the 1 MiB log and the 4 KiB overwritten").isBetween(1L << 20, 2L << 20);
    assertThat(out.lines().filter(l -> l.contains("demo-vm")).count()).as("two snapshots listed").isEqualTo(2);
    Matcher before = Pattern.compile("sha256 before the write  ([0-9a-f]{64})").matcher(out);
    Matcher restored = Pattern.compile("sha256 restored          ([0-9a-f]{64})  \\(the same: restored\\)").matcher(out);
    Matcher now = Pattern.compile("sha256 in the guest now  ([0-9a-f]{64})").matcher(out);
    assertThat(before.find() && restored.find() && now.find()).as("the restore lines in%n%s", out).isTrue();
    assertThat(restored.group(1)).isEqualTo(before.group(1)).isNotEqualTo(now.group(1));
    assertThat(Files.exists(work)).as("the demo cleans up after itself").isFalse();
    assertThat(new ProcessBuilder("losetup", "-a").start().getInputStream().readAllBytes()).asString().doesNotContain(work.toString());
  }

  /** The value of column {@code column} (1 or 2) of the result row {@code name}, in bytes. */
  private static long bytes(String out, String name, int column) {
    Matcher m = Pattern.compile(Pattern.quote(name) + "\\s+([\\d.]+) (B|KiB|MiB|GiB)\\s+([\\d.]+) (B|KiB|MiB|GiB)").matcher(out);
    assertThat(m.find()).as("a row %s in%n%s", name, out).isTrue();
    double value = Double.parseDouble(m.group(2 * column - 1));
    int shift = switch (m.group(2 * column)) {
      case "KiB" -> 10;
      case "MiB" -> 20;
      case "GiB" -> 30;
      default -> 0;
    };
    return (long) (value * (1L << shift));
  }
}
