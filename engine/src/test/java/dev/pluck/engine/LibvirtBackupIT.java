package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.engine.repo.BlockMap;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.qmp.Libvirt;
import dev.pluck.testdata.LibvirtDomain;
import dev.pluck.testdata.OracleVolume;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backups of a domain a real libvirtd runs (TCG, started paused, a qcow2 copy of gpt-mixed):
 * a full backup, guest writes through QEMU's own block layer (HMP qemu-io over
 * qemu-monitor-command), an incremental that reads only them, a backup failing mid-read whose
 * changes the next one still sees, and a chain whose checkpoint libvirt forgot, which falls back
 * to a full backup with a notice. Each snapshot, restored as whole disks, equals the disk as
 * qemu-img reads it at that moment.
 */
class LibvirtBackupIT {
  @TempDir Path tmp;
  private LibvirtDomain vm;
  private String domain;
  private final Path work = Path.of("/var/lib/libvirt/qemu/pluck-it");

  @BeforeEach
  void startDomain(org.junit.jupiter.api.TestInfo test) throws Exception {
    vm = LibvirtDomain.start(TestDisks.gptMixed().image(), tmp, test.getTestMethod().orElseThrow().getName().contains("Agent"));
    domain = vm.name();
  }

  @AfterEach
  void stopDomain() {
    vm.close();
  }

  /**
   * A domain with a guest agent channel: pluck asks libvirt to freeze around the begin. No guest
   * OS runs here to answer, so the freeze fails, and the backup goes on crash-consistent, saying so.
   */
  @Test
  void anAgentChannelWithoutAnAgent() throws Exception {
    try (Repository repo = BackupIT.repo(tmp.resolve("repo"))) {
      LibvirtBackup.Result r = backup(repo, Backup.Reading.DEFAULT);
      assertThat(r.notices()).anyMatch(n -> n.contains("did not freeze") && n.contains("crash-consistent"));
      assertThat(r.checkpoint()).isEqualTo("pluck-backup-1");
      assertRestoresToTheDiskNow(repo, r.backup().snapshot());
    }
  }

  private void guestWrite(int pattern, long offset, int length) {
    vm.write(pattern, offset, length);
  }

  private LibvirtBackup.Result backup(Repository repo, Backup.Reading reading) throws Exception {
    Backup.Options options = new Backup.Options(Backup.Mode.DISK, List.of(), List.of(), List.of(), false, List.of(), false, List.of(),
        null, new Snapshot.Source(domain, List.of(), List.of()), "backup", "test", null, null);
    return LibvirtBackup.run(repo, new LibvirtBackup.Options(domain, null, List.of(), "backup", work), options, false, reading);
  }

  private List<String> checkpoints() throws Exception {
    try (Libvirt conn = Libvirt.open(null); Libvirt.Domain d = conn.domain(domain)) {
      return d.checkpoints();
    }
  }

