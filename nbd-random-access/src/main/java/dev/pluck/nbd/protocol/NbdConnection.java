package dev.pluck.nbd.protocol;

import dev.pluck.nbd.Extent;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.UncheckedBooleanSupplier;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One NBD connection in the transmission phase: many requests in flight, matched to replies by
 * cookie, read data put straight into the caller's buffers as it arrives (by the socket itself
 * when they are direct buffers and the connection is not under TLS).
 *
 * <p>Nothing the server sends is trusted: an unknown cookie, a chunk outside its request, a
 * block-status reply of more than {@link #MAX_DESCRIPTORS} descriptors or a bad magic closes the
 * connection and fails every outstanding request with {@link NbdProtocolException}; so does a
 * request left unanswered past its timeout.
 */
public final class NbdConnection implements Closeable {
  /** Largest block-status reply accepted, in descriptors. */
  public static final int MAX_DESCRIPTORS = 1 << 20;
  /** Largest error message accepted (proto.md: strings are at most 4096 bytes). */
  private static final int MAX_ERROR_MESSAGE = 4096;
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 << 10).asReadOnlyBuffer();
  /** Data chunks with less than this left are read into Netty's buffers and copied. */
  private static final int MIN_LANDING = 4096;

  private final NbdUri uri;
  private final Channel channel;
  private final ExportInfo info;
  private final Duration requestTimeout;
  private final Map<Long, Pending> inFlight = new ConcurrentHashMap<>();
  private final AtomicLong cookies = new AtomicLong(1);
  /** For --trace-nbd: requests and bytes per command, the largest request, the most in flight at once. */
  private final long[] counts = new long[16];
  private final long[] bytes = new long[16];
  private long largest;
  private int highWater;
  /** Read data the socket wrote straight into requests' buffers (written on the event loop only). */
  private volatile long receivedInPlace;
  private volatile IOException failure;

  private NbdConnection(NbdUri uri, Channel channel, ExportInfo info, Duration requestTimeout) {
    this.uri = uri;
    this.channel = channel;
    this.info = info;
    this.requestTimeout = requestTimeout;
  }

  /** What NBD_OPT_LIST and NBD_OPT_LIST_META_CONTEXT said, for {@code nbd info}. */
  public record Listing(List<String> exports, Map<String, String> descriptions, List<String> metaContexts) {}

  /**
   * Starts what every connection needs and no argument changes (Netty's classes and allocator, the
   * native epoll library, the event loops), so that a caller with other work to do first can have
   * it done meanwhile on another thread; the first connection otherwise does it.
   */
  public static void startTransport() {
    NbdTransport.group();
    io.netty.buffer.ByteBufAllocator.DEFAULT.ioBuffer(Nbd.REQUEST_SIZE).release();
  }

  /** Connects, negotiates and enters the transmission phase with {@code uri}'s export. */
  public static NbdConnection connect(NbdUri uri, NbdOptions options) throws IOException {
    return open(uri, options, null);
  }

  /**
   * Connects and, before entering the transmission phase, lists the server's exports (when
   * {@code exports}) and the export's metadata contexts into {@code listing[0]}.
   */
  public static NbdConnection connectAndList(NbdUri uri, NbdOptions options, boolean exports, Listing[] listing) throws IOException {
    return open(uri, options, new Object[] {exports, listing});
  }

  private static NbdConnection open(NbdUri uri, NbdOptions options, Object[] listRequest) throws IOException {
    long deadline = System.nanoTime() + options.connectTimeout().toNanos();
    NbdHandshake h = new NbdHandshake(deadline);
    Bootstrap b = new Bootstrap()
        .group(NbdTransport.group())
        .channel(NbdTransport.channelType(uri))
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, options.connectTimeout().toMillis()))
        .option(ChannelOption.RCVBUF_ALLOCATOR, new ReceiveAllocator())
        .handler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel ch) {
            h.install(ch.pipeline());  // the transmission phase replaces these after NBD_OPT_GO
          }
        });
    if (uri.socket() == null) {
      b.option(ChannelOption.TCP_NODELAY, true);
    }
    ChannelFuture connected = b.connect(NbdTransport.address(uri));
    try {
      if (!connected.await(options.connectTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
        connected.channel().close();
        throw new IOException("connecting to " + uri + " timed out");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      connected.channel().close();
      throw new IOException("interrupted while connecting to " + uri, e);
    }
    if (!connected.isSuccess()) {
      throw new IOException("cannot connect to " + uri + ": " + why(connected.cause()), connected.cause());
    }
    Channel ch = connected.channel();
    try {
      h.attach(ch);
      if (!h.start()) {
        return unfixedNewstyle(uri, ch, h, options, listRequest);
      }
      NbdOptions.Tls tls = options.tls();
      if (tls == null && uri.tlsCertificates() != null) {
        tls = NbdOptions.Tls.fromDirectory(uri.tlsCertificates(), uri.tlsVerifyPeer());
      }
      if (uri.tls()) {
        h.startTls(uri, tls);
      }
      boolean extended = false;
      boolean structured = false;
      if (options.structuredReplies()) {
        extended = options.extendedHeaders() && h.extendedHeaders();
        structured = extended || h.structuredReplies();
      }
      if (listRequest != null) {
        boolean wantExports = (Boolean) listRequest[0];
        List<String> names = new ArrayList<>();
        Map<String, String> descriptions = new java.util.LinkedHashMap<>();
        if (wantExports) {
          for (NbdHandshake.ListedExport e : h.list()) {
            names.add(e.name());
            descriptions.put(e.name(), e.description());
          }
        }
        List<String> contexts = structured
            ? new ArrayList<>(h.metaContexts(Nbd.NBD_OPT_LIST_META_CONTEXT, uri.exportName(), List.of()).keySet())
            : List.of();
        ((Listing[]) listRequest[1])[0] = new Listing(names, descriptions, contexts);
      }
      Map<String, Integer> contexts = Map.of();
      if (structured && !options.metaContexts().isEmpty()) {
        contexts = h.metaContexts(Nbd.NBD_OPT_SET_META_CONTEXT, uri.exportName(), options.metaContexts());
      }
      return transmission(uri, ch, h, h.go(uri.exportName(), contexts, structured, extended), options);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /**
   * A server of the original newstyle negotiation (before NBD_FLAG_FIXED_NEWSTYLE) may drop the
   * connection on any option but NBD_OPT_EXPORT_NAME: no TLS, no export list, no structured
   * replies, so no block status; plain reads and writes still work.
   */
  private static NbdConnection unfixedNewstyle(NbdUri uri, Channel ch, NbdHandshake h, NbdOptions options, Object[] listRequest)
      throws IOException {
    if (uri.tls()) {
      throw new NbdProtocolException("server " + uri + " speaks the original newstyle negotiation, which has no TLS");
    }
    if (listRequest != null) {
      if ((Boolean) listRequest[0]) {
        throw new NbdProtocolException("server " + uri + " speaks the original newstyle negotiation, which cannot list exports");
      }
      ((Listing[]) listRequest[1])[0] = new Listing(List.of(), Map.of(), List.of());
    }
    return transmission(uri, ch, h, h.exportName(uri.exportName(), Map.of()), options);
  }

  /** The handshake is over: replies to commands take the channel over. */
  private static NbdConnection transmission(NbdUri uri, Channel ch, NbdHandshake h, ExportInfo info, NbdOptions options) {
    h.finish();
    NbdConnection c = new NbdConnection(uri, ch, info, options.requestTimeout());
    ReplyDecoder replies = c.new ReplyDecoder();
    ch.pipeline().addLast("nbd-replies", replies);
    // Under TLS the socket's bytes are records for the SslHandler, never the data itself.
    if (ch.pipeline().get(SslHandler.class) == null && ch.config().getRecvByteBufAllocator() instanceof ReceiveAllocator r) {
      r.replies = replies;
    }
    return c;
  }

  public ExportInfo info() {
    return info;
  }

  public NbdUri uri() {
    return uri;
  }

  /** Requests sent and not yet answered. */
  public int inFlight() {
    return inFlight.size();
  }

  public boolean isOpen() {
    return channel.isActive() && failure == null;
  }

  /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}. */
  public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
    if (dst.isReadOnly()) {  // the socket would write into it regardless (receiveBuffer)
      return CompletableFuture.failedFuture(new java.nio.ReadOnlyBufferException());
    }
    Pending p = new Pending(Nbd.NBD_CMD_READ, offset, dst.remaining(), dst.slice(), 0);
    CompletableFuture<Void> f = submit(p, 0, null).thenApply(x -> null);
    dst.position(dst.limit());
    return f;
  }

  /** Block status of one negotiated context from {@code offset}; may cover less than asked. */
  public CompletableFuture<List<Extent>> blockStatus(String context, long offset, long length) {
    Integer id = info.metaContexts().get(context);
    if (id == null) {
      return CompletableFuture.failedFuture(new NbdProtocolException("metadata context " + context + " was not negotiated with " + uri));
    }
    Pending p = new Pending(Nbd.NBD_CMD_BLOCK_STATUS, offset, length, null, id);
    return submit(p, 0, null).thenApply(x -> p.extents);
  }

  public CompletableFuture<Void> write(long offset, ByteBuffer src, int flags) {
    Pending p = new Pending(Nbd.NBD_CMD_WRITE, offset, src.remaining(), null, 0);
    ByteBuf payload = Unpooled.wrappedBuffer(src.slice());
    src.position(src.limit());
    return submit(p, flags, payload).thenApply(x -> null);
  }

  public CompletableFuture<Void> writeZeroes(long offset, long length, int flags) {
    return submit(new Pending(Nbd.NBD_CMD_WRITE_ZEROES, offset, length, null, 0), flags, null).thenApply(x -> null);
  }

  public CompletableFuture<Void> trim(long offset, long length) {
    return submit(new Pending(Nbd.NBD_CMD_TRIM, offset, length, null, 0), 0, null).thenApply(x -> null);
  }

  public CompletableFuture<Void> flush() {
    return submit(new Pending(Nbd.NBD_CMD_FLUSH, 0, 0, null, 0), 0, null).thenApply(x -> null);
  }

  /** Sends NBD_CMD_DISC and closes; outstanding requests fail. */
  @Override
  public void close() {
    if (NbdTrace.on()) {
      java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
      m.put("time", java.time.Instant.now().toString());
      m.put("event", "summary");
      m.put("uri", uri.toString());
      java.util.Map<String, Object> requests = new java.util.LinkedHashMap<>();
      java.util.Map<String, Object> sizes = new java.util.LinkedHashMap<>();
      synchronized (counts) {
        for (int c = 0; c < counts.length; c++) {
          if (counts[c] > 0) {
            requests.put(Nbd.commandName(c), counts[c]);
            sizes.put(Nbd.commandName(c), bytes[c]);
          }
        }
        m.put("requests", requests);
        m.put("bytes", sizes);
        m.put("largestRequest", largest);
        m.put("inFlightHighWater", highWater);
        m.put("receivedInPlace", receivedInPlace);
      }
      NbdTrace.emit(m);
    }
    if (channel.isActive() && failure == null) {
      ByteBuf header = header(Nbd.NBD_CMD_DISC, 0, cookies.getAndIncrement(), 0, 0);
      channel.writeAndFlush(header).addListener(x -> channel.close());
    } else {
      channel.close();
    }
    fail(new NbdProtocolException("connection to " + uri + " closed"));
    channel.closeFuture().awaitUninterruptibly(2000);
  }

  private CompletableFuture<Object> submit(Pending p, int flags, ByteBuf payload) {
    IOException f = failure;
    if (f != null) {
      if (payload != null) {
        payload.release();
      }
      return CompletableFuture.failedFuture(new NbdProtocolException(f.getMessage(), f));
    }
    long maxLength = info.extendedHeaders() ? Long.MAX_VALUE : 0xFFFF_FFFFL;
    if (p.length > maxLength) {
      return CompletableFuture.failedFuture(new NbdProtocolException(Nbd.commandName(p.command) + " of " + p.length + " bytes needs extended headers"));
    }
    long cookie = cookies.getAndIncrement();
    inFlight.put(cookie, p);
    if (NbdTrace.on()) {
      synchronized (counts) {
        int c = p.command & 15;
        counts[c]++;
        bytes[c] += p.length;
        largest = Math.max(largest, p.length);
        highWater = Math.max(highWater, inFlight.size());
      }
    }
    p.timeout = channel.eventLoop().schedule(() -> timedOut(cookie), requestTimeout.toNanos(), TimeUnit.NANOSECONDS);
    ByteBuf header = header(p.command, flags, cookie, p.offset, p.length);
    if (payload != null) {
      channel.write(header);
      channel.writeAndFlush(payload);
    } else {
      channel.writeAndFlush(header);
    }
    if (failure != null) {  // closed while registering: make sure this one fails too
      fail(failure);
    }
    return p.future;
  }

  private ByteBuf header(int command, int flags, long cookie, long offset, long length) {
    if (info.extendedHeaders()) {
      return channel.alloc().buffer(Nbd.EXTENDED_REQUEST_SIZE)
          .writeInt(Nbd.NBD_EXTENDED_REQUEST_MAGIC).writeShort(flags).writeShort(command)
          .writeLong(cookie).writeLong(offset).writeLong(length);
    }
    return channel.alloc().buffer(Nbd.REQUEST_SIZE)
        .writeInt(Nbd.NBD_REQUEST_MAGIC).writeShort(flags).writeShort(command)
        .writeLong(cookie).writeLong(offset).writeInt((int) length);
  }

  private void timedOut(long cookie) {
    Pending p = inFlight.get(cookie);
    if (p != null) {
      fail(new NbdProtocolException("no reply from " + uri + " within " + requestTimeout.toSeconds() + " s to "
          + Nbd.commandName(p.command) + " at offset " + p.offset + " length " + p.length + "; connection closed"));
      channel.close();
    }
  }

  /** Fails every outstanding request; later requests fail at once. */
  private void fail(IOException cause) {
    if (failure == null) {
      failure = cause;
    }
    for (Long cookie : List.copyOf(inFlight.keySet())) {
      Pending p = inFlight.remove(cookie);
      if (p != null) {
        p.cancelTimeout();
        p.future.completeExceptionally(cause);
      }
    }
  }

  /** One request awaiting its reply. */
  private static final class Pending {
    final int command;
    final long offset;
    final long length;
    final ByteBuffer dst;
    final int contextId;
    final CompletableFuture<Object> future = new CompletableFuture<>();
    ScheduledFuture<?> timeout;
    long covered;
    List<Extent> extents;
    IOException error;

    Pending(int command, long offset, long length, ByteBuffer dst, int contextId) {
      this.command = command;
      this.offset = offset;
      this.length = length;
      this.dst = dst;
      this.contextId = contextId;
    }

    void cancelTimeout() {
      if (timeout != null) {
        timeout.cancel(false);
      }
    }
  }

  /**
   * Netty's adaptive receive buffers, except while the reply decoder says where the next bytes
   * belong ({@link ReplyDecoder#receiveBuffer}).
   */
  private static final class ReceiveAllocator implements RecvByteBufAllocator {
    private final RecvByteBufAllocator adaptive = new AdaptiveRecvByteBufAllocator(4096, 256 << 10, 1 << 20);
    /** Set once the transmission phase begins; until then (and under TLS) every read is Netty's. */
    volatile ReplyDecoder replies;

    @Override
    public Handle newHandle() {
      ExtendedHandle d = (ExtendedHandle) adaptive.newHandle();
      return new ExtendedHandle() {
        @Override
        public ByteBuf allocate(ByteBufAllocator alloc) {
          ReplyDecoder r = replies;
          ByteBuf b = r == null ? null : r.receiveBuffer(alloc);
          return b != null ? b : d.allocate(alloc);
        }

        @Override
        public boolean continueReading(UncheckedBooleanSupplier maybeMoreDataSupplier) {
          return d.continueReading(maybeMoreDataSupplier);
        }

        @Override
        public int guess() {
          return d.guess();
        }

        @Override
        public void reset(io.netty.channel.ChannelConfig config) {
          d.reset(config);
        }

        @Override
        public void incMessagesRead(int numMessages) {
          d.incMessagesRead(numMessages);
        }

        @Override
        public void lastBytesRead(int bytes) {
          d.lastBytesRead(bytes);
        }

        @Override
        public int lastBytesRead() {
          return d.lastBytesRead();
        }

        @Override
        public void attemptedBytesRead(int bytes) {
          d.attemptedBytesRead(bytes);
        }

        @Override
        public int attemptedBytesRead() {
          return d.attemptedBytesRead();
        }

        @Override
        public boolean continueReading() {
          return d.continueReading();
        }

        @Override
        public void readComplete() {
          d.readComplete();
        }
      };
    }
  }

  /**
   * Decodes replies and completes requests, on the channel's event loop. Read payloads go into the
   * request's buffer as they arrive (see {@link #receiveBuffer}), so no reply is ever accumulated
   * whole.
   */
  private final class ReplyDecoder extends ByteToMessageDecoder {
    private enum State { HEADER, DATA_OFFSET, DATA, PAYLOAD }

    private State state = State.HEADER;
    private long cookie;
    private Pending current;
    private int chunkType;
    private boolean done;
    private long payloadLength;
    private long dataOffset;   // where in the request's buffer DATA goes
    private long dataLeft;
    /** The buffer last handed to the socket over the request's own memory, and where it begins. */
    private ByteBuf landing;
    private long landingAt;
    /**
     * Whether the last data chunk went to a direct buffer, so the next header is read exactly (one
     * system call more, no copy) lest an ordinary buffer take the data behind it.
     */
    private boolean landingMode = true;

    ReplyDecoder() {
      // Never copy a large incoming buffer just because a header straddled two reads.
      setCumulator(COMPOSITE_CUMULATOR);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws NbdProtocolException {
      while (in.isReadable()) {
        switch (state) {
          case HEADER -> {
            if (!header(in)) {
              return;
            }
          }
          case DATA_OFFSET -> {
            if (in.readableBytes() < 8) {
              return;
            }
            beginData(in.readLong(), payloadLength - 8);
          }
          case DATA -> {
            int n = (int) Math.min(in.readableBytes(), dataLeft);
            if (in == landing && dataOffset == landingAt + in.readerIndex()) {
              in.skipBytes(n);  // the socket wrote these where they belong
              receivedInPlace += n;
            } else {
              ByteBuffer target = current.dst.duplicate();
              target.position((int) dataOffset).limit((int) (dataOffset + n));
              in.readBytes(target);
            }
            dataOffset += n;
            dataLeft -= n;
            if (dataLeft == 0) {
              endChunk();
            }
          }
          case PAYLOAD -> {
            if (in.readableBytes() < payloadLength) {
              return;
            }
            ByteBuf payload = in.readSlice((int) payloadLength);
            payload(payload);
            endChunk();
          }
          default -> throw new IllegalStateException();
        }
      }
    }

    /**
     * The buffer the channel's next socket read should fill, or null for one of Netty's. While a
     * data chunk goes to a direct buffer, the rest of it: the kernel then writes the data where it
     * belongs, sparing a copy of every byte read (docs/PERFORMANCE.md). While chunks land so,
     * exactly the next reply header and data offset, so no ordinary buffer swallows the data
     * behind them. Called on the event loop between reads, after this decoder saw the last one.
     */
    ByteBuf receiveBuffer(ByteBufAllocator alloc) {
      switch (state) {
        case DATA -> {
          if (dataLeft < MIN_LANDING || !current.dst.isDirect()) {
            return null;
          }
          ByteBuffer region = current.dst.duplicate();
          region.position((int) dataOffset).limit((int) (dataOffset + dataLeft));
          landing = Unpooled.wrappedBuffer(region.slice()).clear();  // a view: releasing it frees nothing
          landingAt = dataOffset;
          return landing;
        }
        case HEADER, DATA_OFFSET -> {
          if (!landingMode) {
            return null;
          }
          int header = !info.structuredReplies() ? Nbd.SIMPLE_REPLY_SIZE
              : info.extendedHeaders() ? Nbd.EXTENDED_REPLY_SIZE + 8 : Nbd.STRUCTURED_REPLY_SIZE + 8;
          int want = (state == State.HEADER ? header : 8) - internalBuffer().readableBytes();
          return want > 0 ? alloc.ioBuffer(want, want) : null;
        }
        default -> {
          return null;
        }
      }
    }

    /** Reads one reply header; false when more bytes are needed. */
    private boolean header(ByteBuf in) throws NbdProtocolException {
      if (in.readableBytes() < 4) {
        return false;
      }
      int magic = in.getInt(in.readerIndex());
      switch (magic) {
        case Nbd.NBD_SIMPLE_REPLY_MAGIC -> {
          if (in.readableBytes() < Nbd.SIMPLE_REPLY_SIZE) {
            return false;
          }
          if (info.extendedHeaders()) {
            throw new NbdProtocolException("simple reply although extended headers were negotiated");
          }
          in.skipBytes(4);
          int error = in.readInt();
          cookie = in.readLong();
          current = lookup(cookie);
          done = true;
          if (error != 0) {
            current.error = new NbdException(current.command, current.offset, current.length, error, null);
            finish();
          } else if (current.command == Nbd.NBD_CMD_READ) {
            if (info.structuredReplies()) {
              throw new NbdProtocolException("simple reply with data to a read although structured replies were negotiated");
            }
            chunkType = Nbd.NBD_REPLY_TYPE_OFFSET_DATA;
            dataOffset = 0;
            dataLeft = current.length;
            current.covered = current.length;
            landingMode = current.dst.isDirect();
            state = State.DATA;
          } else {
            finish();
          }
          return true;
        }
        case Nbd.NBD_STRUCTURED_REPLY_MAGIC, Nbd.NBD_EXTENDED_REPLY_MAGIC -> {
          boolean extendedReply = magic == Nbd.NBD_EXTENDED_REPLY_MAGIC;
          int size = extendedReply ? Nbd.EXTENDED_REPLY_SIZE : Nbd.STRUCTURED_REPLY_SIZE;
          if (in.readableBytes() < size) {
            return false;
          }
          if (!info.structuredReplies()) {
            throw new NbdProtocolException("structured reply although structured replies were not negotiated");
          }
          if (extendedReply != info.extendedHeaders()) {
            throw new NbdProtocolException((extendedReply ? "extended" : "structured") + " reply header does not match the negotiated headers");
          }
          in.skipBytes(4);
          int flags = in.readUnsignedShort();
          chunkType = in.readUnsignedShort();
          cookie = in.readLong();
          if (extendedReply) {
            in.skipBytes(8);  // the request's offset, echoed
            payloadLength = in.readLong();
          } else {
            payloadLength = in.readUnsignedInt();
          }
          current = lookup(cookie);
          done = (flags & Nbd.NBD_REPLY_FLAG_DONE) != 0;
          startChunk(in);
          return true;
        }
        default -> throw new NbdProtocolException(String.format("bad reply magic 0x%08x", magic));
      }
    }

    private Pending lookup(long c) throws NbdProtocolException {
      Pending p = inFlight.get(c);
      if (p == null) {
        throw new NbdProtocolException("reply for unknown cookie " + c);
      }
      return p;
    }

    /** Checks a chunk's declared length against what its type and request allow. */
    private void startChunk(ByteBuf in) throws NbdProtocolException {
      String what = Nbd.commandName(current.command) + " at " + current.offset;
      switch (chunkType) {
        case Nbd.NBD_REPLY_TYPE_NONE -> {
          if (payloadLength != 0 || !done) {
            throw new NbdProtocolException("NBD_REPLY_TYPE_NONE with payload or without DONE for " + what);
          }
          endChunk();
        }
        case Nbd.NBD_REPLY_TYPE_OFFSET_DATA -> {
          if (current.command != Nbd.NBD_CMD_READ) {
            throw new NbdProtocolException("data chunk in reply to " + what);
          }
          if (payloadLength < 8 || payloadLength - 8 > current.length) {
            throw new NbdProtocolException("data chunk of " + payloadLength + " bytes for " + what + " of " + current.length);
          }
          state = State.DATA_OFFSET;
        }
        case Nbd.NBD_REPLY_TYPE_OFFSET_HOLE -> expectPayload(12, 12, what);
        case Nbd.NBD_REPLY_TYPE_BLOCK_STATUS -> {
          if (current.command != Nbd.NBD_CMD_BLOCK_STATUS) {
            throw new NbdProtocolException("block status chunk in reply to " + what);
          }
          if (payloadLength < 12 || (payloadLength - 4) % 8 != 0 || (payloadLength - 4) / 8 > MAX_DESCRIPTORS) {
            throw new NbdProtocolException("block status chunk of " + payloadLength + " bytes (at most " + MAX_DESCRIPTORS + " descriptors)");
          }
          state = State.PAYLOAD;
        }
        case Nbd.NBD_REPLY_TYPE_BLOCK_STATUS_EXT -> {
          if (current.command != Nbd.NBD_CMD_BLOCK_STATUS) {
            throw new NbdProtocolException("block status chunk in reply to " + what);
          }
          if (payloadLength < 24 || (payloadLength - 8) % 16 != 0 || (payloadLength - 8) / 16 > MAX_DESCRIPTORS) {
            throw new NbdProtocolException("extended block status chunk of " + payloadLength + " bytes (at most " + MAX_DESCRIPTORS + " descriptors)");
          }
          state = State.PAYLOAD;
        }
        default -> {
          if ((chunkType & (1 << 15)) == 0) {
            throw new NbdProtocolException("unknown reply chunk type " + chunkType + " for " + what);
          }
          expectPayload(6, 6 + MAX_ERROR_MESSAGE + 8, what);
        }
      }
    }

    private void expectPayload(long min, long max, String what) throws NbdProtocolException {
      if (payloadLength < min || payloadLength > max) {
        throw new NbdProtocolException("reply chunk type " + chunkType + " of " + payloadLength + " bytes for " + what);
      }
      state = State.PAYLOAD;
    }

    private void beginData(long chunkOffset, long length) throws NbdProtocolException {
      if (chunkOffset < current.offset || chunkOffset - current.offset + length > current.length) {
        throw new NbdProtocolException("data chunk at " + chunkOffset + "+" + length + " outside the read at "
            + current.offset + "+" + current.length);
      }
      current.covered += length;
      dataOffset = chunkOffset - current.offset;
      dataLeft = length;
      if (length == 0) {
        throw new NbdProtocolException("empty data chunk for read at " + current.offset);
      }
      landingMode = current.dst.isDirect();
      state = State.DATA;
    }

    /** A whole non-data payload: a hole, block status, or an error. */
    private void payload(ByteBuf p) throws NbdProtocolException {
      switch (chunkType) {
        case Nbd.NBD_REPLY_TYPE_OFFSET_HOLE -> {
          if (current.command != Nbd.NBD_CMD_READ) {
            throw new NbdProtocolException("hole chunk in reply to " + Nbd.commandName(current.command));
          }
          long holeOffset = p.readLong();
          long holeLength = p.readUnsignedInt();
          if (holeLength == 0 || holeOffset < current.offset || holeOffset - current.offset + holeLength > current.length) {
            throw new NbdProtocolException("hole chunk at " + holeOffset + "+" + holeLength + " outside the read at "
                + current.offset + "+" + current.length);
          }
          zeroFill(current.dst, (int) (holeOffset - current.offset), (int) holeLength);
          current.covered += holeLength;
        }
        case Nbd.NBD_REPLY_TYPE_BLOCK_STATUS -> {
          int id = p.readInt();
          int count = p.readableBytes() / 8;
          if (id == current.contextId) {
            List<Extent> extents = new ArrayList<>(count);
            long pos = current.offset;
            for (int i = 0; i < count; i++) {
              long len = p.readUnsignedInt();
              int flags = p.readInt();
              if (len == 0) {
                throw new NbdProtocolException("zero-length block status descriptor at " + pos);
              }
              extents.add(new Extent(pos, len, flags));
              pos += len;
            }
            current.extents = extents;
          }
        }
        case Nbd.NBD_REPLY_TYPE_BLOCK_STATUS_EXT -> {
          int id = p.readInt();
          long count = p.readUnsignedInt();
          if (count != p.readableBytes() / 16) {
            throw new NbdProtocolException("extended block status says " + count + " descriptors but carries " + p.readableBytes() / 16);
          }
          if (id == current.contextId) {
            List<Extent> extents = new ArrayList<>((int) count);
            long pos = current.offset;
            for (int i = 0; i < count; i++) {
              long len = p.readLong();
              long flags = p.readLong();
              if (len <= 0) {
                throw new NbdProtocolException("bad block status descriptor length " + len + " at " + pos);
              }
              extents.add(new Extent(pos, len, (int) flags));
              pos += len;
            }
            current.extents = extents;
          }
        }
        default -> {  // an error chunk
          int error = p.readInt();
          int messageLength = p.readUnsignedShort();
          if (messageLength > p.readableBytes()) {
            throw new NbdProtocolException("error chunk message of " + messageLength + " bytes overruns the chunk");
          }
          String message = p.readCharSequence(messageLength, StandardCharsets.UTF_8).toString();
          long at = current.offset;
          if (chunkType == Nbd.NBD_REPLY_TYPE_ERROR_OFFSET && p.readableBytes() >= 8) {
            at = p.readLong();
          }
          if (error == 0) {
            throw new NbdProtocolException("error chunk with error value 0");
          }
          if (current.error == null) {
            current.error = new NbdException(current.command, at, current.length - (at - current.offset), error, message);
          }
        }
      }
    }

    private void zeroFill(ByteBuffer dst, int from, int length) {
      ByteBuffer target = dst.duplicate();
      target.position(from);
      for (int left = length; left > 0; ) {
        int n = Math.min(left, ZEROS.capacity());
        target.put(ZEROS.duplicate().limit(n));
        left -= n;
      }
    }

    private void endChunk() throws NbdProtocolException {
      state = State.HEADER;
      if (done) {
        finish();
      }
    }

    /** The last chunk of a reply arrived: complete or fail its request. */
    private void finish() throws NbdProtocolException {
      Pending p = inFlight.remove(cookie);
      state = State.HEADER;
      if (p == null) {
        return;
      }
      p.cancelTimeout();
      if (p.error != null) {
        p.future.completeExceptionally(p.error);
        return;
      }
      NbdProtocolException bad = null;
      if (p.command == Nbd.NBD_CMD_READ && p.covered != p.length) {
        bad = new NbdProtocolException("read at " + p.offset + " of " + p.length + " bytes ended after " + p.covered + " bytes");
      } else if (p.command == Nbd.NBD_CMD_BLOCK_STATUS && (p.extents == null || p.extents.isEmpty())) {
        bad = new NbdProtocolException("block status at " + p.offset + " ended without descriptors for the context");
      }
      if (bad != null) {  // no longer in flight: failing the connection would not reach it
        p.future.completeExceptionally(bad);
        throw bad;
      }
      p.future.complete(null);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      fail(new NbdProtocolException("connection to " + uri + " lost"));
      super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      Throwable c = cause.getCause() instanceof NbdProtocolException ? cause.getCause() : cause;
      fail(c instanceof NbdProtocolException p ? p
          : new NbdProtocolException("connection to " + uri + " failed: " + c.getMessage(), c));
      ctx.close();
    }
  }

  /** Netty's native transport reports a missing socket file as a FileNotFoundException without a message. */
  private static String why(Throwable cause) {
    if (cause instanceof java.io.FileNotFoundException && cause.getMessage() == null) {
      return "no such socket";
    }
    return cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
  }
}
