package dev.pluck.engine.repo;

import dev.pluck.fs.VolumeRange;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.BlockSizes;
import dev.pluck.nbd.Extent;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Volume images as blocks of the repository's chunk size at fixed volume offsets. Writing reads
 * only allocated bytes, and with a dirty bitmap only those written since the parent: a block
 * outside them is the parent snapshot's block (unchanged since) or a hole (free space, swap); a
 * block partly inside is the parent's block with the changed bytes read over it.
 */
public final class BlockMap {
  private BlockMap() {}

  /** What {@link #write} stored and how many bytes it read ({@code zero}: read, but blocks of zeros). */
  public record Written(Snapshot.Volume volume, long read, long zero) {}

  /**
   * Stores a volume image, reading only what it must: {@code allocated} are the volume bytes in
   * use (sorted, merged), {@code dirty} those written since {@code parent} was taken (sorted,
   * merged; null: unknown, read everything allocated). A block nothing allocated touches is a
   * hole; with a parent and a bitmap, a block is the parent's (block or hole) with its dirty
   * allocated bytes read over it; otherwise a block is its allocated bytes read over zeros.
   */
  public static Written write(Repository repo, String id, String fs, BlockDevice device, List<VolumeRange> allocated,
      List<VolumeRange> dirty, Snapshot.Volume parent) throws IOException {
    int block = repo.config().chunkSize();
    long size = device.size();
    long blocks = (size + block - 1) / block;
    if (parent != null && (parent.blockSize() != block || parent.size() != size)) {
      throw new IOException("volume " + id + ": the parent's blocks (" + parent.blockSize() + " bytes, volume of " + parent.size()
          + ") do not match (" + block + ", " + size + "): back up in full");
    }
    byte[] parentMap = parent == null ? null : map(repo, parent);
    List<VolumeRange> changed = dirty == null ? null : VolumeRange.intersect(allocated, dirty);
    ChunkedStream.Writer out = new ChunkedStream.Writer(repo);
    byte[] none = new byte[ChunkId.BYTES];
    int a = 0;
    int c = 0;
    long stored = 0;
    long read = 0;
    long zero = 0;
    for (long b = 0; b < blocks; b++) {
      long start = b * block;
      int length = (int) Math.min(block, size - start);
      long end = start + length;
      while (a < allocated.size() && allocated.get(a).end() <= start) {
        a++;
      }
      if (a >= allocated.size() || allocated.get(a).offset() >= end) {
        out.write(none);  // free space
        continue;
      }
      byte[] parentId = parentMap == null || Content.isHole(parentMap, (int) (b * ChunkId.BYTES)) ? null
          : java.util.Arrays.copyOfRange(parentMap, (int) (b * ChunkId.BYTES), (int) ((b + 1) * ChunkId.BYTES));
      List<VolumeRange> ranges = allocated;
      int from = a;
      if (parentMap != null && changed != null) {
        // Not written since the parent: the parent's block. That holds for its holes too: a block then
        // free and now allocated without being written holds nothing the filesystem shows.
        while (c < changed.size() && changed.get(c).end() <= start) {
          c++;
        }
        if (c >= changed.size() || changed.get(c).offset() >= end) {
          out.write(parentId == null ? none : parentId);
          stored += parentId == null ? 0 : length;
          continue;
        }
        ranges = changed;
        from = c;
      }
      byte[] data = parentId != null && changed != null ? repo.get(ChunkId.fromBytes(parentId, 0)).clone() : new byte[length];
      long readHere = 0;
      for (int i = from; i < ranges.size() && ranges.get(i).offset() < end; i++) {
        long lo = Math.max(start, ranges.get(i).offset());
        long hi = Math.min(end, ranges.get(i).end());
        device.read(lo, ByteBuffer.wrap(data, (int) (lo - start), (int) (hi - lo)));
        readHere += hi - lo;
      }
      read += readHere;
      if (Content.zeros(data, length)) {
        out.write(none);
        zero += readHere;
      } else {
        ChunkId chunk = repo.put(data, 0, length);
        byte[] idBytes = new byte[ChunkId.BYTES];
        chunk.write(idBytes, 0);
        out.write(idBytes);
        stored += length;
      }
    }
    return new Written(new Snapshot.Volume(id, fs, "blocks", null, blocks, stored, size, block, out.finish()), read, zero);
  }

  static byte[] map(Repository repo, Snapshot.Volume v) throws IOException {
    try (InputStream in = ChunkedStream.reader(repo, v.blockMap())) {
      byte[] map = in.readAllBytes();
      long blocks = (v.size() + v.blockSize() - 1) / v.blockSize();
      if (map.length != blocks * ChunkId.BYTES) {
        throw new IOException("volume " + v.id() + ": block map of " + map.length / ChunkId.BYTES + " blocks for " + blocks);
      }
      return map;
    }
  }

  /** A snapshot's volume image as a read-only device (holes read as zeros). */
  public static BlockDevice open(Repository repo, Snapshot.Volume v) throws IOException {
    byte[] map = map(repo, v);
    int block = v.blockSize();
    return new BlockDevice() {
      @Override
      public long size() {
        return v.size();
      }

      @Override
      public BlockSizes blockSizes() {
        return new BlockSizes(1, block, 32 << 20);
      }

      @Override
      public boolean isReadOnly() {
        return true;
      }

      @Override
      public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        try {
          BlockDevice.checkRequest(v.size(), offset, dst.remaining());
          while (dst.hasRemaining()) {
            long b = offset / block;
            int within = (int) (offset % block);
            int n = Math.min(dst.remaining(), block - within);
            if (Content.isHole(map, (int) (b * ChunkId.BYTES))) {
              dst.put(new byte[n]);
            } else {
              dst.put(repo.get(ChunkId.fromBytes(map, (int) (b * ChunkId.BYTES))), within, n);
            }
            offset += n;
          }
          return CompletableFuture.completedFuture(null);
        } catch (IOException e) {
          return CompletableFuture.failedFuture(e);
        }
      }

      @Override
      public Set<String> metaContexts() {
        return Set.of();
      }

      @Override
      public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
        throw new IOException("no metadata contexts on a snapshot's volume image");
      }

      @Override
      public void close() {
        // the repository belongs to whoever opened it
      }
    };
  }
}
