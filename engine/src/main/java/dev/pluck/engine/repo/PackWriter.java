package dev.pluck.engine.repo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The pack being filled: a local file, renamed into place when finished.
 *
 * <p>Where the file system allows it, the pack is written with direct I/O (O_DIRECT) from an
 * aligned staging buffer: a backup writes gigabytes it will not read again soon, and through the
 * page cache every one of those pages is first allocated and filled by the kernel (on a VM whose
 * freed memory goes back to the host, each such page faults at the hypervisor), then evicts the
 * host's cache of the disks being backed up. Direct I/O skips both; where it is refused (tmpfs,
 * some network file systems), packs are written through the page cache as before.
 */
final class PackWriter {
  /** The staging buffer's size: a multiple of any alignment accepted below. */
  private static final int STAGE = 4 << 20;
  /** Staging buffers of finished packs, reused: direct memory is freed only by the collector. */
  private static final ConcurrentLinkedQueue<ByteBuffer> SPARE_STAGES = new ConcurrentLinkedQueue<>();
  private static final int MAX_SPARE_STAGES = 4;
  private static final int SPARE_ALIGNMENT = 4096;
  /** Writes staged bytes with direct I/O, for every pack: the disk takes one write at a time anyway. */
  private static final java.util.concurrent.ExecutorService WRITER = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "pluck-pack-write");
    t.setDaemon(true);
    return t;
  });

  final String pendingName;
  private final Path file;
  private final FileChannel channel;  // reads, and writes when direct I/O is off
  private FileChannel direct;  // O_DIRECT writes, or null
  private int alignment;
  private ByteBuffer stage;  // direct I/O: the bytes from stageAt to size, being staged
  private long stageAt;
  private ByteBuffer spare;  // the other staging buffer: being written (from writingAt) or free
  private java.util.concurrent.Future<Void> writing;
  private long writingAt;
  private long flushed;  // bytes of the file written
  private final MessageDigest sha;
  private final List<Pack.Entry> entries = new ArrayList<>();
  private long size;

  PackWriter(Path dir) throws IOException {
    this(dir, "(pack being written)");
  }

  PackWriter(Path dir, String pendingName) throws IOException {
    this(dir, pendingName, !Boolean.getBoolean("pluck.repo.buffered"));
  }

  /** @param tryDirect write with direct I/O where the file system takes it */
  PackWriter(Path dir, String pendingName, boolean tryDirect) throws IOException {
    this.pendingName = pendingName;
    file = Files.createTempFile(dir, LocalStorage.TEMP_PREFIX + "pack-", "");
    channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.READ);
    if (tryDirect) {
      openDirect();
    }
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    write(Pack.MAGIC);
  }

  /** Opens the file a second time for direct writes, if its file system takes them. */
  private void openDirect() {
    try {
      long block = Files.getFileStore(file).getBlockSize();
      if (block <= 0 || block > STAGE || Long.bitCount(block) != 1) {
        return;
      }
      alignment = (int) Math.max(block, 4096);
      direct = FileChannel.open(file, StandardOpenOption.WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT);
      stage = newStage().clear();
    } catch (IOException | UnsupportedOperationException e) {
      direct = null;  // not on this file system: through the page cache
    }
  }

  private void write(byte[] b) throws IOException {
    write(b, b.length);
  }

  /** Writes {@code b[0, length)}; keeps nothing of {@code b}. */
  private void write(byte[] b, int length) throws IOException {
    for (int off = 0; off < length; ) {
      if (direct == null) {
        ByteBuffer buf = ByteBuffer.wrap(b, off, length - off);
        while (buf.hasRemaining()) {
          channel.write(buf, size + buf.position() - off);
        }
        size += length - off;
        flushed = size;
        return;
      }
      int n = Math.min(length - off, stage.remaining());
      stage.put(b, off, n);
      off += n;
      size += n;
      if (!stage.hasRemaining()) {
        submitStage();
      }
    }
  }

  /**
   * Hands the staged bytes (a multiple of the alignment) to the writing thread and stages into the
   * other buffer meanwhile: a direct write waits for the disk, and the appending thread has chunks
   * to take.
   */
  private void submitStage() throws IOException {
    awaitWrite();
    if (direct == null) {  // it failed: everything staged went through the page cache
      return;
    }
    FileChannel out = direct;
    ByteBuffer full = stage.flip();
    long at = stageAt;
    ByteBuffer next = spare != null ? spare : newStage();
    stage = next.clear();
    spare = full;
    stageAt = at + full.limit();
    writingAt = at;
    writing = WRITER.submit(() -> {
      ByteBuffer bytes = full.duplicate();
      while (bytes.hasRemaining()) {
        out.write(bytes, at + bytes.position());
      }
      return null;
    });
  }

  /** Waits for the write in flight; if direct I/O failed, writes those bytes through the page cache and stays there. */
  private void awaitWrite() throws IOException {
    if (writing == null) {
      return;
    }
    try {
      writing.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while writing a pack");
    } catch (java.util.concurrent.ExecutionException e) {
      // Refused after all (an alignment this file system wants and did not tell): the same bytes
      // through the page cache, and every later write too. A real write error fails there again.
      direct.close();
      direct = null;
      ByteBuffer out = spare.duplicate().position(0);
      while (out.hasRemaining()) {
        channel.write(out, writingAt + out.position());
      }
      ByteBuffer rest = stage.duplicate().flip();
      while (rest.hasRemaining()) {
        channel.write(rest, stageAt + rest.position());
      }
      flushed = size;
      releaseStages();
    } finally {
      writing = null;
    }
    if (direct != null) {
      flushed = stageAt;
    }
  }

  private ByteBuffer newStage() {
    ByteBuffer b = alignment == SPARE_ALIGNMENT ? SPARE_STAGES.poll() : null;
    return b != null ? b : ByteBuffer.allocateDirect(STAGE + alignment).alignedSlice(alignment).limit(STAGE);
  }

  synchronized Pack.Entry add(ChunkId id, Codec codec, byte[] stored, int rawLength) throws IOException {
    return add(id, codec, stored, stored.length, rawLength);
  }

  /** Appends a chunk stored as {@code stored[0, storedLength)}; keeps nothing of {@code stored}. */
  synchronized Pack.Entry add(ChunkId id, Codec codec, byte[] stored, int storedLength, int rawLength) throws IOException {
    Pack.Entry e = new Pack.Entry(id, codec, size, storedLength, rawLength);
    write(stored, storedLength);
    entries.add(e);
    return e;
  }

  /** Bytes of the pack so far: from the file, and those still staged from the staging buffer. */
  synchronized byte[] read(long offset, int length) throws IOException {
    if (offset < 0 || length < 0 || offset + length > size) {
      throw new IOException("read of " + length + " bytes at " + offset + " beyond the pack being written (" + size + " bytes)");
    }
    awaitWrite();
    byte[] out = new byte[length];
    int fromFile = (int) Math.max(0, Math.min(length, flushed - offset));
    ByteBuffer b = ByteBuffer.wrap(out, 0, fromFile);
    while (b.hasRemaining()) {
      if (channel.read(b, offset + b.position()) < 0) {
        throw new IOException("pack being written ends at " + (offset + b.position()) + ", expected " + flushed + " bytes");
      }
    }
    if (fromFile < length) {
      stage.get((int) (offset + fromFile - flushed), out, fromFile, length - fromFile);
    }
    return out;
  }

  /** Whether bytes are still being written with direct I/O. */
  synchronized boolean direct() {
    return direct != null;
  }

  synchronized long size() {
    return size;
  }

  List<Pack.Entry> entries() {
    return entries;
  }

  /**
   * Writes the trailer, fsyncs, and moves the pack to "data/XX/ID", ID the SHA-256 of its
   * trailer (which names every chunk in it by its hash); the channel stays open for reads.
   */
  synchronized String finish(Storage storage) throws IOException {
    byte[] trailer = Pack.trailer(entries);
    write(trailer);
    sha.update(trailer);
    if (direct != null) {
      // The last block is written whole, padded with zeros, and the file cut back to its size.
      int padded = (stage.position() + alignment - 1) / alignment * alignment;
      while (stage.position() < padded) {
        stage.put((byte) 0);
      }
      stage.limit(padded);
      submitStage();
      awaitWrite();
      if (direct != null) {
        direct.force(true);
        direct.close();
        direct = null;
        releaseStages();
      }
      channel.truncate(size);
      flushed = size;
    }
    channel.force(true);
    String name = Pack.name(HexFormat.of().formatHex(sha.digest()));
    storage.putFile(name, file);
    return name;
  }

  private void releaseStages() {
    for (ByteBuffer b : new ByteBuffer[] {stage, spare}) {
      if (b != null && alignment == SPARE_ALIGNMENT && SPARE_STAGES.size() < MAX_SPARE_STAGES) {
        SPARE_STAGES.offer(b);
      }
    }
    stage = null;
    spare = null;
  }

  synchronized void closeChannel() throws IOException {
    if (direct != null) {
      try {
        awaitWrite();
      } finally {
        if (direct != null) {
          direct.close();
          direct = null;
        }
        releaseStages();
      }
    }
    channel.close();
  }
}
