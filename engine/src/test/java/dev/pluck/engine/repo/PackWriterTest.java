package dev.pluck.engine.repo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PackWriterTest {
  @TempDir Path dir;

  /**
   * Chunks from a few bytes to 8 MiB (twice the staging buffer), each read back while the pack is
   * written, some still staged and some across the staged/written boundary; the finished pack is
   * exactly the magic, the chunks and the trailer, with or without direct I/O.
   */
  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void packReadsBackWhileWrittenAndEndsExactly(boolean tryDirect) throws Exception {
    PackWriter w = new PackWriter(dir, "(test pack)", tryDirect);
    assertThat(w.direct()).as("direct I/O used where this file system takes it").isEqualTo(tryDirect && directIoWorksIn(dir));
    Random r = new Random(tryDirect ? 1 : 2);
    ByteArrayOutputStream expected = new ByteArrayOutputStream();
    expected.write(Pack.MAGIC);
    List<byte[]> chunks = new ArrayList<>();
    List<Pack.Entry> entries = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      int length = switch (i % 5) {
        case 0 -> 1 + r.nextInt(100);
        case 1 -> 4096;
        case 2 -> r.nextInt(1 << 20) + 1;
        case 3 -> (4 << 20) - 7 + r.nextInt(14);
        default -> 1 + r.nextInt(8 << 20);
      };
      byte[] data = new byte[length];
      r.nextBytes(data);
      Pack.Entry e = w.add(ChunkId.of(data, 0, length), Codec.NONE, data, length);
      assertThat(e.offset()).isEqualTo(expected.size());
      expected.write(data);
      chunks.add(data);
      entries.add(e);
      assertThat(w.size()).isEqualTo(expected.size());
      for (int k : new int[] {i, r.nextInt(i + 1)}) {
        assertThat(w.read(entries.get(k).offset(), chunks.get(k).length)).as("chunk %d read back after chunk %d", k, i).isEqualTo(chunks.get(k));
      }
      long at = r.nextLong(expected.size());
      int n = (int) Math.min(expected.size() - at, 1 + r.nextInt(3 << 20));
      assertThat(w.read(at, n)).as("%d bytes at %d", n, at).isEqualTo(java.util.Arrays.copyOfRange(expected.toByteArray(), (int) at, (int) at + n));
    }
    String name = w.finish(new LocalStorage(dir.resolve("repo")));
    expected.write(Pack.trailer(entries));
    byte[] pack = Files.readAllBytes(dir.resolve("repo").resolve(name));
    assertThat(pack.length).isEqualTo(expected.size());
    assertThat(pack).isEqualTo(expected.toByteArray());
    assertThat(w.read(entries.get(3).offset(), chunks.get(3).length)).isEqualTo(chunks.get(3));
    w.closeChannel();
  }

  /** What the kernel says for this directory, independently of PackWriter. */
  private static boolean directIoWorksIn(Path dir) {
    try {
      Path probe = Files.createTempFile(dir, "probe", "");
      try (FileChannel c = FileChannel.open(probe, StandardOpenOption.WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT)) {
        return true;
      } finally {
        Files.delete(probe);
      }
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    }
  }
}
