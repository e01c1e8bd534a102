package dev.pluck.engine;

import dev.pluck.fs.FileExtent;
import dev.pluck.fs.ReadOnlyChannel;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.ReadPlanner;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * A large file's bytes read from the volume through the read planner, a window at a time: the
 * window's extents are requested together (many requests in flight) instead of one read after
 * another, which is what a filesystem channel does. Only for files whose bytes all lie on the
 * volume as they are or read as zeros ({@link #usable}); reading starts where the caller reads,
 * so it suits a file read from start to end.
 */
final class PlannedFileChannel extends ReadOnlyChannel {
  private static final byte[] ZEROS = new byte[64 << 10];

  /** Bytes of the file read ahead at once. */
  static final int WINDOW = 32 << 20;

  /**
   * The window of the channel that last read to its end, for the next (a backup reads its large
   * files one after another): a fresh window per file was a third of a folder backup's allocation,
   * zeroed and page-faulted in anew (docs/PERFORMANCE.md).
   */
  private static final java.util.concurrent.atomic.AtomicReference<byte[]> SPARE = new java.util.concurrent.atomic.AtomicReference<>();

  private final BlockDevice volume;
  private final List<FileExtent> extents;
  private final long size;
  private final LongConsumer read;
  private final ReadPlanner planner;
  private byte[] window;
  private long windowStart = -1;
  private int windowLength;

  /**
   * @param read hears how many bytes each window read from the volume
   */
  PlannedFileChannel(BlockDevice volume, List<FileExtent> extents, long size, LongConsumer read) {
    this.volume = volume;
    this.extents = extents;
    this.size = size;
    this.read = read;
    this.planner = new ReadPlanner(volume, ReadPlanner.Options.defaults().withGap(0));
  }

  /**
   * Whether {@code extents} cover a file of {@code size} bytes in order with only data stored as
   * it is, unwritten extents and holes, none reaching past the volume, and no two sharing a volume
   * byte (a hostile map could; the planner would then hand each byte over once).
   */
  static boolean usable(List<FileExtent> extents, long size, long volumeSize) {
    long at = 0;
    List<long[]> data = new ArrayList<>();
    for (FileExtent x : extents) {
      if (x.fileOffset() != at || x.length() <= 0) {
        return false;
      }
      switch (x.kind()) {
        case DATA -> {
          if (x.volumeOffset() < 0 || x.volumeOffset() > volumeSize - x.length()) {
            return false;
          }
          data.add(new long[] {x.volumeOffset(), x.length()});
        }
        case HOLE, UNWRITTEN -> {
          // zeros
        }
        default -> {
          return false;
        }
      }
      at += x.length();
    }
    if (at != size) {
      return false;
    }
    data.sort(Comparator.comparingLong(r -> r[0]));
    for (int i = 1; i < data.size(); i++) {
      if (data.get(i - 1)[0] + data.get(i - 1)[1] > data.get(i)[0]) {
        return false;
      }
    }
    return true;
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    if (position >= size) {
      return -1;
    }
    if (position < windowStart || position >= windowStart + windowLength) {
      fill(position);
    }
    int from = (int) (position - windowStart);
    int n = Math.min(dst.remaining(), windowLength - from);
    dst.put(window, from, n);
    position += n;
    if (position >= size) {  // read to the end: the next file's channel may have the window
      SPARE.set(window);
      window = null;
      windowStart = -1;
      windowLength = 0;
    }
    return n;
  }

  @Override
  public long size() {
    return size;
  }

  /** Reads the window of the file that starts at {@code start}. */
  private void fill(long start) throws IOException {
    int length = (int) Math.min(WINDOW, size - start);
    if (window == null) {
      window = SPARE.getAndSet(null);
    }
    if (window == null || window.length < length) {
      window = new byte[length];
    } else {
      // arraycopy from zeros: a stub in every JIT tier; Arrays.fill compiled by C1 (the launcher's
      // tier for most code) stores byte by byte.
      for (int at = 0; at < length; at += ZEROS.length) {
        System.arraycopy(ZEROS, 0, window, at, Math.min(ZEROS.length, length - at));
      }
    }
    windowStart = -1;
    long end = start + length;
    // The window's data pieces by volume offset: {volumeOffset, length, offset in the window}.
    List<long[]> pieces = new ArrayList<>();
    List<ReadPlanner.Range> wanted = new ArrayList<>();
    for (FileExtent x : extents) {
      long from = Math.max(start, x.fileOffset());
      long to = Math.min(end, x.end());
      if (from >= to || x.kind() != FileExtent.Kind.DATA) {
        continue;
      }
      long at = x.volumeOffset() + (from - x.fileOffset());
      pieces.add(new long[] {at, to - from, from - start});
      wanted.add(new ReadPlanner.Range(at, to - from));
    }
    pieces.sort(Comparator.comparingLong(p -> p[0]));
    long[] got = {0};
    planner.read(wanted, (offset, data) -> {
      got[0] += data.remaining();
      while (data.hasRemaining()) {
        long[] p = piece(pieces, offset);
        int n = (int) Math.min(data.remaining(), p[0] + p[1] - offset);
        data.get(window, (int) (p[2] + offset - p[0]), n);
        offset += n;
      }
    });
    read.accept(got[0]);
    windowStart = start;
    windowLength = length;
  }

  /** The piece holding volume byte {@code offset} (the planner hands over only wanted bytes). */
  private static long[] piece(List<long[]> pieces, long offset) throws IOException {
    int lo = 0;
    int hi = pieces.size() - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      long[] p = pieces.get(mid);
      if (offset < p[0]) {
        hi = mid - 1;
      } else if (offset >= p[0] + p[1]) {
        lo = mid + 1;
      } else {
        return p;
      }
    }
    throw new IOException("read planner handed over volume byte " + offset + ", which no extent of the file wants");
  }
}
