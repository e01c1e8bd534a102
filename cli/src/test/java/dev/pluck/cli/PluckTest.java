package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class PluckTest {

  private record Run(int exit, String out, String err) {}

  private static Run run(String... args) {
    CommandLine cmd = Pluck.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    int exit = cmd.execute(args);
    return new Run(exit, out.toString(), err.toString());
  }

  @Test
  void versionNamesTheProjectVersionMavenBuilt() {
    Run run = run("--version");
    assertThat(run.exit()).isZero();
    assertThat(run.out()).startsWith("pluck 0.").doesNotContain("${").doesNotContain("unknown");
  }

  @Test
  void helpDescribesTheCommandOnStdout() {
    Run run = run("--help");
    assertThat(run.exit()).isZero();
    assertThat(run.out()).contains("Usage: pluck").contains("--version").contains("Exit status");
    assertThat(run.err()).isEmpty();
  }

  @Test
  void unknownOptionIsAUsageErrorWithExitTwoAndOneLineOnStderr() {
    Run run = run("--no-such-option");
    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.out()).isEmpty();
    assertThat(run.err().lines().findFirst()).hasValueSatisfying(l -> assertThat(l).startsWith("pluck: Unknown option"));
  }
}
