package dev.pluck.nbd;

import dev.pluck.nbd.protocol.ExportInfo;
import dev.pluck.nbd.protocol.Nbd;
import dev.pluck.nbd.protocol.NbdConnection;
import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdProtocolException;
import dev.pluck.nbd.protocol.NbdUri;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * An NBD export as a {@link BlockDevice}: one connection, or several when the server sets
 * NBD_FLAG_CAN_MULTI_CONN, each with many requests in flight. Requests larger than the server's
 * maximum are split; unaligned requests to a server with a minimum block size are widened.
 */
public final class NbdBlockDevice implements BlockDevice {
  /** Largest single request when the server states no maximum (proto.md: 32 MiB is safe). */
  private static final int DEFAULT_MAX_REQUEST = 32 << 20;
  /** Block status asks for at most this much at once (fits a 32-bit length). */
  private static final long MAX_STATUS_REQUEST = 1L << 31;

  /** Runs the extra handshakes of a multi-connection open. */
  private static final java.util.concurrent.Executor CONNECTOR = r -> {
    Thread t = new Thread(r, "pluck-nbd-connect");
    t.setDaemon(true);
    t.start();
  };

  private final NbdUri uri;
  private final ExportInfo info;
  private final List<NbdConnection> connections;
  private final int maxRequest;
  private int next;

  private NbdBlockDevice(NbdUri uri, ExportInfo info, List<NbdConnection> connections) {
    this.uri = uri;
    this.info = info;
    this.connections = List.copyOf(connections);
    this.maxRequest = Math.min(info.blockSizes().maximum(), DEFAULT_MAX_REQUEST);
  }

  public static NbdBlockDevice open(String uri) throws IOException {
    return open(NbdUri.parse(uri), NbdOptions.defaults());
  }

  /** Connects; opens more connections when the server allows several. */
  public static NbdBlockDevice open(NbdUri uri, NbdOptions options) throws IOException {
    NbdConnection first = NbdConnection.connect(uri, options);
    List<NbdConnection> all = new ArrayList<>(List.of(first));
    if (first.info().canMultiConn() && options.connections() > 1) {
      // The other handshakes run side by side: each is a few round trips of waiting.
      List<CompletableFuture<NbdConnection>> more = new ArrayList<>();
      for (int i = 1; i < options.connections(); i++) {
        more.add(CompletableFuture.supplyAsync(() -> {
          try {
            return NbdConnection.connect(uri, options);
          } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }, CONNECTOR));
      }
      IOException failure = null;
      for (CompletableFuture<NbdConnection> f : more) {
        try {
          all.add(f.join());
        } catch (java.util.concurrent.CompletionException e) {
          failure = failure != null ? failure : BlockDevice.unwrap(e);
        }
      }
      if (failure != null) {
        all.forEach(NbdConnection::close);
        throw failure;
      }
    }
    return new NbdBlockDevice(uri, first.info(), all);
  }

  public ExportInfo info() {
    return info;
  }

  public NbdUri uri() {
    return uri;
  }

  /** Connections in use (more than one only with NBD_FLAG_CAN_MULTI_CONN). */
  public int connectionCount() {
    return connections.size();
  }

  @Override
  public long size() {
    return info.size();
  }

  @Override
  public BlockSizes blockSizes() {
    return info.blockSizes();
  }

  @Override
  public boolean isReadOnly() {
    return info.readOnly();
  }

  /** The connection with the fewest requests in flight (round robin among equals). */
  private synchronized NbdConnection pick() {
    NbdConnection best = null;
    int n = connections.size();
    for (int i = 0; i < n; i++) {
      NbdConnection c = connections.get((next + i) % n);
      if (best == null || c.inFlight() < best.inFlight()) {
        best = c;
      }
    }
    next = (next + 1) % n;
    return best;
  }

