package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.testdata.Nbdkit;
import dev.pluck.testdata.QemuNbd;
import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's class-data archives: made after a verb's first successful run, mapped by later
 * runs with picocli's classes in them (class-file version 49, which JDK 17 leaves out of dynamic
 * archives), and not made from a run that failed. Uses {@code completion}, which no other test runs.
 */
class LauncherIT {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  private static final Path ARCHIVE = ROOT.resolve("cli/target/pluck-completion.jsa");
  private static final Duration TIMEOUT = Duration.ofMinutes(2);

  private static Tools.Result launch(String javaOpts, String... args) {
    List<String> command = new java.util.ArrayList<>(List.of("env", "PLUCK_JAVA_OPTS=" + javaOpts, ROOT.resolve("pluck").toString()));
    command.addAll(List.of(args));
    return Tools.run(TIMEOUT, command);
  }

  @Test
  void aVerbsFirstGoodRunMakesTheArchiveLaterRunsMap(@TempDir Path dir) throws Exception {
    Files.deleteIfExists(ARCHIVE);
    Files.deleteIfExists(Path.of(ARCHIVE + ".failed"));
    for (Path old : leftovers("pluck-completion.jsa.")) {
      Files.delete(old);
    }

    Tools.Result usage = launch("", "completion", "--no-such-option");
    assertThat(usage.exitCode()).isEqualTo(2);
    assertThat(ARCHIVE).as("a failed run lists too few classes to archive").doesNotExist();

    Tools.Result first = launch("", "completion", "bash");
    assertThat(first.exitCode()).as(first.stderr()).isZero();
    assertThat(first.stdout()).startsWith("#!/usr/bin/env bash");
    assertThat(ARCHIVE).exists();
    assertThat(leftovers("pluck-completion.jsa.")).as("class lists and unfinished archives are removed").isEmpty();

    // -Xshare:on makes the JVM fail rather than run without the archive.
    Path loaded = dir.resolve("classes.txt");
    Tools.Result second = launch("-Xshare:on -Xlog:class+load:file=" + loaded, "completion", "bash");
    assertThat(second.exitCode()).as(second.stderr()).isZero();
    assertThat(second.stdout()).isEqualTo(first.stdout());
    assertThat(Files.readAllLines(loaded))
        .anyMatch(l -> l.contains(" picocli.CommandLine source: shared objects file"))
        .noneMatch(l -> l.contains(" picocli.CommandLine source: file:"));
  }

  /** Netty logs through {@link NettyLog}: an NBD command never starts java.util.logging. */
  @Test
  void nettyDoesNotStartJavaUtilLogging(@TempDir Path dir) throws Exception {
    Path image = Files.write(dir.resolve("disk.raw"), new byte[1 << 20]);
    try (QemuNbd server = QemuNbd.serve(image)) {
      Path loaded = dir.resolve("classes.txt");
      Tools.Result info = launch("-Xlog:class+load:file=" + loaded, "nbd", "info", server.uri());
      assertThat(info.exitCode()).as(info.stderr()).isZero();
      assertThat(info.stdout()).contains("size: " + (1 << 20));
      assertThat(Files.readAllLines(loaded))
          .anyMatch(l -> l.contains(" io.netty.channel.epoll.Epoll "))
          .noneMatch(l -> l.contains(" java.util.logging.LogManager "));
    }
  }

  /**
   * A recording run is java under the launcher, not exec'd: SIGTERM or SIGINT to the launcher must
   * still stop java (as SIGTERM: a background child of a script ignores SIGINT), and leave no
   * class list behind.
   */
  @Test
  void aSignalToARecordingRunStopsJava(@TempDir Path dir) throws Exception {
    Path archive = ROOT.resolve("cli/target/pluck-nbd-nbd.jsa");
    for (Path old : leftovers("pluck-nbd-nbd.jsa.")) {  // from runs killed outright before this test
      Files.delete(old);
    }
    for (String signal : List.of("TERM", "INT")) {
      Files.deleteIfExists(archive);
      Files.deleteIfExists(Path.of(archive + ".failed"));
      // Each read waits 2 s: the copy is still running when the signal comes.
      try (Nbdkit slow = Nbdkit.start("--filter=delay", "pattern", "size=64M", "rdelay=2")) {
        Path target = dir.resolve("copy-" + signal + ".raw");
        Process launcher = new ProcessBuilder(ROOT.resolve("pluck").toString(), "nbd", "copy", slow.uri(), target.toString())
            .redirectErrorStream(true).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (launcher.children().findAny().isEmpty() || !Files.exists(target)) {  // java started and copying
          assertThat(System.nanoTime()).as("the copy started").isLessThan(deadline);
          Thread.sleep(50);
        }
        ProcessHandle java = launcher.children().findFirst().orElseThrow();
        Tools.runOk("kill", "-" + signal, Long.toString(launcher.pid()));
        assertThat(launcher.waitFor(30, TimeUnit.SECONDS)).as("the launcher ended after SIG%s", signal).isTrue();
        assertThat(launcher.exitValue()).isEqualTo(143);
        assertThat(java.onExit().get(30, TimeUnit.SECONDS).isAlive()).as("java ended after SIG%s", signal).isFalse();
        assertThat(archive).as("no archive from a killed run").doesNotExist();
        assertThat(leftovers("pluck-nbd-nbd.jsa.")).isEmpty();
      }
    }
  }

  private static List<Path> leftovers(String prefix) throws java.io.IOException {
    try (var files = Files.list(ARCHIVE.getParent())) {
      return files.filter(p -> p.getFileName().toString().startsWith(prefix)).toList();
    }
  }
}
