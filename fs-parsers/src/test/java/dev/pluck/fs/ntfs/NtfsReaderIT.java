package dev.pluck.fs.ntfs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.fs.Entry;
import dev.pluck.fs.FileSystem;
import dev.pluck.fs.TestVolumes;
import dev.pluck.fs.TreeWalk;
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
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * pluck's NTFS reader against ntfs-3g's view of the same bytes (a walk of its read-only mount):
 * every path, type, size, the $STANDARD_INFORMATION times to 100 ns, link targets, attribute
 * flags, every stream, and the content of every file and stream.
 */
class NtfsReaderIT {

  static Stream<Arguments> volumes() {
    List<Arguments> out = new ArrayList<>(List.of(
        Arguments.of("ntfs-features-4k", "disk"), Arguments.of("ntfs-features-64k", "disk"),
        Arguments.of("gpt-mixed", "vg0/data"), Arguments.of("gpt-mixed-4k", "vg0/data"), Arguments.of("mbr-logical", "p6"),
        Arguments.of("ntfs-mft", "disk")));
    for (String w : TestDisks.WINDOWS_NTFS) {
      out.add(Arguments.of("ntfs-windows-" + w, "p1"));
    }
    return out.stream();
  }

  @ParameterizedTest
  @MethodSource("volumes")
  void everyPathMatchesNtfs3g(String image, String volumeId) throws Exception {
    TestDisk disk = TestDisks.get(image);
    try (TestVolumes volumes = new TestVolumes(disk)) {
      Volume v = volumes.volume(volumeId);
      NtfsFileSystem fs = NtfsFileSystem.open(v.device());
      Map<String, Entry> ours = new LinkedHashMap<>();
      Entry root = fs.root();
      ours.put("/", root);
      TreeWalk.walk(fs, root, e -> {
        ours.put(e.path(), e);
        return true;
      });
      Map<String, OracleEntry> theirs = disk.oracle().filesByPath(volumeId);
      assertThat(ours.keySet()).as("paths of %s %s", image, volumeId).containsExactlyInAnyOrderElementsOf(theirs.keySet());
      for (OracleEntry o : theirs.values()) {
        Entry e = ours.get(o.path());
        String what = image + " " + volumeId + " " + o.path();
        assertThat(e.type().label()).as("type of %s", what).isEqualTo(o.type());
        assertThat(e.inode()).as("record of %s", what).isEqualTo(o.inode());
        assertThat(nanos(e.mtime())).as("mtime of %s", what).isEqualTo(o.mtimeNs());
        assertThat(nanos(e.atime())).as("atime of %s", what).isEqualTo(o.atimeNs());
        assertThat(nanos(e.ctime())).as("ctime of %s", what).isEqualTo(o.ctimeNs());
        assertThat(e.mode()).as("mode of %s", what).isNull();
        if (o.ntfsAttributes() != null) {
          assertThat(e.flags()).as("attributes of %s", what).isEqualTo(o.ntfsAttributes().longValue());
        }
        if (o.isSymlink()) {
          String expected = o.target().startsWith("/.NTFS-3G/") ? o.target().substring(10).replace('/', '\\') : o.target();
          assertThat(e.target()).as("target of %s", what).isEqualTo(expected);
        }
        if (o.isFile()) {
          assertThat(e.size()).as("size of %s", what).isEqualTo(o.size());
          assertThat(e.nlink()).as("links of %s", what).isEqualTo(o.nlink());
          assertThat(sha256(fs, e, "")).as("content of %s", what).isEqualTo(o.sha256());
        }
        Map<String, Long> streams = new LinkedHashMap<>();
        for (FileSystem.Stream s : fs.streams(e)) {
          streams.put(s.name(), s.size());
        }
        assertThat(streams.keySet()).as("streams of %s", what).containsExactlyInAnyOrderElementsOf(o.streams().keySet());
        for (Map.Entry<String, OracleEntry.Stream> s : o.streams().entrySet()) {
          assertThat(streams.get(s.getKey())).as("size of stream %s of %s", s.getKey(), what).isEqualTo(s.getValue().size());
          assertThat(sha256(fs, e, s.getKey())).as("stream %s of %s", s.getKey(), what).isEqualTo(s.getValue().sha256());
        }
      }
    }
  }

  private static long nanos(Instant t) {
    return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
  }

  static String sha256(FileSystem fs, Entry e, String stream) throws Exception {
    return TestVolumes.sha256(fs, e, stream);
  }

}
