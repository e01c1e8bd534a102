package dev.pluck.engine.repo;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.Closeable;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A pluck repository: chunks stored once, compressed, in packs; snapshots committed last.
 *
 * <p>Writing: {@link #put} stores a chunk unless the index has it, appending it to the open pack;
 * {@link #flush} closes the pack (fsynced, renamed into place) and writes an index file for the
 * packs written since; {@link #commit} flushes, then writes the manifest. A crash at any point
 * leaves whole packs, whole index files and whole manifests, never a manifest whose chunks are
 * not durable; packs that reached disk without their index are found on open (their trailers
 * are read) and reused.
 */
public final class Repository implements Closeable {
  static final ObjectMapper JSON = new ObjectMapper()
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);
  static final String CONFIG = "config";
  /** Decompressed chunks kept for reads. */
  static final long CACHE_BYTES = 64L << 20;

  private final Storage storage;
  private final Config config;
  private final Codec.Choice compression;
  private final ChunkIndex index = new ChunkIndex();
  /** Packs closed since the last index file, and packs found without one. */
  private final Map<String, List<Pack.Entry>> unindexed = new LinkedHashMap<>();
  private final LinkedHashMap<ChunkId, byte[]> cache = new LinkedHashMap<>(64, 0.75f, true);
  private long cachedBytes;
  private PackWriter open;
  private final WriteCounts written = new WriteCounts();
  private java.util.concurrent.ExecutorService workers;
  private java.util.concurrent.ExecutorService closer;
  private final List<Map.Entry<PackWriter, java.util.concurrent.Future<String>>> closing = new ArrayList<>();
  /** The failure of a background pack write: this instance stores nothing more. */
  private IOException broken;
  /** Packs not yet in place, by the name the index gives them meanwhile. */
  private final Map<String, PackWriter> pending = new java.util.HashMap<>();
  private int packsStarted;

  /** What {@link #put} did: chunks and bytes seen, and of those newly stored. */
  public static final class WriteCounts {
    public long chunks;
    public long bytes;
    public long newChunks;
    public long newBytes;
    public long storedBytes;
  }

  private Repository(Storage storage, Config config) {
    this.storage = storage;
    this.config = config;
    this.compression = Codec.Choice.parse(config.compression());
  }

  public static Repository init(Storage storage, Config config) throws IOException {
    config.checked();
    if (storage.exists(CONFIG)) {
      throw new IOException("a repository already exists at " + storage);
    }
    storage.put(CONFIG, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(config));
    return open(storage);
  }

  public static Repository open(Storage storage) throws IOException {
    if (!storage.exists(CONFIG)) {
      throw new IOException("no pluck repository at " + storage + " (no config); create one with `pluck init`");
    }
    Config config;
    try {
      config = JSON.readValue(storage.get(CONFIG), Config.class).checked();
    } catch (IllegalArgumentException e) {
      throw new IOException("repository config: " + e.getMessage(), e);
    }
    Repository repo = new Repository(storage, config);
    repo.loadIndex();
    return repo;
  }

  public Config config() {
    return config;
  }

  public Storage storage() {
    return storage;
  }

  public WriteCounts written() {
    return written;
  }

  /** Loads every index file, then reads the trailers of packs no index file lists. */
  private void loadIndex() throws IOException {
    for (String name : storage.list("index/")) {
      for (Map.Entry<String, List<Pack.Entry>> p : IndexFile.decode(storage.get(name), name).entrySet()) {
        for (Pack.Entry e : p.getValue()) {
          index.add(p.getKey(), e);
        }
      }
    }
    for (String pack : storage.list("data/")) {
      if (!index.hasPack(pack)) {
        List<Pack.Entry> entries;
        try {
          entries = Pack.readTrailer(storage, pack);
        } catch (IOException damaged) {
          continue;  // `check` reports it; its chunks are simply not reused
        }
        for (Pack.Entry e : entries) {
          index.add(pack, e);
        }
        unindexed.put(pack, entries);
      }
    }
  }

  /** Packs no index file lists yet (written by an interrupted run, or since the last flush). */
  public List<String> unindexedPacks() {
    return List.copyOf(unindexed.keySet());
  }

  public int chunkCount() {
    return index.size();
  }

  List<String> packs() {
    return index.packs();
  }

  ChunkIndex.Location locate(ChunkId id) throws IOException {
    return index.get(id);
  }

  public boolean has(ChunkId id) {
    return index.contains(id);
  }

  /**
   * A chunk hashed and, unless the repository has it, compressed: ready for {@link #append}, which
   * takes its stored bytes once (they are in a buffer the repository then reuses).
   */
  public static final class Prepared {
    private final ChunkId id;
    private final Codec codec;
    private final int storedLength;
    private final int rawLength;
    /** The stored bytes in {@code [0, storedLength)}; null when the repository had the chunk, or once appended. */
    private byte[] buffer;

    Prepared(ChunkId id, Codec codec, byte[] buffer, int storedLength, int rawLength) {
      this.id = id;
      this.codec = codec;
      this.buffer = buffer;
      this.storedLength = storedLength;
      this.rawLength = rawLength;
    }

    public ChunkId id() {
      return id;
    }

    /** How the bytes are stored; null when the repository had the chunk. */
    public Codec codec() {
      return codec;
    }

    public int rawLength() {
      return rawLength;
    }

    /** A copy of the bytes as stored, until appended; null when the repository had the chunk. */
    public synchronized byte[] stored() {
      return buffer == null ? null : java.util.Arrays.copyOf(buffer, storedLength);
    }

    /** The buffer holding the stored bytes, handed over once (null when there is none, or no more). */
    private synchronized byte[] take() {
      byte[] b = buffer;
      buffer = null;
      return b;
    }
  }

  /**
   * Buffers for chunks, as read ({@link Content}: given back once prepared; {@link #prepare} keeps
   * nothing of its input) and as stored ({@link #prepare}: given back by {@link #append} once the
   * pack writer has the bytes). A fresh array per chunk read, per chunk compressed and again of
   * the exact compressed size was most of what a backup allocated, every byte zeroed and
   * page-faulted in (docs/PERFORMANCE.md). Only buffers that fit a whole chunk compressed are
   * kept; chunks far smaller get arrays of their size.
   */
  private final java.util.concurrent.ConcurrentLinkedDeque<byte[]> spareBuffers = new java.util.concurrent.ConcurrentLinkedDeque<>();
  private static final int MAX_SPARE_BUFFERS = 16;

  private int spareCapacity() {
    return Codec.bound(config.chunkSize());
  }

  /** A buffer of at least {@code capacity} bytes, a spare one when there is one. */
  byte[] buffer(int capacity) {
    if (capacity <= spareCapacity()) {
      byte[] b = spareBuffers.poll();
      if (b != null) {
        return b;
      }
      if (capacity * 2L > spareCapacity()) {  // a chunk of about the repository's size: worth keeping
        return new byte[spareCapacity()];
      }
    }
    return new byte[capacity];
  }

  /** Takes back a buffer from {@link #buffer} that nothing refers to any more. */
  void giveBack(byte[] b) {
    if (b.length == spareCapacity() && spareBuffers.size() < MAX_SPARE_BUFFERS) {
      spareBuffers.push(b);
    }
  }

  /**
   * Hashes a chunk and compresses it unless it is stored already. Touches no repository state
   * (bar its spare buffers), so several threads prepare while one appends; keeps nothing of
   * {@code data}.
   */
  public Prepared prepare(byte[] data, int from, int length) throws IOException {
    if (length > Config.MAX_CHUNK) {
      throw new IllegalArgumentException("chunk of " + length + " bytes exceeds " + Config.MAX_CHUNK);
    }
    ChunkId id = ChunkId.of(data, from, length);
    if (index.contains(id)) {
      return new Prepared(id, null, null, 0, length);
    }
    Codec codec = compression.codec();
    boolean raw = codec == Codec.NONE || Codec.looksIncompressible(data, from, length);
    byte[] out;
    if (!raw && codec == Codec.ZSTD) {
      out = buffer(Codec.bound(length));
      int n = Codec.zstdFrame(compression.level(), data, from, length, out);
      if (n < length) {
        return new Prepared(id, codec, out, n, length);
      }
    } else if (!raw) {
      byte[] stored = codec.compress(data, from, length, compression.level());
      if (stored.length < length) {
        return new Prepared(id, codec, stored, stored.length, length);
      }
      out = buffer(length);
    } else {
      out = buffer(length);
    }
    // compression would not help, or did not: store it raw
    System.arraycopy(data, from, out, 0, length);
    return new Prepared(id, Codec.NONE, out, length, length);
  }

  /** Stores a prepared chunk unless the repository has it by now; returns its id. */
  public synchronized ChunkId append(Prepared p) throws IOException {
    written.chunks++;
    written.bytes += p.rawLength();
    byte[] stored = p.take();
    if (index.contains(p.id())) {
      if (stored != null) {
        giveBack(stored);
      }
      return p.id();
    }
    if (stored == null) {
      throw new IllegalStateException("chunk " + p.id() + " was prepared as stored, or appended already");
    }
    if (open == null) {
      open = new PackWriter(storage.scratch(), "(pack being written " + (++packsStarted) + ")");
      pending.put(open.pendingName, open);
    }
    Pack.Entry e;
    try {
      e = open.add(p.id(), p.codec(), stored, p.storedLength, p.rawLength());
    } finally {
      giveBack(stored);  // the pack writer has the bytes (staged or written)
    }
    index.add(open.pendingName, e);
    written.newChunks++;
    written.newBytes += p.rawLength();
    written.storedBytes += p.storedLength;
    if (open.size() >= config.packSize()) {
      closePack();
    }
    return p.id();
  }

  /** Stores a chunk (unless stored already) and returns its id. */
  public ChunkId put(byte[] data, int from, int length) throws IOException {
    return append(prepare(data, from, length));
  }

  /** Threads that prepare chunks (hash, compress) for {@link Content#store}: one per core. */
  public java.util.concurrent.ExecutorService workers() {
    synchronized (this) {
      if (workers == null) {
        int n = Math.max(1, Runtime.getRuntime().availableProcessors());
        workers = java.util.concurrent.Executors.newFixedThreadPool(n, r -> {
          Thread t = new Thread(r, "pluck-chunk");
          t.setDaemon(true);
          return t;
        });
      }
      return workers;
    }
  }

  /**
   * Hands the full pack to a background thread that writes its trailer, fsyncs it and renames it
   * into place, so the next pack fills meanwhile; {@link #flush} waits for it.
   */
  private void closePack() {
    PackWriter w = open;
    open = null;
    if (closer == null) {
      closer = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "pluck-pack-close");
        t.setDaemon(true);
        return t;
      });
    }
    closing.add(java.util.Map.entry(w, closer.submit(() -> w.finish(storage))));
  }

  /** Waits for packs being closed, and gives their chunks their final pack name. */
  private void awaitClosing() throws IOException {
    if (broken != null) {
      throw new IOException("an earlier pack could not be written (" + broken.getMessage() + "): nothing more is stored", broken);
    }
    for (var c : closing) {
      String name;
      try {
        name = c.getValue().get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted while closing a pack");
      } catch (java.util.concurrent.ExecutionException e) {
        broken = e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        closing.clear();  // reported once; later calls say the repository is broken
        throw broken;
      }
      PackWriter w = c.getKey();
      for (Pack.Entry e : w.entries()) {
        index.move(e.id(), name);
      }
      pending.remove(w.pendingName);
      w.closeChannel();
      unindexed.put(name, w.entries());
    }
    closing.clear();
  }

  /** Makes everything put so far durable: the open pack closed, an index file for the new packs. */
  public synchronized void flush() throws IOException {
    if (open != null && !open.entries().isEmpty()) {
      closePack();
    }
    awaitClosing();
    if (!unindexed.isEmpty()) {
      byte[] file = IndexFile.encode(unindexed);
      storage.put("index/" + sha256(file), file);
      unindexed.clear();
    }
  }

  /** A chunk's bytes, decompressed and checked against its id. */
  public byte[] get(ChunkId id) throws IOException {
    synchronized (cache) {
      byte[] hit = cache.get(id);
      if (hit != null) {
        return hit;
      }
    }
    ChunkIndex.Location at = index.get(id);
    if (at == null) {
      throw new IOException("chunk " + id + " is not in the repository");
    }
    PackWriter writing;
    synchronized (this) {
      writing = pending.get(at.pack());
    }
    byte[] stored = writing != null ? writing.read(at.offset(), at.storedLength()) : storage.get(at.pack(), at.offset(), at.storedLength());
    byte[] data;
    try {
      data = at.codec().decompress(stored, at.rawLength());
    } catch (IOException e) {
      throw new IOException("chunk " + id + " in pack " + at.pack() + " at " + at.offset() + ": " + e.getMessage(), e);
    }
    if (!ChunkId.of(data, 0, data.length).equals(id)) {
      throw new IOException("chunk " + id + " in pack " + at.pack() + " at " + at.offset() + " does not hash to its id (damaged)");
    }
    synchronized (cache) {
      cache.put(id, data);
      cachedBytes += data.length;
      var it = cache.values().iterator();
      while (cachedBytes > CACHE_BYTES && it.hasNext()) {
        cachedBytes -= it.next().length;
        it.remove();
      }
    }
    return data;
  }

  // ---- snapshots

  /** Flushes, then writes the manifest: the snapshot exists from this moment, whole. */
  public String commit(Snapshot snapshot) throws IOException {
    flush();
    byte[] manifest = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(snapshot.withId(null));
    String id = sha256(manifest);
    storage.put("snapshots/" + id, manifest);
    return id;
  }

  public List<Snapshot> snapshots() throws IOException {
    List<Snapshot> out = new ArrayList<>();
    for (String name : storage.list("snapshots/")) {
      out.add(read(name));
    }
    out.sort(java.util.Comparator.comparing(Snapshot::time));
    return out;
  }

  private Snapshot read(String name) throws IOException {
    byte[] b = storage.get(name);
    String id = name.substring(name.lastIndexOf('/') + 1);
    if (!sha256(b).equals(id)) {
      throw new IOException("snapshot " + id + " does not hash to its name (damaged)");
    }
    return JSON.readValue(b, Snapshot.class).withId(id);
  }

  /** A snapshot by id prefix, "latest", or "latest:TAG". */
  public Snapshot snapshot(String ref) throws IOException {
    List<Snapshot> all = snapshots();
    if (ref.equals("latest") || ref.startsWith("latest:")) {
      String tag = ref.startsWith("latest:") ? ref.substring(7) : null;
      for (int i = all.size() - 1; i >= 0; i--) {
        if (tag == null || all.get(i).tags().contains(tag)) {
          return all.get(i);
        }
      }
      throw new IOException("no snapshot" + (tag == null ? "" : " tagged " + tag));
    }
    List<Snapshot> match = all.stream().filter(s -> s.id().startsWith(ref)).toList();
    if (match.size() != 1) {
      throw new IOException(match.isEmpty() ? "no snapshot " + ref : "snapshot " + ref + " is ambiguous (" + match.size() + " match)");
    }
    return match.get(0);
  }

  /**
   * The newest snapshot of a group ({@link Snapshot#group()}: one VM's drives and chain), or
   * null: the parent of the next backup of that group.
   */
  public Snapshot latest(String group) throws IOException {
    Snapshot best = null;
    for (Snapshot s : snapshots()) {
      if (s.group().equals(group) && s.complete()) {
        best = s;  // snapshots() is oldest first
      }
    }
    return best;
  }

  public void forget(String id) throws IOException {
    storage.delete("snapshots/" + id);
  }

  static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public synchronized void close() throws IOException {
    try {
      if (broken == null) {
        flush();
      }
    } finally {
      if (workers != null) {
        workers.shutdown();
      }
      if (closer != null) {
        closer.shutdown();
      }
    }
  }
}
