package dev.pluck.fs.volume;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.fs.DamagedDevice;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A thin LV cannot be made without device-mapper here, so one LV of a real VG is turned into one
 * by editing its metadata text (checksums recomputed): it must be listed, marked unsupported, and
 * the VG's other LVs stay readable.
 */
class UnsupportedSegmentIT {

  @Test
  void anLvOfAnUnsupportedSegmentTypeIsListedNotRead() throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    long pvAt = disk.oracle().volume("p5").offset();
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      BlockDevice pv = img.slice(pvAt, disk.oracle().volume("p5").size());
      LvmMetadataSpot spot = LvmMetadataSpot.of(pv);
      long mda = spot.mda();
      byte[] header = spot.header();
      long textOffset = spot.textOffset();
      byte[] text = pv.read(mda + textOffset, spot.textSize());
      String s = new String(text, StandardCharsets.US_ASCII);
      int swap = s.indexOf("\nswap {");
      int type = s.indexOf("type = \"striped\"", swap);
      assertThat(swap).isPositive();
      assertThat(type).isPositive();
      byte[] thin = "type = \"thin\"   ".getBytes(StandardCharsets.US_ASCII);  // same length as before
      System.arraycopy(thin, 0, text, type, thin.length);
      DamagedDevice.putLe32(header, LvmMetadataArea.RAW_LOCNS + 16, LvmCrc.of(text, 0, text.length));
      DamagedDevice.putLe32(header, 0, LvmCrc.of(header, 4, 508));
      BlockDevice patched = new DamagedDevice(img).set(pvAt + mda, header).set(pvAt + mda + textOffset, text);
      VolumeTree tree = VolumeTree.probe(List.of(new VolumeTree.Disk("0", patched)));
      Volume thinLv = tree.find("vg0/swap").orElseThrow();
      assertThat(thinLv.note()).isEqualTo("unsupported segment type thin");
      assertThat(thinLv.device()).isNull();
      assertThat(thinLv.size()).as("its extents, read or not").isEqualTo(disk.oracle().volume("vg0/swap").size());
      assertThat(tree.find("vg0/home").orElseThrow().fs()).isEqualTo("ext4");
      assertThat(tree.find("vg0/data").orElseThrow().signature().label()).isEqualTo("data");
    }
  }
}
