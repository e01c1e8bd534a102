package dev.pluck.engine.repo;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.ConcurrentLinkedQueue;
import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorOutputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorInputStream;
import org.apache.commons.compress.compressors.zstandard.ZstdCompressorOutputStream;

/** How a chunk is stored in its pack: the codec's byte is part of the pack format. */
public enum Codec {
  NONE(0, 0), ZSTD(1, 3), LZ4(2, 0), XZ(3, 6);

  private final int id;
  private final int defaultLevel;

  Codec(int id, int defaultLevel) {
    this.id = id;
    this.defaultLevel = defaultLevel;
  }

  public int id() {
    return id;
  }

  public int defaultLevel() {
    return defaultLevel;
  }

  public static Codec byId(int id) throws IOException {
    for (Codec c : values()) {
      if (c.id == id) {
        return c;
      }
    }
    throw new IOException("unknown codec " + id);
  }

  /** "zstd", "zstd:9", "lz4", "xz:6", "none". */
  public record Choice(Codec codec, int level) {
    public static Choice parse(String s) {
      String[] p = s.toLowerCase(java.util.Locale.ROOT).split(":", 2);
      Codec c = switch (p[0]) {
        case "zstd" -> ZSTD;
        case "lz4" -> LZ4;
        case "xz" -> XZ;
        case "none" -> NONE;
        default -> throw new IllegalArgumentException("unknown compression " + p[0] + " (zstd, lz4, xz or none)");
      };
      int level = p.length > 1 ? Integer.parseInt(p[1]) : c.defaultLevel;
      if ((c == ZSTD && (level < 1 || level > 22)) || (c == XZ && (level < 0 || level > 9))) {
        throw new IllegalArgumentException("compression level " + level + " out of range for " + p[0]);
      }
      return new Choice(c, level);
    }

    @Override
    public String toString() {
      return codec == NONE || codec == LZ4 ? codec.name().toLowerCase(java.util.Locale.ROOT)
          : codec.name().toLowerCase(java.util.Locale.ROOT) + ":" + level;
    }
  }

