package dev.pluck.engine;

import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.Content;
import dev.pluck.engine.repo.Repository;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.ReadPlanner;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Future;

/**
 * Small files read together: instead of one round trip per file in walk order, the content of up
 * to a batch of files (each at most one chunk, stored byte for byte on the volume) is read with
 * one {@link ReadPlanner} pass sorted by volume offset, kept in flight together, and hashed and
 * compressed on the repository's workers. Catalog entries still come out in walk order: entries
 * that need no read wait behind the batched files before them.
 */
final class FileBatch {
  /** Where finished entries go, in order. */
  interface Sink {
    void add(CatalogEntry e) throws IOException;
  }

  /** Makes a file's entry once its chunks are known. */
  interface Finish {
    CatalogEntry entry(List<String> chunks) throws IOException;
  }

  /** Reads one file the ordinary way (when a batch read fails); null when unreadable. */
  interface Alone {
    CatalogEntry read() throws IOException;
  }

  static final int MAX_FILES = 4096;
  static final long MAX_BYTES = 32L << 20;

  private final Repository repo;
  private final BlockDevice volume;
  private final Sink sink;
  private final java.util.function.LongConsumer counted;
  private final ArrayDeque<Object> queue = new ArrayDeque<>();  // CatalogEntry or Pending, in walk order
  private final List<Pending> pending = new ArrayList<>();
  private long bytes;

  /** One file waiting for its bytes: [volumeOffset, fileOffset, length] per stretch. */
  private static final class Pending {
    final int size;
    final List<long[]> stretches;
    final Finish finish;
    final Alone alone;
    byte[] data;

    Pending(int size, List<long[]> stretches, Finish finish, Alone alone) {
      this.size = size;
      this.stretches = stretches;
      this.finish = finish;
      this.alone = alone;
    }
  }

  /** {@code counted} hears of every byte read as file data. */
  FileBatch(Repository repo, BlockDevice volume, Sink sink, java.util.function.LongConsumer counted) {
    this.repo = repo;
    this.volume = volume;
    this.sink = sink;
    this.counted = counted;
  }

  /** An entry that needs no read: out now, or after the batched files before it. */
  void add(CatalogEntry e) throws IOException {
    if (queue.isEmpty()) {
      sink.add(e);
    } else {
      queue.add(e);
      drain();
    }
  }

  /** A large file whose chunks are still being stored: its entry ({@code finish}) comes when they are, in walk order. */
  record Deferred(java.util.concurrent.CompletableFuture<List<String>> chunks, Finish finish) {}

  /** Queues a large file stored in the background ({@link Content#storeAsync}). */
  void defer(java.util.concurrent.CompletableFuture<List<String>> chunks, Finish finish) throws IOException {
    queue.add(new Deferred(chunks, finish));
    drain();
  }

  /**
   * Puts out the entries at the head of the queue that are ready (no batched read before them, their
   * chunks stored); flushes everything when the queue grows long, so that entries never pile up.
   */
  private void drain() throws IOException {
    while (!queue.isEmpty()) {
      Object head = queue.peek();
      if (head instanceof CatalogEntry e) {
        queue.poll();
        sink.add(e);
      } else if (head instanceof Deferred d && d.chunks().isDone()) {
        queue.poll();
        put(d);
      } else {
        break;
      }
    }
    if (queue.size() > MAX_FILES) {
      flush();
    }
  }

  private void put(Deferred d) throws IOException {
    CatalogEntry e = d.finish().entry(Content.await(d.chunks()));
    if (e != null) {
      sink.add(e);
    }
  }

  /**
   * A file of {@code size} bytes (at most a chunk) whose bytes are {@code mapped}
   * ({@code [fileOffset, volumeOffset, length]}, covering it whole), to read with the batch.
   */
  void read(int size, List<long[]> mapped, Finish finish, Alone alone) throws IOException {
    List<long[]> stretches = new ArrayList<>();
    for (long[] m : mapped) {
      stretches.add(new long[] {m[1], m[0], m[2]});
    }
    Pending p = new Pending(size, stretches, finish, alone);
    pending.add(p);
    queue.add(p);
    bytes += size;
    if (pending.size() >= MAX_FILES || bytes >= MAX_BYTES) {
      flush();
    }
  }

  /** Reads what is batched and puts every waiting entry out, in order. */
  void flush() throws IOException {
    if (!pending.isEmpty()) {
      readAll();
    }
    List<Future<dev.pluck.engine.repo.Repository.Prepared>> prepared = new ArrayList<>();
    for (Object o : queue) {
      if (o instanceof Pending p && p.data != null && !zeros(p.data)) {
        byte[] data = p.data;
        prepared.add(repo.workers().submit(() -> repo.prepare(data, 0, data.length)));
      }
    }
    int next = 0;
    while (!queue.isEmpty()) {
      Object o = queue.poll();
      if (o instanceof CatalogEntry e) {
        sink.add(e);
        continue;
      }
      if (o instanceof Deferred d) {
        put(d);
        continue;
      }
      Pending p = (Pending) o;
      CatalogEntry e;
      if (p.data == null) {
        e = p.alone.read();  // the batch read failed: this file on its own
      } else if (p.size == 0) {
        e = p.finish.entry(List.of());
      } else if (zeros(p.data)) {
        List<String> hole = new ArrayList<>();
        hole.add(null);
        e = p.finish.entry(hole);
      } else {
        e = p.finish.entry(List.of(repo.append(Content.await(prepared.get(next++))).hex()));
      }
      if (e != null) {
        sink.add(e);
      }
    }
    pending.clear();
    bytes = 0;
  }

  private void readAll() throws IOException {
    List<long[]> all = new ArrayList<>();  // [volumeOffset, fileOffset, length, file index]
    List<ReadPlanner.Range> wanted = new ArrayList<>();
    for (int i = 0; i < pending.size(); i++) {
      Pending p = pending.get(i);
      p.data = new byte[p.size];
      for (long[] s : p.stretches) {
        all.add(new long[] {s[0], s[1], s[2], i});
        wanted.add(new ReadPlanner.Range(s[0], s[2]));
      }
    }
    all.sort(Comparator.comparingLong(a -> a[0]));
    int[] lo = {0};
    try {
      // No gap filling: the bytes between files are other files' or free space.
      ReadPlanner.Stats stats = new ReadPlanner(volume, ReadPlanner.Options.defaults().withGap(0)).read(wanted, (offset, data) -> {
        long end = offset + data.remaining();
        while (lo[0] < all.size() && all.get(lo[0])[0] + all.get(lo[0])[2] <= offset) {
          lo[0]++;
        }
        for (int k = lo[0]; k < all.size() && all.get(k)[0] < end; k++) {
          long[] s = all.get(k);
          long from = Math.max(offset, s[0]);
          long to = Math.min(end, s[0] + s[2]);
          if (from < to) {
            ByteBuffer view = data.duplicate();
            view.position((int) (from - offset));
            view.get(pending.get((int) s[3]).data, (int) (s[1] + from - s[0]), (int) (to - from));
          }
        }
      });
      counted.accept(stats.readBytes());
    } catch (dev.pluck.nbd.BlockDeviceException failed) {
      for (Pending p : pending) {
        p.data = null;  // each file read again on its own, so only the bad one fails
      }
    }
  }

  private static boolean zeros(byte[] b) {
    return Content.zeros(b, b.length);
  }
}
