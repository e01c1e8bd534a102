package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.testdata.QemuNbd;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.TestQmp;
import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pluck nbd info|map|copy} against qemu-nbd and qemu-storage-daemon, checked with nbdinfo. */
class NbdCommandIT {
  @TempDir static Path tmp;
  static Path image;


  @BeforeAll
  static void image() throws Exception {
    image = tmp.resolve("disk.raw");
    byte[] bytes = new byte[32 << 20];
    new Random(15).nextBytes(bytes);
    Files.write(image, bytes);
    Tools.runOk("fallocate", "--punch-hole", "--offset", "4194304", "--length", "8388608", image.toString());
    Tools.runOk("fallocate", "--punch-hole", "--offset", "30408704", "--length", "65536", image.toString());
  }

  @Test
  void mapPrintsWhatNbdinfoPrints() throws Exception {
    try (QemuNbd server = QemuNbd.serve(image)) {
      CliRun run = CliRun.of("nbd", "map", server.uri());
      assertThat(run.exit()).isZero();
      assertThat(run.out()).isEqualTo(Tools.runOk("nbdinfo", "--map", server.uri()).stdout());
      CliRun json = CliRun.of("nbd", "map", "--json", server.uri());
      List<String> lines = json.out().lines().toList();
      assertThat(lines).hasSize(run.out().lines().toList().size());
      JsonNode hole = new ObjectMapper().readTree(lines.get(1));
      assertThat(hole.get("offset").asLong()).isEqualTo(4194304);
      assertThat(hole.get("description").asText()).isEqualTo("hole,zero");
    }
  }

  @Test
  void mapOfADirtyBitmapContext() throws Exception {
    Path disk = Files.copy(image, tmp.resolve("qsd.raw"));
    try (QemuStorageDaemon qsd = QemuStorageDaemon.start(disk, "raw", List.of()); TestQmp qmp = new TestQmp(qsd.qmpSocket())) {
      Path sock = qsd.dir().resolve("nbd.sock");
      qmp.execute("block-dirty-bitmap-add", "{\"node\":\"disk0\",\"name\":\"daily\"}");
      qmp.execute("nbd-server-start", "{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"" + sock + "\"}}}");
      qmp.execute("block-export-add", "{\"type\":\"nbd\",\"id\":\"rw\",\"node-name\":\"disk0\",\"name\":\"rw\",\"writable\":true}");
      Tools.runOk("qemu-io", "-f", "raw", "-c", "write -P 0xab 1M 64k", "-c", "write -P 0xcd 20M 300k", "nbd+unix:///rw?socket=" + sock);
      qmp.execute("block-export-add", "{\"type\":\"nbd\",\"id\":\"v\",\"node-name\":\"disk0\",\"name\":\"v\",\"writable\":false,"
          + "\"bitmaps\":[{\"node\":\"disk0\",\"name\":\"daily\"}]}");
      String uri = "nbd+unix:///v?socket=" + sock;
      CliRun run = CliRun.of("nbd", "map", "--context", "qemu:dirty-bitmap:daily", uri);
      assertThat(run.exit()).as(run.err()).isZero();
      assertThat(run.out()).isEqualTo(Tools.runOk("nbdinfo", "--map=qemu:dirty-bitmap:daily", uri).stdout());
      assertThat(run.out()).contains("dirty");
      CliRun info = CliRun.of("nbd", "info", "--json", uri);
      assertThat(new ObjectMapper().readTree(info.out()).get("metaContexts").toString()).contains("qemu:dirty-bitmap:daily");
    }
  }

  @Test
  void mapOfAllocationDepth() throws Exception {
    try (QemuNbd server = QemuNbd.serve(image, "raw", true, "", List.of("--allocation-depth"))) {
      CliRun run = CliRun.of("nbd", "map", "--context", "qemu:allocation-depth", server.uri());
      assertThat(run.exit()).as(run.err()).isZero();
      assertThat(run.out()).isEqualTo(Tools.runOk("nbdinfo", "--map=qemu:allocation-depth", server.uri()).stdout());
    }
  }