  public byte[] compress(byte[] data, int from, int length, int level) throws IOException {
    if (this == NONE) {
      return java.util.Arrays.copyOfRange(data, from, from + length);
    }
    if (this == ZSTD) {
      // zstd-jni's one-shot call: the same frames as Commons Compress's zstd stream (which wraps
      // zstd-jni), without its stream buffers, several times faster on 1 MiB chunks.
      byte[] out = new byte[(int) Zstd.compressBound(length)];
      return java.util.Arrays.copyOf(out, zstdFrame(level, data, from, length, out));
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(length / 2 + 64);
    try (OutputStream out = switch (this) {
      case ZSTD -> new ZstdCompressorOutputStream(bytes, level);
      case LZ4 -> new net.jpountz.lz4.LZ4FrameOutputStream(bytes, lz4BlockSize(length));
      case XZ -> new XZCompressorOutputStream(bytes, level);
      default -> throw new IllegalStateException();
    }) {
      out.write(data, from, length);
    }
    return bytes.toByteArray();
  }

  /** Chunks at least this long are sampled before compressing ({@link #looksIncompressible}). */
  static final int SAMPLED_CHUNK = 64 << 10;
  static final int SAMPLES = 8;
  static final int SAMPLE = 4 << 10;

  /**
   * Whether a chunk is most likely incompressible: none of {@link #SAMPLES} pieces of
   * {@link #SAMPLE} bytes spread over it shrinks by 3% under zstd level 1. Compressed, encrypted
   * and random data (media, archives, LUKS, swap) is about half of a used disk, and compressing
   * it whole only to store it raw cost ~0.3 ms per MiB; the samples cost ~2% of that, and stop at
   * the first one that shrinks. What they cannot see: a chunk whose only compressible part lies
   * between samples, or random bytes repeated far apart within it; such a chunk is stored raw.
   */
  static boolean looksIncompressible(byte[] data, int from, int length) throws IOException {
    if (length < SAMPLED_CHUNK) {
      return false;
    }
    byte[] out = SAMPLE_OUT.get();
    for (int i = 0; i < SAMPLES; i++) {
      int at = from + (int) ((long) (length - SAMPLE) * i / (SAMPLES - 1));
      if (zstdFrame(1, data, at, SAMPLE, out) < SAMPLE - SAMPLE * 3 / 100) {
        return false;
      }
    }
    return true;
  }

  /** Bytes a chunk of {@code length} bytes may take compressed with zstd, or stored raw. */
  static int bound(int length) {
    return (int) Math.max(length, Zstd.compressBound(length));
  }

  /** One zstd frame of {@code data[from, from + length)} into {@code out}, through a kept context; returns its length. */
  static int zstdFrame(int level, byte[] data, int from, int length, byte[] out) throws IOException {
    ZstdCompressCtx ctx = ZstdContexts.COMPRESS.poll();
    if (ctx == null) {
      ctx = new ZstdCompressCtx();
    }
    int n;
    try {
      n = ctx.setLevel(level).compressByteArray(out, 0, out.length, data, from, length);
    } catch (ZstdException e) {
      ctx.close();
      throw new IOException("zstd: " + e.getMessage(), e);
    }
    ZstdContexts.COMPRESS.offer(ctx);
    return n;
  }

  private static final ThreadLocal<byte[]> SAMPLE_OUT = ThreadLocal.withInitial(() -> new byte[(int) Zstd.compressBound(SAMPLE)]);

  /**
   * The smallest LZ4 frame block that holds the chunk whole (4 MiB at most): the frame stream
   * allocates two buffers of its block size per chunk, and 4 MiB ones for every 1 MiB chunk made
   * lz4 slower than zstd (8 MiB allocated and zeroed per chunk).
   */
  private static net.jpountz.lz4.LZ4FrameOutputStream.BLOCKSIZE lz4BlockSize(int length) {
    for (net.jpountz.lz4.LZ4FrameOutputStream.BLOCKSIZE b : net.jpountz.lz4.LZ4FrameOutputStream.BLOCKSIZE.values()) {
      if (length <= 1 << (2 * b.getIndicator() + 8)) {
        return b;
      }
    }
    return net.jpountz.lz4.LZ4FrameOutputStream.BLOCKSIZE.SIZE_4MB;
  }

  /**
   * zstd contexts kept from one chunk to the next. A context per chunk (what zstd-jni's static
   * one-shot calls make) mapped, faulted in and cleared about 2 MiB of tables for every 1 MiB chunk.
   * A context is taken by one thread at a time, so the queues hold at most as many as ever ran at
   * once (the chunk workers).
   */
  private static final class ZstdContexts {
    static final ConcurrentLinkedQueue<ZstdCompressCtx> COMPRESS = new ConcurrentLinkedQueue<>();
    static final ConcurrentLinkedQueue<ZstdDecompressCtx> DECOMPRESS = new ConcurrentLinkedQueue<>();
  }

  /** Decompresses exactly {@code rawLength} bytes; anything else is damage. */
  public byte[] decompress(byte[] stored, int rawLength) throws IOException {
    if (this == NONE) {
      if (stored.length != rawLength) {
        throw new IOException("stored chunk of " + stored.length + " bytes, expected " + rawLength);
      }
      return stored;
    }
    byte[] out = new byte[rawLength];
    if (this == ZSTD) {
      ZstdDecompressCtx ctx = ZstdContexts.DECOMPRESS.poll();
      if (ctx == null) {
        ctx = new ZstdDecompressCtx();
      }
      int n;
      try {
        n = ctx.decompressByteArray(out, 0, rawLength, stored, 0, stored.length);
      } catch (ZstdException e) {
        ctx.close();  // a failed frame may leave the context mid-frame: not reused
        throw new IOException("chunk decompresses to an error (" + e.getMessage() + "), expected " + rawLength + " bytes", e);
      }
      ZstdContexts.DECOMPRESS.offer(ctx);
      if (n != rawLength) {
        throw new IOException("chunk decompresses to " + n + " bytes, expected " + rawLength);
      }
      return out;
    }
    try (InputStream in = switch (this) {
      case ZSTD -> new ZstdCompressorInputStream(new ByteArrayInputStream(stored));
      case LZ4 -> new net.jpountz.lz4.LZ4FrameInputStream(new ByteArrayInputStream(stored));
      case XZ -> new XZCompressorInputStream(new ByteArrayInputStream(stored));
      default -> throw new IllegalStateException();
    }) {
      int n = in.readNBytes(out, 0, rawLength);
      if (n != rawLength || in.read() != -1) {
        throw new IOException("chunk decompresses to " + (n != rawLength ? n : "more than " + rawLength) + " bytes, expected " + rawLength);
      }
    }
    return out;
  }
}
