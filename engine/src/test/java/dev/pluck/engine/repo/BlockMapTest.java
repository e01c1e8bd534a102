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

  /**
   * Block buffers are reused, and only the bytes the reads skip are zeroed: blocks with gaps at
   * their start, middle and end, after whole blocks of random bytes, read back zeros in the gaps.
   */
  @Test
  void gapsInsideBlocksReadAsZerosWhateverTheBufferHeldBefore(@TempDir Path dir) throws Exception {
    int blocks = 40;
    byte[] disk = new byte[blocks * CHUNK];
    new Random(40).nextBytes(disk);
    Path image = dir.resolve("disk.img");
    Files.write(image, disk);
    List<VolumeRange> used = new java.util.ArrayList<>();
    byte[] expected = new byte[disk.length];
    for (int b = 0; b < blocks; b++) {
      long at = (long) b * CHUNK;
      List<VolumeRange> here = b % 2 == 0 ? List.of(new VolumeRange(at, CHUNK))
          : List.of(new VolumeRange(at + 100, CHUNK / 4), new VolumeRange(at + CHUNK / 2, CHUNK / 8));
      for (VolumeRange r : here) {
        used.add(r);
        System.arraycopy(disk, (int) r.offset(), expected, (int) r.offset(), (int) r.length());
      }
    }
    try (Repository repo = RepositoryTest.create(Files.createDirectories(dir.resolve("repo")), "zstd:1");
        BlockDevice dev = FileBlockDevice.open(image)) {
      Snapshot.Volume v = BlockMap.write(repo, "disk", "raw", dev, used, null, null).volume();
      assertThat(read(BlockMap.open(repo, v))).isEqualTo(expected);
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

  /**
   * Ranges the device's block status reports as zeros (here a sparse file's holes: a whole block,
   * part of one, one across a block boundary) are not read; a full image has zeros there, and an
   * incremental one zeroes the parent's bytes there.
   */
  @Test
  void rangesBlockStatusReportsAsZerosAreNotRead(@TempDir Path dir) throws Exception {
    int size = 12 * CHUNK + 300;
    byte[] disk = new byte[size];
    new Random(5).nextBytes(disk);
    List<VolumeRange> holes = List.of(new VolumeRange(3L * CHUNK, CHUNK), new VolumeRange(6L * CHUNK + 16384, 32768),
        new VolumeRange(8L * CHUNK - 16384, CHUNK + 32768));
    long holeBytes = holes.stream().mapToLong(VolumeRange::length).sum();
    byte[] expected = disk.clone();
    for (VolumeRange h : holes) {
      java.util.Arrays.fill(expected, (int) h.offset(), (int) h.end(), (byte) 0);
    }
    Path whole = dir.resolve("whole.img");
    Files.write(whole, disk);
    Path sparse = dir.resolve("sparse.img");  // the same bytes, never written where the holes are
    try (java.nio.channels.FileChannel out = java.nio.channels.FileChannel.open(sparse, java.nio.file.StandardOpenOption.CREATE_NEW,
        java.nio.file.StandardOpenOption.WRITE)) {
      long at = 0;
      for (VolumeRange h : java.util.stream.Stream.concat(holes.stream(), java.util.stream.Stream.of(new VolumeRange(size, 0))).toList()) {
        out.write(java.nio.ByteBuffer.wrap(disk, (int) at, (int) (h.offset() - at)), at);
        at = h.end();
      }
    }
    List<VolumeRange> used = List.of(new VolumeRange(0, size));
    try (Repository repo = RepositoryTest.create(Files.createDirectories(dir.resolve("repo")), "zstd:1");
        BlockDevice source = FileBlockDevice.open(sparse)) {
      long reportedZero = source.blockStatus(BlockDevice.BASE_ALLOCATION, 0, size).stream()
          .filter(dev.pluck.nbd.Extent::readsAsZeros).mapToLong(dev.pluck.nbd.Extent::length).sum();
      assertThat(reportedZero).as("the file system keeps the holes (SEEK_HOLE)").isEqualTo(holeBytes);

      AtomicLong bytesRead = new AtomicLong();
      BlockMap.Written full = BlockMap.write(repo, "disk", "raw", new dev.pluck.engine.CountingDevice(source, bytesRead), used, null, null);
      assertThat(bytesRead.get()).as("bytes read: all but the holes").isEqualTo(size - holeBytes);
      assertThat(full.read()).isEqualTo(size - holeBytes);
      assertThat(full.holes()).isEqualTo(holeBytes);
      assertThat(read(BlockMap.open(repo, full.volume()))).isEqualTo(expected);

      // An incremental over a parent whose bytes are all there: the holes are now zeros.
      Snapshot.Volume parent;
      try (BlockDevice before = FileBlockDevice.open(whole)) {
        parent = BlockMap.write(repo, "disk", "raw", before, used, null, null).volume();
      }
      String first = repo.commit(snapshot(parent));
      bytesRead.set(0);
      List<VolumeRange> dirty = List.of(new VolumeRange(3L * CHUNK - 100, CHUNK + 200), new VolumeRange(6L * CHUNK, CHUNK),
          new VolumeRange(8L * CHUNK - 16384, CHUNK + 32768));
      BlockMap.Written incremental = BlockMap.write(repo, "disk", "raw", new dev.pluck.engine.CountingDevice(source, bytesRead), used, dirty,
          repo.snapshot(first).volumes().get(0));
      assertThat(bytesRead.get()).as("bytes read: the dirty bytes outside the holes").isEqualTo(200 + CHUNK - 32768);
      assertThat(incremental.holes()).isEqualTo(holeBytes);
      assertThat(read(BlockMap.open(repo, incremental.volume()))).isEqualTo(expected);
    }
  }

  /** A parent whose block map names a chunk of the wrong length (a damaged or hostile repository) is an error naming the block. */
  @Test
  void aParentChunkOfTheWrongLengthIsAnError(@TempDir Path dir) throws Exception {
    byte[] a = new byte[3 * CHUNK];
    new Random(2).nextBytes(a);
    Path imageA = Files.write(dir.resolve("a.img"), a);
    Path imageB = Files.write(dir.resolve("b.img"), java.util.Arrays.copyOf(a, 3 * CHUNK - 100));
    try (Repository repo = RepositoryTest.create(Files.createDirectories(dir.resolve("repo")), "zstd:1");
        BlockDevice devA = FileBlockDevice.open(imageA); BlockDevice devB = FileBlockDevice.open(imageB)) {
      Snapshot.Volume b = BlockMap.write(repo, "disk", "raw", devB, List.of(new VolumeRange(0, devB.size())), null, null).volume();
      // B's map (its last chunk 100 bytes short) passed off as the map of a volume of A's size.
      Snapshot.Volume forged = new Snapshot.Volume("disk", "raw", "blocks", null, b.entries(), b.bytes(), a.length, CHUNK, b.blockMap());
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> BlockMap.write(repo, "disk", "raw", devA, List.of(new VolumeRange(0, a.length)),
          List.of(new VolumeRange(2L * CHUNK + 10, 10)), forged))
          .isInstanceOf(java.io.IOException.class).hasMessageContaining("volume block 2").hasMessageContaining((CHUNK - 100) + " bytes");
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