  @Test
  void fullIncrementalFailedAndForgottenChain() throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    long esp = disk.oracle().volumes().stream().filter(v -> v.fsType().equals("vfat")).mapToLong(OracleVolume::offset).findFirst()
        .orElseThrow();
    try (Repository repo = BackupIT.repo(tmp.resolve("repo"))) {
      LibvirtBackup.Result full = backup(repo, Backup.Reading.DEFAULT);
      assertThat(full.since()).isNull();
      assertThat(full.checkpoint()).isEqualTo("pluck-backup-1");
      assertThat(checkpoints()).containsExactly("pluck-backup-1");
      assertRestoresToTheDiskNow(repo, full.backup().snapshot());

      guestWrite(0xab, 512 << 10, 64 << 10);  // the gap before the first partition: the layout image
      guestWrite(0xcd, esp + (1 << 20), 64 << 10);  // inside the ESP (vfat: imaged whole)
      LibvirtBackup.Result incremental = backup(repo, Backup.Reading.DEFAULT);
      assertThat(incremental.since()).isEqualTo("pluck-backup-1");
      assertThat(incremental.checkpoint()).isEqualTo("pluck-backup-2");
      assertThat(incremental.backup().bytesRead().get("data")).as("only the two writes").isBetween(64L << 10, 512L << 10);
      assertThat(checkpoints()).as("the previous checkpoint goes").containsExactly("pluck-backup-2");
      assertRestoresToTheDiskNow(repo, incremental.backup().snapshot());

      // A backup that fails mid-read: its checkpoint is deleted, its bitmap merged back.
      guestWrite(0xef, esp + (2 << 20), 64 << 10);
      Backup.Reading failing = new Backup.Reading(0, (read, files, done) -> {
        if (read > 0) {
          throw new IllegalStateException("injected failure after " + read + " bytes");
        }
      });
      assertThatThrownBy(() -> backup(repo, failing)).hasMessageContaining("injected failure");
      assertThat(checkpoints()).containsExactly("pluck-backup-2");
      LibvirtBackup.Result after = backup(repo, Backup.Reading.DEFAULT);
      assertThat(after.since()).isEqualTo("pluck-backup-2");
      assertThat(after.backup().bytesRead().get("data")).as("the failed backup's write is read").isPositive();
      assertRestoresToTheDiskNow(repo, after.backup().snapshot());

      // libvirt forgets the chain (lost checkpoint metadata): a full backup, said so.
      String last = after.checkpoint();
      vm.virsh("checkpoint-delete", "--metadata", domain, last);
      LibvirtBackup.Result again = backup(repo, Backup.Reading.DEFAULT);
      assertThat(again.since()).isNull();
      assertThat(again.notices()).anyMatch(n -> n.contains("no longer knows checkpoint " + last));
      assertThat(again.checkpoint()).isNotEqualTo(last);
      assertRestoresToTheDiskNow(repo, again.backup().snapshot());
    }
  }

  /**
   * The chain across a shut-off period: online, then the domain shut off and backed up through
   * pluck's own daemon on its qcow2 (reading only what changed), the checkpoint redefined in
   * libvirt, then online again with an incremental libvirt accepts.
   */
  @Test
  void shutOffAndBackAgain() throws Exception {
    try (Repository repo = BackupIT.repo(tmp.resolve("repo"))) {
      LibvirtBackup.Result online = backup(repo, Backup.Reading.DEFAULT);
      assertThat(online.checkpoint()).isEqualTo("pluck-backup-1");
      guestWrite(0xab, 512 << 10, 64 << 10);
      vm.virsh("destroy", domain);

      LibvirtBackup.Result offline = backup(repo, Backup.Reading.DEFAULT);
      assertThat(offline.notices()).anyMatch(n -> n.contains("shut off"));
      assertThat(offline.since()).isEqualTo("pluck-backup-1");
      assertThat(offline.checkpoint()).isEqualTo("pluck-backup-2");
      assertThat(offline.backup().bytesRead().get("data")).as("only the write").isBetween(64L << 10, 512L << 10);
      assertThat(checkpoints()).as("redefined in libvirt").containsExactly("pluck-backup-2");
      assertRestoresToTheDiskNow(repo, offline.backup().snapshot());

      vm.virsh("start", "--paused", domain);
      guestWrite(0xcd, 640 << 10, 64 << 10);
      LibvirtBackup.Result back = backup(repo, Backup.Reading.DEFAULT);
      assertThat(back.since()).as("libvirt takes the redefined checkpoint as <incremental>").isEqualTo("pluck-backup-2");
      assertThat(back.backup().bytesRead().get("data")).isBetween(64L << 10, 512L << 10);
      assertRestoresToTheDiskNow(repo, back.backup().snapshot());
    }
  }

  /** The snapshot's whole disk, rebuilt, equals the qcow2's content now (read by qemu-img while the domain runs paused). */
  private void assertRestoresToTheDiskNow(Repository repo, String snapshotId) throws Exception {
    Rebuild.assertEquals(repo, snapshotId, vm.contentNow(tmp.resolve("now.raw")), tmp.resolve("rebuilt.raw"));
  }
}
