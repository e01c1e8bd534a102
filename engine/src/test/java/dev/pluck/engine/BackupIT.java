package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.engine.repo.BlockMap;
import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.Config;
import dev.pluck.engine.repo.Content;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.FileExtent;
import dev.pluck.fs.FileSystem;
import dev.pluck.fs.FileSystems;
import dev.pluck.fs.VolumeRange;
import dev.pluck.fs.volume.Volume;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.OracleEntry;
import dev.pluck.testdata.OracleVolume;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Backups of real test disks: what the repository holds equals the oracle; swap and free space are never read. */
class BackupIT {

  /** Records every read of a disk: offset and length. */
  static final class Recording extends dev.pluck.nbd.ForwardingBlockDevice {
    final List<long[]> reads = java.util.Collections.synchronizedList(new ArrayList<>());

    Recording(BlockDevice inner) {
      super(inner);
    }

    long bytesWithin(long from, long to) {
      long n = 0;
      synchronized (reads) {
        for (long[] r : reads) {
          n += Math.max(0, Math.min(to, r[0] + r[1]) - Math.max(from, r[0]));
        }
      }
      return n;
    }


    final java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicInteger mostInFlight = new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
      reads.add(new long[] {offset, dst.remaining()});
      mostInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
      return inner.readAsync(offset, dst).whenComplete((x, t) -> inFlight.decrementAndGet());
    }
  }

  static Backup.Options options(Backup.Mode mode, List<String> volumes, List<String> exclude) {
    return new Backup.Options(mode, volumes, List.of(), exclude, false, List.of(), false, List.of("test"), "auto",
        new Snapshot.Source("vm", List.of("0"), List.of()), "backup", "test", null, null);
  }

  static Repository repo(Path dir) throws IOException {
    return Repository.init(new LocalStorage(dir), Config.defaults("zstd:3"));
  }

  @Test
  void filesOfEveryVolumeEqualTheOracleAndSwapIsNeverRead(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    try (Repository repo = repo(dir); Recording img = new Recording(FileBlockDevice.open(disk.image()))) {
      Backup.Result r = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), options(Backup.Mode.FILES, List.of(), List.of()));
      assertThat(r.complete()).as("%s", r.failed()).isTrue();
      assertThat(r.volumesLeftOut()).anyMatch(v -> v.startsWith("p2 (vfat"));
      Snapshot s = repo.snapshot(r.snapshot());
      assertThat(s.volumes()).extracting(Snapshot.Volume::id).containsExactlyInAnyOrder("p3", "vg0/home", "vg0/data");
      for (Snapshot.Volume v : s.volumes()) {
        Map<String, CatalogEntry> catalog = new LinkedHashMap<>();
        Catalog.read(repo, v.catalog(), e -> catalog.put(e.path(), e));
        Map<String, OracleEntry> oracle = disk.oracle().filesByPath(v.id());
        assertThat(catalog.keySet()).as("paths of %s", v.id()).containsExactlyInAnyOrderElementsOf(oracle.keySet());
        for (OracleEntry o : oracle.values()) {
          CatalogEntry c = catalog.get(o.path());
          assertThat(c.type()).as(o.path()).isEqualTo(o.type());
          assertThat(c.mtimeNs()).as(o.path()).isEqualTo(o.mtimeNs());
          if (o.isFile()) {
            assertThat(c.size()).as(o.path()).isEqualTo(o.size());
            assertThat(sha256(repo, c.chunks(), c.size())).as("content of %s %s", v.id(), o.path()).isEqualTo(o.sha256());
          }
        }
      }
      // Swap: the partition and the LV are read no further than the probe's 64 KiB.
      for (OracleVolume sv : disk.oracle().volumes()) {
        if ("swap".equals(sv.fsType())) {
          for (long[] seg : segments(disk, sv.id())) {
            assertThat(img.bytesWithin(seg[0] + (64 << 10), seg[0] + seg[1])).as("bytes read from swap %s past 64 KiB", sv.id()).isZero();
          }
        }
      }
      // Again with the first as parent: nothing changed, no file data read.
      Backup.Result again = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), options(Backup.Mode.FILES, List.of(), List.of()));
      assertThat(again.parent()).isEqualTo(r.snapshot());
      assertThat(again.bytesRead().get("data")).isZero();
      assertThat(again.files().get("unchanged")).isEqualTo(r.files().get("new"));
      assertThat(again.bytesAdded()).as("bytes added by an unchanged backup (its catalogs dedupe)").isZero();
    }
  }

  /** A swap file inside ext4 is recorded, not read past its first page; excluded paths are counted, not stored. */
  @Test
  void swapFileIsNotReadAndExcludesHold(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.ext4Features();
    try (Repository repo = repo(dir); Recording img = new Recording(FileBlockDevice.open(disk.image()))) {
      Backup.Result r = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)),
          options(Backup.Mode.FILES, List.of("disk"), List.of("/big-dir", "*.bin")));
      assertThat(r.bytesSkipped().get("swap")).isEqualTo(disk.oracle().file("disk", "/swapfile").size());
      assertThat(r.bytesSkipped().get("excluded")).isPositive();
      Map<String, CatalogEntry> catalog = new LinkedHashMap<>();
      Catalog.read(repo, repo.snapshot(r.snapshot()).volumes().get(0).catalog(), e -> catalog.put(e.path(), e));
      assertThat(catalog).containsKey("/swapfile").doesNotContainKeys("/big-dir", "/fragmented.bin", "/inline/tiny.txt".replace("tiny.txt", "nothing"));
      assertThat(catalog.keySet()).noneMatch(p -> p.endsWith(".bin") || p.startsWith("/big-dir"));
      assertThat(catalog.get("/swapfile").attributes()).contains("swap");
      try (BlockDevice plain = FileBlockDevice.open(disk.image()); FileSystem fs = FileSystems.open(probe(plain).find("disk").orElseThrow())) {
        long swapRead = 0;
        for (FileExtent x : fs.extents(fs.lookup("/swapfile").orElseThrow())) {
          swapRead += img.bytesWithin(x.volumeOffset(), x.volumeOffset() + x.length());
        }
        assertThat(swapRead).as("bytes of /swapfile read").isLessThanOrEqualTo(4096);
      }
    }
  }

  /** Small files are read in batches through the read planner: many requests in flight together, not one file at a time. */
  @Test
  void smallFilesAreReadManyAtATime(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    try (dev.pluck.testdata.Nbdkit server = dev.pluck.testdata.Nbdkit.start("--filter=delay", "file", "file=" + disk.image(),
        "rdelay=5ms"); Repository repo = repo(dir);
        Recording nbd = new Recording(dev.pluck.nbd.NbdBlockDevice.open(server.uri()))) {
      Backup.Result r = Backup.run(repo, List.of(new VolumeTree.Disk("0", nbd)), options(Backup.Mode.FILES, List.of("p3"), List.of()));
      assertThat(r.complete()).isTrue();
      long withData = disk.oracle().files("p3").stream().filter(o -> o.isFile() && o.size() > 0).count();
      assertThat(r.files().get("new")).isGreaterThan(withData);
      assertThat(nbd.mostInFlight.get()).as("requests in flight together (one file at a time keeps one)").isGreaterThanOrEqualTo(16);
    }
  }

  /**
   * Files larger than a chunk are read a window at a time through the read planner, many requests
   * in flight: checked over nbdkit with a read delay (one request at a time before), with a
   * fragmented file, a sparse one (holes never read) and contents equal to the kernel's.
   */
  @Test
  void largeFilesAreReadManyRequestsAtATime(@TempDir Path dir) throws Exception {
    Path image = dir.resolve("disk.img");
    Path mnt = java.nio.file.Files.createDirectories(dir.resolve("mnt"));
    dev.pluck.testdata.Tools.runOk("truncate", "-s", "160M", image.toString());
    dev.pluck.testdata.Tools.runOk("mkfs.ext4", "-q", "-F", "-b", "4096", image.toString());
    dev.pluck.testdata.Tools.runOk("mount", "-o", "loop", image.toString(), mnt.toString());
    Map<String, String> expected = new LinkedHashMap<>();
    try {
      java.util.Random random = new java.util.Random(7);
      byte[] big = new byte[40 << 20];
      random.nextBytes(big);
      java.nio.file.Files.write(mnt.resolve("big.bin"), big);
      // Fragmented: two files written a block at a time, alternately.
      try (var a = java.nio.channels.FileChannel.open(mnt.resolve("frag-a"), java.nio.file.StandardOpenOption.CREATE,
          java.nio.file.StandardOpenOption.WRITE); var b = java.nio.channels.FileChannel.open(mnt.resolve("frag-b"),
          java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
        byte[] block = new byte[64 << 10];
        for (int i = 0; i < 96; i++) {
          random.nextBytes(block);
          a.write(ByteBuffer.wrap(block));
          a.force(true);
          random.nextBytes(block);
          b.write(ByteBuffer.wrap(block));
          b.force(true);
        }
      }
      try (var sparse = java.nio.channels.FileChannel.open(mnt.resolve("sparse"), java.nio.file.StandardOpenOption.CREATE,
          java.nio.file.StandardOpenOption.WRITE)) {
        sparse.write(ByteBuffer.wrap(java.util.Arrays.copyOf(big, 3 << 20)), 0);
        sparse.write(ByteBuffer.wrap(java.util.Arrays.copyOf(big, 1 << 20)), 60L << 20);
      }
      for (String name : List.of("big.bin", "frag-a", "frag-b", "sparse")) {
        expected.put("/" + name, dev.pluck.testdata.Tools.runOk("sha256sum", mnt.resolve(name).toString()).stdout().split(" ")[0]);
      }
    } finally {
      dev.pluck.testdata.Tools.runOk("umount", mnt.toString());
    }
    String filefrag = dev.pluck.testdata.Tools.runOk("debugfs", "-R", "stat /frag-a", image.toString()).stdout();
    assertThat(filefrag).as("frag-a is in many extents").containsPattern("\\(\\d+-\\d+\\):\\d+-\\d+, \\(\\d+");
    try (dev.pluck.testdata.Nbdkit server = dev.pluck.testdata.Nbdkit.start("--filter=delay", "file", "file=" + image, "rdelay=10ms");
        Repository repo = repo(dir.resolve("repo")); Recording nbd = new Recording(dev.pluck.nbd.NbdBlockDevice.open(server.uri()))) {
      Backup.Result r = Backup.run(repo, List.of(new VolumeTree.Disk("0", nbd)), options(Backup.Mode.FILES, List.of(), List.of()));
      assertThat(r.complete()).isTrue();
      assertThat(nbd.mostInFlight.get()).as("requests in flight together while reading a large file").isGreaterThanOrEqualTo(4);
      Map<String, CatalogEntry> catalog = new LinkedHashMap<>();
      Catalog.read(repo, repo.snapshot(r.snapshot()).volumes().get(0).catalog(), e -> catalog.put(e.path(), e));
      for (Map.Entry<String, String> e : expected.entrySet()) {
        CatalogEntry c = catalog.get(e.getKey());
        assertThat(sha256(repo, c.chunks(), c.size())).as(e.getKey()).isEqualTo(e.getValue());
      }
      long dataBytes = (40L << 20) + 2 * (96L * (64 << 10)) + (4L << 20);
      assertThat(r.bytesRead().get("data")).as("file bytes read: the sparse file's hole is not").isBetween(dataBytes, dataBytes + (1L << 20));
    }
  }

  /**
   * EFS-encrypted files as ntfs-3g's efs_raw restores them (raw ciphertext with its padding
   * length, then the $EFS attribute through system.ntfs_efsinfo): the reader lists them as
   * encrypted with their plain size and refuses to read them by name; a backup keeps their entry
   * without content, says so, and is complete.
   */
  @Test
  void efsEncryptedFilesAreKeptWithoutTheirContent(@TempDir Path dir) throws Exception {
    Path image = dir.resolve("efs.img");
    Path mnt = java.nio.file.Files.createDirectories(dir.resolve("mnt"));
    dev.pluck.testdata.Tools.runOk("truncate", "-s", "16M", image.toString());
    dev.pluck.testdata.Tools.runOk("mkntfs", "-F", "-q", "-Q", image.toString());
    dev.pluck.testdata.Tools.runOk("ntfs-3g", "-o", "efs_raw", image.toString(), mnt.toString());
    try {
      byte[] raw = new byte[1026];  // 1,024 bytes of "ciphertext", then 24 bytes of padding in the last block
      new java.util.Random(3).nextBytes(raw);
      raw[1024] = 24;
      raw[1025] = 0;
      java.nio.file.Files.write(mnt.resolve("secret.doc"), raw);
      byte[] efs = new byte[256];  // an $EFS attribute: its length first, which ntfs-3g checks
      java.nio.ByteBuffer.wrap(efs).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(efs.length).putInt(0).putInt(2);
      dev.pluck.testdata.Tools.runOk("setfattr", "-n", "system.ntfs_efsinfo", "-v", "0x" + HexFormat.of().formatHex(efs),
          mnt.resolve("secret.doc").toString());
      java.nio.file.Files.writeString(mnt.resolve("plain.txt"), "plain");
    } finally {
      dev.pluck.testdata.Tools.runOk("umount", mnt.toString());
    }
    try (BlockDevice img = FileBlockDevice.open(image); FileSystem fs = FileSystems.open(probe(img).find("disk").orElseThrow())) {
      dev.pluck.fs.Entry secret = fs.lookup("/secret.doc").orElseThrow();
      assertThat(secret.has(dev.pluck.fs.Entry.Attribute.ENCRYPTED)).isTrue();
      assertThat(secret.size()).as("the plain size: raw less padding").isEqualTo(1000);
      assertThat(dev.pluck.testdata.Sleuthkit.istat(image, 0, secret.inode())).as("The Sleuth Kit sees the $EFS stream")
          .contains("$LOGGED_UTILITY_STREAM");
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> fs.open(secret)).hasMessageContaining("EFS-encrypted");
    }
    try (Repository repo = repo(dir.resolve("repo")); BlockDevice img = FileBlockDevice.open(image)) {
      Backup.Result r = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), options(Backup.Mode.FILES, List.of(), List.of()));
      assertThat(r.complete()).isTrue();
      assertThat(r.bytesSkipped().get("encrypted")).isEqualTo(1000);
      assertThat(r.warnings()).anyMatch(w -> w.contains("/secret.doc") && w.contains("encrypted"));
      Map<String, CatalogEntry> catalog = new LinkedHashMap<>();
      Catalog.read(repo, repo.snapshot(r.snapshot()).volumes().get(0).catalog(), e -> catalog.put(e.path(), e));
      assertThat(catalog.get("/secret.doc").chunks()).as("no content").isNull();
      assertThat(catalog.get("/secret.doc").attributes()).contains("encrypted");
      assertThat(sha256(repo, catalog.get("/plain.txt").chunks(), 5)).isEqualTo(
          HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest("plain".getBytes())));
    }
  }

  /** Volume images: the allocated bytes back exactly, free space never read, swap its header page only. */
  @Test
  void volumeImagesHoldTheAllocatedBytes(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    try (Repository repo = repo(dir); Recording img = new Recording(FileBlockDevice.open(disk.image()));
        BlockDevice plain = FileBlockDevice.open(disk.image())) {
      Backup.Result r = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)),
          options(Backup.Mode.VOLUMES, List.of("p3", "p4", "vg0/data"), List.of()));
      assertThat(r.bytesSkipped().get("free")).isPositive();
      assertThat(r.bytesSkipped().get("swap")).isEqualTo(disk.oracle().volume("p4").size() - 4096);
      Snapshot s = repo.snapshot(r.snapshot());
      VolumeTree tree = probe(plain);
      long allocated = 0;
      for (Snapshot.Volume v : s.volumes()) {
        if (v.fs().equals("swap")) {
          assertThat(v.id()).isEqualTo("p4");
          byte[] header = BlockMap.open(repo, v).read(0, 4096);
          assertThat(header).as("the swap header page: UUID, label, size").isEqualTo(tree.find("p4").orElseThrow().device().read(0, 4096));
          assertThat(BlockMap.open(repo, v).read(4096, 4096)).isEqualTo(new byte[4096]);
          continue;
        }
        Volume source = tree.find(v.id()).orElseThrow();
        List<VolumeRange> used;
        try (FileSystem fs = FileSystems.open(source)) {
          used = fs.allocatedRanges();
        }
        BlockDevice image = BlockMap.open(repo, v);
        for (VolumeRange u : used) {
          for (long at = u.offset(); at < u.end(); at += 1 << 20) {
            int n = (int) Math.min(1 << 20, u.end() - at);
            assertThat(image.read(at, n)).as("%s at %d", v.id(), at).isEqualTo(source.device().read(at, n));
          }
          allocated += u.length();
        }
      }
      assertThat(r.bytesRead().get("data")).as("image bytes read").isLessThanOrEqualTo(allocated + 2L * (1 << 20) * 3);
    }
  }

  /**
   * Over NBD, a volumes backup asks the server's block status and never reads what it says reads
   * as zeros, even where the filesystem calls the blocks allocated (here: an ext4's inode tables
   * that mkfs left unwritten, holes in the image file); the images still equal the volumes.
   */
  @Test
  void volumeBytesTheServerReportsAsZerosAreNotRead(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    try (dev.pluck.testdata.QemuNbd server = dev.pluck.testdata.QemuNbd.serve(disk.image());
        Repository repo = repo(dir); Recording nbd = new Recording(dev.pluck.nbd.NbdBlockDevice.open(server.uri()));
        BlockDevice plain = FileBlockDevice.open(disk.image())) {
      VolumeTree tree = probe(plain);
      // Holes of the image file inside the chosen volumes' allocated ranges: what must not be read.
      List<VolumeRange> unread = new ArrayList<>();
      long usedBytes = 0;
      for (String id : List.of("p3", "vg0/data", "vg0/home")) {
        Volume v = tree.find(id).orElseThrow();
        List<VolumeRange> used;
        try (FileSystem fs = FileSystems.open(v)) {
          used = fs.allocatedRanges();
        }
        usedBytes += used.stream().mapToLong(VolumeRange::length).sum();
        List<VolumeRange> zero = new ArrayList<>();
        for (dev.pluck.nbd.Extent e : v.device().blockStatus(BlockDevice.BASE_ALLOCATION, 0, v.size())) {
          if (e.readsAsZeros()) {
            zero.add(new VolumeRange(e.offset(), e.length()));
          }
        }
        for (VolumeRange r : VolumeRange.intersect(used, zero)) {  // volume offsets to disk offsets (one disk here)
          List<Volume.Segment> segments = v.segments().isEmpty() ? List.of(new Volume.Segment(id, 0, v.offset(), v.size())) : v.segments();
          long segmentStart = 0;  // the segment's first byte in the volume
          for (Volume.Segment seg : segments) {
            long from = Math.max(r.offset(), segmentStart);
            long to = Math.min(r.end(), segmentStart + seg.length());
            if (from < to) {
              unread.add(new VolumeRange(seg.offset() + from - segmentStart, to - from));
            }
            segmentStart += seg.length();
          }
        }
      }
      long unreadBytes = unread.stream().mapToLong(VolumeRange::length).sum();
      assertThat(unreadBytes).as("allocated bytes the image keeps as holes").isGreaterThan(1L << 20);
      long[] last = {-1};
      Backup.Result r = Backup.run(repo, List.of(new VolumeTree.Disk("0", nbd)),
          options(Backup.Mode.VOLUMES, List.of("p3", "vg0/data", "vg0/home"), List.of()),
          new Backup.Reading(0, (bytes, files, done) -> last[0] = bytes));
      // Progress counts the zeros left unread as done, or a bar foretold from the allocated bytes
      // would stop short of its end.
      long read = r.bytesRead().get("data") + r.bytesRead().get("metadata");
      assertThat(last[0]).as("bytes done at the end").isEqualTo(read + unreadBytes);
      // Image blocks read: every allocated byte but those; the server saw no more of them than the
      // metadata reads (inode tables read to walk the filesystem) account for.
      assertThat(r.bytesRead().get("data")).as("image bytes read").isEqualTo(usedBytes - unreadBytes);
      long seen = unread.stream().mapToLong(u -> nbd.bytesWithin(u.offset(), u.end())).sum();
      assertThat(seen).as("bytes the server read of those zeros").isLessThanOrEqualTo(r.bytesRead().get("metadata"));
      assertThat(r.bytesSkipped().get("zero")).isGreaterThanOrEqualTo(unreadBytes);
      Snapshot s = repo.snapshot(r.snapshot());
      for (Snapshot.Volume v : s.volumes()) {
        Volume source = tree.find(v.id()).orElseThrow();
        BlockDevice image = BlockMap.open(repo, v);
        List<VolumeRange> used;
        try (FileSystem fs = FileSystems.open(source)) {
          used = fs.allocatedRanges();
        }
        for (VolumeRange u : used) {
          for (long at = u.offset(); at < u.end(); at += 1 << 20) {
            int n = (int) Math.min(1 << 20, u.end() - at);
            assertThat(image.read(at, n)).as("%s at %d", v.id(), at).isEqualTo(source.device().read(at, n));
          }
        }
      }
    }
  }

  /** --exclude-caches keeps a valid CACHEDIR.TAG and leaves its directory's contents out; --exclude-if-present likewise. */
  @Test
  void cacheDirectoriesAndMarkedOnesAreLeftOut(@TempDir Path dir) throws Exception {
    Path tree = java.nio.file.Files.createDirectories(dir.resolve("tree"));
    java.nio.file.Files.createDirectories(tree.resolve("home/a/.cache/thumbs"));
    java.nio.file.Files.writeString(tree.resolve("home/a/.cache/CACHEDIR.TAG"),
        "Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n");
    java.nio.file.Files.writeString(tree.resolve("home/a/.cache/thumbs/1.png"), "x".repeat(5000));
    java.nio.file.Files.createDirectories(tree.resolve("home/a/fake"));
    java.nio.file.Files.writeString(tree.resolve("home/a/fake/CACHEDIR.TAG"), "not the signature\n");
    java.nio.file.Files.writeString(tree.resolve("home/a/fake/kept.txt"), "kept");
    java.nio.file.Files.createDirectories(tree.resolve("home/b/scratch"));
    java.nio.file.Files.writeString(tree.resolve("home/b/scratch/.nobackup"), "");
    java.nio.file.Files.writeString(tree.resolve("home/b/scratch/big.bin"), "y".repeat(9000));
    java.nio.file.Files.writeString(tree.resolve("home/b/notes.txt"), "notes");
    Path image = dir.resolve("disk.img");
    dev.pluck.testdata.Tools.runOk("truncate", "-s", "32M", image.toString());
    dev.pluck.testdata.Tools.runOk("mkfs.ext4", "-q", "-F", "-d", tree.toString(), image.toString());
    try (Repository repo = repo(dir.resolve("repo")); BlockDevice img = FileBlockDevice.open(image)) {
      Backup.Options o = new Backup.Options(Backup.Mode.FILES, List.of(), List.of(), List.of(), true, List.of(".nobackup"), false,
          List.of(), null, new Snapshot.Source("vm", List.of("0"), List.of()), "backup", "test", null, null);
      Backup.Result r = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), o);
      Map<String, CatalogEntry> catalog = new LinkedHashMap<>();
      Catalog.read(repo, repo.snapshot(r.snapshot()).volumes().get(0).catalog(), e -> catalog.put(e.path(), e));
      assertThat(catalog).containsKeys("/home/a/.cache", "/home/a/.cache/CACHEDIR.TAG", "/home/a/fake/kept.txt", "/home/b/scratch",
          "/home/b/notes.txt");
      assertThat(catalog).doesNotContainKeys("/home/a/.cache/thumbs", "/home/a/.cache/thumbs/1.png", "/home/b/scratch/big.bin",
          "/home/b/scratch/.nobackup");
    }
  }

  static VolumeTree probe(BlockDevice d) throws IOException {
    return VolumeTree.probe(List.of(new VolumeTree.Disk("0", d)));
  }

  /** Where a volume lies on the disk: one piece for a partition, its segments for an LV. */
  static List<long[]> segments(TestDisk disk, String id) throws IOException {
    try (BlockDevice d = FileBlockDevice.open(disk.image())) {
      Volume v = probe(d).find(id).orElseThrow();
      if (v.segments().isEmpty()) {
        return List.<long[]>of(new long[] {v.offset(), v.size()});
      }
      return v.segments().stream().map(s -> new long[] {s.offset(), s.length()}).toList();
    }
  }

  static String sha256(Repository repo, List<String> chunks, long size) throws Exception {
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    ByteBuffer buf = ByteBuffer.allocate(1 << 20);
    try (SeekableByteChannel ch = Content.open(repo, chunks, size)) {
      while (ch.read(buf.clear()) > 0) {
        sha.update(buf.flip());
      }
    }
    return HexFormat.of().formatHex(sha.digest());
  }

  /** --limit-read: the disks are read no faster than the limit; the progress listener hears of every byte. */
  @Test
  void readsAreHeldToTheRateLimitAndReported(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    long limit = 32L << 20;
    List<long[]> updates = java.util.Collections.synchronizedList(new ArrayList<>());
    try (Repository repo = repo(dir); BlockDevice img = FileBlockDevice.open(disk.image())) {
      long start = System.nanoTime();
      long[] expected = {-1};
      Backup.Result r = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), options(Backup.Mode.FILES, List.of("vg0/home"), List.of()),
          new Backup.Reading(limit, new Backup.Progress() {
            @Override
            public void update(long bytes, long files, boolean done) {
              updates.add(new long[] {bytes, files, done ? 1 : 0});
            }

            @Override
            public void expect(long bytesReadAtEnd) {
              expected[0] = Math.max(expected[0], bytesReadAtEnd);
            }
          }));
      double seconds = (System.nanoTime() - start) / 1e9;
      long read = r.bytesRead().get("data") + r.bytesRead().get("metadata");
      assertThat(read).isGreaterThan(20L << 20);
      assertThat(seconds).as("%d bytes at %d bytes/s", read, limit).isGreaterThanOrEqualTo((read - limit / 10.0) / limit * 0.95);
      long[] last = updates.get(updates.size() - 1);
      assertThat(last[2]).as("the last update says done").isEqualTo(1);
      assertThat(last[0]).isEqualTo(read);
      assertThat(last[1]).isEqualTo(r.files().get("new"));
      assertThat(updates.size()).as("updates while it ran").isGreaterThan(2);
      System.err.printf("progress: expected %d, read %d%n", expected[0], read);
      assertThat(expected[0]).as("what the whole volume's used bytes foretold (read %d)", read).isBetween(read * 8 / 10, read * 13 / 10);
    }
  }

  /**
   * An ext4 with an incompatible feature the reader lacks (dirdata, set by debugfs on a mkfs.ext4
   * made here): files mode refuses the volume by name; volumes mode images it whole, blocks of zeros
   * left out, equal to the source byte for byte, and says why in a warning.
   */
  @Test
  void anExt4TheReaderRefusesIsImagedWholeAndRefusedByNameInFilesMode(@TempDir Path dir) throws Exception {
    Path tree = dir.resolve("tree");
    java.nio.file.Files.createDirectories(tree.resolve("sub"));
    java.util.Random random = new java.util.Random(61);
    for (int i = 0; i < 20; i++) {
      byte[] b = new byte[random.nextInt(300_000)];
      random.nextBytes(b);
      java.nio.file.Files.write(tree.resolve(i % 2 == 0 ? "f" + i : "sub/f" + i), b);
    }
    Path image = dir.resolve("dirdata.img");
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(48L << 20);
    }
    dev.pluck.testdata.Tools.runOk("mkfs.ext4", "-q", "-F", "-d", tree.toString(), image.toString());
    dev.pluck.testdata.Tools.runOk("debugfs", "-w", "-R", "feature dirdata", image.toString());
    try (Repository repo = repo(dir.resolve("repo")); BlockDevice img = FileBlockDevice.open(image)) {
      List<VolumeTree.Disk> disks = List.of(new VolumeTree.Disk("0", img));
      IOException refused = org.assertj.core.api.Assertions.catchThrowableOfType(
          () -> Backup.run(repo, disks, options(Backup.Mode.FILES, List.of("disk"), List.of())), IOException.class);
      assertThat(refused).as("files mode").isNotNull();
      assertThat(refused.getMessage()).startsWith("volume disk: ").contains("unsupported incompatible features 0x1000 (dirdata)");

      Backup.Result r = Backup.run(repo, disks, options(Backup.Mode.VOLUMES, List.of("disk"), List.of()));
      assertThat(r.complete()).isTrue();
      assertThat(r.warnings()).anyMatch(w -> w.startsWith("volume disk: its ext4 cannot be read (") && w.contains("dirdata"));
      assertThat(r.bytesSkipped().get("free")).as("nothing known to be free").isZero();
      assertThat(r.bytesSkipped().get("zero")).as("blocks of zeros left out").isPositive();
      Snapshot.Volume v = repo.snapshot(r.snapshot()).volumes().get(0);
      BlockDevice stored = BlockMap.open(repo, v);
      assertThat(stored.size()).isEqualTo(img.size());
      for (long at = 0; at < img.size(); at += 1 << 20) {
        int n = (int) Math.min(1 << 20, img.size() - at);
        assertThat(stored.read(at, n)).as("stored bytes at %d", at).isEqualTo(img.read(at, n));
      }
    }
  }

  /**
   * LVs of segment types pluck cannot read, made by vgcfgrestore from metadata edited here (a raid1
   * LV with its images on both PVs, a thin pool and a thin LV; device-mapper, which lvcreate needs
   * for them, is missing here): every mode names them in volumesLeftOut, and a disk backup keeps
   * their bytes in the disks' layout images (every byte no imaged volume holds equals the source).
   */
  @Test
  void lvsOfUnreadableSegmentTypesAreNamedAndDiskModeKeepsTheirBytes(@TempDir Path dir) throws Exception {
    Path[] pvs = {dir.resolve("pv0.img"), dir.resolve("pv1.img")};
    java.util.Random random = new java.util.Random(62);
    for (Path pv : pvs) {
      byte[] b = new byte[40 << 20];
      random.nextBytes(b);  // what the LVs hold: nothing of it may be lost in disk mode
      java.nio.file.Files.write(pv, b);
    }
    String vg = "pluckseg" + Long.toHexString(System.nanoTime() & 0xffffff);
    List<String> loops = new ArrayList<>();
    try {
      for (Path pv : pvs) {
        loops.add(dev.pluck.testdata.Tools.runOk("losetup", "--find", "--show", pv.toString()).stdout().trim());
      }
      lvm("pvcreate", "-q", loops.get(0), loops.get(1));
      lvm("vgcreate", "-q", "-s", "4m", vg, loops.get(0), loops.get(1));
      lvm("lvcreate", "--driverloaded", "n", "-an", "-Zn", "-L", "8m", "-n", "lin", vg);
      Path cfg = dir.resolve("vg.cfg");
      lvm("vgcfgbackup", "--driverloaded", "n", "-f", cfg.toString(), vg);
      String text = java.nio.file.Files.readString(cfg);
      int at = text.indexOf("logical_volumes {") + "logical_volumes {".length();
      String lvs = lv("r1", true, "type = \"raid1\"\ndevice_count = 2\nregion_size = 1024\n"
              + "raids = [\"r1_rmeta_0\", \"r1_rimage_0\", \"r1_rmeta_1\", \"r1_rimage_1\"]", 2)
          + striped("r1_rmeta_0", "pv0", 2, 1) + striped("r1_rimage_0", "pv0", 3, 2)
          + striped("r1_rmeta_1", "pv1", 0, 1) + striped("r1_rimage_1", "pv1", 1, 2)
          + lv("pool", true, "type = \"thin-pool\"\nmetadata = \"pool_tmeta\"\npool = \"pool_tdata\"\ntransaction_id = 1\n"
              + "chunk_size = 128\ndiscards = \"passdown\"\nzero_new_blocks = 1", 2)
          + striped("pool_tmeta", "pv1", 3, 1) + striped("pool_tdata", "pv1", 4, 2)
          + lv("thin1", true, "type = \"thin\"\nthin_pool = \"pool\"\ntransaction_id = 0\ndevice_id = 1", 5);
      java.nio.file.Files.writeString(cfg, text.substring(0, at) + lvs + text.substring(at));
      lvm("vgcfgrestore", "--driverloaded", "n", "--force", "-f", cfg.toString(), vg);
      lvm("vgchange", "--driverloaded", "n", "-an", vg);
    } finally {
      for (String loop : loops) {
        dev.pluck.testdata.Tools.run(java.time.Duration.ofMinutes(1), List.of("losetup", "-d", loop));
      }
    }
    try (Repository repo = repo(dir.resolve("repo")); BlockDevice d0 = FileBlockDevice.open(pvs[0]); BlockDevice d1 = FileBlockDevice.open(pvs[1])) {
      List<VolumeTree.Disk> disks = List.of(new VolumeTree.Disk("0", d0), new VolumeTree.Disk("1", d1));
      Backup.Result volumes = Backup.run(repo, disks, options(Backup.Mode.VOLUMES, List.of(), List.of()));
      assertThat(volumes.volumesLeftOut()).containsExactlyInAnyOrder(
          vg + "/r1 (unsupported segment type raid1; --mode disk keeps its bytes)",
          vg + "/pool (unsupported segment type thin-pool; --mode disk keeps its bytes)",
          vg + "/thin1 (unsupported segment type thin; --mode disk keeps its bytes)");
      assertThat(repo.snapshot(volumes.snapshot()).volumes()).extracting(Snapshot.Volume::id).containsExactly(vg + "/lin");

      Backup.Result disk = Backup.run(repo, disks, options(Backup.Mode.DISK, List.of(), List.of()));
      assertThat(disk.volumesLeftOut()).hasSize(3).allMatch(v -> v.endsWith("; its bytes are kept in its disks' layout images)"));
      Snapshot s = repo.snapshot(disk.snapshot());
      VolumeTree tree = VolumeTree.probe(disks);
      List<Volume.Segment> lin = tree.find(vg + "/lin").orElseThrow().segments();
      for (int i = 0; i < 2; i++) {
        BlockDevice source = i == 0 ? d0 : d1;
        String layoutId = "layout:" + i;
        BlockDevice layout = BlockMap.open(repo, s.volumes().stream().filter(v -> v.id().equals(layoutId)).findFirst().orElseThrow());
        int index = i;
        for (long off = 0; off < source.size(); off += 1 << 20) {
          long at = off;
          boolean imaged = lin.stream().anyMatch(g -> g.disk() == index && at >= g.offset() && at < g.offset() + g.length());
          if (!imaged) {
            assertThat(layout.read(off, 1 << 20)).as("disk %d at %d", i, off).isEqualTo(source.read(off, 1 << 20));
          }
        }
      }
    }
  }

  /** Runs an LVM command (without its descriptor warnings), which must succeed; its stdout. */
  static String lvm(String... command) {
    List<String> c = new ArrayList<>(List.of("env", "LVM_SUPPRESS_FD_WARNINGS=1"));
    c.addAll(List.of(command));
    dev.pluck.testdata.Tools.Result r = dev.pluck.testdata.Tools.run(java.time.Duration.ofMinutes(2), c);
    assertThat(r.exitCode()).as("%s: %s", String.join(" ", command), r.stderr()).isZero();
    return r.stdout();
  }

  /** An LV of one segment of {@code extents} extents, as vgcfgbackup writes it. */
  private static String lv(String name, boolean visible, String segment, int extents) {
    return "\n" + name + " {\nid = \"" + (name + "-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa").substring(0, 38).replace('_', 'x')
        + "\"\nstatus = [\"READ\", \"WRITE\"" + (visible ? ", \"VISIBLE\"" : "") + "]\nflags = []\nsegment_count = 1\n"
        + "segment1 {\nstart_extent = 0\nextent_count = " + extents + "\n" + segment + "\n}\n}\n";
  }

  private static String striped(String name, String pv, int firstExtent, int extents) {
    return lv(name, false, "type = \"striped\"\nstripe_count = 1\nstripes = [\"" + pv + "\", " + firstExtent + "]", extents);
  }

  /**
   * A backup by guest paths whose fstab mounts an LV pluck cannot read (gpt-mixed's home LV turned
   * into an "error" segment by vgcfgrestore) names it, with its mountpoint, in volumesLeftOut.
   */
  @Test
  void aMountedLvPluckCannotReadIsNamedInAGuestPathBackup(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    Path image = dir.resolve("disk.img");
    dev.pluck.testdata.Tools.runOk("cp", "--sparse=always", disk.image().toString(), image.toString());
    OracleVolume pv = disk.oracle().volume("p5");
    String loop = dev.pluck.testdata.Tools.runOk("losetup", "--find", "--show", "--offset", Long.toString(pv.offset()),
        "--sizelimit", Long.toString(pv.size()), image.toString()).stdout().trim();
    try {
      Path cfg = dir.resolve("vg0.cfg");
      lvm("vgcfgbackup", "--driverloaded", "n", "-f", cfg.toString(), "vg0");
      String text = java.nio.file.Files.readString(cfg);
      int home = text.indexOf("\thome {");
      int type = text.indexOf("type = \"striped\"", home);
      int end = text.indexOf("]", text.indexOf("stripes", type)) + 1;
      assertThat(home).isPositive();
      java.nio.file.Files.writeString(cfg, text.substring(0, type) + "type = \"error\"" + text.substring(end));
      lvm("vgcfgrestore", "--driverloaded", "n", "--force", "-f", cfg.toString(), "vg0");
      lvm("vgchange", "--driverloaded", "n", "-an", "vg0");
    } finally {
      dev.pluck.testdata.Tools.run(java.time.Duration.ofMinutes(1), List.of("losetup", "-d", loop));
    }
    try (Repository repo = repo(dir.resolve("repo")); BlockDevice img = FileBlockDevice.open(image)) {
      Backup.Options options = new Backup.Options(Backup.Mode.FILES, List.of(), List.of("/home/**"), List.of(), false, List.of(), false,
          List.of(), "auto", new Snapshot.Source("vm", List.of("0"), List.of()), "backup", "test", null, null);
      Backup.Result r = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), options);
      assertThat(r.volumesLeftOut()).contains("vg0/home (unsupported segment type error, mounted at /home)");
      assertThat(r.files().get("new")).as("nothing else is under /home").isZero();
    }
  }
}

