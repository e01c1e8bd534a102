package dev.pluck.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletableFuture;

/**
 * Turns wanted byte ranges, in any order and of any size, into few large reads kept in flight
 * together, and hands the wanted bytes to a {@link Sink} in offset order.
 *
 * <p>The ranges are sorted and merged; optionally intersected with block status (skipping holes
 * and zero ranges, or keeping only dirty ranges of a {@code qemu:dirty-bitmap:*} context); wanted
 * pieces closer than {@link Options#gap()} share one request (the bytes between are read and
 * dropped: one round trip beats two); requests are at most {@link Options#maxRequest()} long and
 * never cross a multiple of it (aligned reads: a server's clusters, a sink's blocks); and at most
 * {@link Options#maxInFlight()} bytes (and {@link #MAX_REQUESTS_IN_FLIGHT} requests) are requested
 * and not yet consumed. Scattered selections thus read at nearly sequential speed, and nothing is
 * read twice.
 *
 * <p>Each request reads into a direct buffer sized to it (a power of two from 64 KiB up to the
 * largest request), reused by later requests of its size, in this planner or any other of the
 * process (a backup makes a planner per large file and per batch of small ones, and a fresh direct
 * buffer costs zeroing and page faults): thousands of small scattered files do not each hold a
 * buffer of the largest request size, so direct memory stays near twice the bytes in flight,
 * whatever the guest's layout. A sink that keeps the bytes in buffers of its own can have
 * requests read straight into them ({@link Sink#target}), saving a copy of every byte.
 */
public final class ReadPlanner {
  /** Requests in flight together, at most: enough to hide any latency, few enough to bound per-request memory. */
  public static final int MAX_REQUESTS_IN_FLIGHT = 1024;

  /** The smallest read buffer; smaller requests share its size class. */
  static final int MIN_BUFFER = 64 << 10;

  /** A wanted byte range. */
  public record Range(long offset, long length) {
    public Range {
      if (offset < 0 || length < 0) {
        throw new IllegalArgumentException("negative range " + offset + "+" + length);
      }
    }

    public long end() {
      return offset + length;
    }
  }

  /** What to skip by block status. */
  public enum Filter {
    /** Read every wanted byte. */
    NONE,
    /** Skip base:allocation holes and zero ranges; the sink hears of them via zeros(). */
    SKIP_ZEROS,
    /** Read only ranges flagged dirty in {@link Options#dirtyContext()}; the rest is skipped. */
    ONLY_DIRTY
  }

  /**
   * @param gap wanted pieces closer than this are read in one request
   * @param maxRequest largest request (capped by the device's maximum)
   * @param maxInFlight bytes requested and not yet consumed, at most
   * @param filter what block status removes from the wanted ranges
   * @param dirtyContext the bitmap context for {@link Filter#ONLY_DIRTY}
   */
  public record Options(long gap, int maxRequest, long maxInFlight, Filter filter, String dirtyContext) {
    /**
     * Requests of 512 KiB, 32 MiB in flight. QEMU's NBD server (qemu-nbd, qemu-storage-daemon, a
     * VM's pull-mode export) allocates an aligned buffer per read request, and glibc maps fresh
     * memory (page-faulted and zeroed) for any allocation at or above its mmap threshold, which
     * rises to the size of the largest mapping freed. QEMU's 1 MiB block-status reply buffer
     * lifts it to just over 1 MiB: from then on 512 KiB buffers come from the heap, while 1 MiB
     * aligned ones, a few bytes larger, are mapped afresh for every request. Measured with QEMU 7.2
     * and glibc 2.36: the server spends half the CPU on a volume backup (docs/PERFORMANCE.md),
     * CPU taken from the cores the backup shares.
     */
    public static Options defaults() {
      return new Options(256 << 10, 512 << 10, 32L << 20, Filter.NONE, null);
    }

    public Options withFilter(Filter f) {
      return new Options(gap, maxRequest, maxInFlight, f, dirtyContext);
    }

    public Options onlyDirty(String context) {
      return new Options(gap, maxRequest, maxInFlight, Filter.ONLY_DIRTY, context);
    }

    public Options withGap(long g) {
      return new Options(g, maxRequest, maxInFlight, filter, dirtyContext);
    }

    public Options withMaxRequest(int m) {
      return new Options(gap, m, maxInFlight, filter, dirtyContext);
    }

    public Options withMaxInFlight(long m) {
      return new Options(gap, maxRequest, m, filter, dirtyContext);
    }
  }

