package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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

    Tools.Result usage = launch("", "completion", "--no-such-option");
    assertThat(usage.exitCode()).isEqualTo(2);
    assertThat(ARCHIVE).as("a failed run lists too few classes to archive").doesNotExist();

    Tools.Result first = launch("", "completion", "bash");
    assertThat(first.exitCode()).as(first.stderr()).isZero();
    assertThat(first.stdout()).startsWith("#!/usr/bin/env bash");
    assertThat(ARCHIVE).exists();
    try (var leftovers = Files.list(ARCHIVE.getParent())) {
      assertThat(leftovers.map(Path::toString)).as("class lists and unfinished archives are removed")
          .noneMatch(p -> p.endsWith(".classlist") || p.matches(".*pluck-completion\\.jsa\\.\\d+"));
    }

    // -Xshare:on makes the JVM fail rather than run without the archive.
    Path loaded = dir.resolve("classes.txt");
    Tools.Result second = launch("-Xshare:on -Xlog:class+load:file=" + loaded, "completion", "bash");
    assertThat(second.exitCode()).as(second.stderr()).isZero();
    assertThat(second.stdout()).isEqualTo(first.stdout());
    assertThat(Files.readAllLines(loaded))
        .anyMatch(l -> l.contains(" picocli.CommandLine source: shared objects file"))
        .noneMatch(l -> l.contains(" picocli.CommandLine source: file:"));
  }
}
