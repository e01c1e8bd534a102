package dev.pluck.fs.ext4;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.fs.Entry;
import dev.pluck.fs.volume.Volume;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.OracleEntry;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** pluck's ext2/3/4 reader against a walk of the kernel's own read-only mount of the same bytes. */
class Ext4ReaderIT {

  static Stream<Arguments> volumes() {
    return Stream.of(
        Arguments.of("ext4-features", "disk"), Arguments.of("ext2", "disk"), Arguments.of("ext3", "disk"),
        Arguments.of("gpt-mixed", "p3"), Arguments.of("gpt-mixed", "vg0/home"), Arguments.of("gpt-mixed-4k", "p3"),
        Arguments.of("mbr-logical", "p1"), Arguments.of("mbr-logical", "p7"),
        Arguments.of("lvm-multi", "vgmulti/striped"), Arguments.of("lvm-multi", "vgmulti/span"));
  }

  @ParameterizedTest
  @MethodSource("volumes")
  void everyPathMatchesTheKernelsView(String image, String volumeId) throws Exception {
    TestDisk disk = TestDisks.get(image);
    List<BlockDevice> opened = new ArrayList<>();
    List<VolumeTree.Disk> disks = new ArrayList<>();
    for (int i = 0; i < disk.disks().size(); i++) {
      BlockDevice d = FileBlockDevice.open(disk.disks().get(i));
      opened.add(d);
      disks.add(new VolumeTree.Disk(Integer.toString(i), d));
    }
    try {
      VolumeTree tree = VolumeTree.probe(disks);
      String id = disks.size() > 1 && !volumeId.contains("/") ? "0:" + volumeId : volumeId;
      Volume v = tree.find(id).orElseThrow();
      Ext4FileSystem fs = Ext4FileSystem.open(v.device());
      Map<String, Entry> ours = new LinkedHashMap<>();
      walk(fs, fs.root(), ours, new HashSet<>());
      Map<String, OracleEntry> theirs = disk.oracle().filesByPath(volumeId);
      assertThat(ours.keySet()).as("paths of %s %s", image, volumeId).containsExactlyInAnyOrderElementsOf(theirs.keySet());
      for (OracleEntry o : theirs.values()) {
        Entry e = ours.get(o.path());
        String what = image + " " + volumeId + " " + o.path();
        assertThat(e.type().label()).as("type of %s", what).isEqualTo(o.type());
        assertThat(e.mode()).as("mode of %s", what).isEqualTo(o.mode());
        assertThat(e.uid()).as("uid of %s", what).isEqualTo(o.uid());
        assertThat(e.gid()).as("gid of %s", what).isEqualTo(o.gid());
        assertThat(e.nlink()).as("nlink of %s", what).isEqualTo(o.nlink());
        assertThat(e.inode()).as("inode of %s", what).isEqualTo(o.inode());
        assertThat(nanos(e.mtime())).as("mtime of %s", what).isEqualTo(o.mtimeNs());
        assertThat(e.target()).as("target of %s", what).isEqualTo(o.target());
        if (!o.isDirectory()) {
          assertThat(e.size()).as("size of %s", what).isEqualTo(o.size());
        }
        if (o.rdev() != null) {
          assertThat(List.of(e.rdevMajor(), e.rdevMinor())).as("rdev of %s", what).isEqualTo(o.rdev());
        }
        assertThat(e.xattrs().keySet()).as("xattr names of %s", what).containsExactlyInAnyOrderElementsOf(o.xattrs().keySet());
        for (Map.Entry<String, byte[]> x : o.xattrs().entrySet()) {
          assertThat(e.xattrs().get(x.getKey())).as("xattr %s of %s", x.getKey(), what).isEqualTo(x.getValue());
        }
        if (o.isFile()) {
          assertThat(sha256(fs, e)).as("content of %s", what).isEqualTo(o.sha256());
        }
      }
    } finally {
      for (BlockDevice d : opened) {
        d.close();
      }
    }
  }

  private static long nanos(Instant t) {
    return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
  }

  private static void walk(Ext4FileSystem fs, Entry dir, Map<String, Entry> out, Set<Long> seen) throws Exception {
    out.put(dir.path(), dir);
    if (!seen.add(dir.inode())) {
      throw new AssertionError("directory cycle at " + dir.path());
    }
    List<Entry> children = new ArrayList<>();
    fs.list(dir, children::add);
    for (Entry c : children) {
      if (c.isDirectory()) {
        walk(fs, c, out, seen);
      } else {
        out.put(c.path(), c);
      }
    }
  }

  private static String sha256(Ext4FileSystem fs, Entry e) throws Exception {
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    ByteBuffer buf = ByteBuffer.allocate(1 << 20);
    try (SeekableByteChannel ch = fs.open(e)) {
      while (ch.read(buf.clear()) > 0) {
        sha.update(buf.flip());
      }
    }
    return HexFormat.of().formatHex(sha.digest());
  }
}
