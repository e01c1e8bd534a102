package dev.pluck.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReadPlannerTest {
  @TempDir Path tmp;
  byte[] bytes;
  Path image;

  @BeforeEach
  void image() throws IOException {
    bytes = new byte[16 << 20];
    new Random(1).nextBytes(bytes);
    image = Files.write(tmp.resolve("img"), bytes);
  }

  /** Records every read the planner sends, on top of a real file. */
  static class CountingDevice implements BlockDevice {
    final BlockDevice inner;
    final List<long[]> reads = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger inFlight = new AtomicInteger();
    int maxInFlightSeen;

    CountingDevice(BlockDevice inner) {
      this.inner = inner;
    }

    @Override public long size() { return inner.size(); }
    @Override public BlockSizes blockSizes() { return inner.blockSizes(); }
    @Override public boolean isReadOnly() { return true; }
    @Override public java.util.Set<String> metaContexts() { return inner.metaContexts(); }

    @Override
    public List<Extent> blockStatus(String c, long o, long l) throws IOException {
      return inner.blockStatus(c, o, l);
    }

    @Override
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
      reads.add(new long[] {offset, dst.remaining()});
      return inner.readAsync(offset, dst);
    }

    @Override public void close() throws IOException { inner.close(); }
  }

  /** Rewrites the image as a sparse file holding only {offset, length} pieces of its bytes; the rest are holes (and zeros in {@link #bytes}). */
  private void keepOnly(long[]... pieces) throws IOException {
    byte[] kept = new byte[bytes.length];
    try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
      ch.truncate(0);
      for (long[] p : pieces) {
        ch.write(ByteBuffer.wrap(bytes, (int) p[0], (int) p[1]), p[0]);
        System.arraycopy(bytes, (int) p[0], kept, (int) p[0], (int) p[1]);
      }
    }
    try (java.io.RandomAccessFile file = new java.io.RandomAccessFile(image.toFile(), "rw")) {
      file.setLength(bytes.length);  // a hole up to the end if the last piece stops short of it
    }
    bytes = kept;
  }

  private List<long[]> collect(ReadPlanner planner, List<ReadPlanner.Range> wanted, List<long[]> zeros) throws IOException {
    List<long[]> got = new ArrayList<>();
    planner.read(wanted, new ReadPlanner.Sink() {
      @Override
      public void data(long offset, ByteBuffer data) {
        byte[] b = new byte[data.remaining()];
        data.get(b);
        assertThat(java.util.Arrays.equals(b, 0, b.length, bytes, (int) offset, (int) offset + b.length))
            .as("bytes at %d+%d", offset, b.length).isTrue();
        got.add(new long[] {offset, b.length});
      }

      @Override
      public void zeros(long offset, long length) {
        zeros.add(new long[] {offset, length});
        got.add(new long[] {offset, -length});
      }
    });
    return got;
  }

  @Test
  void normalizeSortsAndMergesOverlaps() {
    List<ReadPlanner.Range> n = ReadPlanner.normalize(List.of(
        new ReadPlanner.Range(100, 10), new ReadPlanner.Range(0, 50), new ReadPlanner.Range(40, 20),
        new ReadPlanner.Range(60, 0), new ReadPlanner.Range(105, 100)));
    assertThat(n).containsExactly(new ReadPlanner.Range(0, 60), new ReadPlanner.Range(100, 105));
  }

  @Test
  void scatteredRangesAreCoalescedReadOnceAndDeliveredInOrder() throws IOException {
    List<ReadPlanner.Range> wanted = new ArrayList<>();
    Random r = new Random(2);
    for (int i = 0; i < 500; i++) {
      wanted.add(new ReadPlanner.Range(r.nextInt(bytes.length - 5000), 1 + r.nextInt(4096)));
    }
    try (CountingDevice dev = new CountingDevice(FileBlockDevice.open(image))) {
      List<long[]> got = collect(new ReadPlanner(dev, ReadPlanner.Options.defaults().withGap(64 << 10).withMaxRequest(1 << 20)),
          wanted, new ArrayList<>());
      // In offset order, each wanted byte exactly once.
      for (int i = 1; i < got.size(); i++) {
        assertThat(got.get(i)[0]).isGreaterThanOrEqualTo(got.get(i - 1)[0] + got.get(i - 1)[1]);
      }
      long wantedBytes = ReadPlanner.normalize(wanted).stream().mapToLong(ReadPlanner.Range::length).sum();
      assertThat(got.stream().mapToLong(g -> g[1]).sum()).isEqualTo(wantedBytes);
      // Far fewer requests than ranges, none larger than the limit, none overlapping.
      assertThat(dev.reads.size()).isLessThan(wanted.size() / 5);
      assertThat(dev.reads).allMatch(x -> x[1] <= 1 << 20);
      List<long[]> sorted = new ArrayList<>(dev.reads);
      sorted.sort((a, b) -> Long.compare(a[0], b[0]));
      for (int i = 1; i < sorted.size(); i++) {
        assertThat(sorted.get(i)[0]).isGreaterThanOrEqualTo(sorted.get(i - 1)[0] + sorted.get(i - 1)[1]);
      }
    }
  }

  @Test
  void aLongRangeIsSplitAtMultiplesOfTheMaximumRequest() throws IOException {
    int max = 1 << 20;
    try (CountingDevice dev = new CountingDevice(FileBlockDevice.open(image))) {
      ReadPlanner.Stats stats = new ReadPlanner(dev, ReadPlanner.Options.defaults().withMaxRequest(max).withMaxInFlight(4 << 20))
          .read(List.of(new ReadPlanner.Range(12345, 10 << 20)), (o, d) -> { });
      // 12345 .. 1 MiB, nine whole MiB, then the rest: no read crosses a multiple of the maximum.
      assertThat(dev.reads).hasSize(11);
      assertThat(dev.reads.get(0)).containsExactly(12345, max - 12345);
      assertThat(dev.reads).allMatch(x -> x[0] / max == (x[0] + x[1] - 1) / max);
      assertThat(stats.readBytes()).isEqualTo(10 << 20);
      assertThat(stats.wantedBytes()).isEqualTo(10 << 20);
    }
  }

  /**
   * A sink may have reads land in its own buffers: requests of one wanted piece read straight into
   * the target it gives, which data() then hands back in place; requests that span a gap use the
   * planner's buffers.
   */
  @Test
  void readsLandInTheSinksTargets() throws IOException {
    byte[] mine = new byte[bytes.length];
    List<long[]> targets = new ArrayList<>();
    List<long[]> inPlace = new ArrayList<>();
    List<long[]> copied = new ArrayList<>();
    ReadPlanner.Sink sink = new ReadPlanner.Sink() {
      @Override
      public ByteBuffer target(long offset, int length) {
        targets.add(new long[] {offset, length});
        return offset < (8 << 20) ? ByteBuffer.wrap(mine, (int) offset, length) : null;  // only the first half
      }

      @Override
      public void data(long offset, ByteBuffer data) {
        if (data.hasArray() && data.array() == mine && data.arrayOffset() + data.position() == offset) {
          inPlace.add(new long[] {offset, data.remaining()});
        } else {
          copied.add(new long[] {offset, data.remaining()});
          data.get(mine, (int) offset, data.remaining());
        }
      }
    };
    // Three pieces 1 KiB apart (one request over the gaps), then a long range from 3 MiB to the end.
    List<ReadPlanner.Range> wanted = List.of(new ReadPlanner.Range(0, 1000), new ReadPlanner.Range(2000, 1000),
        new ReadPlanner.Range(4000, 1000), new ReadPlanner.Range(3 << 20, bytes.length - (3 << 20)));
    try (CountingDevice dev = new CountingDevice(FileBlockDevice.open(image))) {
      new ReadPlanner(dev, ReadPlanner.Options.defaults().withGap(4096).withMaxRequest(1 << 20).withMaxInFlight(4 << 20))
          .read(wanted, sink);
    }
    assertThat(targets).as("the request spanning gaps asks for no target").noneMatch(t -> t[0] < (3 << 20));
    assertThat(targets).hasSize(13);
    assertThat(inPlace.stream().mapToLong(x -> x[1]).sum()).isEqualTo(5L << 20);
    assertThat(copied.stream().mapToLong(x -> x[1]).sum()).isEqualTo(3000 + (8L << 20));
    byte[] expected = new byte[bytes.length];
    for (ReadPlanner.Range r : wanted) {
      System.arraycopy(bytes, (int) r.offset(), expected, (int) r.offset(), (int) r.length());
    }
    assertThat(mine).isEqualTo(expected);
  }

  @Test
  void holesAreReportedAsZerosAndNotRead() throws IOException {
    keepOnly(new long[] {0, 1 << 20}, new long[] {8 << 20, 1 << 20}, new long[] {(16 << 20) - 4096, 4096});
    try (CountingDevice dev = new CountingDevice(FileBlockDevice.open(image))) {
      List<long[]> zeros = new ArrayList<>();
      ReadPlanner p = new ReadPlanner(dev, ReadPlanner.Options.defaults().withFilter(ReadPlanner.Filter.SKIP_ZEROS));
      List<long[]> got = collect(p, List.of(new ReadPlanner.Range(0, bytes.length)), zeros);
      assertThat(zeros).isNotEmpty();
      long zeroBytes = zeros.stream().mapToLong(z -> z[1]).sum();
      long readBytes = dev.reads.stream().mapToLong(x -> x[1]).sum();
      assertThat(zeroBytes + readBytes).isEqualTo(bytes.length);
      assertThat(readBytes).isLessThan(4 << 20);
      for (int i = 1; i < got.size(); i++) {
        assertThat(got.get(i)[0]).isGreaterThanOrEqualTo(got.get(i - 1)[0] + Math.abs(got.get(i - 1)[1]));
      }
    }
  }

  /**
   * Hundreds of scattered wanted ranges (a volume's allocated runs) take one block-status round trip
   * per window, not one each; holes among them are still reported and not read.
   */
  @Test
  void blockStatusIsAskedOncePerWindowForManyRanges() throws IOException {
    keepOnly(new long[] {0, 4 << 20}, new long[] {12 << 20, 4 << 20});
    AtomicInteger statusCalls = new AtomicInteger();
    try (CountingDevice dev = new CountingDevice(FileBlockDevice.open(image)) {
      @Override
      public List<Extent> blockStatus(String c, long o, long l) throws IOException {
        statusCalls.incrementAndGet();
        return super.blockStatus(c, o, l);
      }
    }) {
      List<ReadPlanner.Range> wanted = new ArrayList<>();
      for (long at = 0; at < bytes.length; at += 64 << 10) {
        wanted.add(new ReadPlanner.Range(at + 4096, 8192));
      }
      List<long[]> zeros = new ArrayList<>();
      List<long[]> got = collect(new ReadPlanner(dev, ReadPlanner.Options.defaults().withGap(0).withFilter(ReadPlanner.Filter.SKIP_ZEROS)),
          wanted, zeros);
      assertThat(statusCalls.get()).as("block-status calls for %d ranges", wanted.size()).isEqualTo(1);
      assertThat(zeros.stream().mapToLong(z -> z[1]).sum()).as("wanted bytes in the hole").isEqualTo(128L * 8192);
      assertThat(got.stream().mapToLong(g -> Math.max(0, g[1])).sum()).as("wanted bytes handed over as data").isEqualTo(128L * 8192);
      assertThat(dev.reads.stream().mapToLong(r -> r[1]).sum()).as("bytes read").isEqualTo(128L * 8192);
    }
  }

  /** A device whose block status leaves part of a wanted range out fails the plan instead of skipping it unseen. */
  @Test
  void blockStatusThatLeavesAGapFailsThePlan() throws IOException {
    try (CountingDevice dev = new CountingDevice(FileBlockDevice.open(image)) {
      @Override
      public List<Extent> blockStatus(String c, long o, long l) {
        return List.of(new Extent(o, Math.min(l, 1 << 20), 0), new Extent(o + (2 << 20), l - (2 << 20), 0));
      }
    }) {
      ReadPlanner p = new ReadPlanner(dev, ReadPlanner.Options.defaults().withFilter(ReadPlanner.Filter.SKIP_ZEROS));
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> p.read(List.of(new ReadPlanner.Range(0, 8 << 20)), (o, d) -> { }))
          .isInstanceOf(BlockDeviceException.class).hasMessageContaining("does not cover 1048576..");
    }
  }

  @Test
  void aFailedReadFailsThePlanWithWhere() throws IOException {
    BlockDevice failing = new CountingDevice(FileBlockDevice.open(image)) {
      @Override
      public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        if (offset >= 4 << 20) {
          return CompletableFuture.failedFuture(new BlockDeviceException("injected", offset, dst.remaining(), null));
        }
        return super.readAsync(offset, dst);
      }
    };
    try (failing) {
      ReadPlanner p = new ReadPlanner(failing, ReadPlanner.Options.defaults().withMaxRequest(1 << 20));
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> p.read(List.of(new ReadPlanner.Range(0, 8 << 20)), (o, d) -> { }))
          .isInstanceOf(BlockDeviceException.class).hasMessageContaining("offset 4194304");
    }
  }

  /**
   * Thousands of small scattered pieces (a guest's fragmented small files): at most
   * {@link ReadPlanner#MAX_REQUESTS_IN_FLIGHT} requests outstanding, each with a buffer of its own
   * size class, so direct memory stays small (a buffer of the largest request size each would be
   * 4 GiB here).
   */
  @Test
  void smallScatteredPiecesHoldSmallBuffersAndBoundedRequests() throws Exception {
    java.lang.management.BufferPoolMXBean direct = java.lang.management.ManagementFactory
        .getPlatformMXBeans(java.lang.management.BufferPoolMXBean.class).stream()
        .filter(b -> b.getName().equals("direct")).findFirst().orElseThrow();
    List<ReadPlanner.Range> wanted = new ArrayList<>();
    for (long o = 0; o + 512 <= bytes.length; o += 4096) {
      wanted.add(new ReadPlanner.Range(o + 100, 412));
    }
    long before = direct.getMemoryUsed();
    long[] most = new long[2];  // direct bytes, requests outstanding
    int[] consumed = {0};
    try (CountingDevice dev = new CountingDevice(FileBlockDevice.open(image))) {
      new ReadPlanner(dev, ReadPlanner.Options.defaults().withGap(0)).read(wanted, (offset, data) -> {
        assertThat(data.get(0)).as("byte at %d", offset).isEqualTo(bytes[(int) offset]);
        most[0] = Math.max(most[0], direct.getMemoryUsed() - before);
        most[1] = Math.max(most[1], dev.reads.size() - consumed[0]++);
      });
      assertThat(dev.reads).as("one request per piece").hasSize(wanted.size());
    }
    assertThat(wanted.size()).isGreaterThan(ReadPlanner.MAX_REQUESTS_IN_FLIGHT);
    assertThat(most[1]).as("requests outstanding").isEqualTo(ReadPlanner.MAX_REQUESTS_IN_FLIGHT);
    assertThat(most[0]).as("direct memory held while reading").isLessThanOrEqualTo(
        (long) ReadPlanner.MAX_REQUESTS_IN_FLIGHT * ReadPlanner.MIN_BUFFER + (1 << 20));
  }

  private static java.lang.management.BufferPoolMXBean directBuffers() {
    return java.lang.management.ManagementFactory.getPlatformMXBeans(java.lang.management.BufferPoolMXBean.class).stream()
        .filter(b -> b.getName().equals("direct")).findFirst().orElseThrow();
  }

  /**
   * A later planner reads into the buffers an earlier one used (a backup makes one per large file),
   * and a buffer too small for a request of another planner's size class is not handed out.
   */
  @Test
  void laterPlannersReuseTheBuffersOfEarlierOnes() throws Exception {
    List<ReadPlanner.Range> wanted = List.of(new ReadPlanner.Range(0, 4 << 20), new ReadPlanner.Range(8 << 20, 3 << 20));
    try (CountingDevice dev = new CountingDevice(FileBlockDevice.open(image))) {
      ReadPlanner.Options opts = ReadPlanner.Options.defaults().withGap(0).withMaxRequest(512 << 10);
      collect(new ReadPlanner(dev, opts), wanted, new ArrayList<>());
      long buffers = directBuffers().getCount();
      for (int i = 0; i < 3; i++) {
        assertThat(collect(new ReadPlanner(dev, opts), wanted, new ArrayList<>())).hasSize(14);
      }
      assertThat(directBuffers().getCount()).as("direct buffers after three more planners").isEqualTo(buffers);

      // 3 MiB requests leave 3 MiB buffers in the 4 MiB class; 4 MiB requests must not get them.
      collect(new ReadPlanner(dev, opts.withMaxRequest(3 << 20).withMaxInFlight(8 << 20)), List.of(new ReadPlanner.Range(0, 6 << 20)), new ArrayList<>());
      List<long[]> got = collect(new ReadPlanner(dev, opts.withMaxRequest(4 << 20).withMaxInFlight(8 << 20)),
          List.of(new ReadPlanner.Range(0, 8 << 20)), new ArrayList<>());
      assertThat(got).extracting(g -> g[1]).containsExactly(4L << 20, 4L << 20);
    }
  }
}
