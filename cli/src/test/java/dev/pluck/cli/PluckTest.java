package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class PluckTest {


  @Test
  void versionNamesTheProjectVersionMavenBuilt() {
    CliRun run = CliRun.of("--version");
    assertThat(run.exit()).isZero();
    assertThat(run.out()).startsWith("pluck 0.").doesNotContain("${").doesNotContain("unknown");
  }

  @Test
  void helpDescribesTheCommandOnStdout() {
    CliRun run = CliRun.of("--help");
    assertThat(run.exit()).isZero();
    assertThat(run.out()).contains("Usage: pluck").contains("--version").contains("Exit status");
    assertThat(run.err()).isEmpty();
  }

  @Test
  void unknownOptionIsAUsageErrorWithExitTwoAndOneLineOnStderr() {
    CliRun run = CliRun.of("--no-such-option");
    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.out()).isEmpty();
    assertThat(run.err().lines().findFirst()).hasValueSatisfying(l -> assertThat(l).startsWith("pluck: Unknown option"));
  }

  /** A failure is one line on stderr; with -v (on any command) the stack trace follows it. */
  @Test
  void verboseAddsWhereAFailureHappened() {
    CliRun plain = CliRun.of("probe", "/no/such/image");
    assertThat(plain.exit()).isEqualTo(1);
    assertThat(plain.err().lines().count()).isEqualTo(1);
    CliRun verbose = CliRun.of("probe", "-v", "/no/such/image");
    try {
      assertThat(verbose.exit()).isEqualTo(1);
      assertThat(verbose.err().lines().findFirst()).isEqualTo(plain.err().lines().findFirst());
      assertThat(verbose.err()).contains("\tat dev.pluck.");
    } finally {
      Pluck.verbose = false;
    }
  }

  /** Every command takes -v and -q, and --help says so. */
  @Test
  void everyCommandTakesVerboseAndQuiet() {
    for (String command : java.util.List.of("restore", "backup", "ls", "serve", "vm")) {
      assertThat(CliRun.of(command, "--help").out()).as(command).contains("--quiet").contains("--verbose");
    }
  }

  /** A run builds only the verb (and subverb) it names; anything else gets every verb, for help and errors. */
  @Test
  void aRunBuildsOnlyTheVerbItNames() {
    CommandLine copy = Pluck.commandLine(new String[] {"nbd", "copy", "nbd://x", "-"});
    assertThat(copy.getSubcommands().keySet()).containsExactly("nbd");
    assertThat(copy.getSubcommands().get("nbd").getSubcommands().keySet()).containsExactly("copy");
    assertThat(Pluck.commandLine(new String[] {"backup", "--help"}).getSubcommands().keySet()).containsExactly("backup");
    CommandLine nbd = Pluck.commandLine(new String[] {"nbd", "no-such-subverb"});
    assertThat(nbd.getSubcommands().get("nbd").getSubcommands().keySet()).containsExactly("info", "map", "copy");
    CommandLine all = Pluck.commandLine(new String[] {"-v", "vm", "backup"});
    assertThat(all.getSubcommands()).hasSameSizeAs(Pluck.commandLine().getSubcommands()).containsKeys("nbd", "vm", "backup", "restore");
    assertThat(all.getSubcommands().get("vm").getSubcommands().keySet()).containsExactly("backup", "checkpoints", "export", "cleanup");
    // -v and -q reach the subverbs built on their own too
    assertThat(copy.getSubcommands().get("nbd").getSubcommands().get("copy").getCommandSpec().findOption("--verbose")).isNotNull();
  }
}
