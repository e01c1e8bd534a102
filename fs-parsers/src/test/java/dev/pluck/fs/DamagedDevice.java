package dev.pluck.fs;

import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.ForwardingBlockDevice;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/** A real image with bytes changed in memory only: damage without copying the image. */
public final class DamagedDevice extends ForwardingBlockDevice {
  private final TreeMap<Long, Byte> changed = new TreeMap<>();

  public DamagedDevice(BlockDevice inner) {
    super(inner);
  }

  public DamagedDevice set(long offset, int value) {
    changed.put(offset, (byte) value);
    return this;
  }

  public DamagedDevice set(long offset, byte[] bytes) {
    for (int i = 0; i < bytes.length; i++) {
      set(offset + i, bytes[i]);
    }
    return this;
  }

  public DamagedDevice setLe32(long offset, long value) {
    for (int i = 0; i < 4; i++) {
      set(offset + i, (int) (value >>> (8 * i)));
    }
    return this;
  }

  /** Writes a little-endian u32 into an array (to build a patch before {@link #set(long, byte[])}). */
  public static void putLe32(byte[] b, int at, long v) {
    for (int i = 0; i < 4; i++) {
      b[at + i] = (byte) (v >>> (8 * i));
    }
  }

  /** {@code length} zero bytes at {@code offset}. */
  public DamagedDevice zero(long offset, int length) {
    return set(offset, new byte[length]);
  }

  @Override
  public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
    int length = dst.remaining();
    ByteBuffer view = dst.duplicate();
    return inner.readAsync(offset, dst).thenRun(() -> {
      for (Map.Entry<Long, Byte> e : changed.subMap(offset, offset + length).entrySet()) {
        view.put(view.position() + (int) (e.getKey() - offset), e.getValue());
      }
    });
  }

  @Override
  public boolean isReadOnly() {
    return true;
  }

  @Override
  public void close() {
    // the image belongs to the test
  }
}
