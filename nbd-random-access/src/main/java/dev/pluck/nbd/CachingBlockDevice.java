package dev.pluck.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A small read cache in front of a device, for metadata: parsers re-read superblocks, inode
 * tables and MFT records. Holds whole aligned blocks, least recently used out first, bounded in
 * bytes. Reads larger than {@code blockSize * 4} bypass it (bulk data should not evict metadata).
 */
public final class CachingBlockDevice implements BlockDevice {
  private final BlockDevice device;
  private final int blockSize;
  private final int maxBlocks;
  private final Map<Long, byte[]> blocks;
  private long hits;
  private long misses;

  public CachingBlockDevice(BlockDevice device, int blockSize, long capacityBytes) {
    if (blockSize < 512 || Integer.bitCount(blockSize) != 1) {
      throw new IllegalArgumentException("block size must be a power of two >= 512: " + blockSize);
    }
    this.device = device;
    this.blockSize = blockSize;
    this.maxBlocks = (int) Math.max(1, Math.min(Integer.MAX_VALUE, capacityBytes / blockSize));
    this.blocks = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<Long, byte[]> eldest) {
        return size() > maxBlocks;
      }
    };
  }

  /** A 64 KiB-block cache of at most {@code capacityBytes}. */
  public static CachingBlockDevice of(BlockDevice device, long capacityBytes) {
    return new CachingBlockDevice(device, 64 << 10, capacityBytes);
  }

  public synchronized long hits() {
    return hits;
  }

  public synchronized long misses() {
    return misses;
  }

  @Override
  public long size() {
    return device.size();
  }

  @Override
  public BlockSizes blockSizes() {
    return device.blockSizes();
  }

  @Override
  public boolean isReadOnly() {
    return true;
  }

  @Override
  public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
    int length = dst.remaining();
    try {
      BlockDevice.checkRequest(size(), offset, length);
      if (length > blockSize * 4L) {
        return device.readAsync(offset, dst);
      }
      long pos = offset;
      while (dst.hasRemaining()) {
        long index = pos / blockSize;
        byte[] block = block(index);
        int from = (int) (pos - index * blockSize);
        int n = Math.min(dst.remaining(), block.length - from);
        dst.put(block, from, n);
        pos += n;
      }
      return CompletableFuture.completedFuture(null);
    } catch (IOException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private byte[] block(long index) throws IOException {
    synchronized (this) {
      byte[] b = blocks.get(index);
      if (b != null) {
        hits++;
        return b;
      }
      misses++;
    }
    long start = index * blockSize;
    byte[] b = device.read(start, (int) Math.min(blockSize, size() - start));
    synchronized (this) {
      blocks.put(index, b);
    }
    return b;
  }

  @Override
  public Set<String> metaContexts() {
    return device.metaContexts();
  }

  @Override
  public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
    return device.blockStatus(context, offset, length);
  }

  @Override
  public void close() throws IOException {
    device.close();
  }

  @Override
  public String toString() {
    return device.toString();
  }
}
