package dev.pluck.engine.repo;

import java.io.IOException;
import java.nio.ByteBuffer;
import dev.pluck.fs.ReadOnlyChannel;
import java.nio.channels.SeekableByteChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A file's or a stream's bytes as chunks at fixed offsets: stored, and read back by position. */
public final class Content {
  private Content() {}

  /**
   * Reads {@code in} to its end in chunks of the repository's size; a chunk of zeros is recorded
   * as a hole (null). Chunks are hashed and compressed on all cores, stored in order.
   */
  public static List<String> store(Repository repo, SeekableByteChannel in) throws IOException {
    int size = repo.config().chunkSize();
    java.util.concurrent.ExecutorService workers = repo.workers();
    int window = 2 * Math.max(1, Runtime.getRuntime().availableProcessors());
    java.util.ArrayDeque<java.util.concurrent.Future<Repository.Prepared>> inflight = new java.util.ArrayDeque<>();
    java.util.ArrayDeque<Integer> slots = new java.util.ArrayDeque<>();
    List<String> out = new ArrayList<>();
    boolean end = false;
    long left = in.size();  // buffers no larger than what is left: most files are far smaller than a chunk
    while (!end || !inflight.isEmpty()) {
      if (!end && inflight.size() < window) {
        int want = (int) Math.min(size, Math.max(0, left));
        byte[] buf = repo.buffer(want);
        int n = fill(in, buf, want);
        left -= n;
        end = n < size || left <= 0;
        if (n == 0) {
          repo.giveBack(buf);
          continue;
        }
        if (zeros(buf, n)) {
          repo.giveBack(buf);
          out.add(null);
        } else if (end && inflight.isEmpty()) {
          out.add(repo.append(prepare(repo, buf, n)).hex());  // one chunk (most files): no hand-off to a worker
        } else {
          slots.add(out.size());
          out.add(null);
          inflight.add(workers.submit(() -> prepare(repo, buf, n)));
        }
        continue;
      }
      out.set(slots.poll(), repo.append(await(inflight.poll())).hex());
    }
    return out;
  }

