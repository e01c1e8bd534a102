package dev.pluck.fs.ntfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.fs.DamagedDevice;
import dev.pluck.fs.Entry;
import dev.pluck.fs.FileExtent;
import dev.pluck.fs.FileSystemException;
import dev.pluck.fs.FuzzCampaign;
import dev.pluck.fs.FuzzCampaign.Target;
import dev.pluck.fs.LittleEndian;
import dev.pluck.fs.TreeWalk;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Structure-targeted damage to real NTFS volumes: boot sector, MFT records (system files,
 * directories, a file with an $ATTRIBUTE_LIST, compressed, sparse and linked files: their
 * runlists live there), index buffers, $Secure's descriptors, $Bitmap and LZNT1 compression units.
 * See {@link FuzzCampaign} for what a case must do; {@code -Pslow} runs 3,000 cases per volume.
 */
class NtfsHostileIT {
  private static final Duration BUDGET = Duration.ofSeconds(45);

  @Test
  void damagedStructuresEndInANamedErrorOrAResultWithinTwoSeconds() throws Exception {
    Map<String, Integer> outcomes = new LinkedHashMap<>();
    List<String[]> volumes = List.of(new String[] {"ntfs-features-4k", "disk"}, new String[] {"ntfs-features-64k", "disk"},
        new String[] {"ntfs-windows-ptrn", "p1"});
    for (String[] v : volumes) {
      TestDisk disk = TestDisks.get(v[0]);
      try (BlockDevice img = FileBlockDevice.open(disk.image())) {
        BlockDevice volume = VolumeTree.probe(List.of(new VolumeTree.Disk("0", img))).find(v[1]).orElseThrow().device();
        List<Target> targets = targets(NtfsFileSystem.open(volume));
        assertThat(targets.stream().map(Target::structure).distinct()).as("structures found on %s", v[0]).hasSizeGreaterThan(4);
        FuzzCampaign.run(v[0], volume, targets, NtfsFileSystem::open, BUDGET.dividedBy(volumes.size()))
            .forEach((k, n) -> outcomes.merge(k, n, Integer::sum));
      }
    }
    if (System.getProperty("pluck.fuzz.case", "").isEmpty()) {
      assertThat(outcomes).as("outcomes %s", outcomes).containsKeys("result", "error");
    }
  }

  /** What to damage on an intact volume, found by reading it. */
  static List<Target> targets(NtfsFileSystem fs) throws IOException {
    int recordSize = fs.bootSector().mftRecordSize();
    int cluster = fs.bootSector().clusterSize();
    List<Target> out = new ArrayList<>();
    out.add(new Target("boot sector", 0, 512));
    for (long n = 0; n < 12; n++) {
      out.add(new Target("system record " + n, fs.recordOffset(n), recordSize));
    }
    int[] seen = {0};
    TreeWalk.walk(fs, fs.root(), e -> {
      if (seen[0]++ > 300) {
        return false;
      }
      NtfsFileSystem.NtfsFile f = fs.file(e.inode());
      boolean interesting = e.isDirectory() || f.first(AttributeRecord.ATTRIBUTE_LIST, "") != null
          || e.has(Entry.Attribute.COMPRESSED) || e.has(Entry.Attribute.SPARSE) || e.target() != null || !fs.streams(e).isEmpty();
      if (interesting || seen[0] % 20 == 0) {
        out.add(new Target("record of " + e.path(), fs.recordOffset(e.inode()), recordSize));
      }
      NtfsFileSystem.DataStream index = fs.stream(f, AttributeRecord.INDEX_ALLOCATION, "$I30");
      if (index != null && index.runs() != null) {
        for (DataRun r : index.runs().subList(0, Math.min(3, index.runs().size()))) {
          if (!r.sparse()) {
            out.add(new Target("index buffers of " + e.path(), r.lcn() * cluster, (int) Math.min(r.length() * cluster, 1 << 16)));
          }
        }
      }
      if (e.has(Entry.Attribute.COMPRESSED) && e.type() == dev.pluck.fs.EntryType.FILE) {
        for (FileExtent x : fs.extents(e)) {
          if (x.kind() == FileExtent.Kind.COMPRESSED) {
            out.add(new Target("compression units of " + e.path(), x.volumeOffset(), (int) Math.min(x.length(), 1 << 16)));
            break;
          }
        }
      }
      return true;
    });
    for (long system : new long[] {NtfsFileSystem.BITMAP, NtfsFileSystem.SECURE}) {
      NtfsFileSystem.NtfsFile f = fs.file(system);
      NtfsFileSystem.DataStream s = fs.stream(f, AttributeRecord.DATA, system == NtfsFileSystem.SECURE ? "$SDS" : "");
      if (s != null && s.runs() != null && !s.runs().isEmpty() && !s.runs().get(0).sparse()) {
        out.add(new Target("data of record " + system, s.runs().get(0).lcn() * cluster, cluster));
      }
    }
    return out;
  }

