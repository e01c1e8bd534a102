package dev.pluck.testdata;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class LvmMultiIT {
  private final TestDisk disk = TestDisks.lvmMulti();
  private final Oracle oracle = disk.oracle();

  @Test
  void twoDisksTwoPhysicalVolumes() {
    assertThat(disk.disks()).hasSize(2);
    assertThat(oracle.volume("p1").fsType()).isEqualTo("LVM2_member");
    assertThat(oracle.volume("p1").disk()).isZero();
    assertThat(oracle.volume("disk").fsType()).isEqualTo("LVM2_member");
    assertThat(oracle.volume("disk").disk()).isEqualTo(1);
  }

  @Test
  void spanningAndStripedVolumesUseBothDisks() {
    OracleVolume span = oracle.volume("vgmulti/span");
    assertThat(span.segments()).hasSizeGreaterThanOrEqualTo(2);
    assertThat(span.segments().stream().flatMap(s -> s.stripes().stream()).map(OracleVolume.Stripe::disk).distinct())
        .containsExactlyInAnyOrder(0, 1);
    OracleVolume striped = oracle.volume("vgmulti/striped");
    assertThat(striped.segments()).singleElement().satisfies(s -> {
      assertThat(s.type()).isEqualTo("striped");
      assertThat(s.stripeSize()).isEqualTo(65536);
      assertThat(s.stripes()).extracting(OracleVolume.Stripe::disk).containsExactlyInAnyOrder(0, 1);
    });
    assertThat(striped.label()).isEqualTo("striped");
    assertThat(span.label()).isEqualTo("span");
    assertThat(oracle.volume("vgmulti/small").fsType()).isEmpty();
    OracleAsserts.assertTreeMatchesGenerator(oracle, "vgmulti/striped", "/", "tree-vgmulti/striped");
    OracleAsserts.assertTreeMatchesGenerator(oracle, "vgmulti/span", "/", "tree-vgmulti/span");
  }

  @Test
  void newestMetadataWrapsAroundTheCircularBuffer() {
    JsonNode wrap = oracle.facts().path("metadataWrap");
    assertThat(wrap.path("offset").asLong() + wrap.path("size").asLong()).isGreaterThan(wrap.path("mdaSize").asLong());
    // pvck, reading the second disk's PV header now, sees the same wrapped copy.
    String loop = Tools.runOk("losetup", "-f", "--show", "-r", disk.disks().get(1).toString()).stdout().strip();
    try {
      String headers = Tools.run(java.time.Duration.ofMinutes(1),
          java.util.List.of("pvck", "--devicesfile", "", "--dump", "headers", loop)).stdout();
      assertThat(headers).contains("# commit wrapped");
      long offset = field(headers, "mda_header_1.raw_locn[0].offset");
      long size = field(headers, "mda_header_1.raw_locn[0].size");
      long mdaSize = field(headers, "mda_header_1.size");
      assertThat(offset + size).isGreaterThan(mdaSize);
    } finally {
      Tools.runOk("losetup", "-d", loop);
    }
  }

  private static long field(String text, String name) {
    Matcher m = Pattern.compile("(?m)^\\s*" + Pattern.quote(name) + " (\\d+)").matcher(text);
    assertThat(m.find()).as("%s in pvck output", name).isTrue();
    return Long.parseLong(m.group(1));
  }
}
