package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

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
}
