package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.engine.repo.Repository;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.qmp.MonitorAddress;
import dev.pluck.testdata.Tools;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fstab's mount tree checked against what a running guest's agent says is mounted. The guest
 * here is the host itself: the real qemu-ga, run on the host (its freeze commands blocked), lists
 * the host's mounts, and the test mounts filesystems under a temporary directory (from loop
 * devices: the only block devices this machine can make) as a guest would, while the disk's own
 * /etc/fstab places its volumes under the same directory. What differs must come out as warnings, and nothing else.
 */
class LiveMountsIT {
  private static final long PART = 8L << 20;

  @Test
  void aBackupByGuestPathsSaysWhereTheGuestsMountsDifferFromItsFstab(@TempDir Path dir) throws Exception {
    Tools.require("qemu-ga");
    Tools.require("mkfs.xfs");
    Path m = Files.createDirectories(dir.resolve("m"));
    Path image = dir.resolve("disk.img");
    Deque<String[]> undo = new ArrayDeque<>();
    Process agent = null;
    try {
      // The disk: root, data, gone, other (ext4, 8 MiB each); root's fstab puts the others under m/.
      Tools.runOk("truncate", "-s", Long.toString(4 * PART + (2 << 20)), image.toString());
      Tools.runOk("sgdisk", "-n", "1:2048:+8M", "-n", "2:0:+8M", "-n", "3:0:+8M", "-n", "4:0:+8M", image.toString());
      String[] labels = {"root", "data", "gone", "other"};
      for (int i = 0; i < 4; i++) {
        String loop = attach(image, (1L << 20) + i * PART, undo);
        Tools.runOk("mkfs.ext4", "-q", "-L", labels[i], loop);
        if (i == 0) {
          Path root = Files.createDirectories(dir.resolve("root"));
          mount(loop, root, undo);
          Files.createDirectories(root.resolve("etc"));
          Files.writeString(root.resolve("etc/fstab"), String.join("\n",
              "LABEL=root / ext4 defaults 0 1",
              "LABEL=data " + m.resolve("data") + " ext4 defaults 0 2",
              "LABEL=gone " + m.resolve("gone") + " ext4 defaults 0 2",
              "LABEL=other " + m.resolve("other") + " ext4 defaults 0 2",
              "/dev/vdz9 " + m.resolve("elsewhere") + " ext4 defaults 0 2", ""), StandardCharsets.UTF_8);
          Tools.runOk("umount", root.toString());
          undo.pop();
        }
      }
      // The "guest's" mounts: data as the fstab says; at other an XFS; two the fstab does not place on this disk.
      // read-only: the image is backed up while mounted, and must not change under the backup
      mount(attach(image, (1L << 20) + PART, undo), m.resolve("data"), undo, "ro,noload");
      mount(newFs(dir, "other", "mkfs.xfs", undo), m.resolve("other"), undo);
      mount(newFs(dir, "extra", "mkfs.ext4", undo), m.resolve("extra"), undo);
      mount(newFs(dir, "elsewhere", "mkfs.ext4", undo), m.resolve("elsewhere"), undo);

      Path socket = dir.resolve("qga.sock");
      Path state = Files.createDirectories(dir.resolve("qga-state"));
      agent = new ProcessBuilder("qemu-ga", "-m", "unix-listen", "-p", socket.toString(), "-t", state.toString(),
          "-b", "guest-fsfreeze-freeze,guest-fsfreeze-freeze-list,guest-fsfreeze-thaw,guest-shutdown")
          .redirectErrorStream(true).redirectOutput(dir.resolve("qga.log").toFile()).start();
      for (int i = 0; i < 250 && !Files.exists(socket); i++) {
        Thread.sleep(20);
      }
      LiveMounts live = VmBackup.liveMounts(MonitorAddress.unix(socket), Duration.ofSeconds(10));
      assertThat(live.unavailable()).isNull();
      assertThat(live.mounts()).extracting(LiveMounts.Mount::mountpoint).contains(m.resolve("data").toString());

      try (Repository repo = BackupIT.repo(dir.resolve("repo")); BlockDevice disk = FileBlockDevice.open(image)) {
        Backup.Options options = new Backup.Options(Backup.Mode.FILES, List.of(), List.of(m + "/**"), List.of(), false, List.of(),
            false, List.of("test"), "auto", new dev.pluck.engine.repo.Snapshot.Source("vm", List.of("0"), List.of()), "backup", "test",
            null, null);
        Backup.Result r = Backup.run(repo, List.of(new VolumeTree.Disk("0", disk)), options, Backup.Reading.DEFAULT, live);
        assertThat(r.complete()).isTrue();
        // Only what lies under m/ is the test's: the host's own root may or may not be listed.
        List<String> warnings = r.warnings().stream().filter(w -> w.startsWith("guest agent: ") && w.contains(m.toString())).toList();
        assertThat(warnings).as("one warning per difference").hasSize(4);
        assertThat(warnings).anySatisfy(w -> assertThat(w).contains("ext4 (loop").contains("is mounted at " + m.resolve("extra"))
            .contains("no line for it"));
        assertThat(warnings).anySatisfy(w -> assertThat(w).contains("is mounted at " + m.resolve("elsewhere"))
            .contains("its line names /dev/vdz9"));
        assertThat(warnings).anySatisfy(w -> assertThat(w).startsWith("guest agent: xfs (loop")
            .contains("is mounted at " + m.resolve("other") + ", where /etc/fstab puts p4 (ext4)"));
        assertThat(warnings).anySatisfy(w -> assertThat(w).isEqualTo("guest agent: nothing is mounted at " + m.resolve("gone")
            + " in the guest now; p3 was backed up there as /etc/fstab says"));
        assertThat(warnings).noneMatch(w -> w.contains(m.resolve("data").toString()));
      }

      // An agent that cannot list them: said once, and the backup goes on by the fstab.
      agent.destroy();
      agent.waitFor();
      LiveMounts gone = VmBackup.liveMounts(MonitorAddress.unix(socket), Duration.ofSeconds(2));
      assertThat(gone.mounts()).isNull();
      assertThat(gone.unavailable()).isNotBlank();
    } finally {
      if (agent != null) {
        agent.destroy();
        agent.waitFor();
      }
      while (!undo.isEmpty()) {
        LiveGuest.quietly(undo.pop());
      }
    }
  }

  private static String attach(Path image, long offset, Deque<String[]> undo) {
    String loop = Tools.runOk("losetup", "--find", "--show", "--offset", Long.toString(offset), "--sizelimit", Long.toString(PART),
        image.toString()).stdout().trim();
    undo.push(new String[] {"losetup", "-d", loop});
    return loop;
  }

  private static void mount(String device, Path at, Deque<String[]> undo) throws Exception {
    mount(device, at, undo, "rw");
  }

  private static void mount(String device, Path at, Deque<String[]> undo, String options) throws Exception {
    Files.createDirectories(at);
    Tools.runOk("mount", "-o", options, device, at.toString());
    undo.push(new String[] {"umount", at.toString()});
  }

  /** A new filesystem of its own on a loop device (sparse: 320 MiB is XFS's least). */
  private static String newFs(Path dir, String name, String mkfs, Deque<String[]> undo) {
    Path file = dir.resolve(name + ".img");
    Tools.runOk("truncate", "-s", Long.toString(320L << 20), file.toString());
    Tools.runOk(mkfs, file.toString());
    String loop = Tools.runOk("losetup", "--find", "--show", file.toString()).stdout().trim();
    undo.push(new String[] {"losetup", "-d", loop});
    return loop;
  }
}
