package dev.pluck.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.nbd.Extent;
import dev.pluck.nbd.NbdBlockDevice;
import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdUri;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.TestQmp;
import dev.pluck.testdata.Tools;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** On qcow2 the chain's bitmaps are persistent: a restart of QEMU keeps the chain going. */
class PersistentBitmapIT {
  @TempDir Path tmp;

  @Test
  void theChainSurvivesARestartOfQemu() throws Exception {
    Path image = tmp.resolve("disk.qcow2");
    Tools.runOk("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "32M");
    PullView.Options o = PullView.Options.defaults("backup", tmp.resolve("scratch"));
    try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, "qcow2", List.of())) {
      MonitorAddress monitor = MonitorAddress.unix(qsd.qmpSocket());
      PullView.View v1 = PullView.begin(monitor, List.of("disk0"), o);
      assertThat(v1.drives().get(0).persistent()).isTrue();
      PullView.end(monitor, v1, true, o);
      Path fuse = qsd.exportFuse("live");
      try (FileChannel ch = FileChannel.open(fuse, StandardOpenOption.WRITE)) {
        ch.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), (9 << 20) + 5);
        ch.force(false);
      }
      try (TestQmp qmp = new TestQmp(qsd.qmpSocket())) {
        qmp.execute("block-export-del", "{\"id\":\"live\"}");
      }
    }  // SIGTERM: QEMU stores persistent bitmaps in the image as it quits
    assertThat(Tools.runOk("qemu-img", "info", image.toString()).stdout()).contains("pluck-backup-1");
    try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, "qcow2", List.of())) {
      MonitorAddress monitor = MonitorAddress.unix(qsd.qmpSocket());
      PullView.View v2 = PullView.begin(monitor, List.of("disk0"), o);
      PullView.DriveView d = v2.drives().get(0);
      assertThat(d.context()).isEqualTo("qemu:dirty-bitmap:pluck-backup-1");
      try (NbdBlockDevice dev = NbdBlockDevice.open(NbdUri.parse(v2.uri(d)), NbdOptions.defaults().withMetaContexts(List.of(d.context())))) {
        List<Extent> dirty = dev.blockStatus(d.context(), 0, dev.size()).stream().filter(e -> (e.flags() & Extent.DIRTY) != 0).toList();
        assertThat(dirty).extracting(Extent::offset).containsExactly(9L << 20);
        assertThat(dev.read((9 << 20) + 5, 3)).containsExactly(1, 2, 3);
      }
      PullView.end(monitor, v2, true, o);
    }
  }

  @Test
  void anInconsistentBitmapAfterACrashOfQemuIsReportedAndTheVmLeftUntouched() throws Exception {
    Path image = tmp.resolve("crash.qcow2");
    Tools.runOk("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "16M");
    PullView.Options o = PullView.Options.defaults("backup", tmp.resolve("scratch"));
    try (QemuStorageDaemon first = QemuStorageDaemon.start(image, "qcow2", List.of())) {
      MonitorAddress m1 = MonitorAddress.unix(first.qmpSocket());
      PullView.end(m1, PullView.begin(m1, List.of("disk0"), o), true, o);
    }  // stored in the image
    QemuStorageDaemon second = QemuStorageDaemon.start(image, "qcow2", List.of());  // loads it, marks it in use
    second.kill();  // QEMU dies without storing it back: the image says it was in use
    second.close();
    try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, "qcow2", List.of())) {
      MonitorAddress monitor = MonitorAddress.unix(qsd.qmpSocket());
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> PullView.begin(monitor, List.of("disk0"), o))
          .isInstanceOf(QmpException.class).hasMessageContaining("inconsistent").hasMessageContaining("full backup");
      try (QmpClient qmp = QmpClient.connect(monitor)) {
        assertThat(new QemuBlock(qmp).resolve("disk0").bitmaps()).singleElement().satisfies(b -> {
          assertThat(b.name()).isEqualTo("pluck-backup-1");
          assertThat(b.inconsistent()).isTrue();
        });
        assertThat(qmp.execute("query-named-block-nodes").findValuesAsText("node-name")).containsExactlyInAnyOrder("disk0", "file0");
      }
    }
  }
}