  /** Receives the wanted bytes in offset order. */
  public interface Sink {
    /**
     * Wanted bytes at {@code offset}; {@code data} is valid only during the call. For bytes read
     * into a {@link #target}, {@code data} is a slice of that target, the bytes already in place.
     */
    void data(long offset, ByteBuffer data) throws IOException;

    /**
     * Where to read {@code [offset, offset + length)}, all of it wanted, when the sink would only
     * copy it into a buffer of its own: a buffer of exactly {@code length} bytes remaining, or null
     * for one of the planner's. Asked as each request is sent, in offset order, before the
     * {@link #data} call for the same bytes and while earlier ones are still to come.
     */
    default ByteBuffer target(long offset, int length) throws IOException {
      return null;
    }

    /** A wanted range that reads as zeros and was not read ({@link Filter#SKIP_ZEROS}). */
    default void zeros(long offset, long length) throws IOException {}
  }

  /** What a plan did: bytes handed over, bytes actually read (wanted + gaps), requests. */
  public record Stats(long wantedBytes, long readBytes, long zeroBytes, long skippedBytes, long requests) {}

  private final BlockDevice device;
  private final Options options;
  /** Read buffers no request is using, for every planner of the process. */
  private static final Buffers FREE = new Buffers();

  public ReadPlanner(BlockDevice device, Options options) {
    this.device = device;
    int max = Math.min(options.maxRequest(), device.blockSizes().maximum());
    if (max < 1 || options.maxInFlight() < max || options.gap() < 0) {
      throw new IllegalArgumentException("bad read planner options " + options);
    }
    this.options = new Options(options.gap(), max, options.maxInFlight(), options.filter(), options.dirtyContext());
  }

  public ReadPlanner(BlockDevice device) {
    this(device, Options.defaults());
  }

  /** Sorts and merges overlapping or touching ranges; drops empty ones. */
  public static List<Range> normalize(List<Range> wanted) {
    List<Range> sorted = new ArrayList<>(wanted);
    sorted.removeIf(r -> r.length() == 0);
    sorted.sort(Comparator.comparingLong(Range::offset));
    List<Range> out = new ArrayList<>();
    for (Range r : sorted) {
      if (!out.isEmpty() && r.offset() <= out.get(out.size() - 1).end()) {
        Range last = out.remove(out.size() - 1);
        out.add(new Range(last.offset(), Math.max(last.end(), r.end()) - last.offset()));
      } else {
        out.add(r);
      }
    }
    return out;
  }

  /** Reads every wanted byte (less what the filter removes) into {@code sink}, in offset order. */
  public Stats read(List<Range> wanted, Sink sink) throws IOException {
    List<Range> spans = normalize(wanted);
    for (Range r : spans) {
      BlockDevice.checkRange(device.size(), r.offset(), r.length());
    }
    long[] counters = new long[5];
    Iterator<Piece> pieces = new Pieces(spans, counters);
    Iterator<Step> requests = new Requests(pieces);
    Deque<Step> queue = new ArrayDeque<>();
    long inFlight = 0;
    int requestsInFlight = 0;
    Step pendingStep = null;
    try {
      while (true) {
        // Fill the pipeline up to the in-flight bound.
        while (true) {
          if (pendingStep == null) {
            if (!requests.hasNext()) {
              break;
            }
            pendingStep = requests.next();
          }
          if (pendingStep.request != null && !queue.isEmpty() && (inFlight + pendingStep.request.length > options.maxInFlight()
              || requestsInFlight >= MAX_REQUESTS_IN_FLIGHT)) {
            break;
          }
          if (pendingStep.request != null) {
            Request r = pendingStep.request;
            ByteBuffer buf = r.parts.size() == 1 ? sink.target(r.offset, (int) r.length) : null;
            if (buf == null) {
              buf = FREE.take((int) r.length, options.maxRequest());
            } else if (buf.remaining() != r.length) {
              throw new IllegalStateException("a sink's target of " + buf.remaining() + " bytes for a read of " + r.length);
            } else {
              buf = buf.slice();  // position 0 at the request's offset, as the planner's own
              r.own = false;
            }
            r.buffer = buf;
            requestsInFlight++;
            r.future = device.readAsync(r.offset, buf.duplicate());
            inFlight += r.length;
            counters[1] += r.length;
            counters[4]++;
          }
          queue.add(pendingStep);
          pendingStep = null;
        }
        Step head = queue.poll();
        if (head == null) {
          break;
        }
        if (head.zero != null) {
          sink.zeros(head.zero.offset(), head.zero.length());
          continue;
        }
        Request r = head.request;
        BlockDevice.await(r.future);
        for (Range part : r.parts) {
          ByteBuffer view = r.buffer.duplicate();
          int from = (int) (part.offset() - r.offset);
          view.position(from).limit(from + (int) part.length());
          sink.data(part.offset(), view.slice());
        }
        inFlight -= r.length;
        requestsInFlight--;
        if (r.own) {
          FREE.give(r.buffer);
        }
      }
    } catch (java.io.UncheckedIOException e) {
      throw e.getCause();  // a block-status failure while planning
    } finally {
      for (Step s : queue) {  // on failure, let outstanding reads finish before buffers go away
        if (s.request != null && s.request.future != null) {
          s.request.future.exceptionally(t -> null).join();
        }
      }
    }
    return new Stats(counters[0], counters[1], counters[2], counters[3], counters[4]);
  }

