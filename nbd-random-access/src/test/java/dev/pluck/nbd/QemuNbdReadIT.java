package dev.pluck.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdUri;
import dev.pluck.testdata.QemuNbd;
import dev.pluck.testdata.Tools;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reads through pluck's NBD client from qemu-nbd, compared with the bytes of the image file. */
class QemuNbdReadIT {
  @TempDir static Path tmp;
  static Path image;
  static byte[] bytes;

  @BeforeAll
  static void makeImage() throws Exception {
    // 48 MiB: random data, a hole, and a zeroed-but-allocated range.
    image = tmp.resolve("disk.raw");
    bytes = new byte[48 << 20];
    new Random(42).nextBytes(bytes);
    java.util.Arrays.fill(bytes, 8 << 20, 16 << 20, (byte) 0);
    java.util.Arrays.fill(bytes, 20 << 20, 21 << 20, (byte) 0);
    Files.write(image, bytes);
    Tools.runOk("fallocate", "--punch-hole", "--offset", Long.toString(8 << 20), "--length", Long.toString(8 << 20), image.toString());
  }

  @Test
  void randomReadsMatchTheImage() throws Exception {
    try (QemuNbd server = QemuNbd.serve(image); NbdBlockDevice dev = NbdBlockDevice.open(server.uri())) {
      assertThat(dev.size()).isEqualTo(bytes.length);
      assertThat(dev.info().structuredReplies()).isTrue();
      Random r = new Random(7);
      for (int i = 0; i < 300; i++) {
        int length = 1 + r.nextInt(i % 10 == 0 ? 40 << 20 : 70_000);
        long offset = (long) (r.nextDouble() * (bytes.length - length));
        ByteBuffer dst = i % 2 == 0 ? ByteBuffer.allocate(length) : ByteBuffer.allocateDirect(length);
        dev.read(offset, dst);
        assertThat(dst.hasRemaining()).isFalse();
        dst.flip();
        byte[] got = new byte[length];
        dst.get(got);
        assertThat(java.util.Arrays.equals(got, 0, length, bytes, (int) offset, (int) offset + length))
            .as("read %d+%d", offset, length).isTrue();
      }
    }
  }

  /**
   * Into direct buffers, qemu-nbd's read data is written by the socket itself, with structured
   * replies over several connections and with simple replies; the bytes are the image's.
   */
  @Test
  void directBuffersAreFilledByTheSocketItself() throws Exception {
    for (boolean structured : new boolean[] {true, false}) {
      long inPlace;
      long wanted = 0;
      try (InPlaceBytes counter = new InPlaceBytes()) {
        try (QemuNbd server = QemuNbd.serve(image);
            NbdBlockDevice dev = NbdBlockDevice.open(NbdUri.parse(server.uri()),
                NbdOptions.defaults().withConnections(structured ? 4 : 1).withStructuredReplies(structured))) {
          Random r = new Random(11);
          for (int i = 0; i < 40; i++) {
            int length = 4096 + r.nextInt(3 << 20);
            long offset = r.nextInt((8 << 20) - length);  // random data, no holes
            ByteBuffer dst = ByteBuffer.allocateDirect(length);
            dev.read(offset, dst);
            byte[] got = new byte[length];
            dst.flip().get(got);
            assertThat(java.util.Arrays.equals(got, 0, length, bytes, (int) offset, (int) offset + length))
                .as("structured %s read %d+%d", structured, offset, length).isTrue();
            wanted += length;
          }
        }
        inPlace = counter.total();
      }
      assertThat(inPlace).as("structured %s", structured).isBetween(wanted * 99 / 100, wanted);
    }
  }

