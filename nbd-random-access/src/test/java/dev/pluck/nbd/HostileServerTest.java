package dev.pluck.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdProtocolException;
import dev.pluck.nbd.protocol.NbdUri;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The client against a server that speaks extended headers, and against one that lies. */
class HostileServerTest {
  @TempDir Path tmp;
  private final byte[] data = bytes();

  private static byte[] bytes() {
    byte[] b = new byte[1 << 20];
    new Random(9).nextBytes(b);
    return b;
  }

  private NbdBlockDevice open(TestNbdServer s, Duration timeout) throws Exception {
    return NbdBlockDevice.open(NbdUri.parse(s.uri()), NbdOptions.defaults().withConnections(1).withRequestTimeout(timeout));
  }

  @Test
  void aMissingSocketIsNamedInTheError() {
    Path socket = tmp.resolve("no-server.sock");
    assertThatThrownBy(() -> NbdBlockDevice.open(NbdUri.parse("nbd+unix:///?socket=" + socket), NbdOptions.defaults()))
        .isInstanceOf(java.io.IOException.class)
        .hasMessage("cannot connect to nbd+unix:///?socket=" + socket + ": no such socket");
  }

  @Test
  void aRefusedConnectionSaysSo() throws Exception {
    int port;
    try (java.net.ServerSocket closed = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = closed.getLocalPort();
    }
    String uri = "nbd://127.0.0.1:" + port + "/";
    assertThatThrownBy(() -> NbdBlockDevice.open(NbdUri.parse(uri), NbdOptions.defaults()))
        .isInstanceOf(java.io.IOException.class)
        .hasMessageStartingWith("cannot connect to " + uri + ": ")
        .hasMessageContaining("Connection refused");
  }

  /** A read's buffer: on the Java heap, or direct (which the socket may fill itself). */
  private static ByteBuffer buffer(int length, boolean direct) {
    return direct ? ByteBuffer.allocateDirect(length) : ByteBuffer.allocate(length);
  }

  private static byte[] bytesOf(ByteBuffer b) {
    byte[] out = new byte[b.flip().remaining()];
    b.get(out);
    return out;
  }

  /** A read's reply as data chunks out of order and a hole: each lands where it says, the hole as zeros. */
  @Test
  void aReplyInScatteredChunksIsAssembledInPlace() throws Exception {
    for (boolean extended : new boolean[] {false, true}) {
      for (boolean direct : new boolean[] {false, true}) {
        try (TestNbdServer s = new TestNbdServer(tmp, data, extended, TestNbdServer.Misbehaviour.SCATTERED_CHUNKS);
            NbdBlockDevice dev = open(s, Duration.ofSeconds(10))) {
          int length = 400_000;
          byte[] expected = java.util.Arrays.copyOfRange(data, 5000, 5000 + length);
          java.util.Arrays.fill(expected, length / 4, length / 2, (byte) 0);
          ByteBuffer dst = buffer(length, direct);
          // Garbage where the hole goes: the hole must be written as zeros, not left alone.
          for (int i = length / 4; i < length / 2; i++) {
            dst.put(i, (byte) 0x5a);
          }
          dev.read(5000, dst);
          assertThat(bytesOf(dst)).as("extended %s, direct %s", extended, direct).isEqualTo(expected);
        }
      }
    }
  }

  /** A read-only buffer is refused before anything is sent, and the connection stays good. */
  @Test
  void aReadOnlyBufferIsRefused() throws Exception {
    try (TestNbdServer s = new TestNbdServer(tmp, data, false, TestNbdServer.Misbehaviour.NONE);
        NbdBlockDevice dev = open(s, Duration.ofSeconds(10))) {
      ByteBuffer readOnly = ByteBuffer.allocateDirect(64 << 10).asReadOnlyBuffer();
      assertThatThrownBy(() -> dev.read(0, readOnly)).isInstanceOf(java.nio.ReadOnlyBufferException.class);
      assertThat(readOnly.get(0)).isZero();
      assertThat(dev.read(0, 4096)).isEqualTo(java.util.Arrays.copyOf(data, 4096));
    }
  }

  /**
   * Read data for a direct buffer is written there by the socket itself (no copy), for structured
   * and extended replies, and simple ones; data for a heap buffer is copied, and after it the
   * client returns to reading in place.
   */
  @Test
  void directBuffersAreFilledByTheSocketItself() throws Exception {
    int length = 300_000;
    for (TestNbdServer.Misbehaviour kind : List.of(TestNbdServer.Misbehaviour.NONE, TestNbdServer.Misbehaviour.OLD_SERVER_WITHOUT_GO)) {
      for (boolean extended : kind == TestNbdServer.Misbehaviour.NONE ? new boolean[] {false, true} : new boolean[] {false}) {
        long inPlace;
        try (InPlaceBytes counter = new InPlaceBytes()) {
          try (TestNbdServer s = new TestNbdServer(tmp, data, extended, kind);
              NbdBlockDevice dev = NbdBlockDevice.open(NbdUri.parse(s.uri()), NbdOptions.defaults().withConnections(1)
                  .withStructuredReplies(kind == TestNbdServer.Misbehaviour.NONE))) {
            int[] offsets = {0, 123_457, 77, 700_001, 400_000};
            boolean[] direct = {true, true, false, true, true};
            for (int i = 0; i < offsets.length; i++) {
              ByteBuffer dst = buffer(length, direct[i]);
              dev.read(offsets[i], dst);
              assertThat(bytesOf(dst)).as("%s extended %s read %d", kind, extended, i)
                  .isEqualTo(java.util.Arrays.copyOfRange(data, offsets[i], offsets[i] + length));
            }
          }
          inPlace = counter.total();
        }
        // All of the direct reads but the one after the heap read, whose header came in an ordinary
        // buffer that may have taken some or all of its data along.
        assertThat(inPlace).as("%s extended %s", kind, extended).isBetween(3L * length, 4L * length);
      }
    }
  }

