package dev.pluck.fs.ext4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.fs.Entry;
import dev.pluck.fs.FileSystemException;
import dev.pluck.fs.TestVolumes;
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
import java.util.Base64;
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
        Arguments.of("lvm-multi", "vgmulti/striped"), Arguments.of("lvm-multi", "vgmulti/span"),
        Arguments.of("ext4-meta_bg", "disk"), Arguments.of("ext4-bigalloc", "disk"), Arguments.of("ext4-encrypt", "disk"),
        Arguments.of("ext4-ea_inode", "disk"), Arguments.of("ext4-journal", "disk"));
  }

  @ParameterizedTest
  @MethodSource("volumes")
  void everyPathMatchesTheKernelsView(String image, String volumeId) throws Exception {
    TestDisk disk = TestDisks.get(image);
    try (TestVolumes volumes = new TestVolumes(disk)) {
      Volume v = volumes.volume(volumeId);
      Ext4FileSystem fs = Ext4FileSystem.open(v.device());
      Map<String, Entry> ours = new LinkedHashMap<>();
      walk(fs, fs.root(), ours, new HashSet<>());
      Map<String, OracleEntry> theirs = disk.oracle().filesByPath(volumeId);
      // fscrypt names: the kernel without the key and pluck both show a no-key form, compared below by inode.
      List<String> encrypted = new ArrayList<>();
      disk.oracle().facts().path("encryptedDirs").forEach(d -> encrypted.add(d.asText() + "/"));
      Map<Long, Entry> oursByInode = new LinkedHashMap<>();
      ours.values().forEach(e -> oursByInode.put(e.inode(), e));
      assertThat(ours.keySet().stream().filter(p -> !under(p, encrypted)))
          .as("paths of %s %s", image, volumeId)
          .containsExactlyInAnyOrderElementsOf(theirs.keySet().stream().filter(p -> !under(p, encrypted)).toList());
      assertThat(ours.values().stream().filter(e -> under(e.path(), encrypted)).map(Entry::inode))
          .as("inodes under encrypted directories of %s", image)
          .containsExactlyInAnyOrderElementsOf(theirs.values().stream().filter(o -> under(o.path(), encrypted)).map(OracleEntry::inode).toList());
      for (OracleEntry o : theirs.values()) {
        boolean hidden = under(o.path(), encrypted);
        Entry e = hidden ? oursByInode.get(o.inode()) : ours.get(o.path());
        String what = image + " " + volumeId + " " + o.path();
        if (hidden) {
          assertThat(noKeyCiphertext(e.name())).as("ciphertext of the name of %s", what).isEqualTo(noKeyCiphertext(o.path().substring(o.path().lastIndexOf('/') + 1)));
        }
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
        if (o.isFile() && o.encrypted()) {
          assertThatThrownBy(() -> fs.open(e)).as("reading %s", what).isInstanceOf(FileSystemException.class).hasMessageContaining("encrypted");
        } else if (o.isFile()) {
          assertThat(sha256(fs, e)).as("content of %s", what).isEqualTo(o.sha256());
        }
      }
    }
  }

  private static boolean under(String path, List<String> dirs) {
    return dirs.stream().anyMatch(path::startsWith);
  }

  /** A no-key name without its leading 8-byte directory hash (the kernel fills it in, pluck leaves it zero). */
  private static String noKeyCiphertext(String name) {
    byte[] b = Base64.getUrlDecoder().decode(name);
    return HexFormat.of().formatHex(b, 8, b.length);
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
    return TestVolumes.sha256(fs, e, "");
  }

}
