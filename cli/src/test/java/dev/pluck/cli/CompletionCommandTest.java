package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pluck completion}: scripts bash parses, that complete pluck's commands and options. */
class CompletionCommandTest {
  @Test
  void bashCompletesCommandsAndOptions(@TempDir Path tmp) throws Exception {
    CliRun r = CliRun.of("completion", "bash");
    assertThat(r.exit()).isZero();
    Path script = tmp.resolve("pluck.bash");
    Files.writeString(script, r.out());
    assertThat(Tools.run(java.time.Duration.ofSeconds(30), List.of("bash", "-n", script.toString())).exitCode()).as("bash parses it").isZero();
    // Ask bash itself: complete "pluck res" and "pluck restore --ov".
    Path probe = tmp.resolve("probe.sh");
    Files.writeString(probe, "source " + script + "\n"
        + "COMP_WORDS=(pluck res); COMP_CWORD=1; COMP_LINE='pluck res'; COMP_POINT=${#COMP_LINE}; _complete_pluck pluck res pluck;"
        + " echo \"${COMPREPLY[@]}\"\n"
        + "COMP_WORDS=(pluck restore --ov); COMP_CWORD=2; COMP_LINE='pluck restore --ov'; COMP_POINT=${#COMP_LINE};"
        + " _complete_pluck pluck --ov restore; echo \"${COMPREPLY[@]}\"\n");
    Tools.Result got = Tools.run(java.time.Duration.ofSeconds(30), List.of("bash", probe.toString()));
    assertThat(got.stdout().lines().toList()).as(got.stderr()).containsExactly("restore", "--overwrite");
    assertThat(CliRun.of("completion", "zsh").out()).startsWith("autoload -U +X compinit").contains("_complete_pluck");
    assertThat(CliRun.of("completion", "fish").exit()).isEqualTo(2);
  }
}
