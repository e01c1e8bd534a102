package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.TestQmp;
import dev.pluck.testdata.Tools;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pluck vm backup} through the command line, on qemu-storage-daemon. */
class VmBackupCommandIT {
  @TempDir Path tmp;

  @Test
  void aFullThenAnIncrementalThatReadsNoDataAndMovesTheChainOn() throws Exception {
    Path image = tmp.resolve("disk.raw");
    Tools.runOk("cp", "--sparse=always", TestDisks.gptMixed().image().toString(), image.toString());
    Path repo = tmp.resolve("repo");
    assertThat(CliRun.of("init", "--repo", repo.toString()).exit()).isZero();
    try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, "raw", List.of())) {
      String[] args = {"vm", "backup", "--qmp", qsd.qmpSocket().toString(), "--drive", "disk0", "--repo", repo.toString(), "--vm", "web1",
          "--volume", "p3", "--volume", "vg0/home", "--scratch", tmp.resolve("scratch").toString(), "--json"};
      Path trace = tmp.resolve("qmp.jsonl");
      String[] traced = java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.stream.Stream.of("--trace-qmp",
          trace.toString())).toArray(String[]::new);
      CliRun first = CliRun.of(traced);
      assertThat(first.exit()).as(first.err()).isZero();
      JsonNode a = new ObjectMapper().readTree(first.out());
      assertThat(a.get("checkpoint").asText()).isEqualTo("pluck-backup-1");
      assertThat(a.get("since").isNull()).isTrue();
      assertThat(a.get("fullBecause").asText()).contains("no earlier checkpoint on disk0");
      assertThat(a.get("bytesRead").get("data").asLong()).isGreaterThan(50L << 20);

      // The trace: every command sent and reply and event received, in order, as JSON lines.
      List<JsonNode> lines = new ArrayList<>();
      for (String l : java.nio.file.Files.readAllLines(trace)) {
        lines.add(new ObjectMapper().readTree(l));
      }
      assertThat(lines).anyMatch(l -> l.get("direction").asText().equals("receive") && l.at("/message/QMP").isObject());
      assertThat(lines).anyMatch(l -> l.get("direction").asText().equals("send")
          && l.at("/message/execute").asText().equals("transaction"));
      assertThat(lines).anyMatch(l -> l.get("direction").asText().equals("receive") && l.at("/message/event").isTextual());
      assertThat(lines.stream().map(l -> l.get("seq").asLong()).toList()).isSorted();
      long sends = lines.stream().filter(l -> l.get("direction").asText().equals("send")).count();
      long replies = lines.stream().filter(l -> l.at("/message/return").isContainerNode() || l.at("/message/error").isObject()).count();
      assertThat(replies).as("a reply to every command").isEqualTo(sends);

      CliRun second = CliRun.of(args);
      assertThat(second.exit()).as(second.err()).isZero();
      JsonNode b = new ObjectMapper().readTree(second.out());
      assertThat(b.get("since").asText()).isEqualTo("pluck-backup-1");
      assertThat(b.get("checkpoint").asText()).isEqualTo("pluck-backup-2");
      assertThat(b.get("parent").asText()).isEqualTo(a.get("snapshot").asText());
      assertThat(b.get("bytesRead").get("data").asLong()).as("nothing written: no data read").isZero();
      assertThat(b.has("fullBecause")).isFalse();
      assertThat(b.get("files").get("unchanged").asLong()).isGreaterThan(4000);
      assertThat(b.get("consistency").asText()).isEqualTo("crash-consistent");

      try (TestQmp qmp = new TestQmp(qsd.qmpSocket())) {
        assertThat(qmp.execute("query-named-block-nodes").findValuesAsText("name")).containsOnly("pluck-backup-2");
        assertThat(qmp.execute("query-block-exports").size()).as("the view is gone").isZero();
      }
      CliRun usage = CliRun.of("vm", "backup", "--qmp", qsd.qmpSocket().toString(), "--drive", "disk0", "--repo", repo.toString(),
          "--fleecing", "sideways");
      assertThat(usage.exit()).isEqualTo(2);
    }
    CliRun list = CliRun.of("snapshots", "--repo", repo.toString(), "--json");
    assertThat(list.out().lines().count()).isEqualTo(2);
  }
}
