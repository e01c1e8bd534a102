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
 * only the ranges it is given: a block outside them is the parent snapshot's block (unchanged
 * since) or a hole (free space, swap); a block partly inside is the parent's block with the
 * changed bytes read over it.
 */
public final class BlockMap {
  private BlockMap() {}

  /**
   * Stores a volume image. {@code read}: the byte ranges to take from {@code device} (sorted,
   * not overlapping); everything else comes from {@code parent} (null: a hole).
   */
  public static Snapshot.Volume write(Repository repo, String id, String fs, BlockDevice device, List<VolumeRange> read,
      Snapshot.Volume parent) throws IOException {
    int block = repo.config().chunkSize();
    long size = device.size();
    long blocks = (size + block - 1) / block;
    byte[] parentMap = parent == null ? null : map(repo, parent);
    if (parent != null && (parent.blockSize() != block || parent.size() != size)) {
      throw new IOException("volume " + id + ": the parent's blocks (" + parent.blockSize() + " bytes, volume of " + parent.size()
          + ") do not match (" + block + ", " + size + "): back up in full");
    }
    ChunkedStream.Writer out = new ChunkedStream.Writer(repo);
    byte[] none = new byte[ChunkId.BYTES];
    int r = 0;
    long stored = 0;
    for (long b = 0; b < blocks; b++) {
      long start = b * block;
      int length = (int) Math.min(block, size - start);
      long end = start + length;
      while (r < read.size() && read.get(r).end() <= start) {
        r++;
      }
      byte[] parentId = parentMap == null || Content.isHole(parentMap, (int) (b * ChunkId.BYTES)) ? null
          : java.util.Arrays.copyOfRange(parentMap, (int) (b * ChunkId.BYTES), (int) ((b + 1) * ChunkId.BYTES));
      boolean touched = r < read.size() && read.get(r).offset() < end;
      if (!touched) {
        out.write(parentId == null ? none : parentId);
        continue;
      }
      byte[] data = parentId == null ? new byte[length] : repo.get(ChunkId.fromBytes(parentId, 0)).clone();
      // Without a parent block, bytes of the block outside the ranges are not data (free space): zeros.
      for (int i = r; i < read.size() && read.get(i).offset() < end; i++) {
        long from = Math.max(start, read.get(i).offset());
        long to = Math.min(end, read.get(i).end());
        device.read(from, ByteBuffer.wrap(data, (int) (from - start), (int) (to - from)));
      }
      if (Content.zeros(data, length)) {
        out.write(none);
      } else {
        ChunkId chunk = repo.put(data, 0, length);
        byte[] idBytes = new byte[ChunkId.BYTES];
        chunk.write(idBytes, 0);
        out.write(idBytes);
        stored += length;
      }
    }
    return new Snapshot.Volume(id, fs, "blocks", null, blocks, stored, size, block, out.finish());
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
