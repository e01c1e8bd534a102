package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pluck serve} as an operator runs it: the jar serves a disk-mode snapshot on a unix
 * socket until SIGTERM; qemu-img reads the same disk from it as from the restored image; a
 * writable qcow2 overlay on it takes a write that the snapshot never sees.
 */
class ServeCommandIT {
  @Test
  void instantRecoveryThroughAnOverlay(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.mbrLogical();
    String repo = dir.resolve("repo").toString();
    assertThat(CliRun.of("init", "--repo", repo).exit()).isZero();
    assertThat(CliRun.of("backup", "--repo", repo, "--mode", "disk", disk.image().toString()).exit()).isZero();
    Path restored = dir.resolve("restored.raw");
    assertThat(CliRun.of("restore", "--repo", repo, "latest", "--whole-disk", "--image", restored.toString()).exit()).isZero();

    Path socket = dir.resolve("serve.sock");
    Path overlay = dir.resolve("now.qcow2");
    Process p = new ProcessBuilder("java", "-jar", Path.of("target/pluck.jar").toAbsolutePath().toString(), "serve", "--repo", repo,
        "latest", "--whole-disk", "--socket", socket.toString(), "--writable-overlay", overlay.toString(), "--json")
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream()));
      JsonNode started = new ObjectMapper().readTree(out.readLine());
      JsonNode export = started.path("exports").get(0);
      String uri = export.path("uri").asText();
      assertThat(export.path("size").asLong()).isEqualTo(Files.size(disk.image()));
      assertThat(started.path("overlay").asText()).isEqualTo(overlay.toString());

      Tools.Result same = Tools.run(Duration.ofMinutes(2), List.of("qemu-img", "compare", "-f", "raw", "-F", "raw", restored.toString(), uri));
      assertThat(same.exitCode()).as(same.stdout() + same.stderr()).isZero();

      assertThat(Tools.runOk("qemu-img", "info", overlay.toString()).stdout()).contains("backing file: " + uri);
      Tools.runOk("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1048576 65536", overlay.toString());
      Tools.runOk("qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 1048576 65536", overlay.toString());
      Tools.Result differs = Tools.run(Duration.ofMinutes(2), List.of("qemu-img", "compare", "-f", "qcow2", "-F", "raw",
          overlay.toString(), uri));
      assertThat(differs.exitCode()).as("the overlay took the write").isEqualTo(1);
      assertThat(differs.stdout()).contains("offset 1048576");
      Tools.Result unchanged = Tools.run(Duration.ofMinutes(2), List.of("qemu-img", "compare", "-f", "raw", "-F", "raw",
          restored.toString(), uri));
      assertThat(unchanged.exitCode()).as("the snapshot did not").isZero();
    } finally {
      p.destroy();  // SIGTERM
    }
    assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("stops on SIGTERM").isTrue();
    assertThat(Files.exists(socket)).as("socket removed").isFalse();
    assertThat(CliRun.of("serve", "--repo", repo, "latest", "--socket", socket.toString()).exit()).as("what to serve").isEqualTo(2);
    assertThat(CliRun.of("serve", "--repo", repo, "latest", "--whole-disk").exit()).as("where to listen").isEqualTo(2);
  }
}
