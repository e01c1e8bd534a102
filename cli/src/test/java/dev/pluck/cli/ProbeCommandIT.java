package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.testdata.OracleVolume;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import org.junit.jupiter.api.Test;

class ProbeCommandIT {
  @Test
  void jsonDescribesEveryVolumeAsBlkidAndSfdiskDo() throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    CliRun r = CliRun.of("probe", "--json", disk.image().toString());
    assertThat(r.exit()).isZero();
    JsonNode root = new ObjectMapper().readTree(r.out());
    assertThat(root.get("table").asText()).isEqualTo("gpt");
    assertThat(root.get("sectorSize").asInt()).isEqualTo(512);
    assertThat(root.get("size").asLong()).isEqualTo(java.nio.file.Files.size(disk.image()));
    for (OracleVolume o : disk.oracle().volumes()) {
      JsonNode v = null;
      for (JsonNode x : root.get("volumes")) {
        if (x.get("id").asText().equals(o.id())) {
          v = x;
        }
      }
      assertThat(v).as(o.id()).isNotNull();
      assertThat(v.get("size").asLong()).isEqualTo(o.size());
      assertThat(v.get("label").asText()).isEqualTo(o.label());
      assertThat(v.get("uuid").asText()).isEqualTo(o.blkid().getOrDefault("UUID", ""));
      if (o.kind().equals("partition")) {
        assertThat(v.get("offset").asLong()).isEqualTo(o.offset());
      } else {
        assertThat(v.get("segments").get(0).get("pv").asText()).isEqualTo("p5");
      }
    }
    assertThat(CliRun.of("probe", disk.image().toString()).out()).contains("vg0/home").contains("lvswap").contains("EFI System");
  }

  @Test
  void mountsPrintsTheGuestsFstabResolvedToVolumes() throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    CliRun r = CliRun.of("probe", "--mounts", "--json", disk.image().toString());
    assertThat(r.exit()).as(r.err()).isZero();
    JsonNode root = new ObjectMapper().readTree(r.out());
    assertThat(root.get("root").asText()).isEqualTo("p3");
    java.util.Map<String, String> at = new java.util.TreeMap<>();
    root.get("mounts").forEach(m -> at.put(m.get("mountpoint").asText() + (m.get("swap").asBoolean() ? ":" + m.get("volume").asText() : ""),
        m.get("volume").asText()));
    assertThat(at).containsEntry("/", "p3").containsEntry("/home", "vg0/home").containsEntry("/srv/data", "vg0/data")
        .containsEntry("/boot/efi", "p2").containsKeys("swap:p4", "swap:vg0/swap");
    CliRun none = CliRun.of("probe", "--mounts", TestDisks.mbrLogical().image().toString());
    assertThat(none.exit()).isEqualTo(1);
    assertThat(none.err()).startsWith("pluck: no Linux root filesystem with an /etc/fstab");
  }

  @Test
  void namedDisksPrefixTheirVolumes() {
    TestDisk disk = TestDisks.lvmMulti();
    CliRun r = CliRun.of("probe", "vda=" + disk.disks().get(0), "vdb=" + disk.disks().get(1));
    assertThat(r.exit()).isZero();
    assertThat(r.out()).contains("vda:p1").contains("vdb:disk").contains("vgmulti/striped").contains("vgmulti/span");
    assertThat(r.err()).isEmpty();
    CliRun missing = CliRun.of("probe", disk.disks().get(0).toString());
    assertThat(missing.err()).contains("warning").contains("is missing");
    CliRun none = CliRun.of("probe", "/no/such/image");
    assertThat(none.exit()).isEqualTo(1);
    assertThat(none.err().lines().count()).isEqualTo(1);
  }
}
