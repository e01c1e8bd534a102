package dev.pluck.fs.volume;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.fs.DamagedDevice;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Damage made from the real images: every problem is named with its structure and offset. */
class DamagedInputIT {

  private static VolumeTree probe(BlockDevice... devices) throws IOException {
    List<VolumeTree.Disk> disks = new ArrayList<>();
    for (int i = 0; i < devices.length; i++) {
      disks.add(new VolumeTree.Disk(Integer.toString(i), devices[i]));
    }
    return VolumeTree.probe(disks);
  }

  @Test
  void aCorruptPrimaryGptHeaderIsReportedAndTheBackupUsed() throws Exception {
    for (String name : new String[] {"gpt-mixed", "gpt-mixed-4k"}) {
      TestDisk disk = TestDisks.get(name);
      int sector = name.endsWith("4k") ? 4096 : 512;
      try (BlockDevice img = FileBlockDevice.open(disk.image())) {
        byte[] header = img.read(sector, 512);
        header[40] ^= 0x55;  // first usable LBA: the CRC no longer matches
        VolumeTree tree = probe(new DamagedDevice(img).set(sector, header));
        assertThat(tree.warnings()).singleElement().asString()
            .contains("primary GPT damaged").contains("CRC32 mismatch").contains("backup header at LBA");
        assertThat(tree.find("p3").orElseThrow().fs()).isEqualTo("ext4");
        assertThat(tree.find("vg0/home").orElseThrow().fs()).isEqualTo("ext4");
      }
    }
  }

  @Test
  void mbrPartitionsPastTheEndOverlappingOrLoopingAreWarnedAbout() throws Exception {
    TestDisk disk = TestDisks.mbrLogical();
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      byte[] mbr = img.read(0, 512);
      byte[] pastEnd = mbr.clone();
      DamagedDevice.putLe32(pastEnd, 446 + 12, 0x7fffffffL);  // p1 claims two billion sectors
      VolumeTree t1 = probe(new DamagedDevice(img).set(0, pastEnd));
      assertThat(t1.warnings()).anyMatch(w -> w.contains("partition 1") && w.contains("past the disk end"));
      assertThat(t1.find("p1")).isEmpty();
      assertThat(t1.find("p7").orElseThrow().fs()).isEqualTo("ext4");

      byte[] overlap = mbr.clone();
      DamagedDevice.putLe32(overlap, 446 + 12, 163840 + 8192);  // p1 grows into the extended partition
      assertThat(probe(new DamagedDevice(img).set(0, overlap)).warnings()).anyMatch(w -> w.contains("overlap"));

      long ext = disk.oracle().volume("p2").offset();
      long secondEbr = disk.oracle().volume("p6").offset() - 1024 * 1024;
      byte[] ebr = img.read(secondEbr, 512);
      DamagedDevice.putLe32(ebr, 446 + 16 + 8, 0);  // its "next" points back at the first EBR
      VolumeTree looped = probe(new DamagedDevice(img).set(secondEbr, ebr));
      assertThat(looped.warnings()).anyMatch(w -> w.contains("loops back") && w.contains("sector " + ext / 512));
      assertThat(looped.volumes()).extracting(Volume::id).contains("p5", "p6").doesNotContain("p8");
    }
  }

  @Test
  void lvmMetadataWithABadChecksumOrHostileTextIsRefusedByName() throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    long pv = disk.oracle().volume("p5").offset();
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      BlockDevice pvDev = img.slice(pv, disk.oracle().volume("p5").size());
      LvmMetadataSpot spot = LvmMetadataSpot.of(pvDev);
      long mda = spot.mda();
      byte[] header = spot.header();
      long textAt = mda + spot.textOffset();
      byte[] text = pvDev.read(textAt, 64);
      text[20] ^= 1;
      VolumeTree bad = probe(new DamagedDevice(img).set(pv + textAt, text));
      assertThat(bad.warnings()).anyMatch(w -> w.contains("LVM metadata text") && w.contains("checksum mismatch")
          && w.contains("at byte " + textAt));
      assertThat(bad.find("vg0/home")).isEmpty();
      assertThat(bad.find("p3").orElseThrow().fs()).isEqualTo("ext4");

      // Text that recurses 100,000 deep, with a valid checksum: refused, quickly, without a stack overflow.
      String deep = "vg0 {\n" + "a {\n".repeat(100_000) + "}\n".repeat(100_001);
      byte[] hostile = deep.getBytes(StandardCharsets.US_ASCII);
      byte[] h2 = header.clone();
      LvmMetadataArea.put64(h2, LvmMetadataArea.RAW_LOCNS + 8, hostile.length);
      DamagedDevice.putLe32(h2, LvmMetadataArea.RAW_LOCNS + 16, LvmCrc.of(hostile, 0, hostile.length));
      DamagedDevice.putLe32(h2, 0, LvmCrc.of(h2, 4, 508));
      long mdaSize = spot.mdaSize();
      if (hostile.length < mdaSize - 512) {
        byte[] both = new byte[(int) (512 + hostile.length)];
        System.arraycopy(h2, 0, both, 0, 512);
        LvmMetadataArea.put64(both, LvmMetadataArea.RAW_LOCNS, 512);
        DamagedDevice.putLe32(both, 0, LvmCrc.of(both, 4, 508));
        System.arraycopy(hostile, 0, both, 512, hostile.length);
        VolumeTree t = probe(new DamagedDevice(img).set(pv + mda, both));
        assertThat(t.warnings()).anyMatch(w -> w.contains("LVM metadata text") && w.contains("nested deeper"));
      }
    }
  }

  @Test
  void aMissingPvIsNamedAndItsLvsListedUnreadable() throws Exception {
    TestDisk disk = TestDisks.lvmMulti();
    try (BlockDevice d0 = FileBlockDevice.open(disk.disks().get(0))) {
      VolumeTree t = probe(d0);
      assertThat(t.warnings()).anyMatch(w -> w.contains("VG vgmulti") && w.contains("is missing"));
      Volume striped = t.find("vgmulti/striped").orElseThrow();
      assertThat(striped.note()).contains("missing");
      assertThat(striped.device()).isNull();
    }
  }

  @Test
  void fuzzingTheFirstMibNeverHangsCrashesOrAllocatesWithoutBound() throws Exception {
    int cases = Boolean.getBoolean("pluck.slow") ? 2000 : 60;
    Random r = new Random(2026);
    for (String name : new String[] {"gpt-mixed", "mbr-logical", "lvm-multi", "ext4-features", "ntfs-features-4k"}) {
      TestDisk disk = TestDisks.get(name);
      try (BlockDevice img = FileBlockDevice.open(disk.image())) {
        byte[] first = img.read(0, (int) Math.min(img.size(), 1 << 20));
        for (int c = 0; c < cases; c++) {
          byte[] m = first.clone();
          int flips = 1 + r.nextInt(64);
          for (int i = 0; i < flips; i++) {
            int at = r.nextInt(100) < 70 ? r.nextInt(Math.min(m.length, 8192)) : r.nextInt(m.length);
            m[at] = (byte) r.nextInt(256);
          }
          BlockDevice patched = new DamagedDevice(img).set(0, m);
          int number = c;
          org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            try {
              VolumeTree t = probe(patched);
              assertThat(t.volumes()).isNotNull();
            } catch (IOException expected) {
              assertThat(expected.getMessage()).isNotBlank();  // named, not thrown blindly
            }
          }, () -> name + " case " + number);
        }
      }
    }
  }
}
