package dev.pluck.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.nbd.protocol.NbdConnection;
import dev.pluck.nbd.protocol.NbdException;
import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdProtocolException;
import dev.pluck.nbd.protocol.NbdUri;
import dev.pluck.testdata.Nbdkit;
import dev.pluck.testdata.Tools;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** pluck's client against nbdkit's plugins, and faults injected by its filters. */
class NbdkitIT {
  @TempDir Path tmp;

  private static NbdBlockDevice open(Nbdkit k, NbdOptions o) throws Exception {
    return NbdBlockDevice.open(NbdUri.parse(k.uri()), o);
  }

  /** What nbdcopy, libnbd's client, reads from the same export. */
  private byte[] nbdcopy(Nbdkit k) throws Exception {
    Path out = tmp.resolve("nbdcopy.raw");
    Files.deleteIfExists(out);
    Tools.runOk("nbdcopy", k.uri(), out.toString());
    return Files.readAllBytes(out);
  }

  @Test
  void sparseRandomAndDataPluginsReadAsNbdcopyReadsThem() throws Exception {
    try (Nbdkit k = Nbdkit.start("sparse-random", "size=64M", "seed=1234", "percent=30");
        NbdBlockDevice dev = open(k, NbdOptions.defaults())) {
      byte[] want = nbdcopy(k);
      byte[] got = new byte[(int) dev.size()];
      new ReadPlanner(dev, ReadPlanner.Options.defaults().withFilter(ReadPlanner.Filter.SKIP_ZEROS))
          .read(List.of(new ReadPlanner.Range(0, dev.size())), (off, d) -> d.get(got, (int) off, d.remaining()));
      assertThat(got).isEqualTo(want);
      assertThat(dev.blockStatus(BlockDevice.BASE_ALLOCATION, 0, dev.size())).anyMatch(Extent::readsAsZeros);
    }
    try (Nbdkit k = Nbdkit.start("data", "data=1 2 3 @0x10000 ( 0x55 0xaa )*5000 @^4096 \"pluck\"", "size=1M");
        NbdBlockDevice dev = open(k, NbdOptions.defaults())) {
      byte[] want = nbdcopy(k);
      assertThat(dev.read(0, (int) dev.size())).isEqualTo(want);
      assertThat(dev.read(0x10000, 2)).containsExactly(0x55, 0xaa);
    }
  }

  /**
   * nbdkit --mask-handshake=0 greets as servers did before fixed newstyle: the client may send
   * nothing but NBD_OPT_EXPORT_NAME. Reads and writes work; there is no block status to ask for.
   */
  @Test
  @Timeout(60)
  void serversOfTheOriginalNewstyleNegotiationAreReadThroughExportName() throws Exception {
    try (Nbdkit k = Nbdkit.start("--mask-handshake=0", "sparse-random", "size=16M", "seed=77", "percent=50");
        NbdBlockDevice dev = open(k, NbdOptions.defaults().withMetaContexts(List.of(BlockDevice.BASE_ALLOCATION)))) {
      assertThat(dev.info().structuredReplies()).isFalse();
      assertThat(dev.metaContexts()).isEmpty();
      byte[] want = nbdcopy(k);
      byte[] got = new byte[(int) dev.size()];
      new ReadPlanner(dev).read(List.of(new ReadPlanner.Range(0, dev.size())), (off, d) -> d.get(got, (int) off, d.remaining()));
      assertThat(got).isEqualTo(want);
      NbdConnection.Listing[] listing = new NbdConnection.Listing[1];
      assertThatThrownBy(() -> NbdConnection.connectAndList(NbdUri.parse(k.uri()), NbdOptions.defaults(), true, listing).close())
          .isInstanceOf(NbdProtocolException.class).hasMessageContaining("original newstyle negotiation, which cannot list exports");
    }
    try (Nbdkit k = Nbdkit.start("--mask-handshake=0", "memory", "size=4M"); NbdBlockDevice dev = open(k, NbdOptions.defaults())) {
      byte[] data = new byte[100_000];
      new Random(5).nextBytes(data);
      dev.write(12345, ByteBuffer.wrap(data));
      dev.flush();
      assertThat(dev.read(12345, data.length)).isEqualTo(data);
    }
  }

  @Test
  void memoryPluginTakesWritesAndReturnsThem() throws Exception {
    try (Nbdkit k = Nbdkit.start("memory", "size=16M"); NbdBlockDevice dev = open(k, NbdOptions.defaults())) {
      byte[] data = new byte[3 << 20];
      new Random(11).nextBytes(data);
      dev.write(777, ByteBuffer.wrap(data));
      dev.flush();
      assertThat(dev.read(777, data.length)).isEqualTo(data);
      dev.trim(0, 1 << 20);
      dev.writeZeroes(2 << 20, 4096, false);
      assertThat(dev.read(2 << 20, 4096)).containsOnly(0);
    }
  }

