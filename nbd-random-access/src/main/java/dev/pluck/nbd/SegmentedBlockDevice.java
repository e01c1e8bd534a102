package dev.pluck.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A device assembled from pieces of other devices, in order: an LVM logical volume whose
 * segments lie on one or several physical volumes. Striped segments are expressed as one piece
 * per stripe chunk by whoever builds the list, or lazily with {@link Piece} lists per segment.
 * Closing it leaves the underlying devices open.
 */
public final class SegmentedBlockDevice implements BlockDevice {
  /** {@code length} bytes of this device, starting at {@code offset} on {@code device}. */
  public record Piece(BlockDevice device, long offset, long length) {}

  /** Maps a logical offset to pieces; lets striped layouts avoid materialising every chunk. */
  public interface Layout {
    long size();

    /** The piece holding {@code logicalOffset}, trimmed to start there. */
    Piece pieceAt(long logicalOffset);
  }

  private final Layout layout;
  private final BlockSizes blockSizes;
  private final boolean readOnly;
  private final String name;

  /** A read-only device over {@code layout}. */
  public SegmentedBlockDevice(String name, Layout layout) {
    this(name, layout, true);
  }

  /** A device over {@code layout}, writable when {@code readOnly} is false and the pieces' devices are. */
  public SegmentedBlockDevice(String name, Layout layout, boolean readOnly) {
    this.name = name;
    this.layout = layout;
    this.blockSizes = BlockSizes.DEFAULT;
    this.readOnly = readOnly;
  }

  /** A device made of pieces laid end to end. */
  public static SegmentedBlockDevice concat(String name, List<Piece> pieces) {
    List<Piece> copy = List.copyOf(pieces);
    long[] starts = new long[copy.size() + 1];
    for (int i = 0; i < copy.size(); i++) {
      Piece p = copy.get(i);
      try {
        BlockDevice.checkRange(p.device().size(), p.offset(), p.length());
      } catch (BlockDeviceException e) {
        throw new IllegalArgumentException("piece " + i + " of " + name + " lies outside its device", e);
      }
      starts[i + 1] = Math.addExact(starts[i], p.length());
    }
    boolean readOnly = copy.stream().anyMatch(p -> p.device().isReadOnly());
    return new SegmentedBlockDevice(name, new Layout() {
      @Override
      public long size() {
        return starts[copy.size()];
      }

      @Override
      public Piece pieceAt(long logical) {
        int lo = 0;
        int hi = copy.size() - 1;
        while (lo < hi) {  // the last piece whose start is <= logical
          int mid = (lo + hi + 1) >>> 1;
          if (starts[mid] <= logical) {
            lo = mid;
          } else {
            hi = mid - 1;
          }
        }
        Piece p = copy.get(lo);
        long into = logical - starts[lo];
        return new Piece(p.device(), p.offset() + into, p.length() - into);
      }
    }, readOnly);
  }

  /** Where byte {@code logical} lies, and how many bytes from there lie contiguously on the same device. */
  public Piece pieceAt(long logical) {
    return layout.pieceAt(logical);
  }

  @Override
  public long size() {
    return layout.size();
  }

  @Override
  public BlockSizes blockSizes() {
    return blockSizes;
  }

  @Override
  public boolean isReadOnly() {
    return readOnly;
  }

  @Override
  public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
    try {
      BlockDevice.checkRequest(size(), offset, dst.remaining());
    } catch (BlockDeviceException e) {
      return CompletableFuture.failedFuture(e);
    }
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    long pos = offset;
    while (dst.hasRemaining()) {
      Piece p = layout.pieceAt(pos);
      int n = (int) Math.min(dst.remaining(), p.length());
      ByteBuffer part = dst.slice(dst.position(), n);
      parts.add(p.device().readAsync(p.offset(), part));
      dst.position(dst.position() + n);
      pos += n;
    }
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
  }

  @Override
  public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src) {
    if (readOnly) {
      return CompletableFuture.failedFuture(new BlockDeviceException("device is read-only", offset, src.remaining(), null));
    }
    try {
      BlockDevice.checkRequest(size(), offset, src.remaining());
    } catch (BlockDeviceException e) {
      return CompletableFuture.failedFuture(e);
    }
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    long pos = offset;
    while (src.hasRemaining()) {
      Piece p = layout.pieceAt(pos);
      int n = (int) Math.min(src.remaining(), p.length());
      parts.add(p.device().writeAsync(p.offset(), src.slice(src.position(), n)));
      src.position(src.position() + n);
      pos += n;
    }
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
  }

  @Override
  public void writeZeroes(long offset, long length) throws IOException {
    if (readOnly) {
      throw new BlockDeviceException("device is read-only", offset, length, null);
    }
    BlockDevice.checkRange(size(), offset, length);
    for (long pos = offset; pos < offset + length; ) {
      Piece p = layout.pieceAt(pos);
      long n = Math.min(offset + length - pos, p.length());
      p.device().writeZeroes(p.offset(), n);
      pos += n;
    }
  }

  @Override
  public Set<String> metaContexts() {
    return Set.of(BASE_ALLOCATION);
  }

  /** Status through the pieces' devices; contexts they lack report plain data. */
  @Override
  public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
    BlockDevice.checkRange(size(), offset, length);
    List<Extent> out = new ArrayList<>();
    long pos = offset;
    long end = offset + length;
    while (pos < end) {
      Piece p = layout.pieceAt(pos);
      long n = Math.min(end - pos, p.length());
      if (p.device().metaContexts().contains(context)) {
        for (Extent e : p.device().blockStatus(context, p.offset(), n)) {
          add(out, new Extent(pos + (e.offset() - p.offset()), e.length(), e.flags()));
        }
      } else {
        add(out, new Extent(pos, n, 0));
      }
      pos += n;
    }
    return out;
  }

  private static void add(List<Extent> out, Extent e) {
    if (!out.isEmpty()) {
      Extent last = out.get(out.size() - 1);
      if (last.flags() == e.flags() && last.end() == e.offset()) {
        out.set(out.size() - 1, new Extent(last.offset(), last.length() + e.length(), e.flags()));
        return;
      }
    }
    out.add(e);
  }

  /** The distinct devices under this one. */
  public Set<BlockDevice> devices() {
    Set<BlockDevice> out = new HashSet<>();
    for (long pos = 0; pos < size(); ) {
      Piece p = layout.pieceAt(pos);
      out.add(p.device());
      pos += p.length();
    }
    return out;
  }

  @Override
  public void close() {
    // The underlying devices belong to whoever opened them.
  }

  @Override
  public String toString() {
    return name;
  }
}