  @Test
  void infoAgreesWithNbdinfo() throws Exception {
    try (QemuNbd server = QemuNbd.serve(image)) {
      CliRun run = CliRun.of("nbd", "info", "--json", "--list", server.uri());
      assertThat(run.exit()).isZero();
      JsonNode ours = new ObjectMapper().readTree(run.out());
      JsonNode theirs = new ObjectMapper().readTree(Tools.runOk("nbdinfo", "--json", server.uri()).stdout()).get("exports").get(0);
      assertThat(ours.get("size").asLong()).isEqualTo(theirs.get("export-size").asLong());
      assertThat(ours.get("blockSizes").get("maximum").asLong()).isEqualTo(theirs.get("block_size_maximum").asLong());
      assertThat(ours.get("flags").toString().contains("can_multi_conn")).isEqualTo(theirs.get("can_multi_conn").asBoolean());
      assertThat(ours.get("flags").toString().contains("read_only")).isEqualTo(theirs.get("is_read_only").asBoolean());
      assertThat(ours.get("exports").get(0).get("name").asText()).isEmpty();
      assertThat(CliRun.of("nbd", "info", server.uri()).out()).contains("size: " + Files.size(image));
    }
  }

  @Test
  void copyWritesTheSameBytesAndKeepsHoles() throws Exception {
    try (QemuNbd server = QemuNbd.serve(image)) {
      Path out = tmp.resolve("copy.raw");
      Path trace = tmp.resolve("nbd.jsonl");
      CliRun run = CliRun.of("nbd", "copy", server.uri(), out.toString(), "--trace-nbd", trace.toString());
      assertThat(run.exit()).as(run.err()).isZero();
      assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(image));
      // The trace: the handshake's options and replies, then per connection what it asked for.
      java.util.List<JsonNode> events = new java.util.ArrayList<>();
      for (String l : Files.readAllLines(trace)) {
        events.add(new ObjectMapper().readTree(l));
      }
      assertThat(events).anyMatch(e -> e.get("event").asText().equals("option") && e.get("option").asText().equals("NBD_OPT_GO"));
      assertThat(events).anyMatch(e -> e.get("event").asText().equals("option-reply") && e.get("reply").asText().equals("NBD_REP_ACK"));
      List<JsonNode> summaries = events.stream().filter(e -> e.get("event").asText().equals("summary")).toList();
      assertThat(summaries).isNotEmpty();
      long read = summaries.stream().mapToLong(e -> e.at("/bytes/NBD_CMD_READ").asLong()).sum();
      assertThat(read).as("bytes read over all connections").isPositive().isLessThanOrEqualTo(Files.size(image));
      assertThat(summaries).allMatch(e -> e.get("largestRequest").asLong() <= 32 << 20);
      long inPlace = summaries.stream().mapToLong(e -> e.get("receivedInPlace").asLong()).sum();
      assertThat(inPlace).as("read data the socket wrote into the copy's buffers itself").isBetween(read * 9 / 10, read);

      long allocated = Long.parseLong(Tools.runOk("stat", "-c", "%b", out.toString()).stdout().strip()) * 512;
      assertThat(allocated).isLessThanOrEqualTo(Files.size(image) - (8 << 20));

      // Over one connection the copy's requests are in flight on it together (over the default
      // four, each connection may have one of them at a time).
      Path trace1 = tmp.resolve("nbd1.jsonl");
      CliRun one = CliRun.of("nbd", "copy", server.uri(), tmp.resolve("copy1.raw").toString(), "--connections", "1", "--trace-nbd", trace1.toString());
      assertThat(one.exit()).as(one.err()).isZero();
      assertThat(Files.mismatch(image, tmp.resolve("copy1.raw"))).isEqualTo(-1);
      List<JsonNode> oneSummary = new java.util.ArrayList<>();
      for (String l : Files.readAllLines(trace1)) {
        JsonNode e = new ObjectMapper().readTree(l);
        if (e.get("event").asText().equals("summary")) {
          oneSummary.add(e);
        }
      }
      assertThat(oneSummary).hasSize(1);
      assertThat(oneSummary.get(0).get("inFlightHighWater").asInt()).as("pipelined").isGreaterThan(1);
    }
  }

  @Test
  void failuresAreOneLineOnStderrWithExitOne() {
    CliRun run = CliRun.of("nbd", "info", "nbd+unix:///?socket=" + tmp.resolve("no-such.sock"));
    assertThat(run.exit()).isEqualTo(1);
    assertThat(run.err().lines().toList()).singleElement().satisfies(l -> assertThat(l).startsWith("pluck: ").contains("no-such.sock"));
    CliRun usage = CliRun.of("nbd", "map");
    assertThat(usage.exit()).isEqualTo(2);
    CliRun badUri = CliRun.of("nbd", "info", "http://x/");
    assertThat(badUri.exit()).isEqualTo(1);
    assertThat(badUri.err()).contains("scheme");
  }
}
