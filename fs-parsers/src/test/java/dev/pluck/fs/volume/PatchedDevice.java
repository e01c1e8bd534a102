package dev.pluck.fs.volume;

import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.BlockSizes;
import dev.pluck.nbd.Extent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/** A real image with some bytes replaced in memory: damage without copying 500 MiB images. */
final class PatchedDevice implements BlockDevice {
  private final BlockDevice inner;
  private final long at;
  private final byte[] patch;

  PatchedDevice(BlockDevice inner, long at, byte[] patch) {
    this.inner = inner;
    this.at = at;
    this.patch = patch;
  }

  /** The bytes at {@code offset} of {@code inner}, to be changed and given back as a patch. */
  static byte[] original(BlockDevice inner, long offset, int length) throws IOException {
    return inner.read(offset, length);
  }

  /** Writes a little-endian u32 into a patch. */
  static void put32(byte[] b, int at, long v) {
    for (int i = 0; i < 4; i++) {
      b[at + i] = (byte) (v >>> (8 * i));
    }
  }

  @Override public long size() { return inner.size(); }
  @Override public BlockSizes blockSizes() { return inner.blockSizes(); }
  @Override public boolean isReadOnly() { return true; }
  @Override public Set<String> metaContexts() { return inner.metaContexts(); }

  @Override
  public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
    return inner.blockStatus(context, offset, length);
  }

  @Override
  public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
    int length = dst.remaining();
    ByteBuffer view = dst.duplicate();
    return inner.readAsync(offset, dst).thenRun(() -> {
      long from = Math.max(offset, at);
      long to = Math.min(offset + length, at + patch.length);
      for (long p = from; p < to; p++) {
        view.put(view.position() + (int) (p - offset), patch[(int) (p - at)]);
      }
    });
  }

  @Override
  public void close() throws IOException {
    inner.close();
  }
}