  /**
   * {@link #store}, but returns once the content is read: hashing, compressing and appending go on
   * on the repository's workers, so the next file is read meanwhile. {@code permits} bounds the
   * chunks held in memory across every file in flight (one permit per chunk until it is appended).
   */
  public static java.util.concurrent.CompletableFuture<List<String>> storeAsync(Repository repo, SeekableByteChannel in,
      java.util.concurrent.Semaphore permits) throws IOException {
    int size = repo.config().chunkSize();
    List<java.util.concurrent.CompletableFuture<String>> parts = new ArrayList<>();
    long left = in.size();
    while (left > 0) {
      int want = (int) Math.min(size, left);
      permits.acquireUninterruptibly();
      boolean handedOff = false;
      byte[] buf = repo.buffer(want);
      try {
        int n = fill(in, buf, want);
        left -= n;
        if (n == 0) {
          break;
        }
        if (zeros(buf, n)) {
          parts.add(java.util.concurrent.CompletableFuture.completedFuture(null));
        } else {
          parts.add(java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
              return repo.append(prepare(repo, buf, n)).hex();
            } catch (IOException e) {
              throw new java.util.concurrent.CompletionException(e);
            } finally {
              permits.release();
            }
          }, repo.workers()));
          handedOff = true;
        }
        if (n < want) {
          break;
        }
      } finally {
        if (!handedOff) {
          repo.giveBack(buf);
          permits.release();
        }
      }
    }
    return java.util.concurrent.CompletableFuture.allOf(parts.toArray(java.util.concurrent.CompletableFuture[]::new))
        .thenApply(done -> parts.stream().map(java.util.concurrent.CompletableFuture::join).toList());
  }

  /** Prepares the chunk {@code buf[0, n)} and gives {@code buf} back (prepare keeps nothing of it). */
  private static Repository.Prepared prepare(Repository repo, byte[] buf, int n) throws IOException {
    try {
      return repo.prepare(buf, 0, n);
    } finally {
      repo.giveBack(buf);
    }
  }

  /** Reads into {@code buf[0, want)} until it is full or the channel ends; the bytes read. */
  private static int fill(SeekableByteChannel in, byte[] buf, int want) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(buf, 0, want);
    while (b.hasRemaining() && in.read(b) > 0) {
      // a whole chunk
    }
    return b.position();
  }

  /**
   * A file's content again, reading only what changed: {@code changed} are the byte ranges of the
   * file (sorted) that may differ from the parent's content {@code parentChunks} of
   * {@code parentSize} bytes. A chunk no range touches is the parent's; a chunk a range touches
   * in part is the parent's bytes with the changed ones read over them; the rest is read.
   */
  public static List<String> update(Repository repo, SeekableByteChannel in, long size, List<String> parentChunks, long parentSize,
      List<long[]> changed) throws IOException {
    int chunk = repo.config().chunkSize();
    long chunks = (size + chunk - 1) / chunk;
    List<String> out = new ArrayList<>();
    int r = 0;
    for (long c = 0; c < chunks; c++) {
      long start = c * chunk;
      int length = (int) Math.min(chunk, size - start);
      long end = start + length;
      while (r < changed.size() && changed.get(r)[0] + changed.get(r)[1] <= start) {
        r++;
      }
      boolean touched = r < changed.size() && changed.get(r)[0] < end;
      boolean parentSame = c < parentChunks.size() && Math.min(chunk, parentSize - start) == length;
      if (!touched && parentSame) {
        out.add(parentChunks.get((int) c));
        continue;
      }
      byte[] data;
      if (parentSame) {
        String p = parentChunks.get((int) c);
        data = p == null ? new byte[length] : repo.get(ChunkId.parse(p)).clone();
        for (int i = r; i < changed.size() && changed.get(i)[0] < end; i++) {
          long from = Math.max(start, changed.get(i)[0]);
          long to = Math.min(end, changed.get(i)[0] + changed.get(i)[1]);
          readFully(in, from, data, (int) (from - start), (int) (to - from));
        }
      } else {
        data = new byte[length];
        readFully(in, start, data, 0, length);
      }
      out.add(zeros(data, length) ? null : repo.put(data, 0, length).hex());
    }
    return out;
  }

  private static void readFully(SeekableByteChannel in, long at, byte[] dst, int off, int length) throws IOException {
    in.position(at);
    ByteBuffer b = ByteBuffer.wrap(dst, off, length);
    while (b.hasRemaining()) {
      if (in.read(b) < 0) {
        throw new IOException("file ends before byte " + (at + length));
      }
    }
  }

  /** The prepared chunk of a worker's task, its failure unwrapped. */
  public static <T> T await(java.util.concurrent.Future<T> f) throws IOException {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while storing chunks");
    } catch (java.util.concurrent.ExecutionException e) {
      Throwable cause = e.getCause() instanceof java.util.concurrent.CompletionException c && c.getCause() != null ? c.getCause() : e.getCause();
      if (cause instanceof IOException io) {
        throw io;
      }
      throw new IOException(cause);
    }
  }

  /** Zeros to compare with, a piece at a time (a chunk-sized array was 8 MiB of fresh memory in every run). */
  private static final byte[] ZEROS = new byte[64 << 10];

  /** Whether the first {@code n} bytes of {@code b} are all zero. */
  public static boolean zeros(byte[] b, int n) {
    for (int at = 0; at < n; at += ZEROS.length) {
      int len = Math.min(ZEROS.length, n - at);
      if (java.util.Arrays.mismatch(b, at, at + len, ZEROS, 0, len) >= 0) {
        return false;
      }
    }
    return true;
  }

  /** The bytes back, for a content of {@code size} bytes recorded as {@code chunks}. */
  public static SeekableByteChannel open(Repository repo, List<String> chunks, long size) {
    int chunkSize = repo.config().chunkSize();
    return new ReadOnlyChannel() {
      @Override
      public int read(ByteBuffer dst) throws IOException {
        if (position >= size) {
          return -1;
        }
        int index = (int) (position / chunkSize);
        int within = (int) (position % chunkSize);
        int n = (int) Math.min(dst.remaining(), Math.min(size - position, chunkSize - within));
        String id = index < chunks.size() ? chunks.get(index) : null;
        if (id == null) {
          byte[] zero = new byte[Math.min(n, 1 << 16)];
          n = Math.min(n, zero.length);
          dst.put(zero, 0, n);
        } else {
          byte[] data = repo.get(ChunkId.parse(id));
          if (within + n > data.length) {
            throw new IOException("chunk " + id + " holds " + data.length + " bytes, the catalog needs " + (within + n));
          }
          dst.put(data, within, n);
        }
        position += n;
        return n;
      }




      @Override
      public long size() {
        return size;
      }



    };
  }

  /** Chunk ids as bytes for a block map: 32 bytes each, zeros for a hole. */
  static byte[] blockMapBytes(List<String> ids) {
    byte[] out = new byte[ids.size() * ChunkId.BYTES];
    for (int i = 0; i < ids.size(); i++) {
      if (ids.get(i) != null) {
        ChunkId.parse(ids.get(i)).write(out, i * ChunkId.BYTES);
      }
    }
    return out;
  }

  static boolean isHole(byte[] map, int at) {
    return Arrays.equals(map, at, at + ChunkId.BYTES, new byte[ChunkId.BYTES], 0, ChunkId.BYTES);
  }
}
