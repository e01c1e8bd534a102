package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.fs.FileExtent;
import dev.pluck.nbd.FileBlockDevice;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Large files read through the read planner, a window at a time. */
class PlannedFileChannelTest {
  /** The bytes of a file read to its end, in reads of {@code step} bytes. */
  private static byte[] readAll(PlannedFileChannel ch, int size, int step) throws Exception {
    byte[] out = new byte[size];
    ByteBuffer b = ByteBuffer.wrap(out);
    while (b.hasRemaining()) {
      ByteBuffer part = b.slice(b.position(), Math.min(step, b.remaining()));
      int n = ch.read(part);
      assertThat(n).isPositive();
      b.position(b.position() + n);
    }
    assertThat(ch.read(ByteBuffer.allocate(1))).isEqualTo(-1);
    return out;
  }

  /**
   * A window is handed from a file read to its end to the next file's channel: the second file's
   * holes read as zeros, not as the first file's bytes left in the window.
   */
  @Test
  void theNextFileReadsItsOwnBytesAndZerosInAHandedOnWindow(@TempDir Path dir) throws Exception {
    int size = 3 << 20;
    byte[] volume = new byte[2 * size];
    new Random(3).nextBytes(volume);
    Path image = dir.resolve("volume.raw");
    Files.write(image, volume);
    try (FileBlockDevice dev = FileBlockDevice.open(image)) {
      AtomicLong read = new AtomicLong();
      // first: the volume's first 3 MiB as they are
      List<FileExtent> first = List.of(new FileExtent(0, 0, size, FileExtent.Kind.DATA));
      byte[] a = readAll(new PlannedFileChannel(dev, first, size, read::addAndGet), size, 1 << 20);
      assertThat(a).isEqualTo(Arrays.copyOfRange(volume, 0, size));
      // second: 1 MiB of the volume's second half, a 1 MiB hole, then its last MiB
      List<FileExtent> second = List.of(
          new FileExtent(0, size, 1 << 20, FileExtent.Kind.DATA),
          new FileExtent(1 << 20, -1, 1 << 20, FileExtent.Kind.HOLE),
          new FileExtent(2 << 20, size + (2 << 20), 1 << 20, FileExtent.Kind.DATA));
      byte[] b = readAll(new PlannedFileChannel(dev, second, size, read::addAndGet), size, 64 << 10);
      byte[] expected = Arrays.copyOfRange(volume, size, 2 * size);
      Arrays.fill(expected, 1 << 20, 2 << 20, (byte) 0);
      assertThat(b).isEqualTo(expected);
      assertThat(read.get()).as("bytes read from the volume: data only").isEqualTo(size + (2L << 20));
    }
  }
}
