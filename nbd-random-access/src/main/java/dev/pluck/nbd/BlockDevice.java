package dev.pluck.nbd;

import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * A readable (and sometimes writable) range of bytes: an NBD export, a raw image file, or a view
 * of another device (a partition, an LVM logical volume). The only way bytes move in pluck.
 *
 * <p>Reads fill exactly {@code dst.remaining()} bytes at {@code offset} or fail; a read that
 * crosses the end of the device fails with {@link BlockDeviceException} before anything is sent.
 */
public interface BlockDevice extends Closeable {
  /** The base:allocation metadata context: holes and zero ranges. */
  String BASE_ALLOCATION = "base:allocation";

  /** Size in bytes. */
  long size();

  /** Alignment and request-size constraints. */
  BlockSizes blockSizes();

  /** Whether writes are refused. */
  boolean isReadOnly();

  /**
   * Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}, advancing its
   * position. The future fails with {@link BlockDeviceException} on error.
   */
  CompletableFuture<Void> readAsync(long offset, ByteBuffer dst);

  /** Synchronous {@link #readAsync}. */
  default void read(long offset, ByteBuffer dst) throws IOException {
    await(readAsync(offset, dst));
  }

  /** Reads {@code length} bytes at {@code offset} into a new array. */
  default byte[] read(long offset, int length) throws IOException {
    byte[] out = new byte[length];
    read(offset, ByteBuffer.wrap(out));
    return out;
  }

  /** Writes {@code src.remaining()} bytes at {@code offset}. */
  default CompletableFuture<Void> writeAsync(long offset, ByteBuffer src) {
    return CompletableFuture.failedFuture(
        new BlockDeviceException("device is read-only", offset, src.remaining(), null));
  }

  default void write(long offset, ByteBuffer src) throws IOException {
    await(writeAsync(offset, src));
  }

  /** Makes written data durable. */
  default void flush() throws IOException {}

  /**
   * Makes {@code [offset, offset + length)} read as zeros, deallocating it where the device can
   * (NBD_CMD_WRITE_ZEROES, hole punching); this default writes zeros, 1 MiB at a time.
   */
  default void writeZeroes(long offset, long length) throws IOException {
    checkRange(size(), offset, length);
    ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(length, 1 << 20));
    for (long pos = offset; pos < offset + length; ) {
      int n = (int) Math.min(zeros.capacity(), offset + length - pos);
      write(pos, zeros.clear().limit(n));
      pos += n;
    }
  }

  /** Metadata contexts this device can report ({@link #blockStatus}). */
  Set<String> metaContexts();

  /**
   * The status of {@code [offset, offset + length)} in {@code context}, as contiguous extents
   * covering exactly that range in order.
   */
  List<Extent> blockStatus(String context, long offset, long length) throws IOException;

  /** A view of {@code [offset, offset + length)} of this device. */
  default BlockDevice slice(long offset, long length) {
    return new SliceBlockDevice(this, offset, length);
  }

  /** Waits for an I/O future, unwrapping its cause. */
  static <T> T await(CompletableFuture<T> future) throws IOException {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      future.cancel(false);
      throw new InterruptedIOException("interrupted while waiting for I/O");
    } catch (ExecutionException e) {
      throw unwrap(e.getCause());
    }
  }

  /** The IOException behind a future's failure. */
  static IOException unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof IOException io) {
      return io;
    }
    if (t instanceof RuntimeException re) {
      throw re;
    }
    return new IOException(t);
  }

  /**
   * Checks a read or write: non-empty (NBD leaves zero-length requests undefined, so pluck never
   * sends one) and within a device of {@code size} bytes.
   */
  static void checkRequest(long size, long offset, long length) throws BlockDeviceException {
    if (length == 0) {
      throw new BlockDeviceException("zero-length request", offset, length, null);
    }
    checkRange(size, offset, length);
  }

  /** Checks that a range lies within a device of {@code size} bytes. */
  static void checkRange(long size, long offset, long length) throws BlockDeviceException {
    if (offset < 0 || length < 0 || offset > size || length > size - offset) {
      throw new BlockDeviceException("request outside the device of " + size + " bytes", offset, length, null);
    }
  }
}
