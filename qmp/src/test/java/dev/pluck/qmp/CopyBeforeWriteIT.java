package dev.pluck.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.nbd.Extent;
import dev.pluck.nbd.NbdBlockDevice;
import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdUri;
import dev.pluck.testdata.QemuSystem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pull views on a paused qemu-system-x86_64 guest, with the disk on virtio-blk and on
 * virtio-scsi: copy-before-write is chosen, and guest writes (HMP qemu-io on the device) leave
 * the view alone and land in the next view's bitmap.
 */
class CopyBeforeWriteIT {
  @TempDir Path tmp;

  private static void guestWrite(QmpClient qmp, String qdev, int pattern, long offset, long length) throws Exception {
    String path = PullView.qomPath(qdev);
    String out = qmp.execute("human-monitor-command", QemuBlock.JSON.createObjectNode()
        .put("command-line", "qemu-io -d " + path + " \"write -P " + pattern + " " + offset + " " + length + "\"")).asText();
    assertThat(out).as("HMP qemu-io says").doesNotContainIgnoringCase("error").doesNotContainIgnoringCase("failed");
  }

  @org.junit.jupiter.api.Test
  void aFullScratchBreaksTheViewNeverTheGuestsWrite() throws Exception {
    Path image = tmp.resolve("disk.qcow2");
    dev.pluck.testdata.Tools.runOk("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "64M");
    Path small = Files.createDirectories(tmp.resolve("small"));
    dev.pluck.testdata.Tools.runOk("mount", "-t", "tmpfs", "-o", "size=72M", "tmpfs", small.toString());
    try (QemuSystem vm = QemuSystem.startPaused(image, "qcow2", QemuSystem.Bus.VIRTIO_BLK, List.of())) {
      MonitorAddress monitor = MonitorAddress.unix(vm.qmpSocket());
      String qdev;
      try (QmpClient qmp = QmpClient.connect(monitor)) {
        qdev = new QemuBlock(qmp).resolve("vda").qdev();
        guestWrite(qmp, qdev, 0x11, 0, 64 << 20);  // old data the view must keep
      }
      PullView.Options o = PullView.Options.defaults("backup", small.resolve("scratch"));
      PullView.View v = PullView.begin(monitor, List.of("vda"), o);
      assertThat(v.mode()).isEqualTo(PullView.Mode.COPY_BEFORE_WRITE);
      // Fill the scratch file system so that copy-before-write cannot keep the old data.
      Files.write(small.resolve("ballast"), new byte[(int) Files.getFileStore(small).getUsableSpace() - (4 << 20)]);
      try (QmpClient qmp = QmpClient.connect(monitor)) {
        guestWrite(qmp, qdev, 0x44, 0, 32 << 20);
        guestWrite(qmp, qdev, 0x44, 0, 32 << 20);  // ...and once more: the filter must not stall it
        qmp.execute("human-monitor-command", QemuBlock.JSON.createObjectNode()
            .put("command-line", "qemu-io -d " + PullView.qomPath(qdev) + " \"read -P 0x44 0 32M\""));
      }
      String log = Files.readString(vm.dir().resolve("qemu-system-x86_64.log"));
      assertThat(log).doesNotContain("write failed").doesNotContain("Pattern verification failed");
      // The view is broken: reading what changed fails instead of returning new data as old.
      try (NbdBlockDevice dev = NbdBlockDevice.open(v.uri(v.drives().get(0)))) {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> dev.read(0, 1 << 20)).isInstanceOf(java.io.IOException.class);
      }
      PullView.end(monitor, v, false, o);
      try (QmpClient qmp = QmpClient.connect(monitor)) {
        assertThat(qmp.execute("query-named-block-nodes").findValuesAsText("node-name")).containsExactlyInAnyOrder("disk0", "file0");
      }
    } finally {
      dev.pluck.testdata.Tools.runOk("umount", small.toString());
    }
  }

  @ParameterizedTest
  @EnumSource(value = QemuSystem.Bus.class, names = {"VIRTIO_BLK", "SCSI"})
  void guestWritesLeaveTheViewAloneAndLandInTheNextBitmap(QemuSystem.Bus bus) throws Exception {
    Path image = tmp.resolve("disk.qcow2");
    dev.pluck.testdata.Tools.runOk("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "32M");
    try (QemuSystem vm = QemuSystem.startPaused(image, "qcow2", bus, List.of())) {
      MonitorAddress monitor = MonitorAddress.unix(vm.qmpSocket());
      String drive = bus == QemuSystem.Bus.VIRTIO_BLK ? "vda" : "sda";
      PullView.Options o = PullView.Options.defaults("backup", tmp.resolve("scratch"));
      String qdev;
      try (QmpClient qmp = QmpClient.connect(monitor)) {
        qdev = new QemuBlock(qmp).resolve(drive).qdev();
        guestWrite(qmp, qdev, 0x11, 0, 1 << 20);
      }
      PullView.View v1 = PullView.begin(monitor, List.of(drive), o);
      assertThat(v1.mode()).isEqualTo(PullView.Mode.COPY_BEFORE_WRITE);
      assertThat(v1.drives().get(0).persistent()).isTrue();  // qcow2 holds bitmaps
      byte[] before;
      try (NbdBlockDevice dev = NbdBlockDevice.open(v1.uri(v1.drives().get(0)))) {
        before = dev.read(0, 2 << 20);
      }
      try (QmpClient qmp = QmpClient.connect(monitor)) {
        guestWrite(qmp, qdev, 0x22, 65536, 65536);
        guestWrite(qmp, qdev, 0x33, 3 << 20, 4096);
      }
      try (NbdBlockDevice dev = NbdBlockDevice.open(v1.uri(v1.drives().get(0)))) {
        assertThat(dev.read(0, 2 << 20)).isEqualTo(before);
        assertThat(before[65536]).isEqualTo((byte) 0x11);
      }
      PullView.end(monitor, v1, true, o);

      PullView.View v2 = PullView.begin(monitor, List.of(drive), o);
      PullView.DriveView d = v2.drives().get(0);
      try (NbdBlockDevice dev = NbdBlockDevice.open(NbdUri.parse(v2.uri(d)), NbdOptions.defaults().withMetaContexts(List.of(d.context())))) {
        List<Extent> dirty = dev.blockStatus(d.context(), 0, dev.size()).stream().filter(e -> (e.flags() & Extent.DIRTY) != 0).toList();
        assertThat(dirty).extracting(Extent::offset).containsExactly(65536L, 3L << 20);
        assertThat(dev.read(65536, 1)).containsExactly(0x22);
      }
      PullView.end(monitor, v2, true, o);
      try (QmpClient qmp = QmpClient.connect(monitor)) {
        // The device is back on its own node, the guest runs on, nothing of pluck's is left.
        assertThat(new QemuBlock(qmp).resolve(drive).nodeName()).isEqualTo("disk0");
        assertThat(qmp.execute("query-named-block-nodes").findValuesAsText("node-name")).containsExactlyInAnyOrder("disk0", "file0");
        assertThat(qmp.execute("query-status").path("status").asText()).isEqualTo("prelaunch");
      }
      assertThat(Files.list(tmp.resolve("scratch")).toList()).isEmpty();
    }
  }
}
