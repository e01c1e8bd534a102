package dev.pluck.fs.ext4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.fs.DamagedDevice;
import dev.pluck.fs.Entry;
import dev.pluck.fs.OpenOptions;
import dev.pluck.fs.VolumeRange;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.OracleEntry;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The journal replay, checksums, the backup superblock and casefolded directories: what the
 * reader does when the bytes are not a clean, freshly unmounted filesystem.
 */
class Ext4RecoveryIT {

  /**
   * The replayed view is e2fsck's replay: every replaced block reads as e2fsck wrote it, and every
   * block e2fsck's replay changed (but the superblock and the journal's own) is a replaced one.
   */
  @Test
  void journalReplayGivesTheBlocksE2fsckReplays() throws Exception {
    TestDisk disk = TestDisks.get("ext4-journal");
    try (BlockDevice crash = FileBlockDevice.open(disk.image());
        BlockDevice replayed = FileBlockDevice.open(disk.dir().resolve("replayed.img"))) {
      List<String> warnings = new ArrayList<>();
      Ext4FileSystem fs = Ext4FileSystem.open(crash, new OpenOptions(true, warnings::add));
      int bs = fs.info().blockSize();
      List<VolumeRange> ranges = fs.replayedRanges();
      assertThat(ranges).as("replayed ranges").isNotEmpty();
      assertThat(warnings).anyMatch(w -> w.contains("replayed the journal"));
      List<VolumeRange> journal = new ArrayList<>();
      for (ExtentTree.Run r : fs.runs(fs.inode(8))) {
        journal.add(new VolumeRange(r.physical() * bs, r.length() * bs));
      }
      long replacedBlocks = 0;
      BlockDevice view = fs.view();
      for (VolumeRange r : ranges) {
        for (long at = r.offset(); at < r.end(); at += bs) {
          replacedBlocks++;
          if (at == 0) {
            continue;  // e2fsck clears needs_recovery in the superblock after the replay
          }
          assertThat(view.read(at, bs)).as("replayed block %d", at / bs).isEqualTo(replayed.read(at, bs));
        }
      }
      for (long block = 1; block < crash.size() / bs; block++) {
        long at = block * bs;
        if (inside(journal, at) || inside(ranges, at)) {
          continue;
        }
        byte[] a = crash.read(at, bs);
        byte[] b = replayed.read(at, bs);
        assertThat(Arrays.equals(a, b)).as("block %d changed by e2fsck's replay but not replaced by pluck's", block).isTrue();
      }
      assertThat(replacedBlocks).isGreaterThan(3);
    }
  }

  private static boolean inside(List<VolumeRange> ranges, long at) {
    return ranges.stream().anyMatch(r -> r.offset() <= at && at < r.end());
  }

  @Test
  void aCleanFilesystemReplaysNothing() throws Exception {
    try (BlockDevice dev = FileBlockDevice.open(TestDisks.get("ext3").image())) {
      List<String> warnings = new ArrayList<>();
      Ext4FileSystem fs = Ext4FileSystem.open(dev, new OpenOptions(true, warnings::add));
      assertThat(fs.replayedRanges()).isEmpty();
      assertThat(warnings).isEmpty();
    }
  }

