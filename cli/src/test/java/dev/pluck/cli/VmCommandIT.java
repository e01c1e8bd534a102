package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.TestQmp;
import dev.pluck.testdata.Tools;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pluck vm export} and {@code vm checkpoints} as a user runs them: a separate process. */
class VmCommandIT {
  @TempDir Path tmp;

  @Test
  void exportServesAViewWithoutHoldingTheMonitorAndEndsWhenStdinCloses() throws Exception {
    Path image = tmp.resolve("disk.raw");
    byte[] bytes = new byte[16 << 20];
    new Random(31).nextBytes(bytes);
    Files.write(image, bytes);
    try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, "raw", List.of())) {
      Process p = new ProcessBuilder("java", "-jar", Path.of("target/pluck.jar").toAbsolutePath().toString(),
          "vm", "export", "--qmp", qsd.qmpSocket().toString(), "--drive", "disk0", "--chain", "nightly",
          "--scratch", tmp.resolve("scratch").toString(), "--until-stdin-closes", "--json")
          .redirectError(ProcessBuilder.Redirect.INHERIT).start();
      BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      JsonNode view = new ObjectMapper().readTree(out.readLine());
      assertThat(view.get("mode").asText()).isEqualTo("backup-sync-none");
      JsonNode drive = view.get("drives").get(0);
      assertThat(drive.get("bitmap").asText()).isEqualTo("pluck-nightly-1");
      String uri = drive.get("uri").asText();
      assertThat(Tools.runOk("nbdinfo", "--size", uri).stdout().strip()).isEqualTo(Long.toString(bytes.length));
      Path copy = tmp.resolve("copy.raw");
      Tools.runOk("nbdcopy", uri, copy.toString());
      assertThat(Files.readAllBytes(copy)).isEqualTo(bytes);
      // Another client can use the monitor while the view is open.
      try (TestQmp other = new TestQmp(qsd.qmpSocket())) {
        assertThat(other.execute("query-block-exports").toString()).contains(drive.get("uri").asText().replaceAll("^nbd\\+unix:///([^?]+).*", "$1"));
      }
      Process listing = new ProcessBuilder("java", "-jar", Path.of("target/pluck.jar").toAbsolutePath().toString(),
          "vm", "checkpoints", "--qmp", qsd.qmpSocket().toString(), "--json").start();
      String rows = new String(listing.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(listing.waitFor()).isZero();
      JsonNode row = new ObjectMapper().readTree(rows.lines().findFirst().orElseThrow());
      assertThat(row.get("bitmap").asText()).isEqualTo("pluck-nightly-1");
      assertThat(row.get("chain").asText()).isEqualTo("nightly");
      assertThat(row.get("enabled").asBoolean()).isTrue();

      p.getOutputStream().close();  // the user is done
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isZero();
      try (TestQmp qmp = new TestQmp(qsd.qmpSocket())) {
        assertThat(qmp.execute("query-block-exports").size()).isZero();
        assertThat(qmp.execute("query-jobs").size()).isZero();
        assertThat(qmp.execute("query-named-block-nodes").findValuesAsText("node-name")).containsExactlyInAnyOrder("disk0", "file0");
      }
    }
  }
}
