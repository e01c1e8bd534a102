package dev.pluck.fs.ext4;

import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.BlockSizes;
import dev.pluck.nbd.Extent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * A volume as it reads after journal recovery: the blocks a replay replaced are read from their
 * place in the journal, every other byte from the volume. Nothing is written anywhere.
 */
final class JournalOverlay implements BlockDevice {
  private final BlockDevice volume;
  private final int blockSize;
  private final TreeMap<Long, JournalReplay.Replaced> replaced;

  JournalOverlay(BlockDevice volume, int blockSize, TreeMap<Long, JournalReplay.Replaced> replaced) {
    this.volume = volume;
    this.blockSize = blockSize;
    this.replaced = replaced;
  }

  /** Filesystem block numbers whose content comes from the journal, ascending. */
  NavigableMap<Long, JournalReplay.Replaced> replaced() {
    return java.util.Collections.unmodifiableNavigableMap(replaced);
  }

  @Override
  public long size() {
    return volume.size();
  }

  @Override
  public BlockSizes blockSizes() {
    return volume.blockSizes();
  }

  @Override
  public boolean isReadOnly() {
    return true;
  }

  @Override
  public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
    long end = offset + dst.remaining();
    NavigableMap<Long, JournalReplay.Replaced> hit = replaced.subMap(offset / blockSize, true, (end - 1) / blockSize, true);
    if (hit.isEmpty() || dst.remaining() == 0) {
      return volume.readAsync(offset, dst);
    }
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    long at = offset;
    int base = dst.position();
    for (Map.Entry<Long, JournalReplay.Replaced> e : hit.entrySet()) {
      long blockStart = e.getKey() * blockSize;
      if (at < blockStart) {
        parts.add(volume.readAsync(at, slice(dst, base + (int) (at - offset), (int) (blockStart - at))));
        at = blockStart;
      }
      int within = (int) (at - blockStart);
      int n = (int) (Math.min(end, blockStart + blockSize) - at);
      ByteBuffer part = slice(dst, base + (int) (at - offset), n);
      JournalReplay.Replaced r = e.getValue();
      if (r.unescaped() != null) {
        part.put(r.unescaped(), within, n);
      } else {
        parts.add(volume.readAsync(r.volumeOffset() + within, part));
      }
      at += n;
    }
    if (at < end) {
      parts.add(volume.readAsync(at, slice(dst, base + (int) (at - offset), (int) (end - at))));
    }
    dst.position(dst.limit());
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
  }

  private static ByteBuffer slice(ByteBuffer dst, int from, int length) {
    ByteBuffer b = dst.duplicate();
    b.limit(from + length).position(from);
    return b;
  }

  @Override
  public Set<String> metaContexts() {
    return volume.metaContexts();
  }

  /** Replaced blocks hold data whatever the volume says of their place: they are never a hole. */
  @Override
  public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
    if (BASE_ALLOCATION.equals(context) && !replaced.subMap(offset / blockSize, true, (offset + length - 1) / blockSize, true).isEmpty()) {
      return List.of(new Extent(offset, length, 0));
    }
    return volume.blockStatus(context, offset, length);
  }

  @Override
  public void close() {
    // the volume belongs to whoever opened it
  }
}
