package dev.pluck.fs.ext4;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.fs.Entry;
import dev.pluck.fs.FileExtent;
import dev.pluck.fs.VolumeRange;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Where files and metadata are, against e2fsprogs' own account (dumpe2fs, debugfs). */
class Ext4LayoutIT {

  /**
   * Allocated blocks are the complement of dumpe2fs's per-group "Free blocks" lists (which
   * libext2fs computes for never-initialised bitmaps too).
   */
  @ParameterizedTest
  @ValueSource(strings = {"ext4-features", "ext2", "ext3", "ext4-meta_bg", "ext4-bigalloc", "ext4-encrypt"})
  void allocatedRangesAreWhatDumpe2fsDoesNotCallFree(String image) throws Exception {
    TestDisk disk = TestDisks.get(image);
    String dump = Tools.runOk("dumpe2fs", disk.image().toString()).stdout();
    try (BlockDevice dev = FileBlockDevice.open(disk.image())) {
      Ext4FileSystem fs = Ext4FileSystem.open(dev);
      int bs = fs.info().blockSize();
      long blocks = fs.info().totalBytes() / bs;
      boolean[] free = new boolean[(int) blocks];
      // With bigalloc dumpe2fs ends a free range at the first block of its last cluster.
      Matcher cluster = Pattern.compile("Cluster size:\\s+(\\d+)").matcher(dump);
      long lastClusterTail = cluster.find() ? Long.parseLong(cluster.group(1)) / bs - 1 : 0;
      Matcher groups = Pattern.compile("(?m)^  Free blocks: (.*)$").matcher(dump);
      int groupLines = 0;
      while (groups.find()) {
        groupLines++;
        for (String r : groups.group(1).split(", ")) {
          if (r.isBlank()) {
            continue;
          }
          String[] ends = r.split("-");
          long a = Long.parseLong(ends[0].trim());
          long b = (ends.length > 1 ? Long.parseLong(ends[1].trim()) : a) + lastClusterTail;
          for (long x = a; x <= b; x++) {
            free[(int) x] = true;
          }
        }
      }
      assertThat(groupLines).as("groups listed by dumpe2fs").isPositive();
      List<VolumeRange> expected = new ArrayList<>();
      for (long x = 0; x < blocks; x++) {
        if (!free[(int) x]) {
          expected.add(new VolumeRange(x * bs, bs));
        }
      }
      List<VolumeRange> ours = fs.allocatedRanges();
      assertThat(ours).as("allocated ranges of %s", image).isEqualTo(VolumeRange.coalesce(expected));

      // Metadata is allocated, and holds every inode table dumpe2fs names.
      List<VolumeRange> meta = fs.metadataRanges();
      for (VolumeRange m : meta) {
        assertThat(ours).as("metadata %s of %s is allocated", m, image).anyMatch(a -> a.offset() <= m.offset() && m.end() <= a.end());
      }
      Matcher tables = Pattern.compile("Inode table at (\\d+)-(\\d+)").matcher(dump);
      int count = 0;
      while (tables.find()) {
        long a = Long.parseLong(tables.group(1)) * bs;
        long b = (Long.parseLong(tables.group(2)) + 1) * bs;
        assertThat(meta).as("inode table at %d of %s", a / bs, image).anyMatch(m -> m.offset() <= a && b <= m.end());
        count++;
      }
      assertThat(count).isPositive();
    }
  }

  /**
   * Every block of the file maps where debugfs's "stat" says ("(0-1):39936-39937",
   * "(1024-1279[u]):33024-33279" for unwritten ones; index and indirect blocks left out), up to
   * the file's size.
   */
  @ParameterizedTest
  @CsvSource({
      "ext4-features, /fragmented.bin", "ext4-features, /sparse.bin", "ext4-features, /unwritten.bin",
      "ext4-features, /huge-sparse.bin", "ext4-features, /filler.bin", "ext2, /indirect/triple.bin",
      "ext3, /indirect/double.bin", "ext4-bigalloc, /large.bin", "ext4-bigalloc, /sparse.bin", "ext4-meta_bg, /large.bin"})
  void extentsMapEveryBlockWhereDebugfsDoes(String image, String path) throws Exception {
    TestDisk disk = TestDisks.get(image);
    try (BlockDevice dev = FileBlockDevice.open(disk.image())) {
      Ext4FileSystem fs = Ext4FileSystem.open(dev);
      int bs = fs.info().blockSize();
      Entry e = fs.lookup(path).orElseThrow();
      long fileBlocks = (e.size() + bs - 1) / bs;
      List<FileExtent> extents = fs.extents(e);
      long pos = 0;
      java.util.Map<Long, String> ours = new java.util.TreeMap<>();
      for (FileExtent x : extents) {
        assertThat(x.fileOffset()).as("extents of %s cover the file in order", path).isEqualTo(pos);
        pos = x.end();
        if (x.kind() == FileExtent.Kind.DATA || x.kind() == FileExtent.Kind.UNWRITTEN) {
          for (long b = 0; b < (x.length() + bs - 1) / bs; b++) {
            ours.put(x.fileOffset() / bs + b, (x.volumeOffset() / bs + b) + (x.kind() == FileExtent.Kind.UNWRITTEN ? "u" : ""));
          }
        }
      }
      assertThat(pos).as("extents of %s end at its size", path).isEqualTo(e.size());
      String stat = Tools.runOk("debugfs", "-R", "stat " + path, disk.image().toString()).stdout();
      java.util.Map<Long, String> theirs = new java.util.TreeMap<>();
      Matcher m = Pattern.compile("\\((\\d+)(?:-(\\d+))?(\\[u\\])?\\):(\\d+)(?:-(\\d+))?").matcher(stat);
      while (m.find()) {
        long from = Long.parseLong(m.group(1));
        long to = m.group(2) != null ? Long.parseLong(m.group(2)) : from;
        long physical = Long.parseLong(m.group(4));
        for (long b = from; b <= to && b < fileBlocks; b++) {
          theirs.put(b, (physical + b - from) + (m.group(3) != null ? "u" : ""));
        }
      }
      assertThat(theirs).as("debugfs's map of %s", path).isNotEmpty();
      assertThat(ours).as("blocks of %s %s", image, path).isEqualTo(theirs);
      if (path.contains("sparse")) {
        assertThat(extents).extracting(FileExtent::kind).contains(FileExtent.Kind.HOLE, FileExtent.Kind.DATA);
      }
      if (path.equals("/unwritten.bin")) {
        assertThat(extents).extracting(FileExtent::kind).contains(FileExtent.Kind.UNWRITTEN, FileExtent.Kind.DATA);
      }
    }
  }
}
