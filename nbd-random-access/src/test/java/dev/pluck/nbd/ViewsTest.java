package dev.pluck.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ViewsTest {
  @TempDir Path tmp;

  @Test
  void sliceReadsItsRangeAndRefusesToLeaveIt() throws Exception {
    byte[] bytes = new byte[1 << 20];
    new Random(3).nextBytes(bytes);
    try (FileBlockDevice dev = FileBlockDevice.open(Files.write(tmp.resolve("a"), bytes))) {
      BlockDevice part = dev.slice(4096, 65536);
      assertThat(part.size()).isEqualTo(65536);
      assertThat(part.read(100, 10)).isEqualTo(java.util.Arrays.copyOfRange(bytes, 4196, 4206));
      assertThatThrownBy(() -> part.read(65530, 10)).isInstanceOf(BlockDeviceException.class);
      BlockDevice nested = part.slice(1000, 100);
      assertThat(nested.read(0, 4)).isEqualTo(java.util.Arrays.copyOfRange(bytes, 5096, 5100));
      assertThatThrownBy(() -> dev.slice(bytes.length - 10, 11)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void segmentsReadAcrossPiecesOfSeveralDevices() throws Exception {
    byte[] a = new byte[256 << 10];
    byte[] b = new byte[256 << 10];
    new Random(4).nextBytes(a);
    new Random(5).nextBytes(b);
    try (FileBlockDevice da = FileBlockDevice.open(Files.write(tmp.resolve("a"), a));
        FileBlockDevice db = FileBlockDevice.open(Files.write(tmp.resolve("b"), b))) {
      SegmentedBlockDevice lv = SegmentedBlockDevice.concat("vg/lv", List.of(
          new SegmentedBlockDevice.Piece(db, 65536, 65536),
          new SegmentedBlockDevice.Piece(da, 0, 4096),
          new SegmentedBlockDevice.Piece(db, 0, 1000)));
      assertThat(lv.size()).isEqualTo(65536 + 4096 + 1000);
      byte[] got = lv.read(65536 - 100, 4096 + 200);
      byte[] want = new byte[4096 + 200];
      System.arraycopy(b, 65536 + 65536 - 100, want, 0, 100);
      System.arraycopy(a, 0, want, 100, 4096);
      System.arraycopy(b, 0, want, 4196, 100);
      assertThat(got).isEqualTo(want);
      assertThat(lv.devices()).containsExactlyInAnyOrder(da, db);
      assertThat(lv.blockStatus(BlockDevice.BASE_ALLOCATION, 0, lv.size()))
          .extracting(Extent::length).containsExactly(lv.size());
      assertThatThrownBy(() -> lv.read(lv.size() - 1, ByteBuffer.allocate(2))).isInstanceOf(BlockDeviceException.class);
    }
  }

  @Test
  void cacheServesRepeatedMetadataReadsWithoutTouchingTheDevice() throws Exception {
    byte[] bytes = new byte[1 << 20];
    new Random(6).nextBytes(bytes);
    try (CachingBlockDevice c = new CachingBlockDevice(FileBlockDevice.open(Files.write(tmp.resolve("c"), bytes)), 4096, 8 * 4096)) {
      for (int round = 0; round < 3; round++) {
        assertThat(c.read(1024, 512)).isEqualTo(java.util.Arrays.copyOfRange(bytes, 1024, 1536));
        assertThat(c.read(4000, 200)).isEqualTo(java.util.Arrays.copyOfRange(bytes, 4000, 4200));
      }
      // Block 0 and block 1 (the second read crosses into it) are read once each.
      assertThat(c.misses()).isEqualTo(2);
      assertThat(c.hits()).isEqualTo(7);
      for (int i = 1; i <= 20; i++) {  // evicts: bounded to 8 blocks
        c.read(40_000L * i, 10);
      }
      c.read(1024, 10);
      assertThat(c.misses()).isEqualTo(2 + 20 + 1);
    }
  }

  @Test
  void imageFormatsAreRecognisedByMagic() {
    assertThat(ImageFormat.probe(ByteBuffer.wrap(new byte[] {'Q', 'F', 'I', (byte) 0xfb, 0, 0, 0, 3}))).isEqualTo(ImageFormat.QCOW2);
    assertThat(ImageFormat.probe(ByteBuffer.wrap("vhdxfile....".getBytes()))).isEqualTo(ImageFormat.VHDX);
    assertThat(ImageFormat.probe(ByteBuffer.wrap("KDMV".getBytes()))).isEqualTo(ImageFormat.VMDK);
    assertThat(ImageFormat.probe(ByteBuffer.wrap(new byte[512]))).isEqualTo(ImageFormat.RAW);
  }
}
