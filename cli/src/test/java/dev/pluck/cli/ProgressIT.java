package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.testdata.QemuNbd;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The progress lines of backup, {@code nbd copy} and serve (restore, check and prune: {@link
 * RestoreCommandIT}), run by the launcher inside script(1)'s pseudo-terminal with stdout sent
 * elsewhere, so that only stderr can reach the terminal; and their absence when stderr is piped.
 */
class ProgressIT {
  private static final String LAUNCHER = Path.of("../pluck").toAbsolutePath().normalize().toString();
  private static final Duration TIMEOUT = Duration.ofMinutes(2);

  /** {@code command} on a terminal (TERM=xterm): what the terminal showed. */
  private static Tools.Result onATerminal(String command) {
    Tools.require("script");
    return Tools.run(TIMEOUT, List.of("env", "TERM=xterm", "script", "-qec", command, "/dev/null"));
  }

  /** {@code command} with stderr into a pipe: what came through it. */
  private static Tools.Result piped(String command) {
    return Tools.run(TIMEOUT, List.of("bash", "-c", command + " 2>&1 >/dev/null"));
  }

  @Test
  void backupDrawsBytesReadAndFilesOnATerminalOnly(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.ext4Features();
    String repo = dir.resolve("repo").toString();
    assertThat(CliRun.of("init", "--repo", repo).exit()).isZero();
    String backup = LAUNCHER + " backup --repo " + repo + " " + disk.image() + " --json >/dev/null";

    Tools.Result tty = onATerminal(backup);
    assertThat(tty.exitCode()).as(tty.stdout()).isZero();
    assertThat(tty.stdout()).as("the backup's progress line").containsPattern("\rbackup [0-9.]+ [KMG]?i?B.* read, [0-9.]+ MiB/s.*, \\d+ files");

    Tools.Result quiet = onATerminal(LAUNCHER + " backup -q --repo " + repo + " " + disk.image() + " --json >/dev/null");
    assertThat(quiet.exitCode()).as(quiet.stdout()).isZero();
    assertThat(quiet.stdout()).as("-q: no progress on a terminal").doesNotContain(" read, ");

    Tools.Result noTty = piped(backup);
    assertThat(noTty.exitCode()).as(noTty.stdout()).isZero();
    assertThat(noTty.stdout()).as("stderr piped: no progress").doesNotContain(" read, ").doesNotContain("\r");
  }

  @Test
  void nbdCopyDrawsABarOnATerminalOnly(@TempDir Path dir) throws Exception {
    Path image = dir.resolve("disk.raw");
    byte[] bytes = new byte[64 << 20];
    new Random(12).nextBytes(bytes);
    Files.write(image, bytes);
    try (QemuNbd server = QemuNbd.serve(image)) {
      String copy = LAUNCHER + " nbd copy '" + server.uri() + "' " + dir.resolve("copy.raw");
      Tools.Result tty = onATerminal(copy);
      assertThat(tty.exitCode()).as(tty.stdout()).isZero();
      assertThat(tty.stdout()).as("the copy's bar ends full").containsPattern("\rcopy \\[#+ *\\] +[0-9.]+% +[0-9.]+ MiB/s")
          .contains("[" + "#".repeat(30) + "] 100.0%");
      assertThat(Files.mismatch(image, dir.resolve("copy.raw"))).isEqualTo(-1);

      Tools.Result noTty = piped(copy);
      assertThat(noTty.exitCode()).as(noTty.stdout()).isZero();
      assertThat(noTty.stdout()).as("stderr piped: no bar").doesNotContain("copy [");
    }
  }

  @Test
  void serveCountsBytesServedAndClientsOnATerminal(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.mbrLogical();
    String repo = dir.resolve("repo").toString();
    assertThat(CliRun.of("init", "--repo", repo).exit()).isZero();
    assertThat(CliRun.of("backup", "--repo", repo, "--mode", "disk", disk.image().toString()).exit()).isZero();
    Path socket = dir.resolve("serve.sock");
    // timeout(1) ends the server with SIGTERM, as an operator's Ctrl-C would, once the client is done.
    Path done = dir.resolve("client-done");
    String serve = "timeout -s TERM 60 " + LAUNCHER + " serve --repo " + repo + " latest --whole-disk --socket " + socket
        + " >/dev/null & pid=$!; while [ ! -e " + done + " ]; do sleep 0.2; done; sleep 1.5; kill -TERM $pid; wait $pid";
    Tools.require("script");
    Process terminal = new ProcessBuilder("env", "TERM=xterm", "script", "-qec", serve, "/dev/null")
        .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!Files.exists(socket) && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      assertThat(socket).as("serve listens").exists();
      Tools.Result read = Tools.run(TIMEOUT, List.of("nbdcopy", "--no-extents", "nbd+unix:///?socket=" + socket, "null:"));
      assertThat(read.exitCode()).as(read.stderr()).isZero();
      Files.createFile(done);
      assertThat(terminal.waitFor(60, TimeUnit.SECONDS)).as("serve stopped").isTrue();
      String shown = new String(terminal.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      long size = Files.size(disk.image());
      assertThat(shown).as("what serve drew").contains("\rserve ")
          .containsPattern("served, [0-9.]+ MiB/s, served to [1-9]\\d* clients \\(0 connected\\)");
      assertThat(shown).as("the whole disk was served: %d bytes", size).contains(RepoCommands.human(size) + " served");
    } finally {
      terminal.destroyForcibly();
    }
  }
}
