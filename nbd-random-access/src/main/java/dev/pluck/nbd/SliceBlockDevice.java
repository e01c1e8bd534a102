package dev.pluck.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/** A contiguous part of another device: a partition. Closing it leaves the parent open. */
public final class SliceBlockDevice implements BlockDevice {
  private final BlockDevice parent;
  private final long start;
  private final long size;

  public SliceBlockDevice(BlockDevice parent, long start, long size) {
    try {
      BlockDevice.checkRange(parent.size(), start, size);
    } catch (BlockDeviceException e) {
      throw new IllegalArgumentException("slice outside its device: " + e.getMessage(), e);
    }
    this.parent = parent;
    this.start = start;
    this.size = size;
  }

  /** Where the slice starts on its parent. */
  /** The device this is a view of. */
  public BlockDevice parent() {
    return parent;
  }

  public long start() {
    return start;
  }

  @Override
  public long size() {
    return size;
  }

  @Override
  public BlockSizes blockSizes() {
    return parent.blockSizes();
  }

  @Override
  public boolean isReadOnly() {
    return parent.isReadOnly();
  }

  @Override
  public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
    try {
      BlockDevice.checkRequest(size, offset, dst.remaining());
    } catch (BlockDeviceException e) {
      return CompletableFuture.failedFuture(e);
    }
    return parent.readAsync(start + offset, dst);
  }

  @Override
  public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src) {
    try {
      BlockDevice.checkRequest(size, offset, src.remaining());
    } catch (BlockDeviceException e) {
      return CompletableFuture.failedFuture(e);
    }
    return parent.writeAsync(start + offset, src);
  }

  @Override
  public void writeZeroes(long offset, long length) throws IOException {
    BlockDevice.checkRange(size, offset, length);
    parent.writeZeroes(start + offset, length);
  }

  @Override
  public void flush() throws IOException {
    parent.flush();
  }

  @Override
  public Set<String> metaContexts() {
    return parent.metaContexts();
  }

  @Override
  public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
    BlockDevice.checkRange(size, offset, length);
    List<Extent> out = new ArrayList<>();
    for (Extent e : parent.blockStatus(context, start + offset, length)) {
      out.add(new Extent(e.offset() - start, e.length(), e.flags()));
    }
    return out;
  }

  @Override
  public BlockDevice slice(long offset, long length) {
    return new SliceBlockDevice(parent, start + offset, checkedLength(offset, length));
  }

  private long checkedLength(long offset, long length) {
    try {
      BlockDevice.checkRange(size, offset, length);
    } catch (BlockDeviceException e) {
      throw new IllegalArgumentException("slice outside its device: " + e.getMessage(), e);
    }
    return length;
  }

  @Override
  public void close() {
    // The parent belongs to whoever opened it.
  }

  @Override
  public String toString() {
    return parent + "[" + start + "+" + size + "]";
  }
}
