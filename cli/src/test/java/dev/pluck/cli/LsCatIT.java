package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.testdata.OracleEntry;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code pluck ls -R --json} and {@code pluck cat} against the kernel's view of the same volume. */
class LsCatIT {

  @Test
  void recursiveJsonListingEqualsTheOracle() throws Exception {
    TestDisk disk = TestDisks.ext4Features();
    CliRun r = CliRun.of("ls", disk.image().toString(), "--volume", "disk", "-R", "--json");
    assertThat(r.exit()).as(r.err()).isZero();
    Map<String, JsonNode> ours = new HashMap<>();
    ObjectMapper json = new ObjectMapper();
    for (String line : r.out().lines().toList()) {
      JsonNode n = json.readTree(line);
      ours.put(n.get("path").asText(), n);
    }
    Map<String, OracleEntry> theirs = disk.oracle().filesByPath("disk");
    assertThat(ours.keySet()).containsExactlyInAnyOrderElementsOf(theirs.keySet());
    for (OracleEntry o : theirs.values()) {
      JsonNode n = ours.get(o.path());
      assertThat(n.get("type").asText()).isEqualTo(o.type());
      assertThat(Integer.parseInt(n.get("mode").asText(), 8)).isEqualTo(o.mode());
      Instant mtime = Instant.parse(n.get("mtime").asText());
      assertThat(mtime.getEpochSecond() * 1_000_000_000L + mtime.getNano()).as(o.path()).isEqualTo(o.mtimeNs());
      assertThat(n.get("xattrs").size()).isEqualTo(o.xattrs().size());
      if (o.target() != null) {
        assertThat(n.get("target").asText()).isEqualTo(o.target());
      }
    }
  }

  @Test
  void catWritesTheFilesBytes() throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    OracleEntry file = disk.oracle().files("vg0/home").stream().filter(e -> e.isFile() && e.size() > 10_000).findFirst().orElseThrow();
    Process p = new ProcessBuilder("java", "-jar", java.nio.file.Path.of("target/pluck.jar").toAbsolutePath().toString(), "cat",
        disk.image().toString(), "--volume", "label=home", file.path()).start();
    byte[] bytes = p.getInputStream().readAllBytes();
    assertThat(p.waitFor()).isZero();
    assertThat(java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes))).isEqualTo(file.sha256());
    CliRun notFile = CliRun.of("cat", disk.image().toString(), "--volume", "p3", "/");
    assertThat(notFile.exit()).isEqualTo(1);
    assertThat(notFile.err()).contains("not a regular file");
    CliRun noVolume = CliRun.of("ls", disk.image().toString(), "--volume", "p9");
    assertThat(noVolume.err()).contains("no volume p9").contains("vg0/home");
  }
}
