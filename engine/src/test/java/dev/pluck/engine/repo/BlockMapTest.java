package dev.pluck.engine.repo;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.fs.VolumeRange;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Volume images: holes outside the ranges read, and an incremental image that reads only the changed bytes. */
class BlockMapTest {
  static final int CHUNK = RepositoryTest.CHUNK;

  @Test
  void fullThenIncrementalImagesReadOnlyWhatTheyAreGiven(@TempDir Path dir) throws Exception {
    Random r = new Random(11);
    byte[] disk = new byte[20 * CHUNK + 1000];  // a last block shorter than the others
    r.nextBytes(disk);
    Path image = dir.resolve("disk.img");
    Files.write(image, disk);
    // What a backup keeps: everything but blocks 5..9 (say, swap) and the free tail of block 12.
    List<VolumeRange> used = List.of(new VolumeRange(0, 5L * CHUNK), new VolumeRange(10L * CHUNK, 2L * CHUNK + 100),
        new VolumeRange(13L * CHUNK, disk.length - 13L * CHUNK));
    Path repoDir = Files.createDirectories(dir.resolve("repo"));
    try (Repository repo = RepositoryTest.create(repoDir, "zstd:3"); BlockDevice dev = FileBlockDevice.open(image)) {
      Snapshot.Volume full = BlockMap.write(repo, "disk", "raw", dev, used, null, null).volume();
      byte[] expected = disk.clone();
      java.util.Arrays.fill(expected, 5 * CHUNK, 10 * CHUNK, (byte) 0);
      java.util.Arrays.fill(expected, 12 * CHUNK + 100, 13 * CHUNK, (byte) 0);
      assertThat(read(BlockMap.open(repo, full))).isEqualTo(expected);
      String first = repo.commit(snapshot(full));

      // The guest changes 10 bytes in block 3 and rewrites block 15; only those are read.
      byte[] changed = disk.clone();
      for (int i = 0; i < 10; i++) {
        changed[3 * CHUNK + 500 + i] ^= 0x5a;
      }
      byte[] fresh = new byte[CHUNK];
      r.nextBytes(fresh);
      System.arraycopy(fresh, 0, changed, 15 * CHUNK, CHUNK);
      Files.write(image, changed);
      AtomicLong bytesRead = new AtomicLong();
      BlockDevice counting = new dev.pluck.engine.CountingDevice(FileBlockDevice.open(image), bytesRead);
      long storedBefore = repo.written().newBytes;
      Snapshot.Volume incremental = BlockMap.write(repo, "disk", "raw", counting, used,
          List.of(new VolumeRange(3L * CHUNK + 500, 10), new VolumeRange(15L * CHUNK, CHUNK)), repo.snapshot(first).volumes().get(0)).volume();
      assertThat(bytesRead.get()).as("bytes read from the source").isEqualTo(10 + CHUNK);
      long mapBytes = 21L * ChunkId.BYTES;  // the new block map itself, one chunk
      assertThat(repo.written().newBytes - storedBefore).as("new bytes stored: two blocks and the map").isEqualTo(2L * CHUNK + mapBytes);
      byte[] expected2 = changed.clone();
      java.util.Arrays.fill(expected2, 5 * CHUNK, 10 * CHUNK, (byte) 0);
      java.util.Arrays.fill(expected2, 12 * CHUNK + 100, 13 * CHUNK, (byte) 0);
      assertThat(read(BlockMap.open(repo, incremental))).isEqualTo(expected2);
      repo.commit(snapshot(incremental));
      assertThat(Check.run(repo, true).problems()).isEmpty();
    }
  }

  /** Images of many sizes, each with a hole: what is read back is what was there, zeros where nothing was read. */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(ints = {1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 64 * CHUNK + 7})
  void imagesOfManySizesRoundTrip(int size, @TempDir Path dir) throws Exception {
    byte[] disk = new byte[size];
    new Random(size).nextBytes(disk);
    Path image = dir.resolve("disk.img");
    Files.write(image, disk);
    long holeAt = size / 3;
    long holeLength = Math.min(size - holeAt, CHUNK + 5);
    List<VolumeRange> used = new java.util.ArrayList<>();
    if (holeAt > 0) {
      used.add(new VolumeRange(0, holeAt));
    }
    if (holeAt + holeLength < size) {
      used.add(new VolumeRange(holeAt + holeLength, size - holeAt - holeLength));
    }
    try (Repository repo = RepositoryTest.create(Files.createDirectories(dir.resolve("repo")), "lz4");
        BlockDevice dev = FileBlockDevice.open(image)) {
      Snapshot.Volume v = BlockMap.write(repo, "disk", "raw", dev, used, null, null).volume();
      byte[] expected = disk.clone();
      java.util.Arrays.fill(expected, (int) holeAt, (int) (holeAt + holeLength), (byte) 0);
      assertThat(read(BlockMap.open(repo, v))).isEqualTo(expected);
      String id = repo.commit(snapshot(v));
      assertThat(repo.latest(repo.snapshot(id).group()).id()).isEqualTo(id);
    }
  }

  static Snapshot snapshot(Snapshot.Volume v) {
    return new Snapshot(null, Config.FORMAT, java.time.Instant.now().toString(), "t", new Snapshot.Source("vm", List.of("vda"), List.of()),
        List.of(), true, List.of(), null, "backup", null, java.util.Map.of(), CHUNK, List.of(v));
  }

  static byte[] read(BlockDevice d) throws Exception {
    return d.read(0, (int) d.size());
  }
}