  /** A changed inode fails its checksum: a warning by default (the data is used), an error in strict mode. */
  @Test
  void inodeChecksumMismatchWarnsOrFailsInStrictMode() throws Exception {
    TestDisk disk = TestDisks.get("ext4-features");
    OracleEntry o = disk.oracle().file("disk", "/modes/m0640");
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      Ext4FileSystem clean = Ext4FileSystem.open(img, new OpenOptions(true, w -> { }));
      long at = inodeOffset(clean, o.inode());
      DamagedDevice damaged = new DamagedDevice(img).set(at + Inode.I_UID, 0x77);  // uid 1234 -> 1143
      List<String> warnings = new ArrayList<>();
      Ext4FileSystem lenient = Ext4FileSystem.open(damaged, new OpenOptions(false, warnings::add));
      Entry e = lenient.lookup("/modes/m0640").orElseThrow();
      assertThat(e.uid()).isNotEqualTo(o.uid());
      assertThat(warnings).anyMatch(w -> w.contains("inode " + o.inode()) && w.contains("checksum mismatch"));
      Ext4FileSystem strict = Ext4FileSystem.open(damaged, new OpenOptions(true, w -> { }));
      assertThatThrownBy(() -> strict.lookup("/modes/m0640"))
          .isInstanceOf(Ext4CorruptException.class).hasMessageContaining("inode " + o.inode()).hasMessageContaining("checksum mismatch");
      assertThat(clean.lookup("/modes/m0640").orElseThrow().uid()).isEqualTo(o.uid());
    }
  }

  /** A changed directory block fails its checksum in strict mode, naming the block and the directory. */
  @Test
  void directoryBlockChecksumMismatchIsNamed() throws Exception {
    TestDisk disk = TestDisks.get("ext4-features");
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      Ext4FileSystem clean = Ext4FileSystem.open(img);
      Entry links = clean.lookup("/links").orElseThrow();
      ExtentTree.Run run = clean.runs(clean.inode(links.inode())).get(0);
      int bs = clean.info().blockSize();
      long nameByte = run.physical() * bs + 12 + 8;  // the name of ".." entry's successor region: any byte before the tail
      byte original = img.read(nameByte, 1)[0];
      DamagedDevice damaged = new DamagedDevice(img).set(nameByte, original ^ 0x01);
      Ext4FileSystem strict = Ext4FileSystem.open(damaged, new OpenOptions(true, w -> { }));
      assertThatThrownBy(() -> strict.list(strict.lookup("/links").orElseThrow(), e -> { }))
          .isInstanceOf(Ext4CorruptException.class)
          .hasMessageContaining("directory block " + run.physical())
          .hasMessageContaining("inode " + links.inode());
    }
  }

  /** With the primary superblock wiped, the backup in group 1 opens the same filesystem. */
  @Test
  void wipedPrimarySuperblockFallsBackToTheBackup() throws Exception {
    for (String image : List.of("ext4-features", "ext2", "ext4-meta_bg")) {
      TestDisk disk = TestDisks.get(image);
      try (BlockDevice img = FileBlockDevice.open(disk.image())) {
        DamagedDevice damaged = new DamagedDevice(img).set(1024, new byte[1024]);
        List<String> warnings = new ArrayList<>();
        Ext4FileSystem fs = Ext4FileSystem.open(damaged, new OpenOptions(false, warnings::add));
        assertThat(warnings).as(image).anyMatch(w -> w.contains("using the backup at byte"));
        int checked = 0;
        for (OracleEntry o : disk.oracle().files("disk")) {
          if (o.isFile() && o.size() < (1 << 20) && checked++ < 30) {
            Entry e = fs.lookup(o.path()).orElseThrow();
            assertThat(e.inode()).as("%s %s", image, o.path()).isEqualTo(o.inode());
            assertThat(sha256(fs, e)).as("%s %s", image, o.path()).isEqualTo(o.sha256());
          }
        }
        assertThat(checked).isGreaterThan(10);
      }
    }
  }

  /** Casefolded directories read as stored; the kernel here cannot mount them, so debugfs is the oracle. */
  @Test
  void casefoldedDirectoriesMatchDebugfs() throws Exception {
    TestDisk disk = TestDisks.get("ext4-casefold");
    ObjectMapper json = new ObjectMapper();
    Map<String, JsonNode> theirs = new TreeMap<>();
    for (String line : Files.readAllLines(disk.dir().resolve("debugfs-disk.jsonl"))) {
      JsonNode n = json.readTree(line);
      theirs.put(n.get("path").asText(), n);
    }
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      List<String> warnings = new ArrayList<>();
      Ext4FileSystem fs = Ext4FileSystem.open(img, new OpenOptions(true, warnings::add));
      Map<String, Entry> ours = new TreeMap<>();
      walk(fs, fs.root(), ours);
      ours.remove("/");
      assertThat(ours.keySet()).isEqualTo(theirs.keySet());
      assertThat(ours.keySet()).contains("/folded/MiXeD.CaSe", "/folded/Sub/Deep.TXT");
      for (JsonNode n : theirs.values()) {
        Entry e = ours.get(n.get("path").asText());
        assertThat(e.inode()).isEqualTo(n.get("inode").asLong());
        assertThat(e.type().label()).isEqualTo(n.get("type").asText());
        assertThat(e.mode()).isEqualTo(n.get("mode").asInt());
        assertThat(e.uid()).isEqualTo(n.get("uid").asLong());
        assertThat(e.gid()).isEqualTo(n.get("gid").asLong());
        if (n.has("sha256")) {
          assertThat(e.size()).isEqualTo(n.get("size").asLong());
          assertThat(sha256(fs, e)).as(e.path()).isEqualTo(n.get("sha256").asText());
        }
      }
      assertThat(fs.lookup("/folded").orElseThrow().flags() & Inode.EXT4_CASEFOLD_FL).isNotZero();
      assertThat(warnings).isEmpty();
    }
  }

  private static void walk(Ext4FileSystem fs, Entry dir, Map<String, Entry> out) throws Exception {
    out.put(dir.path(), dir);
    List<Entry> children = new ArrayList<>();
    fs.list(dir, children::add);
    for (Entry c : children) {
      if (c.isDirectory()) {
        walk(fs, c, out);
      } else {
        out.put(c.path(), c);
      }
    }
  }

  private static long inodeOffset(Ext4FileSystem fs, long inode) throws Exception {
    Superblock sb = fs.superblock();
    long group = (inode - 1) / sb.inodesPerGroup();
    return fs.descriptor(group).inodeTable() * sb.blockSize() + ((inode - 1) % sb.inodesPerGroup()) * sb.inodeSize();
  }

  static String sha256(Ext4FileSystem fs, Entry e) throws Exception {
    return dev.pluck.fs.TestVolumes.sha256(fs, e, "");
  }

}