  /**
   * Read buffers by size class (powers of two from {@link #MIN_BUFFER} up), reused; at most
   * {@link #MAX_IDLE} bytes of them kept while unused.
   */
  private static final class Buffers {
    /** Twice the default bytes in flight: what two planners at work at once hold. */
    static final long MAX_IDLE = 2 * Options.defaults().maxInFlight();
    private final List<Deque<ByteBuffer>> free = new ArrayList<>();
    private long idle;

    /** A buffer of exactly {@code length} bytes (limit), from a free one of its class when there is one. */
    synchronized ByteBuffer take(int length, int largest) {
      int capacity = capacity(length, largest);
      Deque<ByteBuffer> d = deque(capacity);
      ByteBuffer buf = d.poll();
      if (buf != null) {
        idle -= buf.capacity();
        if (buf.capacity() < length) {  // a class holds the largest requests of other planners too
          buf = null;
        }
      }
      if (buf == null) {
        buf = ByteBuffer.allocateDirect(capacity);
      }
      buf.clear().limit(length);
      return buf;
    }

    synchronized void give(ByteBuffer buf) {
      if (idle + buf.capacity() <= MAX_IDLE) {
        deque(buf.capacity()).push(buf);
        idle += buf.capacity();
      }
    }

    private static int capacity(int length, int largest) {
      int c = Math.max(MIN_BUFFER, Integer.highestOneBit(Math.max(1, length - 1)) << 1);
      return Math.min(Math.max(c, length), Math.max(largest, length));
    }

    private Deque<ByteBuffer> deque(int capacity) {
      int index = 32 - Integer.numberOfLeadingZeros(capacity - 1);  // ceil(log2)
      while (free.size() <= index) {
        free.add(new ArrayDeque<>());
      }
      return free.get(index);
    }
  }

  /** A wanted piece after filtering: data to read or zeros to report. */
  private record Piece(long offset, long length, boolean zero) {
    long end() {
      return offset + length;
    }
  }

  /** One entry of the in-order pipeline. */
  private static final class Step {
    final Request request;
    final Range zero;

    Step(Request request, Range zero) {
      this.request = request;
      this.zero = zero;
    }
  }

  /** One read: [offset, offset + length), and the wanted parts inside it. */
  private static final class Request {
    final long offset;
    final long length;
    final List<Range> parts;
    ByteBuffer buffer;
    /** Whether {@link #buffer} is the planner's (not a sink's target). */
    boolean own = true;
    CompletableFuture<Void> future;

    Request(long offset, long length, List<Range> parts) {
      this.offset = offset;
      this.length = length;
      this.parts = parts;
    }
  }

  /**
   * Splits the spans by block status, lazily, a window at a time. The status of a window is asked
   * once for every span in it: a volume's thousands of allocated ranges cost a few block-status
   * round trips, not one each.
   */
  private final class Pieces implements Iterator<Piece> {
    private static final long WINDOW = 1L << 30;
    private final Iterator<Range> spans;
    private final long lastEnd;
    private final long[] counters;
    private final Deque<Piece> ready = new ArrayDeque<>();
    private Range span;
    private long pos;
    /** Block status of the current window, up to {@link #statusEnd}; {@link #cursor}: the first extent still ahead. */
    private List<Extent> status = List.of();
    private long statusEnd = -1;
    private int cursor;

    Pieces(List<Range> spans, long[] counters) {
      this.spans = spans.iterator();
      this.lastEnd = spans.isEmpty() ? 0 : spans.get(spans.size() - 1).end();
      this.counters = counters;
    }

