package dev.pluck.fs.volume;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * LVs whose every 512-byte sector holds its own sector number, written at the places LVM reported
 * (striping rule: chunk i on stripe i mod n, row i div n): pluck's view must read each number back
 * where it belongs, across both disks and both stripes.
 */
class LvmLayoutIT {

  @ParameterizedTest
  @ValueSource(strings = {"vgmulti/numlin", "vgmulti/numstripe"})
  void everySectorReadsBackItsOwnNumber(String lv) throws Exception {
    TestDisk disk = TestDisks.lvmMulti();
    try (BlockDevice d0 = FileBlockDevice.open(disk.disks().get(0)); BlockDevice d1 = FileBlockDevice.open(disk.disks().get(1))) {
      VolumeTree tree = VolumeTree.probe(List.of(new VolumeTree.Disk("0", d0), new VolumeTree.Disk("1", d1)));
      Volume v = tree.find(lv).orElseThrow();
      assertThat(v.segments()).extracting(Volume.Segment::disk).containsExactlyInAnyOrder(0, 1);
      byte[] all = v.device().read(0, (int) v.size());
      ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
      for (long sector = 0; sector < v.size() / 512; sector++) {
        long first = b.getLong((int) (sector * 512));
        long last = b.getLong((int) (sector * 512 + 504));
        if (first != sector || last != sector) {
          throw new AssertionError(lv + ": sector " + sector + " holds " + first + "/" + last);
        }
      }
      // Unaligned reads across chunk and segment boundaries too.
      java.util.Random r = new java.util.Random(3);
      for (int i = 0; i < 200; i++) {
        int len = 1 + r.nextInt(100_000);
        long off = (long) (r.nextDouble() * (v.size() - len));
        assertThat(v.device().read(off, len)).isEqualTo(java.util.Arrays.copyOfRange(all, (int) off, (int) off + len));
      }
    }
  }
}
