package dev.pluck.engine.repo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RepositoryTest {
  static final int CHUNK = 64 << 10;

  static Repository create(Path dir, String compression) throws IOException {
    Config c = Config.defaults(compression);
    return Repository.init(new LocalStorage(dir), new Config(c.format(), c.id(), c.created(), CHUNK, compression, 1 << 20, null));
  }

  static byte[] bytes(Random r, int n, boolean compressible) {
    byte[] b = new byte[n];
    if (compressible) {
      for (int i = 0; i < n; i++) {
        b[i] = (byte) ("pluck backs up files ".charAt(i % 21) + (i / 4096 % 3));
      }
    } else {
      r.nextBytes(b);
    }
    return b;
  }

  /** Stores {@code data} as a file's content and reads it back through the catalog. */
  static List<String> store(Repository repo, byte[] data) throws IOException {
    return Content.store(repo, dev.pluck.fs.ReadOnlyChannel.of(data));
  }

  static byte[] readBack(Repository repo, List<String> chunks, long size) throws IOException {
    byte[] out = new byte[(int) size];
    try (SeekableByteChannel ch = Content.open(repo, chunks, size)) {
      ByteBuffer b = ByteBuffer.wrap(out);
      while (b.hasRemaining() && ch.read(b) > 0) {
        // all
      }
    }
    return out;
  }

  /** In the background, the same chunks as in the foreground (zero chunks as holes), every permit given back. */
  @org.junit.jupiter.api.Test
  void storingInTheBackgroundGivesTheSameChunks(@TempDir Path dir) throws Exception {
    try (Repository repo = create(dir, "zstd:3")) {
      Random r = new Random(5);
      byte[] data = new byte[5 * CHUNK + 123];
      System.arraycopy(bytes(r, CHUNK, true), 0, data, 0, CHUNK);
      System.arraycopy(bytes(r, CHUNK, false), 0, data, 3 * CHUNK, CHUNK);  // chunks 1 and 2 stay zeros
      System.arraycopy(bytes(r, CHUNK + 123, false), 0, data, 4 * CHUNK, CHUNK + 123);
      java.util.concurrent.Semaphore permits = new java.util.concurrent.Semaphore(2);
      List<String> background = Content.await(Content.storeAsync(repo, dev.pluck.fs.ReadOnlyChannel.of(data), permits));
      assertThat(background).isEqualTo(store(repo, data));
      assertThat(background).hasSize(6);
      assertThat(background.get(1)).isNull();
      assertThat(background.get(2)).isNull();
      assertThat(readBack(repo, background, data.length)).isEqualTo(data);
      assertThat(permits.availablePermits()).isEqualTo(2);
    }
  }

  /**
   * Stored bytes live in buffers the repository reuses once a chunk is appended: chunks prepared
   * together (on workers, appended later in order) each keep their own bytes until appended, raw
   * or compressed, and a chunk appended twice is stored once.
   */
  @ParameterizedTest
  @ValueSource(strings = {"zstd:3", "none", "lz4"})
  void preparedChunksKeepTheirBytesUntilAppended(String compression, @TempDir Path dir) throws Exception {
    try (Repository repo = create(dir, compression)) {
      Random r = new Random(11);
      for (int round = 0; round < 3; round++) {  // later rounds prepare into buffers earlier ones gave back
        List<byte[]> chunks = new java.util.ArrayList<>();
        List<java.util.concurrent.Future<Repository.Prepared>> prepared = new java.util.ArrayList<>();
        for (int i = 0; i < 20; i++) {
          byte[] c = bytes(r, i % 3 == 0 ? CHUNK : CHUNK - 1 - i * 100, i % 2 == 0);
          c[0] = (byte) round;
          c[c.length - 1] = (byte) i;
          chunks.add(c);
          prepared.add(repo.workers().submit(() -> repo.prepare(c, 0, c.length)));
        }
        List<Repository.Prepared> all = new java.util.ArrayList<>();
        for (var f : prepared) {
          all.add(Content.await(f));
        }
        for (int i = 0; i < chunks.size(); i++) {
          ChunkId id = repo.append(all.get(i));
          assertThat(id).isEqualTo(ChunkId.of(chunks.get(i), 0, chunks.get(i).length));
          assertThat(repo.append(all.get(i))).as("appended again").isEqualTo(id);
          assertThat(repo.get(id)).as("round %d chunk %d", round, i).isEqualTo(chunks.get(i));
        }
      }
    }
  }

  /**
   * Chunk buffers are handed from one chunk to the next: files stored in the background one after
   * another, their chunks hashed and compressed while the next are read, each keep their own bytes.
   */
  @org.junit.jupiter.api.Test
  void filesStoredOneAfterAnotherKeepTheirOwnBytes(@TempDir Path dir) throws Exception {
    try (Repository repo = create(dir, "zstd:3")) {
      Random r = new Random(7);
      java.util.concurrent.Semaphore permits = new java.util.concurrent.Semaphore(4);
      List<byte[]> files = new java.util.ArrayList<>();
      List<java.util.concurrent.CompletableFuture<List<String>>> stored = new java.util.ArrayList<>();
      for (int f = 0; f < 12; f++) {
        byte[] data = bytes(r, 3 * CHUNK + f * 1000, f % 2 == 0);
        files.add(data);
        stored.add(Content.storeAsync(repo, dev.pluck.fs.ReadOnlyChannel.of(data), permits));
      }
      for (int f = 0; f < files.size(); f++) {
        List<String> chunks = Content.await(stored.get(f));
        assertThat(readBack(repo, chunks, files.get(f).length)).as("file %d", f).isEqualTo(files.get(f));
        assertThat(chunks).as("file %d", f).isEqualTo(store(repo, files.get(f)));
      }
      assertThat(permits.availablePermits()).isEqualTo(4);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"zstd:3", "zstd:19", "lz4", "xz:6", "none"})
  void filesOfEverySizeRoundTripThroughEveryCodec(String compression, @TempDir Path dir) throws Exception {
    Random r = new Random(1);
    int[] sizes = {0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17, 40 * CHUNK};
    try (Repository repo = create(dir, compression)) {
      Catalog.Writer catalog = new Catalog.Writer(repo);
      Map<String, byte[]> files = new java.util.LinkedHashMap<>();
      for (int size : sizes) {
        for (boolean compressible : new boolean[] {false, true}) {
          byte[] data = bytes(r, size, compressible);
          String path = "/f-" + size + (compressible ? "-text" : "-random");
          files.put(path, data);
          catalog.add(entry(path, data.length, store(repo, data)));
        }
      }
      byte[] sparse = new byte[10 * CHUNK];
      System.arraycopy(bytes(r, 100, false), 0, sparse, 5 * CHUNK + 3, 100);
      files.put("/sparse", sparse);
      List<String> sparseChunks = store(repo, sparse);
      assertThat(sparseChunks.stream().filter(java.util.Objects::isNull).count()).as("holes").isEqualTo(9);
      catalog.add(entry("/sparse", sparse.length, sparseChunks));
      String id = repo.commit(snapshot(catalog.finish(), catalog.entries(), "vm1"));
      assertThat(repo.snapshots()).extracting(Snapshot::id).containsExactly(id);
      if (!compression.equals("none")) {
        assertThat(repo.written().storedBytes).isLessThan(repo.written().newBytes);
      }
    }
    try (Repository repo = Repository.open(new LocalStorage(dir))) {
      Snapshot s = repo.snapshot("latest");
      List<CatalogEntry> entries = new ArrayList<>();
      Catalog.read(repo, s.volumes().get(0).catalog(), entries::add);
      assertThat(entries).hasSize(sizes.length * 2 + 1);
      Random again = new Random(1);
      for (CatalogEntry e : entries) {
        byte[] data = readBack(repo, e.chunks(), e.size());
        assertThat(data.length).isEqualTo(e.size());
        assertThat(Repository.sha256(data)).as(e.path()).isEqualTo(Repository.sha256(expected(again, e.path(), sizes)));
      }
      assertThat(Check.run(repo, true).problems()).isEmpty();
    }
  }

  private static byte[] expected(Random r, String path, int[] sizes) {
    if (path.equals("/sparse")) {
      byte[] sparse = new byte[10 * CHUNK];
      System.arraycopy(bytes(r, 100, false), 0, sparse, 5 * CHUNK + 3, 100);
      return sparse;
    }
    return bytes(r, Integer.parseInt(path.split("-")[1]), path.endsWith("text"));
  }

  static CatalogEntry entry(String path, long size, List<String> chunks) {
    return new CatalogEntry(path, "file", size, 0644, 0L, 0L, 1, 0, 0, 0, 0, null, null, null, null, 0, null, chunks, null, null);
  }

  static Snapshot snapshot(List<String> catalog, long entries, String vm) {
    return new Snapshot(null, Config.FORMAT, java.time.Instant.now().toString(), "test", new Snapshot.Source(vm, List.of("vda"), List.of()),
        List.of(), true, List.of(), null, "backup", null, Map.of(), CHUNK,
        List.of(new Snapshot.Volume("p1", "ext4", "files", catalog, entries, 0, 0, 0, null)));
  }

  /** An incremental file: chunks no change touches are the parent's; a partly changed one reads only the changed bytes. */
  @Test
  void incrementalFileReadsOnlyChangedBytes(@TempDir Path dir) throws Exception {
    Random r = new Random(8);
    byte[] before = bytes(r, 10 * CHUNK + 5, false);
    byte[] after = before.clone();
    after[2 * CHUNK + 7] ^= 1;
    after[7 * CHUNK] ^= 1;
    byte[] grown = java.util.Arrays.copyOf(after, after.length + 3 * CHUNK);  // and it grew
    for (int i = after.length; i < grown.length; i++) {
      grown[i] = (byte) i;
    }
    try (Repository repo = create(dir, "zstd:3")) {
      List<String> parent = store(repo, before);
      long[] read = {0};
      SeekableByteChannel whole = dev.pluck.fs.ReadOnlyChannel.of(grown);
      dev.pluck.fs.ReadOnlyChannel source = new dev.pluck.fs.ReadOnlyChannel() {
        @Override
        public int read(ByteBuffer dst) throws IOException {
          int n = whole.position(position).read(dst);
          position += Math.max(0, n);
          read[0] += Math.max(0, n);
          return n;
        }

        @Override
        public long size() {
          return grown.length;
        }
      };
      List<String> chunks = Content.update(repo, source, grown.length, parent, before.length,
          List.of(new long[] {2L * CHUNK + 7, 1}, new long[] {7L * CHUNK, 1}, new long[] {before.length, grown.length - before.length}));
      assertThat(readBack(repo, chunks, grown.length)).isEqualTo(grown);
      assertThat(chunks.subList(0, 2)).isEqualTo(parent.subList(0, 2));
      assertThat(chunks.get(2)).isNotEqualTo(parent.get(2));
      // 2 changed bytes, the old short last chunk read whole (its length changed), and the new tail.
      assertThat(read[0]).isLessThanOrEqualTo(2 + (long) CHUNK + 3L * CHUNK);
    }
  }

  /** The same bytes from two "VMs" and two snapshots are stored once. */
  @Test
  void identicalContentIsStoredOnce(@TempDir Path dir) throws Exception {
    byte[] data = bytes(new Random(2), 20 * CHUNK, false);
    try (Repository repo = create(dir, "zstd:3")) {
      for (String vm : List.of("vm1", "vm2", "vm1")) {
        Catalog.Writer c = new Catalog.Writer(repo);
        c.add(entry("/big", data.length, store(repo, data)));
        repo.commit(snapshot(c.finish(), 1, vm));
      }
      assertThat(repo.written().newChunks).as("chunks stored").isLessThanOrEqualTo(20 + 3);
      assertThat(repo.written().chunks).isGreaterThanOrEqualTo(60);
      assertThat(repo.snapshots()).hasSize(3);
    }
  }

  /** A flipped byte, a truncated pack and a lost index file: each found, with the snapshots named; the index rebuilt. */
  @Test
  void checkFindsDamageAndNamesTheSnapshots(@TempDir Path dir) throws Exception {
    byte[] data = bytes(new Random(3), 8 * CHUNK, false);
    String id;
    try (Repository repo = create(dir, "zstd:3")) {
      Catalog.Writer c = new Catalog.Writer(repo);
      c.add(entry("/data.bin", data.length, store(repo, data)));
      id = repo.commit(snapshot(c.finish(), 1, "vm1"));
    }
    Repository repo = Repository.open(new LocalStorage(dir));
    assertThat(Check.run(repo, true).problems()).isEmpty();
    List<String> packs = new LocalStorage(dir).list("data/");
    assertThat(packs).isNotEmpty();
    Path pack = dir.resolve(packs.get(0));
    byte[] original = Files.readAllBytes(pack);

    // 1. One flipped byte in a chunk: structure holds, --read-data finds it.
    byte[] flipped = original.clone();
    flipped[Pack.MAGIC.length + 10] ^= 0x40;
    Files.write(pack, flipped);
    assertThat(Check.run(Repository.open(new LocalStorage(dir)), false).problems()).isEmpty();
    Check.Report r = Check.run(Repository.open(new LocalStorage(dir)), true);
    assertThat(r.problems()).anyMatch(p -> p.what().contains("damaged") && p.affects().stream().anyMatch(a -> a.contains(id.substring(0, 12))
        && a.contains("/data.bin")));

    // 2. A truncated pack.
    Files.write(pack, java.util.Arrays.copyOf(original, original.length - 100));
    r = Check.run(Repository.open(new LocalStorage(dir)), false);
    assertThat(r.problems()).anyMatch(p -> p.what().contains("truncated or damaged"));
    assertThat(r.problems()).anyMatch(p -> p.affects().stream().anyMatch(a -> a.contains(id.substring(0, 12))));
    Files.write(pack, original);

    // 3. A deleted index file: found, then rebuilt from the packs.
    for (String index : new LocalStorage(dir).list("index/")) {
      Files.delete(dir.resolve(index));
    }
    r = Check.run(Repository.open(new LocalStorage(dir)), false);
    assertThat(r.problems()).anyMatch(p -> p.what().contains("which no index file lists")
        && p.affects().stream().anyMatch(a -> a.contains(id.substring(0, 12))));
    Check.rebuildIndex(new LocalStorage(dir));
    assertThat(Check.run(Repository.open(new LocalStorage(dir)), true).problems()).isEmpty();
  }

  /** Two writers at once (separate repository handles, as two processes have): both snapshots whole. */
  @Test
  void concurrentWritersBothCommit(@TempDir Path dir) throws Exception {
    create(dir, "zstd:3").close();
    List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    List<Thread> threads = new ArrayList<>();
    for (int w = 0; w < 2; w++) {
      int seed = w;
      Thread t = new Thread(() -> {
        try (Repository repo = Repository.open(new LocalStorage(dir))) {
          Catalog.Writer c = new Catalog.Writer(repo);
          Random r = new Random(seed);
          for (int f = 0; f < 20; f++) {
            byte[] data = bytes(r, r.nextInt(5 * CHUNK), f % 2 == 0);
            c.add(entry("/w" + seed + "/f" + f, data.length, store(repo, data)));
          }
          repo.commit(snapshot(c.finish(), 20, "vm" + seed));
        } catch (Throwable e) {
          failures.add(e);
        }
      });
      threads.add(t);
      t.start();
    }
    for (Thread t : threads) {
      t.join();
    }
    assertThat(failures).isEmpty();
    Repository repo = Repository.open(new LocalStorage(dir));
    assertThat(repo.snapshots()).hasSize(2);
    assertThat(Check.run(repo, true).problems()).isEmpty();
  }

  /** keep-last 2 per VM: each VM keeps its own two newest, whatever the other has. */
  @Test
  void forgetPolicyWorksPerGroup() {
    List<Snapshot> all = new ArrayList<>();
    for (int day = 1; day <= 5; day++) {
      for (String vm : List.of("vm1", "vm2")) {
        if (vm.equals("vm2") && day > 2) {
          continue;  // vm2 has only two snapshots: keeping two of each must keep both
        }
        Snapshot s = snapshot(List.of(), 0, vm);
        all.add(new Snapshot(vm + "-" + day, s.format(), "2026-11-0" + day + "T10:00:00Z", s.hostname(), s.source(), s.tags(), true,
            List.of(), null, s.chain(), null, Map.of(), CHUNK, s.volumes()));
      }
    }
    List<Snapshot> forget = Forget.plan(all, new Forget.Policy(2, 0, 0, 0), java.util.Set.of("vm", "drive", "chain"));
    assertThat(forget).extracting(Snapshot::id).containsExactlyInAnyOrder("vm1-1", "vm1-2", "vm1-3");
    List<Snapshot> daily = Forget.plan(all, new Forget.Policy(0, 3, 0, 0), java.util.Set.of("vm"));
    assertThat(daily).extracting(Snapshot::id).containsExactlyInAnyOrder("vm1-1", "vm1-2");
  }

  /** Forget one snapshot, prune: the rest restore byte for byte, the repository shrinks, check passes. */
  @Test
  void pruneAfterForgetKeepsTheRestWhole(@TempDir Path dir) throws Exception {
    Random r = new Random(5);
    List<byte[]> contents = new ArrayList<>();
    List<String> ids = new ArrayList<>();
    try (Repository repo = create(dir, "zstd:3")) {
      byte[] shared = bytes(r, 6 * CHUNK, false);
      for (int s = 0; s < 3; s++) {
        byte[] own = bytes(r, 30 * CHUNK, false);
        contents.add(own);
        Catalog.Writer c = new Catalog.Writer(repo);
        c.add(entry("/own", own.length, store(repo, own)));
        c.add(entry("/shared", shared.length, store(repo, shared)));
        ids.add(repo.commit(snapshot(c.finish(), 2, "vm1")));
      }
    }
    Repository repo = Repository.open(new LocalStorage(dir));
    Stats before = Stats.of(repo);
    assertThat(before.dedupeRatio()).isGreaterThan(1.1);
    repo.forget(ids.get(0));
    Prune.Result result;
    try (Locks.Lock lock = Locks.acquire(repo.storage(), true, "prune")) {
      result = Prune.run(repo);
    }
    assertThat(result.bytesAfter()).as("stored bytes").isLessThan(result.bytesBefore() * 3 / 4);
    assertThat(result.chunksRemoved()).isGreaterThanOrEqualTo(30);
    repo = Repository.open(new LocalStorage(dir));
    assertThat(Check.run(repo, true).problems()).isEmpty();
    for (int s = 1; s < 3; s++) {
      Snapshot snap = repo.snapshot(ids.get(s));
      List<CatalogEntry> entries = new ArrayList<>();
      Catalog.read(repo, snap.volumes().get(0).catalog(), entries::add);
      assertThat(readBack(repo, entries.get(0).chunks(), entries.get(0).size())).isEqualTo(contents.get(s));
    }
    assertThat(Stats.of(repo).snapshots()).isEqualTo(2);
  }

  /** Shared locks coexist, an exclusive one waits for none; a dead process's lock is stale. */
  @Test
  void locks(@TempDir Path dir) throws Exception {
    LocalStorage storage = new LocalStorage(dir);
    create(dir, "zstd:3").close();
    try (Locks.Lock a = Locks.acquire(storage, false, "backup"); Locks.Lock b = Locks.acquire(storage, false, "restore")) {
      assertThatThrownBy(() -> Locks.acquire(storage, true, "prune")).hasMessageMatching(".*locked by (backup|restore).*shared.*");
    }
    try (Locks.Lock p = Locks.acquire(storage, true, "prune")) {
      assertThatThrownBy(() -> Locks.acquire(storage, false, "backup")).hasMessageContaining("locked by prune").hasMessageContaining("exclusive");
    }
    Process dead = new ProcessBuilder("true").start();
    dead.waitFor();
    storage.put("locks/dead", Repository.JSON.writeValueAsBytes(new Locks.Info(java.net.InetAddress.getLocalHost().getHostName(),
        dead.pid(), true, java.time.Instant.now().toString(), "prune")));
    try (Locks.Lock l = Locks.acquire(storage, false, "backup")) {
      assertThat(storage.exists("locks/dead")).as("stale lock removed").isFalse();
    }
    assertThat(storage.list("locks/")).isEmpty();
  }

  @Test
  void refusesWhatItCannotRead(@TempDir Path dir) throws Exception {
    assertThatThrownBy(() -> Repository.open(new LocalStorage(dir))).hasMessageContaining("no pluck repository at " + dir);
    create(dir, "zstd:3").close();
    assertThatThrownBy(() -> create(dir, "zstd:3")).hasMessageContaining("already exists");
    Files.writeString(dir.resolve("config"), "{\"format\": 2, \"chunkSize\": 65536, \"compression\": \"zstd\", \"packSize\": 1048576}");
    assertThatThrownBy(() -> Repository.open(new LocalStorage(dir))).hasMessageContaining("format 2");
  }




}
