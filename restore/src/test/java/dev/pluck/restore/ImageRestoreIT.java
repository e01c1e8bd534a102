package dev.pluck.restore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pluck.engine.Backup;
import dev.pluck.engine.repo.BlockMap;
import dev.pluck.engine.repo.Config;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.Volume;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.Extent;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.nbd.NbdBlockDevice;
import dev.pluck.testdata.OracleVolume;
import dev.pluck.testdata.QemuNbd;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Volume and whole-disk restores from snapshots the engine made of the testdata images, checked
 * by independent tools on the result: sfdisk reads the same partition table, blkid the same
 * filesystem types, UUIDs and labels (swap's header included), fsck finds nothing to fix, and the
 * bytes equal the source wherever the snapshot stored data. Targets: a fresh sparse file, and a
 * writable qemu-nbd export full of junk, which the restore must zero where the snapshot has holes.
 */
class ImageRestoreIT {
  @TempDir Path tmp;

  private static Backup.Options mode(Backup.Mode mode, List<String> volumes) {
    return new Backup.Options(mode, volumes, List.of(), List.of(), false, List.of(), false, List.of(), null,
        new Snapshot.Source("vm", List.of("0"), List.of()), "backup", "test", null, null);
  }

  @Test
  void wholeDiskRebuiltOntoAFileAndOntoAnNbdExportFullOfJunk() throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    Path fresh = tmp.resolve("fresh.raw");
    Path junk = tmp.resolve("junk.raw");
    long size = Files.size(disk.image());
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"));
        BlockDevice source = FileBlockDevice.open(disk.image())) {
      Backup.Result b = Backup.run(repo, List.of(new VolumeTree.Disk("0", source)), mode(Backup.Mode.DISK, List.of()));
      assertThat(b.complete()).isTrue();
      Snapshot s = repo.snapshot(b.snapshot());

      try (RandomAccessFile f = new RandomAccessFile(fresh.toFile(), "rw")) {
        f.setLength(size);
      }
      try (BlockDevice target = FileBlockDevice.openWritable(fresh)) {
        ImageRestore.Result r = ImageRestore.wholeDisk(repo, s, List.of(target), true, n -> { });
        assertThat(r.data()).isPositive();
        assertThat(r.zeroed()).as("a fresh file is not zeroed").isZero();
      }
      long allocated = Long.parseLong(Tools.runOk("stat", "-c", "%b", fresh.toString()).stdout().trim()) * 512;
      assertThat(allocated).as("free space and swap stay holes").isLessThan(size / 2);

      fillWithJunk(junk, size);
      try (QemuNbd nbd = QemuNbd.serve(junk, "raw", false, "", List.of());
          NbdBlockDevice target = NbdBlockDevice.open(nbd.uri())) {
        ImageRestore.Result r = ImageRestore.wholeDisk(repo, s, List.of(target), false, n -> { });
        assertThat(r.zeroed()).as("the junk under holes is zeroed").isPositive();
      }
      assertThat(Tools.runOk("cmp", fresh.toString(), junk.toString()).exitCode()).as("both targets hold the same bytes").isZero();

      assertThat(sfdisk(fresh)).isEqualTo(sfdisk(disk.image()));
      assertStoredBytesEqualTheSource(repo, s, disk.image(), fresh);
    }
    int checked = 0;
    for (OracleVolume v : disk.oracle().volumes()) {
      if (v.fsType().isEmpty() || v.fsType().equals("LVM2_member")) {
        continue;
      }
      Path extracted = extract(v, fresh);
      Map<String, String> blkid = blkid(extracted);
      assertThat(blkid.get("TYPE")).as("type of %s", v.id()).isEqualTo(v.fsType());
      assertThat(blkid.get("UUID")).as("UUID of %s", v.id()).isEqualTo(v.blkid().get("UUID"));
      assertThat(blkid.get("LABEL")).as("label of %s", v.id()).isEqualTo(v.blkid().get("LABEL"));
      fsck(v.fsType(), extracted);
      Files.delete(extracted);
      checked++;
    }
    assertThat(checked).as("volumes checked by blkid and fsck").isGreaterThanOrEqualTo(5);
  }

  @Test
  void oneVolumeToAFileAndSwapGetsItsHeader() throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    OracleVolume home = disk.oracle().volumes().stream().filter(v -> v.fsType().equals("ext4") && !v.segments().isEmpty())
        .findFirst().orElseThrow();
    OracleVolume swap = disk.oracle().volumes().stream().filter(v -> v.fsType().equals("swap")).findFirst().orElseThrow();
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"));
        BlockDevice source = FileBlockDevice.open(disk.image())) {
      Backup.Result b = Backup.run(repo, List.of(new VolumeTree.Disk("0", source)), mode(Backup.Mode.VOLUMES,
          List.of(home.id(), swap.id())));
      Snapshot s = repo.snapshot(b.snapshot());
      VolumeTree tree = VolumeTree.probe(List.of(new VolumeTree.Disk("0", source)));
      for (OracleVolume o : List.of(home, swap)) {
        Snapshot.Volume v = s.volumes().stream().filter(x -> x.id().equals(o.id())).findFirst().orElseThrow();
        Path image = tmp.resolve(o.id().replace('/', '-') + ".img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
          f.setLength(v.size());
        }
        try (BlockDevice target = FileBlockDevice.openWritable(image)) {
          ImageRestore.volume(repo, v, target, true, n -> { });
        }
        Map<String, String> blkid = blkid(image);
        assertThat(blkid.get("TYPE")).isEqualTo(o.fsType());
        assertThat(blkid.get("UUID")).isEqualTo(o.blkid().get("UUID"));
        assertThat(blkid.get("LABEL")).isEqualTo(o.blkid().get("LABEL"));
        fsck(o.fsType(), image);
        try (BlockDevice restored = FileBlockDevice.open(image)) {
          Volume original = tree.find(o.id()).orElseThrow();
          long compared = compareStored(BlockMap.open(repo, v), original.device(), restored);
          assertThat(compared).as("%s: bytes compared", o.id()).isPositive();
        }
      }
      Snapshot.Volume v = s.volumes().get(0);
      Path small = tmp.resolve("small.img");
      try (RandomAccessFile f = new RandomAccessFile(small.toFile(), "rw")) {
        f.setLength(v.size() - 4096);
      }
      try (BlockDevice target = FileBlockDevice.openWritable(small)) {
        assertThatThrownBy(() -> ImageRestore.volume(repo, v, target, true, n -> { })).hasMessageContaining("smaller");
      }
    }
  }

  @Test
  void aFilesSnapshotHasNoDisksToRebuild() throws Exception {
    TestDisk disk = TestDisks.ext4Features();
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"));
        BlockDevice source = FileBlockDevice.open(disk.image())) {
      Backup.Result b = Backup.run(repo, List.of(new VolumeTree.Disk("0", source)), mode(Backup.Mode.FILES, List.of()));
      Snapshot s = repo.snapshot(b.snapshot());
      Path out = tmp.resolve("x.raw");
      Files.write(out, new byte[1 << 20]);
      try (BlockDevice target = FileBlockDevice.openWritable(out)) {
        assertThatThrownBy(() -> ImageRestore.wholeDisk(repo, s, List.of(target), true, n -> { })).hasMessageContaining("--mode disk");
        assertThatThrownBy(() -> ImageRestore.volume(repo, s.volumes().get(0), target, true, n -> { }))
            .hasMessageContaining("holds files");
      }
    }
  }

  /** Every byte the snapshot stored (layout and volumes) is the source's byte at the same place on the rebuilt disk. */
  private static void assertStoredBytesEqualTheSource(Repository repo, Snapshot s, Path sourceImage, Path rebuiltImage)
      throws Exception {
    try (BlockDevice src = FileBlockDevice.open(sourceImage); BlockDevice dst = FileBlockDevice.open(rebuiltImage)) {
      VolumeTree before = VolumeTree.probe(List.of(new VolumeTree.Disk("0", src)));
      VolumeTree after = VolumeTree.probe(List.of(new VolumeTree.Disk("0", dst)));
      long compared = 0;
      for (Snapshot.Volume v : s.volumes()) {
        BlockDevice image = BlockMap.open(repo, v);
        if (v.id().startsWith("layout:")) {
          compared += compareStored(image, src, dst);
        } else {
          compared += compareStored(image, before.find(v.id()).orElseThrow().device(), after.find(v.id()).orElseThrow().device());
        }
      }
      assertThat(compared).as("bytes compared").isGreaterThan(1 << 20);
    }
  }

  /** Compares {@code a} and {@code b} over the blocks {@code image} stores; returns the bytes compared. */
  private static long compareStored(BlockDevice image, BlockDevice a, BlockDevice b) throws Exception {
    long compared = 0;
    for (Extent e : image.blockStatus(BlockDevice.BASE_ALLOCATION, 0, image.size())) {
      if (e.readsAsZeros()) {
        continue;
      }
      for (long at = e.offset(); at < e.end(); at += 1 << 20) {
        int n = (int) Math.min(1 << 20, e.end() - at);
        byte[] x = a.read(at, n);
        byte[] y = b.read(at, n);
        int i = Arrays.mismatch(x, y);
        assertThat(i).as("first differing byte at %d of %s", at + i, image).isEqualTo(-1);
        compared += n;
      }
    }
    return compared;
  }

  private static void fillWithJunk(Path p, long size) throws Exception {
    byte[] junk = new byte[1 << 20];
    Arrays.fill(junk, (byte) 0xa5);
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      for (long at = 0; at < size; at += junk.length) {
        ch.write(ByteBuffer.wrap(junk, 0, (int) Math.min(junk.length, size - at)), at);
      }
    }
  }

  /** A volume's bytes copied out of a disk image where the oracle says they are (partitions and linear LVs). */
  private Path extract(OracleVolume v, Path diskImage) throws Exception {
    Path out = tmp.resolve("vol-" + v.id().replace('/', '-'));
    try (FileChannel in = FileChannel.open(diskImage); FileChannel o = FileChannel.open(out, StandardOpenOption.CREATE_NEW,
        StandardOpenOption.WRITE)) {
      if (v.segments().isEmpty()) {
        copy(in, v.offset(), v.size(), o, 0);
      } else {
        for (OracleVolume.Segment seg : v.segments()) {
          assertThat(seg.stripes()).as("linear segments only in this image").hasSize(1);
          copy(in, seg.stripes().get(0).offset(), seg.length(), o, seg.start());
        }
      }
    }
    return out;
  }

  private static void copy(FileChannel in, long from, long length, FileChannel out, long to) throws Exception {
    long done = 0;
    while (done < length) {
      done += in.transferTo(from + done, length - done, out.position(to + done));
    }
  }

  private static Map<String, String> blkid(Path p) {
    Map<String, String> out = new HashMap<>();
    for (String line : Tools.runOk("blkid", "-p", "-o", "export", p.toString()).stdout().split("\n")) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        out.put(line.substring(0, eq), line.substring(eq + 1));
      }
    }
    return out;
  }

  /** The filesystem's own checker, read-only, finds nothing to fix. */
  private static void fsck(String type, Path p) {
    List<String> command = switch (type) {
      case "ext2", "ext3", "ext4" -> List.of("e2fsck", "-fn", p.toString());
      case "vfat" -> List.of("fsck.vfat", "-n", p.toString());
      case "ntfs" -> List.of("ntfsfix", "-n", p.toString());
      case "swap" -> List.of("swaplabel", p.toString());
      default -> null;
    };
    if (command == null) {
      return;
    }
    Tools.Result r = Tools.run(Duration.ofMinutes(2), command);
    assertThat(r.exitCode()).as("%s on %s: %s %s", command.get(0), type, r.stdout(), r.stderr()).isZero();
  }

  private static JsonNode sfdisk(Path image) throws Exception {
    JsonNode table = new ObjectMapper().readTree(Tools.runOk("sfdisk", "--json", image.toString()).stdout()).path("partitiontable");
    ((ObjectNode) table).remove("device");
    table.path("partitions").forEach(p -> ((ObjectNode) p).remove("node"));
    return table;
  }
}
