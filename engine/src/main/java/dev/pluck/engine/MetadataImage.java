package dev.pluck.engine;

import dev.pluck.engine.repo.BlockMap;
import dev.pluck.engine.repo.ChunkedStream;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.VolumeRange;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.nbd.ForwardingBlockDevice;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The device a files backup reads a volume's filesystem through, so that filesystem metadata is
 * read from the source only where it changed. Every byte a filesystem reader asks for outside
 * file contents (superblocks, inode tables, directory blocks, extent tree nodes, MFT records,
 * index buffers, the journal) is metadata; the backup keeps it in the snapshot as a sparse image
 * of the volume ({@link Snapshot.Metadata}). On the next incremental, a metadata byte the parent
 * image holds and the dirty bitmap does not mark is the same byte on the source (the bitmap holds
 * every write since the parent's view), so it comes from the repository; the rest comes from the
 * source. What came from the source is also written to a sparse spill file beside the repository,
 * from which the new image is stored, so that no byte is read from the source twice.
 *
 * <p>Content reads (a file's data, read through the filesystem) pass straight to the source and
 * are not kept: the caller wraps them in {@link #contentReads}.
 */
final class MetadataImage extends ForwardingBlockDevice {
  private final Repository repo;
  private final Snapshot.Metadata parent;
  private final BlockDevice parentImage;
  private final List<VolumeRange> parentRanges;
  private final List<VolumeRange> dirty;
  private final List<VolumeRange> usable;  // the parent's ranges less the dirty ones: read from the repository
  private final Path spillPath;
  private final FileChannel spill;
  private final TreeMap<Long, Long> recorded = new TreeMap<>();  // start -> end of every metadata byte read
  private final ThreadLocal<Boolean> content = ThreadLocal.withInitial(() -> false);
  private final AtomicLong fromParent = new AtomicLong();
  private final Consumer<String> warnings;
  private volatile boolean parentBroken;

  private MetadataImage(BlockDevice source, Repository repo, Snapshot.Metadata parent, BlockDevice parentImage,
      List<VolumeRange> parentRanges, List<VolumeRange> dirty, Path spillPath, Consumer<String> warnings) throws IOException {
    super(source);
    this.repo = repo;
    this.parent = parent;
    this.parentImage = parentImage;
    this.parentRanges = parentRanges;
    this.dirty = dirty;
    this.usable = parentImage == null ? List.of() : Backup.minus(parentRanges, dirty);
    this.spillPath = spillPath;
    this.spill = FileChannel.open(spillPath, StandardOpenOption.READ, StandardOpenOption.WRITE);
    this.warnings = warnings;
  }

  /**
   * A device over {@code source} that keeps the metadata read through it; with the parent's
   * metadata image and the volume's dirty ranges since the parent (both non-null), it reads the
   * parent's unchanged metadata from the repository instead of the source.
   */
  static MetadataImage open(BlockDevice source, Repository repo, Snapshot.Volume parentVolume, List<VolumeRange> dirty,
      Consumer<String> warnings) throws IOException {
    Snapshot.Metadata parent = parentVolume == null ? null : parentVolume.metadata();
    BlockDevice parentImage = null;
    List<VolumeRange> parentRanges = List.of();
    if (parent != null && dirty != null && parent.image().size() == source.size()
        && parent.image().blockSize() == repo.config().chunkSize()) {
      try {
        parentImage = BlockMap.open(repo, parent.image());
        parentRanges = readRanges(repo, parent.ranges());
      } catch (IOException e) {
        warnings.accept("the parent snapshot's metadata image cannot be read (" + e + "): metadata read from the source");
        parentImage = null;
        parentRanges = List.of();
        parent = null;
      }
    } else {
      parent = null;
    }
    Path dir = repo.storage() instanceof LocalStorage local ? local.root() : Path.of(System.getProperty("java.io.tmpdir"));
    Path spill = Files.createTempFile(dir, LocalStorage.TEMP_PREFIX + "metadata-", "");
    try (FileChannel ch = FileChannel.open(spill, StandardOpenOption.WRITE)) {
      ch.truncate(0);
      ch.write(ByteBuffer.allocate(1), Math.max(0, source.size() - 1));  // sparse, the volume's size
    }
    try {
      return new MetadataImage(source, repo, parent, parentImage, parentRanges, dirty, spill, warnings);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(spill);
      throw e;
    }
  }

  /** Whether the parent's image is in use (there was one, with a bitmap to trust it by). */
  boolean fromParentImage() {
    return parentImage != null;
  }

  /** Metadata bytes read from the parent's image rather than the source. */
  long bytesFromParent() {
    return fromParent.get();
  }

  /** Runs {@code read} (a file's content read through the filesystem) with its reads passed straight to the source. */
  <T> T contentReads(IoSupplier<T> read) throws IOException {
    if (content.get()) {
      return read.get();
    }
    content.set(true);
    try {
      return read.get();
    } finally {
      content.set(false);
    }
  }

  interface IoSupplier<T> {
    T get() throws IOException;
  }

  @Override
  public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
    if (content.get()) {
      return inner.readAsync(offset, dst);
    }
    try {
      BlockDevice.checkRequest(size(), offset, dst.remaining());
      long end = offset + dst.remaining();
      int base = dst.position();
      long at = offset;
      int i = firstEndingAfter(usable, at);
      while (at < end) {
        VolumeRange u = i < usable.size() ? usable.get(i) : null;
        if (u != null && u.offset() <= at) {
          long to = Math.min(end, u.end());
          ByteBuffer part = dst.slice(base + (int) (at - offset), (int) (to - at));
          if (!fromParent(at, part)) {
            fromSource(at, dst.slice(base + (int) (at - offset), (int) (to - at)));
          }
          at = to;
          i++;
        } else {
          long to = u == null ? end : Math.min(end, u.offset());
          fromSource(at, dst.slice(base + (int) (at - offset), (int) (to - at)));
          at = to;
        }
      }
      dst.position(base + (int) (end - offset));
      record(offset, end);
      return CompletableFuture.completedFuture(null);
    } catch (IOException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private boolean fromParent(long at, ByteBuffer part) {
    if (parentBroken) {
      return false;
    }
    int n = part.remaining();
    try {
      parentImage.read(at, part);
      fromParent.addAndGet(n);
      return true;
    } catch (IOException e) {
      parentBroken = true;  // read the rest from the source: slower, never wrong
      warnings.accept("the parent snapshot's metadata image cannot be read (" + e.getMessage() + "): metadata read from the source");
      return false;
    }
  }

  private void fromSource(long at, ByteBuffer part) throws IOException {
    inner.read(at, part.duplicate());
    ByteBuffer keep = part.duplicate();
    long pos = at;
    while (keep.hasRemaining()) {
      pos += spill.write(keep, pos);
    }
  }

  private synchronized void record(long from, long to) {
    Map.Entry<Long, Long> before = recorded.floorEntry(from);
    if (before != null && before.getValue() >= from) {
      if (before.getValue() >= to) {
        return;
      }
      from = before.getKey();
    }
    Map.Entry<Long, Long> next = recorded.ceilingEntry(from);
    while (next != null && next.getKey() <= to) {
      to = Math.max(to, next.getValue());
      recorded.remove(next.getKey());
      next = recorded.ceilingEntry(from);
    }
    recorded.put(from, to);
  }

  /** The index of the first range of {@code ranges} (sorted, merged) that ends after {@code at}. */
  private static int firstEndingAfter(List<VolumeRange> ranges, long at) {
    int lo = 0;
    int hi = ranges.size();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (ranges.get(mid).end() <= at) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /**
   * Stores what was read as the volume's metadata image: the bytes read from the source (from
   * the spill file) over the parent's blocks, which are referenced, not copied.
   */
  Snapshot.Metadata finish(String id, String fs) throws IOException {
    List<VolumeRange> ranges;
    synchronized (this) {
      ranges = new ArrayList<>(recorded.size());
      for (Map.Entry<Long, Long> r : recorded.entrySet()) {
        ranges.add(new VolumeRange(r.getKey(), r.getValue() - r.getKey()));
      }
    }
    List<VolumeRange> read = null;
    if (parentImage != null && !parentBroken) {
      List<VolumeRange> changed = new ArrayList<>(Backup.minus(ranges, parentRanges));
      changed.addAll(dirty);
      changed.sort(java.util.Comparator.comparingLong(VolumeRange::offset));
      read = VolumeRange.coalesce(changed);
    }
    spill.force(false);
    BlockMap.Written image;
    try (FileBlockDevice spilled = FileBlockDevice.open(spillPath)) {
      image = BlockMap.write(repo, id, fs, spilled, ranges, read, read == null ? null : parent.image());
    }
    ChunkedStream.Writer out = new ChunkedStream.Writer(repo);
    long bytes = 0;
    try (DataOutputStream data = new DataOutputStream(out)) {
      for (VolumeRange r : ranges) {
        data.writeLong(r.offset());
        data.writeLong(r.length());
        bytes += r.length();
      }
    }
    return new Snapshot.Metadata(image.volume(), out.finish(), bytes);
  }

  static List<VolumeRange> readRanges(Repository repo, List<String> chunks) throws IOException {
    List<VolumeRange> out = new ArrayList<>();
    try (InputStream in = ChunkedStream.reader(repo, chunks); DataInputStream data = new DataInputStream(in)) {
      long last = 0;
      while (true) {
        long offset;
        try {
          offset = data.readLong();
        } catch (EOFException end) {
          break;
        }
        long length = data.readLong();
        if (offset < last || length <= 0) {
          throw new IOException("metadata ranges out of order at " + offset);
        }
        out.add(new VolumeRange(offset, length));
        last = offset + length;
      }
    }
    return out;
  }

  @Override
  public void close() {
    // the source belongs to the backup; only the spill file is ours
    try {
      spill.close();
      Files.deleteIfExists(spillPath);
    } catch (IOException ignored) {
      // a leftover .tmp- file is removed with the repository's other temporary files
    }
  }
}
