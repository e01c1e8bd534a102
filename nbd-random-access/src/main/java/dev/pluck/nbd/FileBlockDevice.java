package dev.pluck.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A raw image file (or block device) read with positional {@link FileChannel} reads. Holes of a
 * sparse file are reported in {@code base:allocation}, as an NBD server would.
 */
public final class FileBlockDevice implements BlockDevice {
  private final Path path;
  private final FileChannel channel;
  private final long size;
  private final boolean readOnly;

  private FileBlockDevice(Path path, FileChannel channel, long size, boolean readOnly) {
    this.path = path;
    this.channel = channel;
    this.size = size;
    this.readOnly = readOnly;
  }

  /** Opens a raw image read-only. */
  public static FileBlockDevice open(Path path) throws IOException {
    FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
    return new FileBlockDevice(path, ch, ch.size(), true);
  }

  /** Opens a raw image for reading and writing (restore targets). */
  public static FileBlockDevice openWritable(Path path) throws IOException {
    FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    return new FileBlockDevice(path, ch, ch.size(), false);
  }

  public Path path() {
    return path;
  }

  @Override
  public long size() {
    return size;
  }

  @Override
  public BlockSizes blockSizes() {
    return BlockSizes.DEFAULT;
  }

  @Override
  public boolean isReadOnly() {
    return readOnly;
  }

  @Override
  public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
    int length = dst.remaining();
    try {
      BlockDevice.checkRequest(size, offset, length);
      long pos = offset;
      while (dst.hasRemaining()) {
        int n = channel.read(dst, pos);
        if (n < 0) {
          throw new BlockDeviceException(path + " ended early (file shrank?)", offset, length, null);
        }
        pos += n;
      }
      return CompletableFuture.completedFuture(null);
    } catch (IOException e) {
      return CompletableFuture.failedFuture(
          e instanceof BlockDeviceException ? e : new BlockDeviceException("read of " + path + " failed", offset, length, e));
    }
  }

  @Override
  public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src) {
    int length = src.remaining();
    try {
      if (readOnly) {
        throw new BlockDeviceException(path + " is open read-only", offset, length, null);
      }
      BlockDevice.checkRequest(size, offset, length);
      long pos = offset;
      while (src.hasRemaining()) {
        pos += channel.write(src, pos);
      }
      return CompletableFuture.completedFuture(null);
    } catch (IOException e) {
      return CompletableFuture.failedFuture(
          e instanceof BlockDeviceException ? e : new BlockDeviceException("write of " + path + " failed", offset, length, e));
    }
  }

  /** Punches a hole where the filesystem can (a fresh image stays sparse), else writes zeros. */
  @Override
  public void writeZeroes(long offset, long length) throws IOException {
    if (readOnly) {
      throw new BlockDeviceException(path + " is open read-only", offset, length, null);
    }
    BlockDevice.checkRange(size, offset, length);
    if (length > 0 && !SparseFiles.punchHole(path, offset, length)) {
      BlockDevice.super.writeZeroes(offset, length);
    }
  }

  @Override
  public void flush() throws IOException {
    channel.force(false);
  }

  @Override
  public Set<String> metaContexts() {
    return Set.of(BASE_ALLOCATION);
  }

  @Override
  public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
    if (!BASE_ALLOCATION.equals(context)) {
      throw new BlockDeviceException("image file " + path + " has no metadata context " + context, offset, length, null);
    }
    BlockDevice.checkRange(size, offset, length);
    return SparseFiles.allocation(path, size, offset, length);
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  @Override
  public String toString() {
    return path.toString();
  }
}
