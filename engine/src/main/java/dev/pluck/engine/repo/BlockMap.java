package dev.pluck.engine.repo;

import dev.pluck.fs.VolumeRange;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.BlockSizes;
import dev.pluck.nbd.Extent;
import dev.pluck.nbd.ReadPlanner;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Volume images as blocks of the repository's chunk size at fixed volume offsets. Writing reads
 * only allocated bytes, and with a dirty bitmap only those written since the parent: a block
 * outside them is the parent snapshot's block (unchanged since) or a hole (free space, swap); a
 * block partly inside is the parent's block with the changed bytes read over it.
 */
public final class BlockMap {
  private BlockMap() {}

  /**
   * What {@link #write} stored and how many bytes it read ({@code zero}: read, but blocks of zeros;
   * {@code holes}: wanted, but not read, the device's block status saying they read as zeros).
   */
  public record Written(Snapshot.Volume volume, long read, long zero, long holes) {}

  /**
   * Stores a volume image, reading only what it must: {@code allocated} are the volume bytes in
   * use (sorted, merged), {@code dirty} those written since {@code parent} was taken (sorted,
   * merged; null: unknown, read everything allocated). A block nothing allocated touches is a
   * hole; with a parent and a bitmap, a block is the parent's (block or hole) with its dirty
   * allocated bytes read over it; otherwise a block is its allocated bytes read over zeros.
   */
  public static Written write(Repository repo, String id, String fs, BlockDevice device, List<VolumeRange> allocated,
      List<VolumeRange> dirty, Snapshot.Volume parent) throws IOException {
    return write(repo, id, fs, device, allocated, dirty, parent, n -> {});
  }

  /** As above; {@code skippedZeros} hears of wanted bytes left unread as zeros as the reading passes them. */
  public static Written write(Repository repo, String id, String fs, BlockDevice device, List<VolumeRange> allocated,
      List<VolumeRange> dirty, Snapshot.Volume parent, java.util.function.LongConsumer skippedZeros) throws IOException {
    int block = repo.config().chunkSize();
    long size = device.size();
    long blocks = (size + block - 1) / block;
    if (parent != null && (parent.blockSize() != block || parent.size() != size)) {
      throw new IOException("volume " + id + ": the parent's blocks (" + parent.blockSize() + " bytes, volume of " + parent.size()
          + ") do not match (" + block + ", " + size + "): back up in full");
    }
    byte[] parentMap = parent == null ? null : map(repo, parent);
    boolean incremental = parentMap != null && dirty != null;
    // What to read: every allocated byte, or with a parent and a bitmap only the dirty ones.
    List<VolumeRange> read = incremental ? VolumeRange.intersect(allocated, dirty) : allocated;
    Writer w = new Writer(repo, block, size, parentMap, incremental, allocated, skippedZeros);
    List<ReadPlanner.Range> wanted = new java.util.ArrayList<>();
    for (VolumeRange r : read) {
      wanted.add(new ReadPlanner.Range(r.offset(), r.length()));
    }
    // No gap filling: the bytes between wanted ranges are free space, which is never read. Where
    // the device tells (base:allocation), ranges that read as zeros (a sparse image's holes, zero
    // clusters, discarded blocks) are not read either.
    ReadPlanner.Options options = ReadPlanner.Options.defaults().withGap(0);
    if (device.metaContexts().contains(BlockDevice.BASE_ALLOCATION)) {
      options = options.withFilter(ReadPlanner.Filter.SKIP_ZEROS);
    }
    new ReadPlanner(device, options).read(wanted, w);
    w.upTo(blocks);
    w.drain(0);
    return new Written(new Snapshot.Volume(id, fs, "blocks", null, blocks, w.stored, size, block, w.out.finish()), w.read, w.zero,
        w.holes);
  }

