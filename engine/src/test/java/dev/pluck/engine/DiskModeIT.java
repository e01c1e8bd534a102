package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.engine.repo.BlockMap;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.FileSystem;
import dev.pluck.fs.FileSystems;
import dev.pluck.fs.volume.Volume;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.qmp.MonitorAddress;
import dev.pluck.qmp.PullView;
import dev.pluck.testdata.OracleEntry;
import dev.pluck.testdata.OracleVolume;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code vm backup --mode disk} on qemu-storage-daemon: the disks rebuilt from the snapshot alone
 * have the original's partition table (sfdisk) and every file of every filesystem (the oracle);
 * swap is never read past its first 64 KiB, counted by the server's read-reply trace.
 */
class DiskModeIT {
  @TempDir Path tmp;

  @ParameterizedTest
  @ValueSource(strings = {"gpt-mixed", "mbr-logical", "lvm-multi"})
  void theDisksRebuiltFromTheSnapshotHoldEveryFileAndSwapIsNotRead(String name) throws Exception {
    TestDisk disk = TestDisks.get(name);
    List<Path> copies = new ArrayList<>();
    List<String> args = new ArrayList<>();
    for (int i = 0; i < disk.disks().size(); i++) {
      Path copy = tmp.resolve("disk" + i + ".raw");
      Tools.runOk("cp", "--sparse=always", disk.disks().get(i).toString(), copy.toString());
      copies.add(copy);
      if (i > 0) {
        args.addAll(List.of("--blockdev", "driver=file,node-name=file" + i + ",filename=" + copy,
            "--blockdev", "driver=raw,node-name=disk" + i + ",file=file" + i));
      }
    }
    Path trace = tmp.resolve("nbd.trace");
    args.addAll(List.of("--trace", "enable=nbd_co_send_structured_read*,file=" + trace));
    List<String> drives = new ArrayList<>();
    for (int i = 0; i < copies.size(); i++) {
      drives.add("disk" + i);
    }
    try (QemuStorageDaemon qsd = QemuStorageDaemon.start(copies.get(0), "raw", args);
        Repository repo = BackupIT.repo(tmp.resolve("repo"))) {
      MonitorAddress monitor = MonitorAddress.unix(qsd.qmpSocket());
      Backup.Options options = new Backup.Options(Backup.Mode.DISK, List.of(), List.of(), List.of(), false, List.of(), false, List.of(),
          null, new Snapshot.Source("vm", drives, List.of()), "backup", "test", null, null);
      PullView.Options view = PullView.Options.defaults("backup", tmp.resolve("scratch")).withLockDir(tmp.resolve("locks"));
      VmBackup.Result full = VmBackup.run(repo, monitor, drives, view, options, false);
      assertThat(full.backup().complete()).isTrue();
      if (copies.size() == 1) {
        assertSwapNotRead(disk, trace);
      }

      List<Path> rebuilt = rebuild(repo, repo.snapshot(full.backup().snapshot()), copies);
      for (int i = 0; i < copies.size(); i++) {
        assertThat(sfdisk(rebuilt.get(i))).as("partition table of disk %d", i).isEqualTo(sfdisk(copies.get(i)));
      }
      assertFilesEqualTheOracle(disk, rebuilt);

      VmBackup.Result again = VmBackup.run(repo, monitor, drives, view, options, false);
      assertThat(again.since()).isEqualTo(full.checkpoint());
      assertThat(again.backup().bytesRead().get("data")).as("nothing written: no block read").isZero();
      assertThat(again.backup().bytesAdded()).as("only the new block maps and manifest").isLessThan(1 << 20);
    }
  }

  /** Writes every stored block back: each disk's layout image, then each volume's image through the rebuilt volume layer. */
  private List<Path> rebuild(Repository repo, Snapshot s, List<Path> originals) throws IOException {
    List<Path> out = new ArrayList<>();
    List<FileBlockDevice> devices = new ArrayList<>();
    List<VolumeTree.Disk> disks = new ArrayList<>();
    try {
      for (int i = 0; i < originals.size(); i++) {
        Path p = tmp.resolve("rebuilt" + i + ".raw");
        Tools.runOk("truncate", "-s", Long.toString(java.nio.file.Files.size(originals.get(i))), p.toString());
        out.add(p);
        FileBlockDevice d = FileBlockDevice.openWritable(p);
        devices.add(d);
        disks.add(new VolumeTree.Disk("disk" + i, d));  // as vm backup names them: by drive
        String id = "layout:disk" + i;
        Snapshot.Volume layout = s.volumes().stream().filter(v -> v.id().equals(id)).findFirst().orElseThrow();
        copy(BlockMap.open(repo, layout), d);
      }
      VolumeTree tree = VolumeTree.probe(disks);
      for (Snapshot.Volume v : s.volumes()) {
        if (!v.id().startsWith("layout:")) {
          Volume target = tree.find(v.id()).orElseThrow(() -> new AssertionError("no volume " + v.id() + " on the rebuilt disks"));
          copy(BlockMap.open(repo, v), target.device());
        }
      }
    } finally {
      for (FileBlockDevice d : devices) {
        d.close();
      }
    }
    return out;
  }

