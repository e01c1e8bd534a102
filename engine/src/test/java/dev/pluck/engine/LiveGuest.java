package dev.pluck.engine;

import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.qmp.MonitorAddress;
import dev.pluck.qmp.PullView;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A running "VM" for end-to-end backups: qemu-storage-daemon serves a disk image as node disk0, and
 * the kernel mounts one ext4 volume of it from a loop device over the daemon's writable FUSE
 * export, so the mount's writes pass through QEMU's block layer and its dirty bitmaps as a guest's
 * would. Backups run with that filesystem frozen, as the guest agent would freeze it, so the
 * mounted tree is the oracle of what a view holds.
 */
final class LiveGuest implements AutoCloseable {
  static final String DRIVE = "disk0";
  final QemuStorageDaemon qsd;
  final MonitorAddress monitor;
  final Path mount;
  private final Path dir;
  private final String loop;
  private final Random random = new Random(7);

  private LiveGuest(Path dir, Path image, long offset, long size, List<String> qsdArgs) throws IOException {
    this.dir = dir;
    qsd = QemuStorageDaemon.start(image, "raw", qsdArgs);
    String attached = null;
    Path mounted = null;
    try {
      monitor = MonitorAddress.unix(qsd.qmpSocket());
      Path fuse = qsd.exportFuse("live");
      attached = Tools.runOk("losetup", "--find", "--show", "--offset", Long.toString(offset), "--sizelimit", Long.toString(size),
          fuse.toString()).stdout().trim();
      mounted = Files.createDirectories(dir.resolve("mnt"));
      // noinit_itable: no lazy inode-table zeroing writing behind the test's back
      Tools.runOk("mount", "-o", "noatime,noinit_itable", attached, mounted.toString());
    } catch (RuntimeException | IOException e) {
      if (attached != null) {
        quietly("losetup", "-d", attached);
      }
      qsd.close();
      throw e;
    }
    loop = attached;
    mount = mounted;
  }

  /** The guest of a copy of {@code image}, mounting the volume at [offset, offset + size). */
  static LiveGuest of(Path dir, Path image, long offset, long size, List<String> qsdArgs) throws IOException {
    Path copy = dir.resolve("disk.raw");
    Tools.runOk("cp", "--sparse=always", image.toString(), copy.toString());
    return new LiveGuest(dir, copy, offset, size, qsdArgs);
  }

  /** The guest of a new whole-disk ext4 of {@code size} bytes, its inode tables and journal written out. */
  static LiveGuest newExt4(Path dir, long size, List<String> qsdArgs) throws IOException {
    Path image = dir.resolve("disk.raw");
    Tools.runOk("truncate", "-s", Long.toString(size), image.toString());
    Tools.runOk("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", image.toString());
    return new LiveGuest(dir, image, 0, size, qsdArgs);
  }

  /** A {@code vm backup} of the volume {@code volume}, the guest frozen meanwhile. */
  VmBackup.Result backup(Repository repo, String chain, Backup.Mode mode, String volume, List<String> include) throws IOException {
    Tools.runOk("sync");
    Tools.runOk("fsfreeze", "-f", mount.toString());
    try {
      Backup.Options options = new Backup.Options(mode, List.of(volume), include, List.of(), false, List.of(), false, List.of(), null,
          new Snapshot.Source("vm", List.of(DRIVE), List.of()), chain, "test", null, null);
      PullView.Options view = PullView.Options.defaults(chain, dir.resolve("scratch-" + chain)).withLockDir(dir.resolve("locks"));
      return VmBackup.run(repo, monitor, List.of(DRIVE), view, options, false);
    } finally {
      Tools.runOk("fsfreeze", "-u", mount.toString());
    }
  }

  /** Bytes the chain's recording bitmap holds as dirty now. */
  long dirtyBytes(String chain) throws IOException {
    Tools.runOk("sync");
    try (dev.pluck.qmp.QmpClient client = dev.pluck.qmp.QmpClient.connect(monitor, Duration.ofSeconds(10))) {
      return new dev.pluck.qmp.QemuBlock(client).resolve(DRIVE).bitmaps().stream()
          .filter(b -> b.recording() && b.name().startsWith("pluck-" + chain + "-")).mapToLong(dev.pluck.qmp.BlockNode.Bitmap::dirtyBytes)
          .sum();
    }
  }

  Path write(Path p, int size) throws IOException {
    Files.createDirectories(p.getParent());
    byte[] b = new byte[size];
    random.nextBytes(b);
    Files.write(p, b);
    return p;
  }

  long overwrite(Path p, long at, int length) throws IOException {
    byte[] b = new byte[length];
    random.nextBytes(b);
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(b), at);
    }
    return length;
  }

  long append(Path p, int length) throws IOException {
    byte[] b = new byte[length];
    random.nextBytes(b);
    Files.write(p, b, StandardOpenOption.APPEND);
    return length;
  }

  /** A mounted tree: path to type, size and content hash (or link target). */
  static Map<String, String> tree(Path root) throws IOException {
    Map<String, String> out = new TreeMap<>();
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        String path = "/" + root.relativize(p).toString();
        if (Files.isSymbolicLink(p)) {
          out.put(path, "symlink " + Files.readSymbolicLink(p));
        } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          out.put(path, "dir");
        } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          try (InputStream in = Files.newInputStream(p)) {
            out.put(path, "file " + Files.size(p) + " " + sha256(in));
          }
        } else {
          out.put(path, "other");
        }
      }
    }
    return out;
  }

  static String sha256(InputStream in) throws IOException {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static void quietly(String... command) {
    Tools.run(Duration.ofSeconds(30), List.of(command));
  }

  @Override
  public void close() {
    quietly("fsfreeze", "-u", mount.toString());
    quietly("umount", mount.toString());
    quietly("losetup", "-d", loop);
    qsd.close();
  }
}