  /**
   * Turns the bytes read, in offset order, into blocks: a block is complete once the reads reach
   * its end; complete blocks are hashed and compressed on the repository's workers and their ids
   * written to the map in block order, with holes and the parent's ids for the blocks between.
   */
  private static final class Writer implements ReadPlanner.Sink {
    private final Repository repo;
    private final int block;
    private final long size;
    private final byte[] parentMap;
    private final boolean incremental;
    private final List<VolumeRange> allocated;
    private final java.util.function.LongConsumer skippedZeros;
    final ChunkedStream.Writer out;
    private final java.util.ArrayDeque<Object> pending = new java.util.ArrayDeque<>();  // byte[] ids or futures, in block order
    private final int window = 2 * Math.max(1, Runtime.getRuntime().availableProcessors());
    /**
     * Block buffers back from the workers, reused: a new 1 MiB array per block made the JVM's heap
     * churn through gigabytes, touching fresh memory that, on a VM host, faults at the hypervisor.
     * At most about window + workers of them exist at once, and one per block reads are in flight for.
     */
    private final java.util.concurrent.ConcurrentLinkedQueue<byte[]> blocks = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final byte[] zeros;
    /**
     * Blocks that reads were sent straight into ({@link #target}) before their bytes arrive, in
     * block order: each is the block's buffer, already holding the parent's bytes when it has any.
     */
    private final java.util.ArrayDeque<Opened> ahead = new java.util.ArrayDeque<>();
    private long next;  // the first block not yet queued
    private long current = -1;  // the block being filled
    private byte[] data;
    private long readHere;
    /** How much of {@link #data} holds this block's bytes: the rest is zeroed only where reads leave gaps. */
    private int filled;
    private int a;
    long stored;
    long read;
    long zero;
    long holes;

    Writer(Repository repo, int block, long size, byte[] parentMap, boolean incremental, List<VolumeRange> allocated,
        java.util.function.LongConsumer skippedZeros) throws IOException {
      this.skippedZeros = skippedZeros;
      this.repo = repo;
      this.block = block;
      this.size = size;
      this.parentMap = parentMap;
      this.incremental = incremental;
      this.allocated = allocated;
      this.out = new ChunkedStream.Writer(repo);
      this.zeros = new byte[block];
    }

    /** A block's buffer, and how much of it holds the block's bytes (all of it over a parent's). */
    private record Opened(long block, byte[] data, int filled) {}

    /** Reads inside one block go straight into its buffer: the block is opened when the first is sent. */
    @Override
    public ByteBuffer target(long offset, int length) throws IOException {
      long b = offset / block;
      int into = (int) (offset - b * block);
      if (into + (long) length > length(b) || b < next && b != current) {
        return null;
      }
      byte[] buffer;
      if (b == current) {
        buffer = data;
      } else if (!ahead.isEmpty() && ahead.peekLast().block() == b) {
        buffer = ahead.peekLast().data();
      } else {
        Opened o = open(b);
        ahead.add(o);
        buffer = o.data();
      }
      return ByteBuffer.wrap(buffer, into, length);
    }

    @Override
    public void data(long offset, ByteBuffer bytes) throws IOException {
      while (bytes.hasRemaining()) {
        long b = offset / block;
        if (b != current) {
          finish();
          upTo(b);
          start(b);
        }
        int into = (int) (offset - b * block);
        int n = (int) Math.min(bytes.remaining(), length(b) - into);
        zeroUpTo(into);
        if (bytes.hasArray() && bytes.array() == data && bytes.arrayOffset() + bytes.position() == into) {
          bytes.position(bytes.position() + n);  // read into this block's buffer: already in place
        } else {
          bytes.get(data, into, n);
        }
        filled = Math.max(filled, into + n);
        readHere += n;
        offset += n;
      }
    }