  @Test
  @Timeout(30)
  void serverErrorsBecomeTypedExceptionsWithTheErrnoAndTheRequest() throws Exception {
    try (Nbdkit k = Nbdkit.start("--filter=error", "memory", "size=1M", "error=EIO", "error-pread-rate=1");
        NbdBlockDevice dev = open(k, NbdOptions.defaults())) {
      assertThatThrownBy(() -> dev.read(8192, 4096))
          .isInstanceOfSatisfying(NbdException.class, e -> {
            assertThat(e.errnoName()).isEqualTo("EIO");
            assertThat(e.offset()).isEqualTo(8192);
          })
          .hasMessageContaining("NBD_CMD_READ").hasMessageContaining("EIO");
      // An error reply leaves the connection usable.
      assertThatThrownBy(() -> dev.read(0, 1)).isInstanceOf(NbdException.class);
    }
    try (Nbdkit k = Nbdkit.start("--filter=error", "memory", "size=1M", "error=ENOSPC", "error-pwrite-rate=1");
        NbdBlockDevice dev = open(k, NbdOptions.defaults())) {
      assertThatThrownBy(() -> dev.write(0, ByteBuffer.allocate(512)))
          .isInstanceOfSatisfying(NbdException.class, e -> assertThat(e.errnoName()).isEqualTo("ENOSPC"));
    }
  }

  @Test
  @Timeout(30)
  void someFailedReadsAmongManyFailOnlyThemselves() throws Exception {
    try (Nbdkit k = Nbdkit.start("--filter=error", "memory", "size=16M", "error=EIO", "error-pread-rate=0.3");
        NbdBlockDevice dev = open(k, NbdOptions.defaults())) {
      List<CompletableFuture<Void>> reads = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        reads.add(dev.readAsync(i * 65536L, ByteBuffer.allocate(65536)));
      }
      long failed = reads.stream().filter(f -> {
        try {
          f.join();
          return false;
        } catch (Exception e) {
          assertThat(e.getCause()).isInstanceOf(NbdException.class);
          return true;
        }
      }).count();
      assertThat(failed).isBetween(20L, 120L);
    }
  }

  @Test
  @Timeout(30)
  void aSlowServerTimesOutWithinTheRequestTimeout() throws Exception {
    try (Nbdkit k = Nbdkit.start("--filter=delay", "memory", "size=1M", "rdelay=10");
        NbdBlockDevice dev = open(k, NbdOptions.defaults().withRequestTimeout(Duration.ofSeconds(1)))) {
      long start = System.nanoTime();
      assertThatThrownBy(() -> dev.read(0, 4096)).isInstanceOf(NbdProtocolException.class).hasMessageContaining("no reply");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(900), Duration.ofSeconds(5));
    }
  }

  @Test
  @Timeout(30)
  void killingTheServerFailsEveryOutstandingRequestAtOnce() throws Exception {
    Nbdkit k = Nbdkit.start("--filter=delay", "memory", "size=64M", "rdelay=3");
    try (NbdBlockDevice dev = open(k, NbdOptions.defaults().withConnections(1))) {
      List<CompletableFuture<Void>> reads = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        reads.add(dev.readAsync(i * (1L << 20), ByteBuffer.allocate(1 << 20)));
      }
      Thread.sleep(300);
      long start = System.nanoTime();
      k.kill();  // a crash: no goodbye (SIGTERM would make nbdkit answer ESHUTDOWN)
      for (CompletableFuture<Void> f : reads) {
        assertThatThrownBy(f::join).hasCauseInstanceOf(NbdProtocolException.class);
      }
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(8));
      assertThatThrownBy(() -> dev.read(0, 10)).isInstanceOf(NbdProtocolException.class);
    } finally {
      k.close();
    }
  }

  @Test
  @Timeout(30)
  void aServerShuttingDownAnswersOutstandingReadsWithEshutdown() throws Exception {
    Nbdkit k = Nbdkit.start("--filter=delay", "memory", "size=16M", "rdelay=2");
    try (NbdBlockDevice dev = open(k, NbdOptions.defaults().withConnections(1))) {
      CompletableFuture<Void> read = dev.readAsync(0, ByteBuffer.allocate(4096));
      Thread.sleep(300);
      k.close();
      assertThatThrownBy(read::join).cause().isInstanceOfAny(NbdException.class, NbdProtocolException.class);
    }
  }
}