  private static void copy(BlockDevice from, BlockDevice to) throws IOException {
    for (long at = 0; at < from.size(); at += 1 << 20) {
      int n = (int) Math.min(1 << 20, from.size() - at);
      byte[] b = from.read(at, n);
      if (java.util.Arrays.mismatch(b, new byte[n]) >= 0) {
        to.write(at, ByteBuffer.wrap(b));
      }
    }
  }

  private static JsonNode sfdisk(Path image) throws IOException {
    Tools.Result r = Tools.run(java.time.Duration.ofSeconds(30), List.of("sfdisk", "--json", image.toString()));
    if (r.exitCode() != 0) {
      return null;  // no partition table
    }
    JsonNode table = new ObjectMapper().readTree(r.stdout()).path("partitiontable");
    ((com.fasterxml.jackson.databind.node.ObjectNode) table).remove("device");
    table.path("partitions").forEach(p -> ((com.fasterxml.jackson.databind.node.ObjectNode) p).remove("node"));
    return table;
  }

  /** Every file of every filesystem the oracle lists that pluck reads, read back from the rebuilt disks. */
  private static void assertFilesEqualTheOracle(TestDisk disk, List<Path> rebuilt) throws IOException {
    List<FileBlockDevice> devices = new ArrayList<>();
    try {
      List<VolumeTree.Disk> disks = new ArrayList<>();
      for (int i = 0; i < rebuilt.size(); i++) {
        FileBlockDevice d = FileBlockDevice.open(rebuilt.get(i));
        devices.add(d);
        disks.add(new VolumeTree.Disk(Integer.toString(i), d));  // named as the oracle's volume ids
      }
      VolumeTree tree = VolumeTree.probe(disks);
      int checked = 0;
      for (String id : disk.oracle().filesystemVolumes()) {
        Volume v = tree.find(id).orElseThrow();
        if (!Backup.readable(v.fs())) {
          continue;
        }
        try (FileSystem fs = FileSystems.open(v)) {
          for (OracleEntry e : disk.oracle().files(id)) {
            if (!e.isFile() || e.sha256() == null) {
              continue;
            }
            try (InputStream in = Channels.newInputStream(fs.open(fs.lookup(e.path()).orElseThrow(() -> new AssertionError(id + e.path()))))) {
              assertThat(LiveGuest.sha256(in)).as("%s %s", id, e.path()).isEqualTo(e.sha256());
            }
            checked++;
          }
        }
      }
      assertThat(checked).as("files compared").isGreaterThan(500);
    } finally {
      for (FileBlockDevice d : devices) {
        d.close();
      }
    }
  }

  /** No read reply of the server falls in a swap volume beyond its first 64 KiB. */
  private static void assertSwapNotRead(TestDisk disk, Path trace) throws IOException {
    List<long[]> swap = new ArrayList<>();
    for (OracleVolume v : disk.oracle().volumes()) {
      if (!"swap".equals(v.blkid().get("TYPE"))) {
        continue;
      }
      if (v.segments().isEmpty()) {
        swap.add(new long[] {v.offset() + (64 << 10), v.offset() + v.size()});
        continue;
      }
      for (OracleVolume.Segment seg : v.segments()) {
        assertThat(seg.stripes()).as("a linear swap LV").hasSize(1);
        long skip = Math.max(0, (64 << 10) - seg.start());
        if (skip < seg.length()) {
          swap.add(new long[] {seg.stripes().get(0).offset() + skip, seg.stripes().get(0).offset() + seg.length()});
        }
      }
    }
    assertThat(swap).as("the disk has swap volumes").isNotEmpty();
    java.util.regex.Pattern reply = java.util.regex.Pattern.compile("nbd_co_send_structured_read(_hole)? .*offset = (\\d+).*len = (\\d+)");
    for (String line : java.nio.file.Files.readAllLines(trace)) {
      java.util.regex.Matcher m = reply.matcher(line);
      if (m.find()) {
        long from = Long.parseLong(m.group(2));
        long to = from + Long.parseLong(m.group(3));
        for (long[] s : swap) {
          assertThat(to <= s[0] || from >= s[1]).as("read [%d, %d) falls in swap beyond its first 64 KiB [%d, %d)", from, to, s[0], s[1])
              .isTrue();
        }
      }
    }
  }
}
