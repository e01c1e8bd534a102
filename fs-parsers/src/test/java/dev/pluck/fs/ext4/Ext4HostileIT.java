package dev.pluck.fs.ext4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.fs.DamagedDevice;
import dev.pluck.fs.Entry;
import dev.pluck.fs.EntryType;
import dev.pluck.fs.FileSystemException;
import dev.pluck.fs.FuzzCampaign;
import dev.pluck.fs.FuzzCampaign.Target;
import dev.pluck.fs.LittleEndian;
import dev.pluck.fs.OpenOptions;
import dev.pluck.fs.TreeWalk;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.TestDisks;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;



/**
 * Structure-targeted damage to real ext images: the superblock, group descriptors, inode tables,
 * extent and indirect blocks, directory blocks, xattr blocks and journal blocks, found by reading
 * the intact image first. Every case ends within 2 s with a result or with the reader's own
 * {@link FileSystemException}; anything else (another exception, a hang, running out of the
 * 256 MiB heap the build gives these tests) fails.
 *
 * <p>The suite runs about a minute of cases; {@code -Pslow} runs 3,000 per image.
 */
class Ext4HostileIT {
  private static final List<String> IMAGES = List.of("ext4-features", "ext2", "ext3", "ext4-journal", "ext4-meta_bg", "ext4-bigalloc",
      "ext4-ea_inode");
  private static final Duration BUDGET = Duration.ofSeconds(45);

  @Test
  void damagedStructuresEndInANamedErrorOrAResultWithinTwoSeconds() throws Exception {
    Map<String, Integer> outcomes = new LinkedHashMap<>();
    for (String name : IMAGES) {
      try (BlockDevice img = FileBlockDevice.open(TestDisks.get(name).image())) {
        List<Target> targets = targets(Ext4FileSystem.open(img));
        assertThat(targets.stream().map(Target::structure).distinct()).as("structures found on %s", name).hasSizeGreaterThan(4);
        FuzzCampaign.run(name, img, targets, Ext4FileSystem::open, BUDGET.dividedBy(IMAGES.size()))
            .forEach((k, v) -> outcomes.merge(k, v, Integer::sum));
      }
    }
    // Damage that no check notices would make every case a clean result; a reader that refuses everything only errors.
    if (System.getProperty("pluck.fuzz.case", "").isEmpty()) {
      assertThat(outcomes).as("outcomes %s", outcomes).containsKeys("result", "error");
    }
  }

  /** What to damage on an intact image, found by reading it. */
  static List<Target> targets(Ext4FileSystem fs) throws IOException {
    Superblock sb = fs.superblock();
    int bs = sb.blockSize();
    List<Target> out = new ArrayList<>();
    out.add(new Target("superblock", 1024, 1024));
    out.add(new Target("group descriptors", (sb.firstDataBlock() + 1) * bs, bs));
    out.add(new Target("inode table", fs.descriptor(0).inodeTable() * bs, 64 * sb.inodeSize()));
    int[] files = {0};
    TreeWalk.walk(fs, fs.root(), e -> {
      if (files[0]++ > 400) {
        return false;
      }
      Inode inode = fs.inode(e.inode());
      if (e.isDirectory() && !inode.has(Inode.EXT4_INLINE_DATA_FL)) {
        List<ExtentTree.Run> runs = fs.runs(inode);
        for (int i = 0; i < Math.min(3, runs.size()); i++) {
          out.add(new Target("directory block", runs.get(i).physical() * bs, bs));
        }
      }
      if (inode.has(Inode.EXT4_EXTENTS_FL) && LittleEndian.u16(inode.block(), 6) > 0) {
        for (int i = 0; i < LittleEndian.u16(inode.block(), 2); i++) {
          long child = LittleEndian.u32(inode.block(), 12 + i * 12 + 4) | (long) LittleEndian.u16(inode.block(), 12 + i * 12 + 8) << 32;
          out.add(new Target("extent block", child * bs, bs));
        }
      } else if (!inode.has(Inode.EXT4_EXTENTS_FL) && e.type() == EntryType.FILE) {
        for (int level = 0; level < 3; level++) {
          long p = LittleEndian.u32(inode.block(), (12 + level) * 4);
          if (p != 0) {
            out.add(new Target("indirect block", p * bs, bs));
          }
        }
      }
      if (inode.fileAcl() != 0) {
        out.add(new Target("xattr block", inode.fileAcl() * bs, bs));
      }
      return true;
    });
    if (sb.hasJournal() && sb.journalInode() != 0) {
      List<ExtentTree.Run> journal = fs.runs(fs.inode(sb.journalInode()));
      long first = journal.get(0).physical();
      out.add(new Target("journal superblock", first * bs, 1024));
      out.add(new Target("journal log", (first + 1) * bs, (int) Math.min(journal.get(0).length() - 1, 200) * bs));
    }
    return out;
  }

  /** An extent index that points at its own block: a cycle, named. */
  @Test
  void extentTreeCycleIsNamed() throws Exception {
    try (BlockDevice img = FileBlockDevice.open(TestDisks.get("ext4-features").image())) {
      Ext4FileSystem fs = Ext4FileSystem.open(img);
      Inode inode = fs.inode(fs.lookup("/fragmented.bin").orElseThrow().inode());
      assertThat(LittleEndian.u16(inode.block(), 6)).as("depth of /fragmented.bin").isGreaterThanOrEqualTo(2);
      long child = LittleEndian.u32(inode.block(), 12 + 4);
      int bs = fs.info().blockSize();
      DamagedDevice dev = new DamagedDevice(img).setLe32(child * bs + 12 + 4, child);  // its first index points back at itself
      Ext4FileSystem damaged = Ext4FileSystem.open(dev, new OpenOptions(false, w -> { }));
      Entry e = damaged.lookup("/fragmented.bin").orElseThrow();
      assertThatThrownBy(() -> damaged.open(e)).isInstanceOf(Ext4CorruptException.class).hasMessageContaining("block " + child);
    }
  }

  /** A directory entry naming an ancestor directory: the walk stops with both paths. */
  @Test
  void directoryCycleIsNamed() throws Exception {
    try (BlockDevice img = FileBlockDevice.open(TestDisks.get("ext2").image())) {
      Ext4FileSystem fs = Ext4FileSystem.open(img);
      Entry dir = fs.lookup("/indirect").orElseThrow();
      int bs = fs.info().blockSize();
      long block = fs.runs(fs.inode(dir.inode())).get(0).physical();
      byte[] b = img.read(block * bs, bs);
      // Walk past "." and ".." to the first real entry, and make it the root directory.
      int p = LittleEndian.u16(b, 4);
      p += LittleEndian.u16(b, p + 4);
      DamagedDevice dev = new DamagedDevice(img).setLe32(block * bs + p, Ext4FileSystem.ROOT_INODE).set(block * bs + p + 7, 2);
      Ext4FileSystem damaged = Ext4FileSystem.open(dev);
      assertThatThrownBy(() -> TreeWalk.walk(damaged, damaged.root(), e -> true))
          .isInstanceOf(FileSystemException.class).hasMessageContaining("cycle").hasMessageContaining("/indirect/");
    }
  }
}
