package dev.pluck.engine;

import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.ForwardingBlockDevice;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/** A source disk as the backup sees it: every byte requested from it is counted. */
public final class CountingDevice extends ForwardingBlockDevice {
  private final AtomicLong bytes;

  public CountingDevice(BlockDevice inner) {
    this(inner, new AtomicLong());
  }

  /** Counts into {@code counter}, shared with other devices. */
  public CountingDevice(BlockDevice inner, AtomicLong counter) {
    super(inner);
    this.bytes = counter;
  }

  public long bytesRead() {
    return bytes.get();
  }

  @Override
  public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
    bytes.addAndGet(dst.remaining());
    return inner.readAsync(offset, dst);
  }
}
