package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.engine.repo.Config;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.Entry;
import dev.pluck.fs.FileSystem;
import dev.pluck.fs.FileSystems;
import dev.pluck.fs.TreeWalk;
import dev.pluck.fs.VolumeRange;
import dev.pluck.fs.volume.Volume;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The metadata a files backup keeps, against real filesystems changed by their real drivers (the
 * kernel's ext4, ntfs-3g): an incremental walk through the parent's metadata image and a dirty
 * map (here exact: the 64 KiB blocks whose bytes differ, as a QEMU bitmap of that granularity
 * would mark them) lists exactly what a walk of the changed image lists, and reads from the
 * source nothing outside the dirty blocks; with no change it reads nothing at all.
 */
class MetadataImageIT {
  static final int GRANULE = 64 << 10;

  @ParameterizedTest
  @ValueSource(strings = {"ext4-features", "ntfs-features-4k"})
  void incrementalWalksReadOnlyChangedMetadata(String name, @TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.get(name);
    Path image = dir.resolve("disk.raw");
    Tools.runOk("cp", "--sparse=always", disk.image().toString(), image.toString());
    Path before = dir.resolve("before.raw");
    Tools.runOk("cp", "--sparse=always", image.toString(), before.toString());
    List<String> warnings = new ArrayList<>();
    try (Repository repo = Repository.init(new LocalStorage(dir.resolve("repo")), Config.defaults("zstd:3"))) {
      // A full walk: everything read from the source, and kept.
      Snapshot.Metadata full;
      Map<String, String> first;
      try (BlockDevice source = FileBlockDevice.open(image)) {
        Volume v = volume(source);
        BackupIT.Recording counted = new BackupIT.Recording(source);
        try (MetadataImage m = MetadataImage.open(counted, repo, null, null, warnings::add)) {
          first = listing(v, m);
          full = m.finish(v.id(), v.fs());
        }
        assertThat(full.bytes()).as("metadata kept").isPositive();
        assertThat(first).isEqualTo(listing(v, null));
      }

      // Changes through the filesystem's own driver.
      change(name, image, dir.resolve("mnt"));
      List<VolumeRange> dirty = differingGranules(before, image);
      assertThat(dirty).as("the changes wrote something").isNotEmpty();

      Snapshot.Metadata second;
      try (BlockDevice source = FileBlockDevice.open(image)) {
        Volume v = volume(source);
        BackupIT.Recording counted = new BackupIT.Recording(source);
        Snapshot.Volume parent = new Snapshot.Volume(v.id(), v.fs(), "files", null, 0, 0, v.size(), 0, null, full);
        try (MetadataImage m = MetadataImage.open(counted, repo, parent, dirty, warnings::add)) {
          assertThat(m.fromParentImage()).isTrue();
          Map<String, String> walked = metadataOnly(v, m);
          assertThat(walked).containsKey("/pluck-new/f17").doesNotContainKey("/pluck-new/f3");
          long outside = 0;
          long read = 0;
          for (long[] r : counted.reads) {
            read += r[1];
            outside += r[1] - within(dirty, r[0], r[0] + r[1]);
          }
          assertThat(outside).as("metadata read from the source outside the dirty blocks").isZero();
          assertThat(read).as("metadata read from the source").isLessThan(full.bytes());
          assertThat(m.bytesFromParent()).as("metadata from the repository").isPositive();
          Map<String, String> withContent = listing(v, m);
          assertThat(withContent).as("an incremental walk through the parent's metadata").isEqualTo(listing(v, null));
          assertThat(withContent).as("the changes are seen").isNotEqualTo(first);
          second = m.finish(v.id(), v.fs());
        }
      }

      // No change at all: nothing read from the source, the same metadata kept.
      try (BlockDevice source = FileBlockDevice.open(image)) {
        Volume v = volume(source);
        BackupIT.Recording counted = new BackupIT.Recording(source);
        Snapshot.Volume parent = new Snapshot.Volume(v.id(), v.fs(), "files", null, 0, 0, v.size(), 0, null, second);
        try (MetadataImage m = MetadataImage.open(counted, repo, parent, List.of(), warnings::add)) {
          Map<String, String> walked = metadataOnly(v, m);
          assertThat(counted.reads).as("reads from the source of an unchanged volume").isEmpty();
          assertThat(walked).isEqualTo(metadataOnly(v, null));
          assertThat(listing(v, m)).isEqualTo(listing(v, null));  // the same walk as before: the same metadata read
          Snapshot.Metadata third = m.finish(v.id(), v.fs());
          assertThat(third.image().blockMap()).as("an unchanged image is the parent's blocks").isEqualTo(second.image().blockMap());
        }
      }
    }
    assertThat(warnings).isEmpty();
  }

  static Volume volume(BlockDevice source) throws IOException {
    return VolumeTree.probe(List.of(new VolumeTree.Disk("0", source))).find("disk").orElseThrow();
  }

  static Volume through(Volume v, BlockDevice device) {
    return new Volume(v.id(), v.parent(), v.kind(), v.type(), v.signature(), v.disk(), v.offset(), v.size(), v.segments(), v.note(),
        device, v.partition());
  }

  /** Every entry's metadata, and every regular file's sha256 (read as content through {@code m} when given). */
  static Map<String, String> listing(Volume v, MetadataImage m) throws IOException {
    return walk(v, m, true);
  }

  static Map<String, String> metadataOnly(Volume v, MetadataImage m) throws IOException {
    return walk(v, m, false);
  }

  static Map<String, String> walk(Volume v, MetadataImage m, boolean contents) throws IOException {
    Map<String, String> out = new TreeMap<>();
    try (FileSystem fs = FileSystems.open(m == null ? v : through(v, m))) {
      TreeWalk.walk(fs, fs.root(), e -> {
        StringBuilder x = new StringBuilder();
        e.xattrs().forEach((k, val) -> x.append(k).append('=').append(HexFormat.of().formatHex(val)).append(';'));
        String line = e.type() + " " + e.size() + " ino=" + e.inode() + " nlink=" + e.nlink() + " mode=" + e.mode() + " mtime="
            + e.mtime() + " ctime=" + e.ctime() + " target=" + e.target() + " xattrs=" + x + " streams=" + fs.streams(e);
        if (contents && e.type() == dev.pluck.fs.EntryType.FILE) {
          try (SeekableByteChannel ch = fs.open(e)) {  // opening reads metadata (extent trees); reading the channel, content
            line += " sha256=" + (m == null ? sha256(ch, e.size()) : m.contentReads(() -> sha256(ch, e.size())));
          }
        }
        out.put(e.path(), line);
        return e.isDirectory();
      });
    }
    return out;
  }

  /** The sha256 of a file's bytes; of its first and last 4 MiB only when larger (the images hold sparse giants). */
  static String sha256(SeekableByteChannel ch, long size) throws IOException {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      ByteBuffer buf = ByteBuffer.allocate(1 << 16);
      long part = 4 << 20;
      for (long from : size <= 2 * part ? new long[] {0} : new long[] {0, size - part}) {
        ch.position(from);
        long left = size <= 2 * part ? size : part;
        while (left > 0 && ch.read(buf.clear().limit((int) Math.min(buf.capacity(), left))) > 0) {
          left -= buf.position();
          md.update(buf.flip());
        }
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** New files and a folder, an append, an overwrite, a rename and a delete, through the real driver. */
  static void change(String name, Path image, Path mnt) throws IOException {
    Files.createDirectories(mnt);
    if (name.startsWith("ntfs")) {
      Tools.runOk("ntfs-3g", "-o", "remove_hiberfile", image.toString(), mnt.toString());  // its hiberfil.sys says "hibernated"
    } else {
      Tools.runOk("mount", "-o", "loop", image.toString(), mnt.toString());
    }
    try {
      Path made = Files.createDirectories(mnt.resolve("pluck-new"));
      for (int i = 0; i < 40; i++) {
        Files.write(made.resolve("f" + i), ("file " + i + "\n").repeat(1 + i * 37).getBytes());
      }
      List<Path> files = new ArrayList<>();
      try (var walk = Files.walk(mnt)) {
        walk.filter(p -> Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS) && !p.startsWith(made))
            .sorted().forEach(files::add);
      }
      assertThat(files.size()).as("regular files to change on %s", name).isGreaterThanOrEqualTo(3);
      Files.write(files.get(0), "appended\n".getBytes(), java.nio.file.StandardOpenOption.APPEND);
      try (var ch = java.nio.channels.FileChannel.open(files.get(1), java.nio.file.StandardOpenOption.WRITE)) {
        ch.write(ByteBuffer.wrap("overwritten".getBytes()), 0);
      }
      Files.move(files.get(2), made.resolve("moved-here"));
      Files.delete(made.resolve("f3"));
    } finally {
      Tools.runOk("umount", mnt.toString());
    }
  }

  /** The {@link #GRANULE}-sized blocks whose bytes differ between two images of one size, merged. */
  static List<VolumeRange> differingGranules(Path a, Path b) throws IOException {
    List<VolumeRange> out = new ArrayList<>();
    try (InputStream x = Files.newInputStream(a); InputStream y = Files.newInputStream(b)) {
      byte[] bx = new byte[GRANULE];
      byte[] by = new byte[GRANULE];
      for (long at = 0; ; at += GRANULE) {
        int nx = x.readNBytes(bx, 0, GRANULE);
        int ny = y.readNBytes(by, 0, GRANULE);
        if (nx == 0 && ny == 0) {
          break;
        }
        if (nx != ny || !java.util.Arrays.equals(bx, 0, nx, by, 0, ny)) {
          out.add(new VolumeRange(at, Math.max(nx, ny)));
        }
      }
    }
    return VolumeRange.coalesce(out);
  }

  static long within(List<VolumeRange> ranges, long from, long to) {
    long n = 0;
    for (VolumeRange r : ranges) {
      n += Math.max(0, Math.min(to, r.end()) - Math.max(from, r.offset()));
    }
    return n;
  }
}
