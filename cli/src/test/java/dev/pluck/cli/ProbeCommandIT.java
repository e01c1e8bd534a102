package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.testdata.OracleVolume;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class ProbeCommandIT {
  private static String[] run(String... args) {
    var cmd = Pluck.commandLine();
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    int exit = cmd.execute(args);
    return new String[] {Integer.toString(exit), out.toString(), err.toString()};
  }

  @Test
  void jsonDescribesEveryVolumeAsBlkidAndSfdiskDo() throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    String[] r = run("probe", "--json", disk.image().toString());
    assertThat(r[0]).isEqualTo("0");
    JsonNode root = new ObjectMapper().readTree(r[1]);
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
    assertThat(run("probe", disk.image().toString())[1]).contains("vg0/home").contains("lvswap").contains("EFI System");
  }

  @Test
  void namedDisksPrefixTheirVolumes() {
    TestDisk disk = TestDisks.lvmMulti();
    String[] r = run("probe", "vda=" + disk.disks().get(0), "vdb=" + disk.disks().get(1));
    assertThat(r[0]).isEqualTo("0");
    assertThat(r[1]).contains("vda:p1").contains("vdb:disk").contains("vgmulti/striped").contains("vgmulti/span");
    assertThat(r[2]).isEmpty();
    String[] missing = run("probe", disk.disks().get(0).toString());
    assertThat(missing[2]).contains("warning").contains("is missing");
    String[] none = run("probe", "/no/such/image");
    assertThat(none[0]).isEqualTo("1");
    assertThat(none[2].lines().count()).isEqualTo(1);
  }
}
