package dev.pluck.engine.repo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Random;
import org.apache.commons.compress.compressors.lz4.FramedLZ4CompressorInputStream;
import org.apache.commons.compress.compressors.lz4.FramedLZ4CompressorOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class CodecTest {
  /** A MiB of text-like bytes: random words, the kind of data Commons Compress's LZ4 compressor took 20 s per MiB for. */
  static byte[] text() {
    Random r = new Random(3);
    StringBuilder b = new StringBuilder();
    String[] words = new String[3000];
    for (int i = 0; i < words.length; i++) {
      StringBuilder w = new StringBuilder();
      for (int j = 2 + r.nextInt(10); j > 0; j--) {
        w.append((char) ('a' + r.nextInt(26)));
      }
      words[i] = w.toString();
    }
    while (b.length() < (1 << 20)) {
      b.append(words[r.nextInt(words.length)]).append(r.nextInt(20) == 0 ? '\n' : ' ');
    }
    return b.substring(0, 1 << 20).getBytes(StandardCharsets.US_ASCII);
  }

  @ParameterizedTest
  @EnumSource(Codec.class)
  void aMibOfTextRoundTripsQuickly(Codec codec) throws Exception {
    byte[] data = text();
    long start = System.nanoTime();
    byte[] stored = codec.compress(data, 0, data.length, codec.defaultLevel());
    assertThat(Duration.ofNanos(System.nanoTime() - start)).as("compressing 1 MiB with %s", codec).isLessThan(Duration.ofSeconds(2));
    assertThat(codec.decompress(stored, data.length)).isEqualTo(data);
    if (codec != Codec.NONE) {
      assertThat(stored.length).as("text compresses").isLessThan(data.length * 3 / 4);
    }
  }

  /**
   * Random chunks are found incompressible by their samples; text, a random chunk with a quarter
   * of text in it, and chunks too short to sample are not; whatever the samples say, a chunk that
   * does not shrink is stored raw and one that does is compressed.
   */
  @Test
  void samplesTellIncompressibleChunks(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    byte[] random = new byte[1 << 20];
    new Random(8).nextBytes(random);
    byte[] text = text();
    byte[] mixed = random.clone();
    System.arraycopy(text, 0, mixed, 400 << 10, 256 << 10);
    assertThat(Codec.looksIncompressible(random, 0, random.length)).as("random").isTrue();
    assertThat(Codec.looksIncompressible(text, 0, text.length)).as("text").isFalse();
    assertThat(Codec.looksIncompressible(mixed, 0, mixed.length)).as("random with 256 KiB of text").isFalse();
    assertThat(Codec.looksIncompressible(random, 5, Codec.SAMPLED_CHUNK - 1)).as("too short to sample").isFalse();
    assertThat(Codec.looksIncompressible(random, 1000, 300_000)).as("random, at an offset").isTrue();
    try (Repository repo = RepositoryTest.create(dir, "zstd:1")) {
      Repository.Prepared r = repo.prepare(random, 0, random.length);
      assertThat(r.codec()).isEqualTo(Codec.NONE);
      assertThat(r.stored()).isEqualTo(random);
      for (byte[] compressible : java.util.List.of(text, mixed)) {
        Repository.Prepared p = repo.prepare(compressible, 0, compressible.length);
        assertThat(p.codec()).isEqualTo(Codec.ZSTD);
        assertThat(p.stored().length).isLessThan(compressible.length);
        assertThat(Codec.ZSTD.decompress(p.stored(), compressible.length)).isEqualTo(compressible);
      }
    }
  }

  /** pluck's LZ4 chunks are standard LZ4 frames, both ways: earlier repositories' chunks (written by Commons Compress) still read. */
  @Test
  void lz4FramesAreStandardFrames() throws Exception {
    byte[] data = text();
    byte[] ours = Codec.LZ4.compress(data, 0, data.length, 0);
    try (FramedLZ4CompressorInputStream in = new FramedLZ4CompressorInputStream(new ByteArrayInputStream(ours))) {
      assertThat(in.readAllBytes()).isEqualTo(data);
    }
    byte[] small = java.util.Arrays.copyOf(new byte[] {1, 2, 3, 1, 2, 3, 1, 2, 3, 4}, 4096);
    ByteArrayOutputStream theirs = new ByteArrayOutputStream();
    try (FramedLZ4CompressorOutputStream out = new FramedLZ4CompressorOutputStream(theirs)) {
      out.write(small);
    }
    assertThat(Codec.LZ4.decompress(theirs.toByteArray(), small.length)).isEqualTo(small);
  }

  /**
   * An LZ4 chunk's frame declares the smallest block that holds it (the BD byte's size indicator:
   * 4 = 64 KiB ... 7 = 4 MiB), so reading and writing it allocate buffers of the chunk's size, not
   * 4 MiB ones; chunks written before, with 4 MiB blocks, still read.
   */
  @Test
  void lz4FramesUseTheSmallestBlockThatHoldsTheChunk() throws Exception {
    byte[] text = text();
    int[][] cases = {{4096, 4}, {65536, 4}, {65537, 5}, {1 << 20, 6}, {3 << 20, 7}, {8 << 20, 7}};
    for (int[] c : cases) {
      byte[] data = new byte[c[0]];
      for (int i = 0; i < data.length; i += text.length) {
        System.arraycopy(text, 0, data, i, Math.min(text.length, data.length - i));
      }
      byte[] frame = Codec.LZ4.compress(data, 0, data.length, 0);
      assertThat(frame[5] >> 4 & 7).as("block size indicator for %d bytes", c[0]).isEqualTo(c[1]);
      assertThat(Codec.LZ4.decompress(frame, data.length)).isEqualTo(data);
    }
    ByteArrayOutputStream old = new ByteArrayOutputStream();
    try (net.jpountz.lz4.LZ4FrameOutputStream out = new net.jpountz.lz4.LZ4FrameOutputStream(old,
        net.jpountz.lz4.LZ4FrameOutputStream.BLOCKSIZE.SIZE_4MB)) {
      out.write(text);
    }
    assertThat(old.toByteArray()[5] >> 4 & 7).isEqualTo(7);
    assertThat(Codec.LZ4.decompress(old.toByteArray(), text.length)).isEqualTo(text);
  }

  /**
   * zstd contexts are kept between chunks and shared by the chunk workers: whatever a context did
   * before (another level, a larger chunk, a damaged frame), the next chunk's frame is the one a
   * fresh context makes, and reads back.
   */
  @Test
  void zstdContextsReusedAcrossThreadsAndLevelsMakeTheSameFrames() throws Exception {
    byte[] text = text();
    int[] levels = {1, 2, 3, 9, 19};
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
    try {
      java.util.List<java.util.concurrent.Future<?>> work = new java.util.ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int seed = t;
        work.add(pool.submit(() -> {
          Random r = new Random(seed);
          for (int i = 0; i < 40; i++) {
            int from = r.nextInt(text.length / 2);
            int length = 1 + r.nextInt(text.length - from);
            int level = levels[r.nextInt(levels.length)];
            byte[] stored = Codec.ZSTD.compress(text, from, length, level);
            byte[] fresh = com.github.luben.zstd.Zstd.compress(java.util.Arrays.copyOfRange(text, from, from + length), level);
            assertThat(stored).as("chunk %d+%d at level %d", from, length, level).isEqualTo(fresh);
            if (r.nextInt(8) == 0) {  // a damaged frame in between
              byte[] bad = stored.clone();
              bad[bad.length / 2] ^= 0x55;
              bad[bad.length - 1] ^= 0x55;
              try {
                Codec.ZSTD.decompress(bad, length);  // may decode (frames carry no checksum), to other bytes
              } catch (java.io.IOException expected) {
                assertThat(expected).hasMessageContaining("expected " + length);
              }
            }
            assertThat(Codec.ZSTD.decompress(stored, length)).isEqualTo(java.util.Arrays.copyOfRange(text, from, from + length));
          }
          return null;
        }));
      }
      for (java.util.concurrent.Future<?> f : work) {
        f.get(60, java.util.concurrent.TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
