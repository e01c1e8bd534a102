package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.qmp.MonitorAddress;
import dev.pluck.qmp.PullView;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A VM's chain across shut-off periods: an online backup (a qemu-storage-daemon as the running
 * VM), writes while pluck is not looking (qemu-io on the image, which QEMU's persistent bitmaps
 * see as a VM's writes), an offline backup through pluck's own daemon on the image that reads
 * only those writes, more writes, and an online backup again that goes on from the offline
 * checkpoint. Each snapshot rebuilt equals the image at its time.
 */
class OfflineImageIT {
  @TempDir Path tmp;

  private static Backup.Options disk() {
    return new Backup.Options(Backup.Mode.DISK, List.of(), List.of(), List.of(), false, List.of(), false, List.of(), null,
        new Snapshot.Source("vm1", List.of("disk0"), List.of()), "backup", "test", null, null);
  }

  private PullView.Options view() {
    return PullView.Options.defaults("backup", tmp.resolve("scratch")).withLockDir(tmp.resolve("locks"));
  }

  private Path raw(Path qcow2) {
    Path out = tmp.resolve("now.raw");
    Tools.runOk("rm", "-f", out.toString());
    Tools.runOk("qemu-img", "convert", "-U", "-f", "qcow2", "-O", "raw", qcow2.toString(), out.toString());
    return out;
  }

  @Test
  void aChainGoesOnWhetherTheVmRunsOrNot() throws Exception {
    Path image = tmp.resolve("vm1.qcow2");
    Tools.runOk("qemu-img", "convert", "-f", "raw", "-O", "qcow2", TestDisks.gptMixed().image().toString(), image.toString());
    try (Repository repo = BackupIT.repo(tmp.resolve("repo"))) {
      VmBackup.Result online;
      try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, "qcow2", List.of())) {
        online = VmBackup.run(repo, MonitorAddress.unix(qsd.qmpSocket()), List.of("disk0"), view(), disk(), false);
      }
      assertThat(Tools.runOk("qemu-img", "info", image.toString()).stdout()).as("the bitmap is in the image")
          .contains(online.checkpoint());
      Rebuild.assertEquals(repo, online.backup().snapshot(), raw(image), tmp.resolve("rebuilt.raw"));

      Tools.runOk("qemu-io", "-f", "qcow2", "-c", "write -P 0xab 524288 65536", image.toString());
      VmBackup.Result offline;
      try (OfflineImage off = OfflineImage.open(image, "disk0", tmp.resolve("work"))) {
        offline = VmBackup.run(repo, off.monitor(), List.of("disk0"), view(), disk(), false);
        assertThatThrownBy(() -> OfflineImage.open(image, "disk0", tmp.resolve("work2"))).as("the image lock")
            .hasMessageContaining("could not open");
      }
      assertThat(offline.since()).isEqualTo(online.checkpoint());
      assertThat(offline.backup().bytesRead().get("data")).as("only the write").isBetween(64L << 10, 512L << 10);
      Rebuild.assertEquals(repo, offline.backup().snapshot(), raw(image), tmp.resolve("rebuilt.raw"));

      Tools.runOk("qemu-io", "-f", "qcow2", "-c", "write -P 0xcd 655360 65536", image.toString());
      try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, "qcow2", List.of())) {
        VmBackup.Result again = VmBackup.run(repo, MonitorAddress.unix(qsd.qmpSocket()), List.of("disk0"), view(), disk(), false);
        assertThat(again.since()).isEqualTo(offline.checkpoint());
        assertThat(again.backup().bytesRead().get("data")).isBetween(64L << 10, 512L << 10);
        Rebuild.assertEquals(repo, again.backup().snapshot(), raw(image), tmp.resolve("rebuilt.raw"));
      }
    }
    Path rawImage = tmp.resolve("plain.raw");
    Tools.runOk("truncate", "-s", "1M", rawImage.toString());
    assertThatThrownBy(() -> OfflineImage.open(rawImage, "disk0", tmp.resolve("work"))).hasMessageContaining("only qcow2");
  }
}
