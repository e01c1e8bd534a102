package dev.pluck.engine;

import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.BlockSizes;
import dev.pluck.nbd.Extent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/** A source disk as the backup sees it: every byte requested from it is counted. */
public final class CountingDevice implements BlockDevice {
  private final BlockDevice inner;
  private final AtomicLong bytes;

  public CountingDevice(BlockDevice inner) {
    this(inner, new AtomicLong());
  }

  /** Counts into {@code counter}, shared with other devices. */
  public CountingDevice(BlockDevice inner, AtomicLong counter) {
    this.inner = inner;
    this.bytes = counter;
  }

  public long bytesRead() {
    return bytes.get();
  }

  @Override
  public long size() {
    return inner.size();
  }

  @Override
  public BlockSizes blockSizes() {
    return inner.blockSizes();
  }

  @Override
  public boolean isReadOnly() {
    return inner.isReadOnly();
  }

  @Override
  public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
    bytes.addAndGet(dst.remaining());
    return inner.readAsync(offset, dst);
  }

  @Override
  public Set<String> metaContexts() {
    return inner.metaContexts();
  }

  @Override
  public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
    return inner.blockStatus(context, offset, length);
  }

  @Override
  public void close() throws IOException {
    inner.close();
  }
}