  @Test
  void zeroLengthAndPastTheEndAreRejectedBeforeSending() throws Exception {
    try (QemuNbd server = QemuNbd.serve(image); NbdBlockDevice dev = NbdBlockDevice.open(server.uri())) {
      assertThatThrownBy(() -> dev.read(0, ByteBuffer.allocate(0)))
          .isInstanceOf(BlockDeviceException.class).hasMessageContaining("zero-length");
      assertThatThrownBy(() -> dev.read(bytes.length - 10, ByteBuffer.allocate(11)))
          .isInstanceOf(BlockDeviceException.class).hasMessageContaining("outside");
      assertThatThrownBy(() -> dev.read(-1, ByteBuffer.allocate(1))).isInstanceOf(BlockDeviceException.class);
      // The connection is still good afterwards.
      assertThat(dev.read(bytes.length - 1, 1)).containsExactly(bytes[bytes.length - 1]);
    }
  }

  @Test
  void blockStatusMatchesNbdinfoMap() throws Exception {
    try (QemuNbd server = QemuNbd.serve(image); NbdBlockDevice dev = NbdBlockDevice.open(server.uri())) {
      List<Extent> ours = dev.blockStatus(BlockDevice.BASE_ALLOCATION, 0, dev.size());
      List<String> theirs = Tools.runOk("nbdinfo", "--map", server.uri()).lines();
      assertThat(ours).hasSize(theirs.size());
      for (int i = 0; i < ours.size(); i++) {
        String[] f = theirs.get(i).trim().split("\\s+");
        assertThat(ours.get(i).offset()).isEqualTo(Long.parseLong(f[0]));
        assertThat(ours.get(i).length()).isEqualTo(Long.parseLong(f[1]));
        assertThat(ours.get(i).flags()).isEqualTo(Integer.parseInt(f[2]));
      }
      assertThat(ours).anyMatch(e -> e.flags() == (Extent.HOLE | Extent.ZERO) && e.offset() == 8 << 20);
    }
  }

  @Test
  void severalConnectionsWhenTheServerAllowsThem() throws Exception {
    try (QemuNbd server = QemuNbd.serve(image);
        NbdBlockDevice dev = NbdBlockDevice.open(NbdUri.parse(server.uri()), NbdOptions.defaults().withConnections(4))) {
      assertThat(dev.info().canMultiConn()).isTrue();
      assertThat(dev.connectionCount()).isEqualTo(4);
      byte[] all = new byte[bytes.length];
      dev.read(0, ByteBuffer.wrap(all));
      assertThat(all).isEqualTo(bytes);
    }
  }

  @Test
  void simpleRepliesWhenStructuredRepliesAreOff() throws Exception {
    try (QemuNbd server = QemuNbd.serve(image);
        NbdBlockDevice dev = NbdBlockDevice.open(NbdUri.parse(server.uri()), NbdOptions.defaults().withStructuredReplies(false))) {
      assertThat(dev.info().structuredReplies()).isFalse();
      assertThat(dev.metaContexts()).isEmpty();
      byte[] got = dev.read(5 << 20, 3 << 20);
      assertThat(java.util.Arrays.equals(got, 0, got.length, bytes, 5 << 20, 8 << 20)).isTrue();
    }
  }

  @Test
  void writesReachTheImage(@TempDir Path dir) throws Exception {
    Path copy = Files.write(dir.resolve("rw.raw"), bytes);
    try (QemuNbd server = QemuNbd.serve(copy, "raw", false, "rw", List.of());
        NbdBlockDevice dev = NbdBlockDevice.open(server.uri())) {
      assertThat(dev.isReadOnly()).isFalse();
      byte[] data = new byte[100_000];
      new Random(3).nextBytes(data);
      dev.write(123_457, ByteBuffer.wrap(data));
      dev.writeZeroes(1 << 20, 1 << 20, true);
      dev.flush();
      assertThat(dev.read(123_457, data.length)).isEqualTo(data);
      assertThat(dev.read(1 << 20, 1 << 20)).containsOnly(0);
    }
    byte[] onDisk = Files.readAllBytes(copy);
    assertThat(onDisk[123_457]).isNotEqualTo(bytes[123_457] == 0 ? 1 : 0);
    assertThat(java.util.Arrays.equals(onDisk, 1 << 20, 2 << 20, new byte[1 << 20], 0, 1 << 20)).isTrue();
  }
}