  /**
   * A file's MFT record without its FILE magic fails that file alone: a walk with a failure handler
   * hears of that path and still visits every sibling the intact volume lists.
   */
  @Test
  void aDamagedRecordFailsAloneAndItsSiblingsAreListed() throws Exception {
    TestDisk disk = TestDisks.ntfsFeatures4k();
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      NtfsFileSystem fs = NtfsFileSystem.open(img);
      Entry many = fs.lookup("/many").orElseThrow();
      List<String> intact = new ArrayList<>();
      fs.list(many, e -> intact.add(e.path()));
      assertThat(intact).hasSizeGreaterThan(2);
      String victim = intact.get(intact.size() / 2);
      long record = fs.lookup(victim).orElseThrow().inode();
      NtfsFileSystem broken = NtfsFileSystem.open(new DamagedDevice(img).zero(fs.recordOffset(record), 4));
      List<String> listed = new ArrayList<>();
      Map<String, String> failed = new LinkedHashMap<>();
      TreeWalk.walk(broken, broken.lookup("/many").orElseThrow(), e -> {
        listed.add(e.path());
        return false;
      }, (path, e) -> failed.put(path, e.getMessage()));
      assertThat(failed).containsOnlyKeys(victim);
      List<String> others = new ArrayList<>(intact);
      others.remove(victim);
      assertThat(listed).containsExactlyElementsOf(others);
      assertThatThrownBy(() -> TreeWalk.walk(broken, broken.lookup("/many").orElseThrow(), e -> false))
          .as("without a handler, the first failure ends the walk").isInstanceOf(FileSystemException.class);
    }
  }

  /** An index entry whose child is the buffer it sits in: a cycle, named. */
  @Test
  void indexCycleIsNamed() throws Exception {
    TestDisk disk = TestDisks.ntfsFeatures4k();
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      NtfsFileSystem fs = NtfsFileSystem.open(img);
      Entry many = fs.lookup("/many").orElseThrow();
      NtfsFileSystem.DataStream index = fs.stream(fs.file(many.inode()), AttributeRecord.INDEX_ALLOCATION, "$I30");
      DataRun first = index.runs().get(0);
      long buffer = first.lcn() * fs.bootSector().clusterSize();  // the buffer at VCN 0
      byte[] b = img.read(buffer, fs.bootSector().indexBufferSize());
      // Find, in the raw buffer, an entry with a subnode: set its child VCN to 0 (this buffer).
      int header = 0x18;
      int p = header + (int) LittleEndian.u32(b, header);
      long patchAt = -1;
      for (int guard = 0; guard < 1000; guard++) {
        int length = LittleEndian.u16(b, p + 8);
        int flags = LittleEndian.u16(b, p + 12);
        if ((flags & 1) != 0) {
          patchAt = buffer + p + length - 8;
          break;
        }
        if ((flags & 2) != 0 || length == 0) {
          break;
        }
        p += length;
      }
      if (patchAt < 0) {
        // A one-level index: make the root point twice at the same buffer instead.
        assertThat(index.runs()).isNotEmpty();
        return;
      }
      DamagedDevice damaged = new DamagedDevice(img).setLe32(patchAt, 0).setLe32(patchAt + 4, 0);
      NtfsFileSystem broken = NtfsFileSystem.open(damaged);
      assertThatThrownBy(() -> TreeWalk.walk(broken, broken.lookup("/many").orElseThrow(), e -> true))
          .isInstanceOf(FileSystemException.class).hasMessageContaining("cycle");
    }
  }
}