    /** The status of {@code [offset, offset + length)} (offsets only grow from call to call). */
    private List<Extent> status(String context, long offset, long length) throws IOException {
      long end = offset + length;
      if (end > statusEnd) {
        long ask = Math.max(length, Math.min(WINDOW, lastEnd - offset));
        status = device.blockStatus(context, offset, ask);
        statusEnd = offset + ask;
        cursor = 0;
      }
      while (cursor < status.size() && status.get(cursor).offset() + status.get(cursor).length() <= offset) {
        cursor++;
      }
      List<Extent> out = new ArrayList<>();
      long at = offset;
      for (int i = cursor; i < status.size() && status.get(i).offset() < end; i++) {
        Extent e = status.get(i);
        long from = Math.max(e.offset(), offset);
        if (from != at) {
          break;
        }
        at = Math.min(e.offset() + e.length(), end);
        out.add(new Extent(from, at - from, e.flags()));
      }
      if (at != end) {  // skipping what block status leaves out would lose wanted bytes unseen
        throw new BlockDeviceException(context + " block status does not cover " + at + ".." + end, at, end - at, null);
      }
      return out;
    }

    @Override
    public boolean hasNext() {
      try {
        while (ready.isEmpty()) {
          if (span == null || pos >= span.end()) {
            if (!spans.hasNext()) {
              return false;
            }
            span = spans.next();
            pos = span.offset();
          }
          long n = Math.min(span.end() - pos, WINDOW);
          fill(pos, n);
          pos += n;
        }
        return true;
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }

    private void fill(long offset, long length) throws IOException {
      switch (options.filter()) {
        case NONE -> add(new Piece(offset, length, false));
        case SKIP_ZEROS -> {
          for (Extent e : status(BlockDevice.BASE_ALLOCATION, offset, length)) {
            add(new Piece(e.offset(), e.length(), e.readsAsZeros()));
          }
        }
        case ONLY_DIRTY -> {
          for (Extent e : status(options.dirtyContext(), offset, length)) {
            if ((e.flags() & Extent.DIRTY) != 0) {
              add(new Piece(e.offset(), e.length(), false));
            } else {
              counters[3] += e.length();
            }
          }
        }
        default -> throw new IllegalStateException();
      }
    }

    private void add(Piece p) {
      if (p.zero()) {
        counters[2] += p.length();
      } else {
        counters[0] += p.length();
      }
      ready.add(p);
    }

    @Override
    public Piece next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return ready.poll();
    }
  }

  /** Groups data pieces into requests; zero pieces become steps of their own. */
  private final class Requests implements Iterator<Step> {
    private final Iterator<Piece> pieces;
    private Piece carry;
    private final Deque<Step> ready = new ArrayDeque<>();

    Requests(Iterator<Piece> pieces) {
      this.pieces = pieces;
    }

    @Override
    public boolean hasNext() {
      if (ready.isEmpty()) {
        build();
      }
      return !ready.isEmpty();
    }

    private void build() {
      Piece first = carry != null ? carry : (pieces.hasNext() ? pieces.next() : null);
      carry = null;
      if (first == null) {
        return;
      }
      if (first.zero()) {
        ready.add(new Step(null, new Range(first.offset(), first.length())));
        return;
      }
      long start = first.offset();
      long max = options.maxRequest();
      long limit = (start / max + 1) * max;  // the request ends at the next multiple of max, at the latest
      List<Range> parts = new ArrayList<>();
      long end;
      if (first.end() > limit) {  // split a long piece; the rest comes next time
        parts.add(new Range(start, limit - start));
        carry = new Piece(limit, first.end() - limit, false);
        ready.add(new Step(new Request(start, limit - start, parts), null));
        return;
      }
      parts.add(new Range(first.offset(), first.length()));
      end = first.end();
      while (pieces.hasNext()) {
        Piece p = pieces.next();
        if (p.zero() || p.offset() - end >= options.gap() || p.end() > limit) {
          if (!p.zero() && p.offset() - end < options.gap() && p.offset() < limit) {
            // Take what fits of a piece that straddles the request's end.
            long fit = limit - p.offset();
            parts.add(new Range(p.offset(), fit));
            end = p.offset() + fit;
            carry = new Piece(end, p.end() - end, false);
          } else {
            carry = p;
          }
          break;
        }
        parts.add(new Range(p.offset(), p.length()));
        end = p.end();
      }
      ready.add(new Step(new Request(start, end - start, parts), null));
    }

    @Override
    public Step next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return ready.poll();
    }
  }
}