    /**
     * Wanted bytes the device says read as zeros, not read: a whole block of them is a hole; part
     * of a block is zeroed (over the parent's bytes, in an incremental).
     */
    @Override
    public void zeros(long offset, long length) throws IOException {
      holes += length;
      skippedZeros.accept(length);
      long end = offset + length;
      while (offset < end) {
        long b = offset / block;
        int into = (int) (offset - b * block);
        int n = (int) Math.min(end - offset, length(b) - into);
        if (b != current && into == 0 && n == length(b)) {
          upTo(b);
          queue(new byte[ChunkId.BYTES]);
          next = b + 1;
        } else {
          if (b != current) {
            finish();
            upTo(b);
            start(b);
          }
          if (filled > into) {  // over the parent's bytes; otherwise the gap is zeroed when passed
            System.arraycopy(zeros, 0, data, into, Math.min(n, filled - into));
          }
        }
        offset += n;
      }
    }

    private int length(long b) {
      return (int) Math.min(block, size - b * block);
    }

    private byte[] parentId(long b) {
      return parentMap == null || Content.isHole(parentMap, (int) (b * ChunkId.BYTES)) ? null
          : java.util.Arrays.copyOfRange(parentMap, (int) (b * ChunkId.BYTES), (int) ((b + 1) * ChunkId.BYTES));
    }

    /** Queues the blocks before {@code b} that nothing was read for: holes, or the parent's. */
    void upTo(long b) throws IOException {
      finish();
      for (; next < b; next++) {
        long start = next * block;
        while (a < allocated.size() && allocated.get(a).end() <= start) {
          a++;
        }
        boolean used = a < allocated.size() && allocated.get(a).offset() < start + length(next);
        byte[] parentId = incremental && used ? parentId(next) : null;
        if (parentId != null) {
          stored += length(next);
        }
        queue(parentId == null ? new byte[ChunkId.BYTES] : parentId);
      }
    }

    private void start(long b) throws IOException {
      Opened o = ahead.peekFirst() != null && ahead.peekFirst().block() == b ? ahead.poll() : open(b);
      data = o.data();
      filled = o.filled();
      current = b;
      readHere = 0;
      next = b + 1;
    }

    /** A buffer for block {@code b}: the parent's bytes in an incremental, else not yet zeroed. */
    private Opened open(long b) throws IOException {
      byte[] parentId = incremental ? parentId(b) : null;
      byte[] buffer = blocks.poll();
      if (buffer == null) {
        buffer = new byte[block];
      }
      if (parentId == null) {
        // A reused buffer holds an earlier block: what the reads do not cover is zeroed as they
        // pass it (zeroUpTo), not the whole block first, which wrote every byte read twice.
        return new Opened(b, buffer, 0);
      }
      byte[] old = repo.get(ChunkId.fromBytes(parentId, 0));
      if (old.length != length(b)) {
        throw new IOException("volume block " + b + ": the parent's chunk holds " + old.length + " bytes, expected " + length(b));
      }
      System.arraycopy(old, 0, buffer, 0, old.length);
      return new Opened(b, buffer, old.length);
    }

    /** Zeroes the block's bytes from what is filled up to {@code to}: a gap the reads skipped. */
    private void zeroUpTo(int to) {
      if (filled < to) {
        // From an array of zeros: arraycopy is a stub in every JIT tier, where Arrays.fill compiled
        // by C1 (the launcher's tier for pluck's code and most of the JDK's) fills byte by byte.
        System.arraycopy(zeros, 0, data, filled, to - filled);
        filled = to;
      }
    }

    /** Hands the filled block to the workers. */
    private void finish() throws IOException {
      if (current < 0) {
        return;
      }
      int length = length(current);
      zeroUpTo(length);
      byte[] full = data;
      long got = readHere;
      read += got;
      current = -1;
      data = null;
      if (Content.zeros(full, length)) {
        zero += got;
        blocks.offer(full);
        queue(new byte[ChunkId.BYTES]);
        return;
      }
      stored += length;
      queue(repo.workers().submit(() -> {
        try {
          return repo.prepare(full, 0, length);  // keeps nothing of full: it copies what it stores
        } finally {
          blocks.offer(full);
        }
      }));
    }

    private void queue(Object idOrFuture) throws IOException {
      pending.add(idOrFuture);
      drain(window);
    }

