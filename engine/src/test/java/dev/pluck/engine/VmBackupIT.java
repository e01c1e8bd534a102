package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.engine.repo.BlockMap;
import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.Config;
import dev.pluck.engine.repo.Content;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.engine.repo.Storage;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.qmp.MonitorAddress;
import dev.pluck.qmp.PullView;
import dev.pluck.testdata.OracleVolume;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vm backup} end to end on qemu-storage-daemon serving a copy of gpt-mixed. The "guest" is
 * the kernel's ext4 mounted from a loop device over qemu-storage-daemon's writable FUSE export, so
 * its writes pass through QEMU's block layer and its dirty bitmaps as a guest's would. Each
 * backup runs with that filesystem frozen (as the guest agent would freeze it), so the mounted
 * tree is the oracle of what the view holds.
 */
class VmBackupIT {
  @TempDir Path tmp;
  private LiveGuest guest;
  private Path mount;

  @BeforeEach
  void start() throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    OracleVolume root = disk.oracle().volume("p3");
    guest = LiveGuest.of(tmp, disk.image(), root.offset(), root.size(), List.of());
    mount = guest.mount;
  }

  @AfterEach
  void stop() {
    if (guest != null) {
      guest.close();
    }
  }

  @Test
  void incrementalRoundsEqualTheGuestsFilesAndAFailedBackupLosesNothing() throws Exception {
    AtomicBoolean failWrites = new AtomicBoolean();
    Storage storage = failing(tmp.resolve("repo"), failWrites);
    Repository.init(storage, Config.defaults("zstd:3")).close();
    String quiet;
    Path large;
    try (Repository repo = Repository.open(storage)) {
      VmBackup.Result full = guest.backup(repo, "backup", Backup.Mode.FILES, "p3", List.of());
      assertThat(full.since()).as("the chain's first view has no bitmap to compare with").isNull();
      assertThat(full.backup().files().get("new")).isGreaterThan(3000);
      assertEqualsMount(repo, full);

      // Round 1: new files, an append, an overwrite in the middle of a large file, a delete, a rename, an identical rewrite.
      large = guest.write(mount.resolve("large.bin"), 8 << 20);
      VmBackup.Result r1 = guest.backup(repo, "backup", Backup.Mode.FILES, "p3", List.of());
      assertThat(r1.since()).isEqualTo(full.checkpoint());
      assertThat(r1.backup().parent()).isEqualTo(full.backup().snapshot());
      assertEqualsMount(repo, r1);
      assertThat(r1.backup().bytesRead().get("data")).as("only the new file is read").isLessThan((8 << 20) + (1 << 20));

      long written = 0;
      written += guest.overwrite(large, 3 << 20, 100_000);
      written += guest.append(large, 50_000);
      written += guest.write(mount.resolve("alpha9/new.conf"), 20_000).toFile().length();
      Path victim = someFile(mount.resolve("alpha9"), 1);
      Files.delete(victim);
      Path moved = someFile(mount.resolve("alpha9"), 2);
      Files.move(moved, mount.resolve("renamed-" + moved.getFileName()));
      Path same = someFile(mount.resolve("alpha9"), 3);
      byte[] sameBytes = Files.readAllBytes(same);
      Files.write(same, sameBytes);  // new blocks, identical content
      written += sameBytes.length;
      VmBackup.Result r2 = guest.backup(repo, "backup", Backup.Mode.FILES, "p3", List.of());
      assertEqualsMount(repo, r2);
      assertThat(r2.backup().files().get("changed")).as("the overwritten file").isGreaterThanOrEqualTo(1);
      assertThat(r2.backup().bytesRead().get("data")).as("data read: what was written, not the 8 MiB file").isLessThan(2 * written + (1 << 20));
      assertThat(r2.backup().bytesSkipped().get("unchanged")).isGreaterThan(8L << 20);

      // No writes: nothing read but metadata.
      VmBackup.Result r3 = guest.backup(repo, "backup", Backup.Mode.FILES, "p3", List.of());
      assertEqualsMount(repo, r3);
      assertThat(r3.backup().bytesRead().get("data")).as("no data read when nothing changed").isZero();
      assertThat(r3.backup().files().get("changed") + r3.backup().files().get("new")).isZero();
      quiet = r3.checkpoint();

      // A backup that fails while it runs ends its view as failed; the next one still sees those writes.
      guest.overwrite(large, 5 << 20, 4096);
    }
    failWrites.set(true);
    try (Repository broken = Repository.open(storage)) {
      assertThatThrownBy(() -> guest.backup(broken, "backup", Backup.Mode.FILES, "p3", List.of())).hasMessageContaining("injected");
    } catch (IOException closing) {
      assertThat(closing).hasMessageContaining("injected");  // what could not be written is reported again on close
    }
    failWrites.set(false);
    try (Repository repo = Repository.open(storage)) {
      guest.write(mount.resolve("after-failure.bin"), 30_000);
      VmBackup.Result r4 = guest.backup(repo, "backup", Backup.Mode.FILES, "p3", List.of());
      assertThat(r4.since()).as("the failed view's checkpoint was undone").isEqualTo(quiet);
      assertEqualsMount(repo, r4);
    }
  }

  @Test
  void volumeImagesOfTwoChainsReadOnlyWhatChanged() throws Exception {
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:3"))) {
      VmBackup.Result full = guest.backup(repo, "images", Backup.Mode.VOLUMES, "p3", List.of());
      assertImageEqualsMount(repo, full);
      VmBackup.Result files = guest.backup(repo, "backup", Backup.Mode.FILES, "p3", List.of());  // a second chain on the same drive
      long written = guest.write(mount.resolve("var-log.bin"), 3 << 20).toFile().length();
      Tools.runOk("sync");
      long dirty = guest.dirtyBytes("images");
      assertThat(dirty).as("the chain's bitmap: about what was written").isBetween(written, 2 * written);
      VmBackup.Result r1 = guest.backup(repo, "images", Backup.Mode.VOLUMES, "p3", List.of());
      assertThat(r1.since()).isEqualTo(full.checkpoint());
      assertImageEqualsMount(repo, r1);
      assertThat(r1.backup().bytesRead().get("data")).as("image blocks read: the dirty ones").isBetween(written, dirty);
      VmBackup.Result f1 = guest.backup(repo, "backup", Backup.Mode.FILES, "p3", List.of());
      assertThat(f1.since()).as("the other chain's checkpoint").isEqualTo(files.checkpoint());
      assertEqualsMount(repo, f1);
    }
  }

  /**
   * With a guest agent, a backup by guest paths asks it what is mounted before the freeze (a frozen
   * agent answers little else), and says where that differs from the fstab of gpt-mixed (/srv/data
   * on its data volume). The agent is FakeGuestAgent: this "guest" runs no OS; the real qemu-ga's
   * answer is checked in LiveMountsIT.
   */
  @Test
  void theGuestAgentIsAskedWhatIsMountedBeforeTheFreeze() throws Exception {
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:3"));
        dev.pluck.testdata.FakeGuestAgent agent = new dev.pluck.testdata.FakeGuestAgent(tmp, false)) {
      agent.answerFsinfo("[{\"name\": \"vda3\", \"mountpoint\": \"/\", \"type\": \"ext4\", \"disk\": []},"
          + " {\"name\": \"vdb1\", \"mountpoint\": \"/srv/extra\", \"type\": \"xfs\", \"disk\": []}]");
      Backup.Options options = new Backup.Options(Backup.Mode.FILES, List.of(), List.of("/srv/**"), List.of(), false, List.of(), false,
          List.of(), null, new Snapshot.Source("vm", List.of(LiveGuest.DRIVE), List.of()), "backup", "test", null, null);
      PullView.Options view = PullView.Options.defaults("backup", tmp.resolve("scratch")).withLockDir(tmp.resolve("locks"))
          .withGuestAgent(dev.pluck.qmp.MonitorAddress.unix(agent.socket()), List.of());
      VmBackup.Result r = VmBackup.run(repo, guest.monitor, List.of(LiveGuest.DRIVE), view, options, false);
      assertThat(r.backup().complete()).isTrue();
      String dataVolume = TestDisks.gptMixed().oracle().volumes().stream().filter(v -> "data".equals(v.blkid().get("LABEL")))
          .findFirst().orElseThrow().id();
      assertThat(agent.commands).contains("guest-get-fsinfo", "guest-fsfreeze-freeze");
      assertThat(agent.commands.indexOf("guest-get-fsinfo")).as("asked before the freeze")
          .isLessThan(agent.commands.indexOf("guest-fsfreeze-freeze"));
      assertThat(r.backup().warnings()).filteredOn(w -> w.startsWith("guest agent: ")).containsExactlyInAnyOrder(
          "guest agent: xfs (vdb1) is mounted at /srv/extra, which /etc/fstab does not put on the drives backed up (no line for it);"
              + " guest paths under it were not backed up",
          "guest agent: nothing is mounted at /srv/data in the guest now; " + dataVolume + " was backed up there as /etc/fstab says");
    }
  }

  // ---- comparisons

  /** The n-th regular file (by name) found under {@code dir}. */
  private static Path someFile(Path dir, int n) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).sorted().skip(n).findFirst().orElseThrow();
    }
  }

  private void assertEqualsMount(Repository repo, VmBackup.Result r) throws IOException {
    assertThat(r.backup().complete()).as("complete: %s", r.backup().failed()).isTrue();
    Snapshot s = repo.snapshot(r.backup().snapshot());
    assertThat(s.bitmap()).isEqualTo(r.checkpoint());
    Snapshot.Volume v = s.volumes().stream().filter(x -> x.id().equals("p3")).findFirst().orElseThrow();
    Map<String, String> stored = new TreeMap<>();
    Catalog.read(repo, v.catalog(), e -> stored.put(e.path(), describe(repo, e)));
    assertThat(stored).isEqualTo(LiveGuest.tree(mount));
  }

  private static String describe(Repository repo, CatalogEntry e) {
    return switch (e.type()) {
      case "symlink" -> "symlink " + e.target();
      case "dir" -> "dir";
      case "file" -> {
        try (InputStream in = Channels.newInputStream(Content.open(repo, e.chunks(), e.size()))) {
          yield "file " + e.size() + " " + LiveGuest.sha256(in);
        } catch (IOException x) {
          yield "unreadable " + x;
        }
      }
      default -> "other";
    };
  }

  /** The stored image of p3, mounted read-only by the kernel, holds the guest's files. */
  private void assertImageEqualsMount(Repository repo, VmBackup.Result r) throws IOException {
    Snapshot s = repo.snapshot(r.backup().snapshot());
    Snapshot.Volume v = s.volumes().stream().filter(x -> x.id().equals("p3")).findFirst().orElseThrow();
    Path image = tmp.resolve("restored-" + s.id().substring(0, 8) + ".img");
    try (BlockDevice d = BlockMap.open(repo, v); FileChannel out = FileChannel.open(image, StandardOpenOption.CREATE_NEW,
        StandardOpenOption.WRITE)) {
      for (long at = 0; at < d.size(); at += 1 << 20) {
        ByteBuffer b = ByteBuffer.allocate((int) Math.min(1 << 20, d.size() - at));
        d.read(at, b);
        out.write(b.flip(), at);
      }
    }
    Path restored = Files.createDirectories(tmp.resolve("mnt-" + s.id().substring(0, 8)));
    Tools.runOk("mount", "-o", "ro,loop,noload", image.toString(), restored.toString());
    try {
      assertThat(LiveGuest.tree(restored)).isEqualTo(LiveGuest.tree(mount));
    } finally {
      LiveGuest.quietly("umount", restored.toString());
    }
  }

  /** A local repository whose writes fail while {@code fail} is set: a repository failing mid-backup. */
  private static Storage failing(Path dir, AtomicBoolean fail) throws IOException {
    Files.createDirectories(dir);
    LocalStorage local = new LocalStorage(dir);
    return (Storage) java.lang.reflect.Proxy.newProxyInstance(Storage.class.getClassLoader(), new Class<?>[] {Storage.class},
        (proxy, method, args) -> {
          if (fail.get() && method.getName().startsWith("put")) {
            throw new IOException("injected: the repository's disk fails");
          }
          try {
            return method.invoke(local, args);
          } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }
}
