package dev.pluck.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A device that passes everything to another: subclasses override what they change (counting
 * reads, damaging bytes in tests). Closing it closes the other.
 */
public abstract class ForwardingBlockDevice implements BlockDevice {
  protected final BlockDevice inner;

  protected ForwardingBlockDevice(BlockDevice inner) {
    this.inner = inner;
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
