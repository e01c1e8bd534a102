package dev.pluck.restore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.engine.Backup;
import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.Config;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.OracleEntry;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restores checked against the oracle of the image the snapshot came from (made from the kernel's
 * mount by independent tools): every path with its type, size, sha256, mode, owner, nanosecond
 * mtime, link target, extended attributes and hard links; and a hostile catalog that tries to
 * leave the target.
 */
class DirectoryRestoreIT {
  @TempDir Path tmp;

  static Backup.Options files() {
    return new Backup.Options(Backup.Mode.FILES, List.of(), List.of(), List.of(), false, List.of(), false, List.of(), null,
        new Snapshot.Source("vm", List.of("0"), List.of()), "backup", "test", null, null);
  }

  @Test
  void everyFileComesBackWithItsMetadata() throws Exception {
    TestDisk disk = TestDisks.ext4Features();
    Path target = tmp.resolve("target");
    List<String> notes = new java.util.ArrayList<>();
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"));
        BlockDevice img = FileBlockDevice.open(disk.image())) {
      Backup.Result b = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), files());
      assertThat(b.complete()).as("%s", b.failed()).isTrue();
      Snapshot s = repo.snapshot(b.snapshot());
      long start = System.nanoTime();
      DirectoryRestore.Result r = DirectoryRestore.restore(repo, s, s.volumes().get(0), List.of(), "",
          new DirectoryRestore.Options(target, DirectoryRestore.Overwrite.NEVER, DirectoryRestore.Owner.KEEP));
      System.err.printf("restore: %d files, %d directories, %d bytes in %.1f s%n", r.files(), r.directories(), r.bytes(),
          (System.nanoTime() - start) / 1e9);
      assertThat(r.failed()).isEmpty();
      notes.addAll(r.notes());
      assertThat(r.files()).isPositive();
      assertThat(r.special()).as("devices and fifos").isPositive();
    }
    assertRestoredEqualsTheOracle(disk, target, tmp, notes);
  }

  /**
   * Every path of the oracle (but /lost+found) below {@code target}: type, size, content, mode,
   * owner, nanosecond mtime, link target, extended attributes as getfattr reads them, hard links;
   * the swap file left out with a note; the largest (sparse) file sparse again.
   */
  static void assertRestoredEqualsTheOracle(TestDisk disk, Path target, Path tmp, List<String> notes) throws Exception {
    assertRestoredEqualsTheOracle(disk, target, tmp, notes, false);
  }

  /** As above; {@code socketsLeftOut}: a tar has no sockets, and a note says so. */
  static void assertRestoredEqualsTheOracle(TestDisk disk, Path target, Path tmp, List<String> notes, boolean socketsLeftOut)
      throws Exception {
    Map<Long, Long> inodes = new HashMap<>();  // the oracle's inode -> the restored one
    int compared = 0;
    for (OracleEntry o : disk.oracle().files("disk")) {
      if (o.path().equals("/") || o.path().startsWith("/lost+found")) {
        continue;
      }
      Path p = target.resolve(o.path().substring(1));
      if (o.path().equals("/swapfile")) {
        assertThat(Files.exists(p, LinkOption.NOFOLLOW_LINKS)).as("a swap file is not restored").isFalse();
        assertThat(notes).anyMatch(n -> n.startsWith("/swapfile") && n.contains("mkswap"));
        continue;
      }
      if (socketsLeftOut && o.type().equals("socket")) {
        assertThat(Files.exists(p, LinkOption.NOFOLLOW_LINKS)).as("%s: tar has no sockets", o.path()).isFalse();
        assertThat(notes).anyMatch(n -> n.contains("socket(s) left out"));
        continue;
      }
      assertThat(Files.exists(p, LinkOption.NOFOLLOW_LINKS)).as(o.path()).isTrue();
      Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,ino,size,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
      int mode = (Integer) a.get("mode");
      assertThat(type(mode)).as("type of %s", o.path()).isEqualTo(o.type());
      assertThat(a.get("uid")).as("uid of %s", o.path()).isEqualTo((int) o.uid());
      assertThat(a.get("gid")).as("gid of %s", o.path()).isEqualTo((int) o.gid());
      Instant mtime = ((java.nio.file.attribute.FileTime) a.get("lastModifiedTime")).toInstant();
      long ns = mtime.getEpochSecond() * 1_000_000_000L + mtime.getNano();
      if (o.type().equals("symlink")) {
        assertThat(Files.readSymbolicLink(p).toString()).isEqualTo(o.target());
        assertThat(ns).as("mtime of %s", o.path()).isEqualTo(o.mtimeNs());
      } else {
        assertThat(mode & 07777).as("mode of %s", o.path()).isEqualTo(o.mode() & 07777);
        assertThat(ns).as("mtime of %s", o.path()).isEqualTo(o.mtimeNs());
      }
      if (o.type().equals("file")) {
        assertThat((Long) a.get("size")).as("size of %s", o.path()).isEqualTo(o.size());
        if (o.sha256() != null) {
          assertThat(sha256(p)).as("content of %s", o.path()).isEqualTo(o.sha256());
        }
        Long seen = inodes.putIfAbsent(o.inode(), (Long) a.get("ino"));
        if (seen != null) {
          assertThat(a.get("ino")).as("%s is a hard link again", o.path()).isEqualTo(seen);
        }
      }
      for (Map.Entry<String, byte[]> x : o.xattrs().entrySet()) {
        Path value = tmp.resolve("xattr-value");
        Tools.Result got = Tools.run(java.time.Duration.ofSeconds(30), List.of("getfattr", "-h", "--only-values", "-n", x.getKey(),
            p.toString()), value);
        assertThat(got.exitCode()).as("%s on %s: %s", x.getKey(), o.path(), got.stderr()).isZero();
        assertThat(HexFormat.of().formatHex(Files.readAllBytes(value))).as("%s on %s", x.getKey(), o.path())
            .isEqualTo(HexFormat.of().formatHex(x.getValue()));
      }
      compared++;
    }
    assertThat(compared).isGreaterThan(20);
    // Holes stay holes: the largest file takes far fewer blocks than its size.
    OracleEntry largest = disk.oracle().files("disk").stream().filter(o -> o.type().equals("file"))
        .max(java.util.Comparator.comparingLong(OracleEntry::size)).orElseThrow();
    long blocks = Long.parseLong(Tools.runOk("stat", "-c", "%b", target.resolve(largest.path().substring(1)).toString()).stdout().trim());
    assertThat(blocks * 512).as("%s of %d bytes, restored sparse", largest.path(), largest.size()).isLessThan(largest.size() / 4);
  }

  /** One path, and the second restore keeps what exists unless told otherwise. */
  @Test
  void onePathAndOverwritePolicies() throws Exception {
    TestDisk disk = TestDisks.ext4Features();
    OracleEntry file = disk.oracle().files("disk").stream().filter(o -> o.type().equals("file") && o.size() > 0 && o.size() < 100_000
        && o.path().lastIndexOf('/') > 0).findFirst().orElseThrow();
    Path target = tmp.resolve("one");
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"));
        BlockDevice img = FileBlockDevice.open(disk.image())) {
      Snapshot s = repo.snapshot(Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), files()).snapshot());
      DirectoryRestore.Options never = new DirectoryRestore.Options(target, DirectoryRestore.Overwrite.NEVER, DirectoryRestore.Owner.KEEP);
      DirectoryRestore.Result r = DirectoryRestore.restore(repo, s, s.volumes().get(0), List.of(file.path()), "", never);
      assertThat(r.files()).isEqualTo(1);
      try (var walk = Files.walk(target)) {
        assertThat(walk.filter(Files::isRegularFile).count()).as("only the one file").isEqualTo(1);
      }
      Path p = target.resolve(file.path().substring(1));
      Files.writeString(p, "changed since");
      r = DirectoryRestore.restore(repo, s, s.volumes().get(0), List.of(file.path()), "", never);
      assertThat(r.kept()).isEqualTo(1);
      assertThat(Files.readString(p)).isEqualTo("changed since");
      r = DirectoryRestore.restore(repo, s, s.volumes().get(0), List.of(file.path()), "",
          new DirectoryRestore.Options(target, DirectoryRestore.Overwrite.IF_NEWER, DirectoryRestore.Owner.KEEP));
      assertThat(r.kept()).as("the local file is newer").isEqualTo(1);
      r = DirectoryRestore.restore(repo, s, s.volumes().get(0), List.of(file.path()), "",
          new DirectoryRestore.Options(target, DirectoryRestore.Overwrite.ALWAYS, DirectoryRestore.Owner.KEEP));
      assertThat(sha256(p)).isEqualTo(file.sha256());
      r = DirectoryRestore.restore(repo, s, s.volumes().get(0), List.of("/no/such/file"), "", never);
      assertThat(r.failed()).extracting(DirectoryRestore.Failure::path).containsExactly("/no/such/file");
    }
  }

  /**
   * A hostile guest's catalog: names with "..", ".", NUL and empty components, and a symlink to
   * outside followed by a file below it. Nothing lands outside the target; each is named.
   */
  @Test
  void aHostileCatalogNeverLeavesTheTarget() throws Exception {
    Path target = tmp.resolve("target");
    Path outside = tmp.resolve("outside");
    Files.createDirectories(outside);
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"))) {
      byte[] data = "payload".getBytes();
      String chunk = repo.put(data, 0, data.length).hex();
      Catalog.Writer w = new Catalog.Writer(repo);
      w.add(entry("/", "dir", 0, null, null));
      w.add(entry("/../escape", "file", data.length, List.of(chunk), null));
      w.add(entry("/ok/../../escape2", "file", data.length, List.of(chunk), null));
      w.add(entry("/./dot", "file", data.length, List.of(chunk), null));
      w.add(entry("/a//b", "file", data.length, List.of(chunk), null));
      w.add(entry("/nul\0name", "file", data.length, List.of(chunk), null));
      w.add(entry("/link", "symlink", 0, null, outside.toString()));
      w.add(entry("/link/planted", "file", data.length, List.of(chunk), null));
      w.add(entry("/fine", "file", data.length, List.of(chunk), null));
      Snapshot.Volume v = new Snapshot.Volume("p1", "ext4", "files", w.finish(), w.entries(), data.length, 0, 0, null);
      Snapshot s = repo.snapshot(repo.commit(new Snapshot(null, Config.FORMAT, Instant.now().toString(), "h",
          new Snapshot.Source("vm", List.of("0"), List.of()), List.of(), true, List.of(), null, "backup", null, Map.of(),
          repo.config().chunkSize(), List.of(v))));
      DirectoryRestore.Result r = DirectoryRestore.restore(repo, s, v, List.of(), "",
          new DirectoryRestore.Options(target, DirectoryRestore.Overwrite.NEVER, DirectoryRestore.Owner.CURRENT));
      assertThat(r.failed()).extracting(DirectoryRestore.Failure::path).contains("/../escape", "/ok/../../escape2", "/./dot", "/a//b",
          "/nul\\0name", "/link/planted");
      assertThat(Files.readString(target.resolve("fine"))).isEqualTo("payload");
      assertThat(Files.isSymbolicLink(target.resolve("link"))).isTrue();
      try (var walk = Files.walk(outside)) {
        assertThat(walk.count()).as("nothing written outside").isEqualTo(1);
      }
      assertThat(Files.exists(tmp.resolve("escape"))).isFalse();
      assertThat(Files.exists(tmp.resolve("escape2"))).isFalse();
    }
  }

  static CatalogEntry entry(String path, String type, long size, List<String> chunks, String linkTarget) {
    return new CatalogEntry(path, type, size, type.equals("symlink") ? 0777 : 0644, 0L, 0L, 1, path.hashCode() & 0xffff, 0,
        1_700_000_000_000_000_000L, 0, null, linkTarget, null, null, 0, null, chunks, null, null);
  }

  static String type(int mode) {
    return switch (mode & 0170000) {
      case 0040000 -> "dir";
      case 0100000 -> "file";
      case 0120000 -> "symlink";
      case 0010000 -> "fifo";
      case 0020000 -> "chardev";
      case 0060000 -> "blockdev";
      case 0140000 -> "socket";
      default -> "unknown " + Integer.toOctalString(mode);
    };
  }

  static String sha256(Path p) throws Exception {
    java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
    try (var ch = java.nio.channels.FileChannel.open(p)) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(1 << 20);
      while (ch.read(b.clear()) > 0) {
        md.update(b.flip());
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