    /** Writes ids in order until at most {@code keep} blocks wait (waiting on the oldest when needed). */
    @SuppressWarnings("unchecked")
    void drain(int keep) throws IOException {
      while (!pending.isEmpty()) {
        Object head = pending.peek();
        if (head instanceof java.util.concurrent.Future<?> f && !f.isDone() && pending.size() <= keep) {
          return;
        }
        pending.poll();
        byte[] idBytes;
        if (head instanceof byte[] b) {
          idBytes = b;
        } else {
          idBytes = new byte[ChunkId.BYTES];
          repo.append(Content.await((java.util.concurrent.Future<Repository.Prepared>) head)).write(idBytes, 0);
        }
        out.write(idBytes);
      }
    }
  }

  static byte[] map(Repository repo, Snapshot.Volume v) throws IOException {
    try (InputStream in = ChunkedStream.reader(repo, v.blockMap())) {
      byte[] map = in.readAllBytes();
      long blocks = (v.size() + v.blockSize() - 1) / v.blockSize();
      if (map.length != blocks * ChunkId.BYTES) {
        throw new IOException("volume " + v.id() + ": block map of " + map.length / ChunkId.BYTES + " blocks for " + blocks);
      }
      return map;
    }
  }

  /** A volume image's blocks: which chunk holds each (null for a hole). */
  public record Blocks(int blockSize, long size, byte[] map) {
    public long count() {
      return map.length / ChunkId.BYTES;
    }

    /** The chunk of block {@code b}, or null when it is a hole. */
    public ChunkId id(long b) {
      int at = Math.toIntExact(b * ChunkId.BYTES);
      return Content.isHole(map, at) ? null : ChunkId.fromBytes(map, at);
    }
  }

  /** The block map of a snapshot's volume image. */
  public static Blocks blocks(Repository repo, Snapshot.Volume v) throws IOException {
    return new Blocks(v.blockSize(), v.size(), map(repo, v));
  }

  /** A snapshot's volume image as a read-only device (holes read as zeros). */
  public static BlockDevice open(Repository repo, Snapshot.Volume v) throws IOException {
    byte[] map = map(repo, v);
    int block = v.blockSize();
    return new BlockDevice() {
      @Override
      public long size() {
        return v.size();
      }

      @Override
      public BlockSizes blockSizes() {
        return new BlockSizes(1, block, 32 << 20);
      }

      @Override
      public boolean isReadOnly() {
        return true;
      }

      @Override
      public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        try {
          BlockDevice.checkRequest(v.size(), offset, dst.remaining());
          while (dst.hasRemaining()) {
            long b = offset / block;
            int within = (int) (offset % block);
            int n = Math.min(dst.remaining(), block - within);
            if (Content.isHole(map, (int) (b * ChunkId.BYTES))) {
              dst.put(new byte[n]);
            } else {
              dst.put(repo.get(ChunkId.fromBytes(map, (int) (b * ChunkId.BYTES))), within, n);
            }
            offset += n;
          }
          return CompletableFuture.completedFuture(null);
        } catch (IOException e) {
          return CompletableFuture.failedFuture(e);
        }
      }

      @Override
      public Set<String> metaContexts() {
        return Set.of(BASE_ALLOCATION);
      }

      /** base:allocation from the block map: blocks stored as holes (never read, or all zeros) are HOLE|ZERO. */
      @Override
      public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
        if (!BASE_ALLOCATION.equals(context)) {
          throw new IOException("a snapshot's volume image has no metadata context " + context);
        }
        BlockDevice.checkRange(v.size(), offset, length);
        List<Extent> out = new java.util.ArrayList<>();
        long end = offset + length;
        long at = offset;
        while (at < end) {
          long b = at / block;
          int flags = Content.isHole(map, (int) (b * ChunkId.BYTES)) ? Extent.HOLE | Extent.ZERO : 0;
          long next = Math.min(end, (b + 1) * block);
          Extent.append(out, at, next - at, flags);
          at = next;
        }
        return out;
      }

      @Override
      public void close() {
        // the repository belongs to whoever opened it
      }
    };
  }
}