  @Test
  void extendedHeadersAreUsedWhenTheServerOffersThem() throws Exception {
    try (TestNbdServer s = new TestNbdServer(tmp, data, true, TestNbdServer.Misbehaviour.NONE);
        NbdBlockDevice dev = open(s, Duration.ofSeconds(10))) {
      assertThat(dev.info().extendedHeaders()).isTrue();
      assertThat(dev.read(1000, 5000)).isEqualTo(java.util.Arrays.copyOfRange(data, 1000, 6000));
      List<Extent> status = dev.blockStatus(BlockDevice.BASE_ALLOCATION, 0, data.length);
      assertThat(status).extracting(Extent::flags).containsExactly(0, Extent.HOLE | Extent.ZERO);
      assertThat(status.get(0).length() + status.get(1).length()).isEqualTo(data.length);
    }
  }

  @Test
  void plainHeadersWhenTheServerRefusesExtendedOnes() throws Exception {
    try (TestNbdServer s = new TestNbdServer(tmp, data, false, TestNbdServer.Misbehaviour.NONE);
        NbdBlockDevice dev = open(s, Duration.ofSeconds(10))) {
      assertThat(dev.info().extendedHeaders()).isFalse();
      assertThat(dev.info().structuredReplies()).isTrue();
      assertThat(dev.read(0, 4096)).isEqualTo(java.util.Arrays.copyOf(data, 4096));
    }
  }

  @Test
  void anOldServerWithoutGoIsReadThroughExportName() throws Exception {
    // NBD_OPT_GO is refused: the client must fall back to NBD_OPT_EXPORT_NAME (no block sizes),
    // after which this server only sends simple replies.
    try (TestNbdServer s = new TestNbdServer(tmp, data, false, TestNbdServer.Misbehaviour.OLD_SERVER_WITHOUT_GO);
        NbdBlockDevice dev = NbdBlockDevice.open(NbdUri.parse(s.uri()),
            NbdOptions.defaults().withConnections(1).withStructuredReplies(false))) {
      assertThat(dev.size()).isEqualTo(data.length);
      assertThat(dev.blockSizes()).isEqualTo(BlockSizes.DEFAULT);
      assertThat(dev.read(4096, 8192)).isEqualTo(java.util.Arrays.copyOfRange(data, 4096, 12288));
    }
  }

  @ParameterizedTest
  @EnumSource(value = TestNbdServer.Misbehaviour.class, names = {"UNKNOWN_COOKIE", "LONG_CHUNK", "BAD_MAGIC", "CHUNK_OUTSIDE_REQUEST", "SHORT_READ"})
  @Timeout(20)
  void aLyingReadReplyClosesTheConnectionWithAProtocolError(TestNbdServer.Misbehaviour lie) throws Exception {
    for (boolean extended : new boolean[] {false, true}) {
      for (boolean direct : new boolean[] {false, true}) {
        try (TestNbdServer s = new TestNbdServer(tmp, data, extended, lie); NbdBlockDevice dev = open(s, Duration.ofSeconds(10))) {
          assertThatThrownBy(() -> dev.read(0, buffer(64 << 10, direct))).isInstanceOf(NbdProtocolException.class);
          // The connection is gone: later requests fail at once instead of hanging.
          assertThatThrownBy(() -> dev.read(0, 10)).isInstanceOf(NbdProtocolException.class);
        }
      }
    }
  }

  @Test
  @Timeout(20)
  void moreThanAMillionDescriptorsIsRefusedBeforeAllocating() throws Exception {
    for (boolean extended : new boolean[] {false, true}) {
      try (TestNbdServer s = new TestNbdServer(tmp, data, extended, TestNbdServer.Misbehaviour.TOO_MANY_DESCRIPTORS);
          NbdBlockDevice dev = open(s, Duration.ofSeconds(10))) {
        assertThatThrownBy(() -> dev.blockStatus(BlockDevice.BASE_ALLOCATION, 0, data.length))
            .isInstanceOf(NbdProtocolException.class).hasMessageContaining("descriptors");
      }
    }
  }

  @Test
  @Timeout(20)
  void aSilentServerTimesOut() throws Exception {
    try (TestNbdServer s = new TestNbdServer(tmp, data, false, TestNbdServer.Misbehaviour.SILENT);
        NbdBlockDevice dev = open(s, Duration.ofMillis(500))) {
      long start = System.nanoTime();
      assertThatThrownBy(() -> dev.read(0, 4096)).hasMessageContaining("no reply");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }
  }
}
