package dev.pluck.testdata;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class MbrLogicalIT {
  private final TestDisk disk = TestDisks.mbrLogical();
  private final Oracle oracle = disk.oracle();

  @Test
  void logicalPartitionsLieInsideTheExtendedOneBehindEbrs() throws Exception {
    JsonNode table = oracle.partitionTable().orElseThrow();
    assertThat(table.path("label").asText()).isEqualTo("dos");
    Map<String, JsonNode> byNode = new LinkedHashMap<>();
    table.path("partitions").forEach(p -> byNode.put(p.path("node").asText(), p));
    assertThat(byNode.keySet()).containsExactly("disk.img1", "disk.img2", "disk.img5", "disk.img6", "disk.img7");
    JsonNode extended = byNode.get("disk.img2");
    assertThat(extended.path("type").asText()).isEqualTo("5");
    long extStart = extended.path("start").asLong();
    long extEnd = extStart + extended.path("size").asLong();
    for (String n : new String[] {"disk.img5", "disk.img6", "disk.img7"}) {
      long start = byNode.get(n).path("start").asLong();
      assertThat(start).isGreaterThan(extStart).isLessThan(extEnd);
      // Each logical partition is described by an EBR just before it (boot signature 55 AA).
      ByteBuffer sig = ByteBuffer.allocate(2);
      try (var ch = Files.newByteChannel(disk.image())) {
        ch.position((start - 2048) * 512 + 510).read(sig);
      }
      assertThat(sig.array()).containsExactly(0x55, 0xAA);
    }
  }

  @Test
  void volumesHoldWhatBlkidFinds() {
    Map<String, String> types = oracle.volumes().stream()
        .collect(Collectors.toMap(OracleVolume::id, OracleVolume::fsType));
    assertThat(types).containsAllEntriesOf(Map.of("p1", "ext4", "p5", "swap", "p6", "ntfs", "p7", "ext4"));
    assertThat(oracle.volume("p5").label()).isEqualTo("mswap");
    assertThat(oracle.volume("p6").label()).isEqualTo("mdata");
  }

  @Test
  void filesystemsHoldTheGeneratedTreesAndTheSleuthKitAgrees() {
    OracleAsserts.assertTreeMatchesGenerator(oracle, "p1", "/", "tree-p1");
    OracleAsserts.assertTreeMatchesGenerator(oracle, "p6", "/", "tree-p6");
    OracleAsserts.assertTreeMatchesGenerator(oracle, "p7", "/", "tree-p7");
    for (String id : new String[] {"p1", "p6", "p7"}) {
      OracleAsserts.assertSleuthkitAgrees(disk.image(), oracle.volume(id).offset(), oracle, id, p -> true, 20);
    }
  }
}