  @Override
  public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
    int length = dst.remaining();
    try {
      BlockDevice.checkRequest(size(), offset, length);
    } catch (BlockDeviceException e) {
      return CompletableFuture.failedFuture(e);
    }
    int align = info.blockSizes().minimum();
    if (align > 1 && (offset % align != 0 || length % align != 0)) {
      return readUnaligned(offset, dst, align);
    }
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    long pos = offset;
    while (dst.hasRemaining()) {
      int n = Math.min(dst.remaining(), maxRequest);
      ByteBuffer part = dst.slice(dst.position(), n);
      parts.add(pick().read(pos, part));
      dst.position(dst.position() + n);
      pos += n;
    }
    CompletableFuture<Void> all = parts.size() == 1 ? parts.get(0) : CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
    return all.exceptionallyCompose(t -> CompletableFuture.failedFuture(located(t, offset, length)));
  }

  /** Widens to the server's minimum block size, reads, and copies out the wanted bytes. */
  private CompletableFuture<Void> readUnaligned(long offset, ByteBuffer dst, int align) {
    long start = offset - offset % align;
    long end = Math.min(size(), (offset + dst.remaining() + align - 1) / align * align);
    ByteBuffer wide = ByteBuffer.allocate((int) (end - start));
    ByteBuffer out = dst.slice();
    int length = dst.remaining();
    dst.position(dst.limit());
    return readAsync(start, wide).thenRun(() -> out.put(wide.position((int) (offset - start)).limit((int) (offset - start) + length)));
  }

  private static Throwable located(Throwable t, long offset, long length) {
    IOException e = BlockDevice.unwrap(t);
    if (e instanceof BlockDeviceException || e instanceof NbdProtocolException) {
      return e;  // already say where (or the whole connection is gone)
    }
    return new BlockDeviceException("read failed: " + e.getMessage(), offset, length, e);
  }

  @Override
  public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src) {
    int length = src.remaining();
    try {
      if (isReadOnly()) {
        throw new BlockDeviceException("export " + uri + " is read-only", offset, length, null);
      }
      BlockDevice.checkRequest(size(), offset, length);
    } catch (BlockDeviceException e) {
      return CompletableFuture.failedFuture(e);
    }
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    long pos = offset;
    while (src.hasRemaining()) {
      int n = Math.min(src.remaining(), maxRequest);
      ByteBuffer part = src.slice(src.position(), n);
      parts.add(pick().write(pos, part, 0));
      src.position(src.position() + n);
      pos += n;
    }
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
  }

  /**
   * Writes zeros without sending them (NBD_CMD_WRITE_ZEROES); {@code punchHoles} lets the server
   * deallocate (no NBD_CMD_FLAG_NO_HOLE).
   */
  public void writeZeroes(long offset, long length, boolean punchHoles) throws IOException {
    writeZeroes(offset, length, punchHoles, false);
  }

  /**
   * As {@link #writeZeroes(long, long, boolean)}; with {@code fast}, NBD_CMD_FLAG_FAST_ZERO asks
   * the server to fail at once (ENOTSUP) rather than zero slowly, so the caller can write instead.
   */
  public void writeZeroes(long offset, long length, boolean punchHoles, boolean fast) throws IOException {
    if (fast && !info.has(Nbd.NBD_FLAG_SEND_FAST_ZERO)) {
      throw new BlockDeviceException("server does not support NBD_CMD_FLAG_FAST_ZERO", offset, length, null);
    }
    int flags = (punchHoles ? 0 : Nbd.NBD_CMD_FLAG_NO_HOLE) | (fast ? Nbd.NBD_CMD_FLAG_FAST_ZERO : 0);
    BlockDevice.checkRequest(size(), offset, length);
    if (!info.has(Nbd.NBD_FLAG_SEND_WRITE_ZEROES)) {
      throw new BlockDeviceException("server does not support NBD_CMD_WRITE_ZEROES", offset, length, null);
    }
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    for (long pos = offset; pos < offset + length; ) {
      long n = Math.min(offset + length - pos, MAX_STATUS_REQUEST);
      parts.add(pick().writeZeroes(pos, n, flags));
      pos += n;
    }
    BlockDevice.await(CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)));
  }

  /** NBD_CMD_WRITE_ZEROES, letting the server punch holes; zeros written when the server has no such command. */
  @Override
  public void writeZeroes(long offset, long length) throws IOException {
    if (info.has(Nbd.NBD_FLAG_SEND_WRITE_ZEROES)) {
      writeZeroes(offset, length, true);
    } else {
      BlockDevice.super.writeZeroes(offset, length);
    }
  }

  /** Tells the server the range is no longer needed (NBD_CMD_TRIM). */
  public void trim(long offset, long length) throws IOException {
    BlockDevice.checkRequest(size(), offset, length);
    if (!info.has(Nbd.NBD_FLAG_SEND_TRIM)) {
      throw new BlockDeviceException("server does not support NBD_CMD_TRIM", offset, length, null);
    }
    BlockDevice.await(pick().trim(offset, length));
  }

  @Override
  public void flush() throws IOException {
    if (!info.has(Nbd.NBD_FLAG_SEND_FLUSH)) {
      return;
    }
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (NbdConnection c : connections) {
      all.add(c.flush());
    }
    BlockDevice.await(CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)));
  }

  @Override
  public Set<String> metaContexts() {
    return info.metaContexts().keySet();
  }

  /** Block status over exactly the range, asking again where a reply covers less. */
  @Override
  public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
    BlockDevice.checkRange(size(), offset, length);
    if (!info.metaContexts().containsKey(context)) {
      throw new BlockDeviceException("metadata context " + context + " was not negotiated with " + uri
          + " (negotiated: " + info.metaContexts().keySet() + ")", offset, length, null);
    }
    List<Extent> out = new ArrayList<>();
    long pos = offset;
    long end = offset + length;
    while (pos < end) {
      long ask = Math.min(end - pos, MAX_STATUS_REQUEST);
      List<Extent> got = BlockDevice.await(pick().blockStatus(context, pos, ask));
      long before = pos;
      for (Extent e : got) {
        if (pos >= end) {
          break;
        }
        long len = Math.min(e.length(), end - pos);
        Extent clipped = new Extent(pos, len, e.flags());
        if (!out.isEmpty() && out.get(out.size() - 1).flags() == clipped.flags()) {
          Extent last = out.remove(out.size() - 1);
          clipped = new Extent(last.offset(), last.length() + len, last.flags());
        }
        out.add(clipped);
        pos += len;
      }
      if (pos == before) {
        throw new NbdProtocolException("block status at " + pos + " made no progress");
      }
    }
    return out;
  }

  @Override
  public void close() {
    connections.forEach(NbdConnection::close);
  }

  @Override
  public String toString() {
    return uri.toString();
  }
}
