package dev.pluck.testdata;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GptMixedIT {

  @ParameterizedTest
  @ValueSource(strings = {"gpt-mixed", "gpt-mixed-4k"})
  void partitionTableIsGptWithTheFivePartitionsSgdiskSees(String name) throws Exception {
    TestDisk disk = TestDisks.get(name);
    int sector = name.endsWith("4k") ? 4096 : 512;
    JsonNode table = disk.oracle().partitionTable().orElseThrow();
    assertThat(table.path("label").asText()).isEqualTo("gpt");
    assertThat(table.path("sectorsize").asInt()).isEqualTo(sector);
    List<String> types = new ArrayList<>();
    table.path("partitions").forEach(p -> types.add(p.path("type").asText()));
    assertThat(types).containsExactly(
        "21686148-6449-6E6F-744E-656564454649",  // BIOS boot
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",  // EFI system
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4",  // Linux filesystem
        "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",  // Linux swap
        "E6D6D379-F507-44C2-A23C-238F2A3DF928"); // Linux LVM

    // The GPT header sits at LBA 1: byte 512 or byte 4096.
    byte[] head = new byte[8];
    try (var ch = Files.newByteChannel(disk.image())) {
      ch.position(sector).read(java.nio.ByteBuffer.wrap(head));
    }
    assertThat(new String(head, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("EFI PART");

    // Boot code in the MBR as the builder wrote it.
    byte[] mbr = new byte[440];
    try (var in = Files.newInputStream(disk.image())) {
      assertThat(in.readNBytes(mbr, 0, 440)).isEqualTo(440);
    }
    assertThat(mbr).isEqualTo(Files.readAllBytes(disk.dir().resolve("mbr-bootcode.bin")));

    // sgdisk, a second reader of the same table, agrees on every start.
    if (sector == 512) {
      String sg = Tools.runOk("sgdisk", "-p", disk.image().toString()).stdout();
      table.path("partitions").forEach(p ->
          assertThat(sg).containsPattern("(?m)^\\s+\\d+\\s+" + p.path("start").asLong() + "\\s"));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"gpt-mixed", "gpt-mixed-4k"})
  void volumesHoldWhatBlkidFinds(String name) {
    Oracle oracle = TestDisks.get(name).oracle();
    Map<String, String> types = oracle.volumes().stream()
        .collect(Collectors.toMap(OracleVolume::id, OracleVolume::fsType));
    assertThat(types).containsExactlyInAnyOrderEntriesOf(Map.of(
        "p1", "", "p2", "vfat", "p3", "ext4", "p4", "swap", "p5", "LVM2_member",
        "vg0/home", "ext4", "vg0/swap", "swap", "vg0/data", "ntfs"));
    assertThat(oracle.volume("p4").label()).isEqualTo("swap0");
    assertThat(oracle.volume("vg0/swap").label()).isEqualTo("lvswap");
    assertThat(oracle.volume("vg0/data").label()).isEqualTo("data");
    // LVs lie inside the PV partition, where LVM put them.
    OracleVolume pv = oracle.volume("p5");
    for (String lv : List.of("vg0/home", "vg0/swap", "vg0/data")) {
      for (OracleVolume.Segment s : oracle.volume(lv).segments()) {
        for (OracleVolume.Stripe st : s.stripes()) {
          assertThat(st.offset()).isGreaterThan(pv.offset());
          assertThat(st.offset() + s.length()).isLessThanOrEqualTo(pv.offset() + pv.size());
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"gpt-mixed", "gpt-mixed-4k"})
  void filesystemsHoldTheGeneratedTrees(String name) {
    Oracle oracle = TestDisks.get(name).oracle();
    // besides the generated tree, the root holds /etc/fstab and the directories it mounts on
    OracleAsserts.assertTreeMatchesGenerator(oracle, "p3", "/", "tree-p3", "/etc", "/home", "/srv", "/boot");
    assertThat(oracle.file("p3", "/etc/fstab").size()).isGreaterThan(100);
    OracleAsserts.assertTreeMatchesGenerator(oracle, "vg0/home", "/", "tree-vg0/home");
    OracleAsserts.assertTreeMatchesGenerator(oracle, "vg0/data", "/", "tree-vg0/data");
    assertThat(oracle.files("p3").size()).isGreaterThan(3000);
    assertThat(oracle.files("p2")).extracting(OracleEntry::path)
        .contains("/EFI/BOOT/BOOTX64.EFI", "/EFI/debian/grubx64.efi");
  }

  @ParameterizedTest
  @ValueSource(strings = {"gpt-mixed", "gpt-mixed-4k"})
  void theSleuthKitReadsTheSameRootAndEsp(String name) {
    TestDisk disk = TestDisks.get(name);
    Oracle oracle = disk.oracle();
    OracleAsserts.assertSleuthkitAgrees(disk.image(), oracle.volume("p3").offset(), oracle, "p3", p -> true, 50);
    // The ESP's files, found by fls and read by icat, have the content mcopy was given.
    List<Sleuthkit.FlsEntry> esp = Sleuthkit.fls(disk.image(), oracle.volume("p2").offset());
    for (OracleEntry e : oracle.files("p2").stream().filter(OracleEntry::isFile).toList()) {
      Sleuthkit.FlsEntry f = esp.stream().filter(x -> ("/" + x.path()).equals(e.path())).findFirst().orElseThrow();
      assertThat(Sleuthkit.icatSha256(disk.image(), oracle.volume("p2").offset(), f.address())).isEqualTo(e.sha256());
    }
  }
}
