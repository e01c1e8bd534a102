package dev.pluck.fs.volume;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.nbd.ReadPlanner;
import dev.pluck.testdata.OracleVolume;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** pluck's volume layer on every test disk, against sfdisk, blkid and LVM's own reports. */
class ProbeIT {
  @TempDir Path tmp;

  static List<String> images() {
    return List.copyOf(TestDisks.names());
  }

  private static final Map<String, String> BLKID_TYPES = Map.of("LVM2_member", "lvm2-pv", "", "unknown");

  @ParameterizedTest
  @MethodSource("images")
  void volumesMatchTheOracle(String name) throws Exception {
    TestDisk disk = TestDisks.get(name);
    List<BlockDevice> devices = new ArrayList<>();
    List<VolumeTree.Disk> disks = new ArrayList<>();
    for (int i = 0; i < disk.disks().size(); i++) {
      BlockDevice d = FileBlockDevice.open(disk.disks().get(i));
      devices.add(d);
      disks.add(new VolumeTree.Disk(Integer.toString(i), d));
    }
    try {
      VolumeTree tree = VolumeTree.probe(disks);
      assertThat(tree.warnings()).as("warnings on %s", name).isEmpty();
      boolean several = disks.size() > 1;
      JsonNode table = disk.oracle().partitionTable().map(t -> t).orElse(null);
      if (table != null && !several) {
        assertThat(tree.disks().get(0).table()).isEqualTo(table.path("label").asText().replace("dos", "mbr"));
        assertThat(tree.disks().get(0).sectorSize()).isEqualTo(table.path("sectorsize").asInt());
        List<String> ours = tree.volumes().stream().filter(v -> v.kind().equals("partition")).map(Volume::id).toList();
        List<String> theirs = new ArrayList<>();
        table.path("partitions").forEach(p -> theirs.add("p" + p.path("node").asText().replace("disk.img", "")));
        assertThat(ours).containsExactlyElementsOf(theirs);
        table.path("partitions").forEach(p -> {
          Volume v = tree.find("p" + p.path("node").asText().replace("disk.img", "")).orElseThrow();
          assertThat(v.offset()).isEqualTo(p.path("start").asLong() * table.path("sectorsize").asLong());
          assertThat(v.size()).isEqualTo(p.path("size").asLong() * table.path("sectorsize").asLong());
          String type = p.path("type").asText();
          if (table.path("label").asText().equals("gpt")) {
            assertThat(v.type()).isEqualTo(GptPartitionEntry.TYPE_NAMES.getOrDefault(type, type));
            assertThat(v.partition().uuid()).isEqualTo(p.path("uuid").asText());
            assertThat(v.partition().name()).isEqualTo(p.path("name").asText(""));
            assertThat(v.parent()).isEmpty();
          } else {
            assertThat(v.partition().type()).isEqualTo(type);
            assertThat(v.partition().bootable()).isEqualTo(p.path("bootable").asBoolean(false));
          }
        });
      }
      if (table != null && !several) {
        // The Sleuth Kit's mmls, a second reader of the table: every data partition of ours is one of its slots.
        int sector = table.path("sectorsize").asInt();
        List<String> mmls = Tools.runOk("mmls", "-b", Integer.toString(sector), disk.image().toString()).lines();
        java.util.Set<String> slots = new java.util.HashSet<>();
        for (String line : mmls) {
          String[] f = line.trim().split("\\s+");
          if (f.length >= 5 && f[1].matches("\\d+(:\\d+)?")) {
            slots.add(Long.parseLong(f[2]) + "+" + Long.parseLong(f[4]));
          }
        }
        for (Volume v : tree.volumes()) {
          if (v.kind().equals("partition") && !v.signature().detail().contains("extended")) {
            assertThat(slots).as("mmls slot for %s", v.id()).contains(v.offset() / sector + "+" + v.size() / sector);
          }
        }
      }
      for (OracleVolume o : disk.oracle().volumes()) {
        String id = !o.kind().equals("lv") && several ? o.disk() + ":" + o.id() : o.id();
        Volume v = tree.find(id).orElseThrow(() -> new AssertionError("no volume " + id + " on " + name + ": " + tree.volumes()));
        assertThat(v.size()).as("size of %s", id).isEqualTo(o.size());
        if (o.blkid().containsKey("PTTYPE")) {
          assertThat(v.note() + v.signature().detail()).contains("extended");
          continue;
        }
        assertThat(v.fs()).as("fs of %s on %s", id, name).isEqualTo(BLKID_TYPES.getOrDefault(o.fsType(), o.fsType()));
        assertThat(v.signature().label()).as("label of %s", id).isEqualTo(o.label());
        assertThat(v.signature().uuid()).as("uuid of %s", id).isEqualTo(o.blkid().getOrDefault("UUID", ""));
        if (o.kind().equals("lv")) {
          List<long[]> ours = v.segments().stream().map(s -> new long[] {s.disk(), s.offset()}).toList();
          List<long[]> theirs = new ArrayList<>();
          o.segments().forEach(s -> s.stripes().forEach(st -> theirs.add(new long[] {st.disk(), st.offset()})));
          assertThat(ours).usingElementComparator((a, b) -> java.util.Arrays.equals(a, b) ? 0 : 1).containsExactlyElementsOf(theirs);
          assertThat(sha256(v.device())).as("bytes of %s", id).isEqualTo(lvmapSha(disk, id));
        }
      }
    } finally {
      for (BlockDevice d : devices) {
        d.close();
      }
    }
  }

  private static String sha256(BlockDevice dev) throws Exception {
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    new ReadPlanner(dev).read(List.of(new ReadPlanner.Range(0, dev.size())), (off, data) -> sha.update(data));
    return HexFormat.of().formatHex(sha.digest());
  }

  /** The LV's bytes as lvmap.py reads them at the offsets LVM itself reported. */
  private String lvmapSha(TestDisk disk, String lv) throws Exception {
    Path script = TestDisks.writeScript("lvmap.py", tmp);
    Path out = tmp.resolve("lv.bin");
    Files.deleteIfExists(out);
    List<String> cmd = new ArrayList<>(List.of("python3", script.toString(), "read", disk.dir().resolve("lvm-layout.jsonl").toString(), lv, out.toString()));
    disk.disks().forEach(d -> cmd.add(d.toString()));
    Tools.run(java.time.Duration.ofMinutes(2), cmd).ok();
    return Tools.runOk("sha256sum", out.toString()).stdout().substring(0, 64);
  }
}
