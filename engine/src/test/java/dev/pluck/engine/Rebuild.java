package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.engine.repo.BlockMap;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.Tools;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** A disk-mode snapshot of one disk rebuilt into a raw file (layout, then volumes where the rebuilt tables put them), for tests. */
final class Rebuild {
  private Rebuild() {}

  /** Rebuilds the snapshot's disk into {@code rebuilt} and checks it equals {@code expected} byte for byte (cmp). */
  static void assertEquals(Repository repo, String snapshotId, Path expected, Path rebuilt) throws Exception {
    Snapshot s = repo.snapshot(snapshotId);
    Snapshot.Volume layout = s.volumes().stream().filter(v -> v.id().startsWith("layout:")).findFirst().orElseThrow();
    Files.deleteIfExists(rebuilt);
    try (RandomAccessFile f = new RandomAccessFile(rebuilt.toFile(), "rw")) {
      f.setLength(layout.size());
    }
    try (FileBlockDevice d = FileBlockDevice.openWritable(rebuilt)) {
      copy(BlockMap.open(repo, layout), d);
      VolumeTree tree = VolumeTree.probe(List.of(new VolumeTree.Disk(layout.id().substring("layout:".length()), d)));
      for (Snapshot.Volume v : s.volumes()) {
        if (v != layout) {
          copy(BlockMap.open(repo, v), tree.find(v.id()).orElseThrow().device());
        }
      }
    }
    Tools.Result cmp = Tools.run(Duration.ofMinutes(1), List.of("cmp", expected.toString(), rebuilt.toString()));
    assertThat(cmp.exitCode()).as("snapshot %s vs the disk: %s", snapshotId, cmp.stdout()).isZero();
  }

  private static void copy(BlockDevice from, BlockDevice to) throws Exception {
    for (long at = 0; at < from.size(); at += 1 << 20) {
      int n = (int) Math.min(1 << 20, from.size() - at);
      to.write(at, ByteBuffer.wrap(from.read(at, n)));
    }
  }
}
