package dev.pluck.nbd.protocol;

import dev.pluck.nbd.BlockSizes;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The fixed-newstyle handshake, driven step by step from the caller's thread: each option is
 * sent, then its replies are taken from a queue the channel fills. Plain code for a short
 * conversation; the pipelined transmission phase is in {@link NbdConnection}.
 */
final class NbdHandshake {
  /** Option replies larger than this are a protocol error (strings are at most 4 KiB). */
  static final int MAX_OPTION_REPLY = 1 << 20;
  /** At most this many replies to one option (exports listed, contexts). */
  private static final int MAX_REPLIES = 100_000;

  private Channel channel;
  private final NegotiationDecoder decoder;
  private final BlockingQueue<Object> inbox = new LinkedBlockingQueue<>();
  private final long deadlineNanos;
  private boolean noZeroes;

  /** One export of NBD_OPT_LIST. */
  record ListedExport(String name, String description) {}

  private static final Object CLOSED = new Object();

  NbdHandshake(long deadlineNanos) {
    this.deadlineNanos = deadlineNanos;
    this.decoder = new NegotiationDecoder(MAX_OPTION_REPLY);
  }

  /** Adds the handshake's handlers; done before connecting, as the greeting comes at once. */
  void install(io.netty.channel.ChannelPipeline pipeline) {
    pipeline.addLast("nbd-negotiation", decoder);
    pipeline.addLast("nbd-negotiation-inbox", new ChannelInboundHandlerAdapter() {
      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) {
        inbox.add(msg);
      }

      @Override
      public void channelInactive(ChannelHandlerContext ctx) {
        inbox.add(CLOSED);
      }

      @Override
      public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        inbox.add(cause);
        ctx.close();
      }
    });
  }

  /** The connected channel the handshake talks on. */
  void attach(Channel connected) {
    this.channel = connected;
  }

  /**
   * Reads the greeting and answers with the client flags. False when the server speaks the
   * original newstyle negotiation (no NBD_FLAG_FIXED_NEWSTYLE): then NBD_OPT_EXPORT_NAME is the
   * only option it is sure to understand ({@link #exportName}), and nothing else may be sent.
   */
  boolean start() throws IOException {
    NegotiationDecoder.Greeting greeting = take(NegotiationDecoder.Greeting.class, "the server greeting");
    boolean fixed = (greeting.flags() & Nbd.NBD_FLAG_FIXED_NEWSTYLE) != 0;
    noZeroes = (greeting.flags() & Nbd.NBD_FLAG_NO_ZEROES) != 0;
    decoder.noZeroes(noZeroes);
    ByteBuf flags = Unpooled.buffer(4).writeInt((fixed ? Nbd.NBD_FLAG_C_FIXED_NEWSTYLE : 0) | (noZeroes ? Nbd.NBD_FLAG_C_NO_ZEROES : 0));
    channel.writeAndFlush(flags);
    return fixed;
  }

  /** NBD_OPT_STARTTLS, then the TLS handshake; everything after is encrypted. */
  void startTls(NbdUri uri, NbdOptions.Tls tls) throws IOException {
    sendOption(Nbd.NBD_OPT_STARTTLS, new byte[0]);
    expectAck(Nbd.NBD_OPT_STARTTLS);
    SslContext context;
    try {
      SslContextBuilder b = SslContextBuilder.forClient();
      if (tls == null || !tls.verifyPeer()) {
        b.trustManager(InsecureTrustManagerFactory.INSTANCE);
      } else if (tls.caCertificate() != null) {
        b.trustManager(tls.caCertificate().toFile());
      }
      if (tls != null && tls.clientCertificate() != null && tls.clientKey() != null) {
        b.keyManager(tls.clientCertificate().toFile(), tls.clientKey().toFile());
      }
      if (tls != null && tls.verifyPeer()) {
        b.endpointIdentificationAlgorithm("HTTPS");
      }
      context = b.build();
    } catch (Exception e) {
      throw new IOException("cannot set up TLS for " + uri + ": " + e.getMessage(), e);
    }
    SslHandler ssl = uri.host() != null
        ? context.newHandler(channel.alloc(), uri.host(), uri.port())
        : context.newHandler(channel.alloc());
    channel.pipeline().addFirst("tls", ssl);
    Future<Channel> done = ssl.handshakeFuture();
    long left = deadlineNanos - System.nanoTime();
    try {
      if (!done.await(Math.max(0, left), TimeUnit.NANOSECONDS)) {
        throw new IOException("TLS handshake with " + uri + " timed out");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted during TLS handshake", e);
    }
    if (!done.isSuccess()) {
      throw new IOException("TLS handshake with " + uri + " failed: " + done.cause().getMessage(), done.cause());
    }
  }

  /** NBD_OPT_EXTENDED_HEADERS: true when the server agreed. */
  boolean extendedHeaders() throws IOException {
    return simpleOption(Nbd.NBD_OPT_EXTENDED_HEADERS);
  }

  /** NBD_OPT_STRUCTURED_REPLY: true when the server agreed. */
  boolean structuredReplies() throws IOException {
    return simpleOption(Nbd.NBD_OPT_STRUCTURED_REPLY);
  }

  private boolean simpleOption(int option) throws IOException {
    sendOption(option, new byte[0]);
    NegotiationDecoder.OptionReply r = reply(option);
    if (r.type() == Nbd.NBD_REP_ACK) {
      return true;
    }
    if (r.type() == Nbd.NBD_REP_ERR_UNSUP || r.type() == Nbd.NBD_REP_ERR_INVALID || r.type() == Nbd.NBD_REP_ERR_POLICY) {
      return false;
    }
    throw refusal(r);
  }

  /** NBD_OPT_LIST: every export the server offers. */
  List<ListedExport> list() throws IOException {
    sendOption(Nbd.NBD_OPT_LIST, new byte[0]);
    List<ListedExport> out = new ArrayList<>();
    for (int i = 0; i < MAX_REPLIES; i++) {
      NegotiationDecoder.OptionReply r = reply(Nbd.NBD_OPT_LIST);
      if (r.type() == Nbd.NBD_REP_ACK) {
        return out;
      }
      if (r.type() != Nbd.NBD_REP_SERVER) {
        throw refusal(r);
      }
      ByteBuffer p = ByteBuffer.wrap(r.payload());
      String name = string(p, Integer.toUnsignedLong(need(p, 4).getInt()), "export name");
      String description = StandardCharsets.UTF_8.decode(p).toString();
      out.add(new ListedExport(name, description));
    }
    throw new NbdProtocolException("server listed more than " + MAX_REPLIES + " exports");
  }

  /**
   * NBD_OPT_LIST_META_CONTEXT or NBD_OPT_SET_META_CONTEXT for {@code export}: the contexts the
   * server has (matching the queries; all when none) or agreed to, with their ids.
   */
  Map<String, Integer> metaContexts(int option, String export, List<String> queries) throws IOException {
    byte[] name = export.getBytes(StandardCharsets.UTF_8);
    int size = 4 + name.length + 4;
    List<byte[]> q = new ArrayList<>();
    for (String s : queries) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      q.add(b);
      size += 4 + b.length;
    }
    ByteBuffer data = ByteBuffer.allocate(size).putInt(name.length).put(name).putInt(q.size());
    q.forEach(b -> data.putInt(b.length).put(b));
    sendOption(option, data.array());
    Map<String, Integer> out = new LinkedHashMap<>();
    for (int i = 0; i < MAX_REPLIES; i++) {
      NegotiationDecoder.OptionReply r = reply(option);
      if (r.type() == Nbd.NBD_REP_ACK) {
        return out;
      }
      if (r.type() != Nbd.NBD_REP_META_CONTEXT) {
        throw refusal(r);
      }
      ByteBuffer p = ByteBuffer.wrap(r.payload());
      int id = need(p, 4).getInt();
      out.put(StandardCharsets.UTF_8.decode(p).toString(), id);
    }
    throw new NbdProtocolException("server sent more than " + MAX_REPLIES + " metadata contexts");
  }

  /**
   * NBD_OPT_GO (falling back to NBD_OPT_EXPORT_NAME on servers that lack it): ends the
   * handshake; the export's size, flags and block sizes.
   */
  ExportInfo go(String export, Map<String, Integer> contexts, boolean structured, boolean extended) throws IOException {
    byte[] name = export.getBytes(StandardCharsets.UTF_8);
    ByteBuffer data = ByteBuffer.allocate(4 + name.length + 2 + 2)
        .putInt(name.length).put(name).putShort((short) 1).putShort((short) Nbd.NBD_INFO_BLOCK_SIZE);
    sendOption(Nbd.NBD_OPT_GO, data.array());
    long size = -1;
    int flags = 0;
    BlockSizes sizes = null;
    String description = "";
    for (int i = 0; i < MAX_REPLIES; i++) {
      NegotiationDecoder.OptionReply r = reply(Nbd.NBD_OPT_GO);
      if (r.type() == Nbd.NBD_REP_ACK) {
        if (size < 0) {
          throw new NbdProtocolException("server ended NBD_OPT_GO without NBD_INFO_EXPORT");
        }
        return new ExportInfo(export, size, flags, sizes == null ? BlockSizes.DEFAULT : sizes, contexts,
            structured, extended, description);
      }
      if (r.type() == Nbd.NBD_REP_ERR_UNSUP && size < 0) {
        return exportName(export, contexts);
      }
      if (r.type() != Nbd.NBD_REP_INFO) {
        throw refusal(r);
      }
      ByteBuffer p = ByteBuffer.wrap(r.payload());
      int info = Short.toUnsignedInt(need(p, 2).getShort());
      switch (info) {
        case Nbd.NBD_INFO_EXPORT -> {
          size = need(p, 10).getLong();
          flags = Short.toUnsignedInt(p.getShort());
          if (size < 0) {
            throw new NbdProtocolException("export size over 2^63 bytes");
          }
        }
        case Nbd.NBD_INFO_BLOCK_SIZE -> {
          need(p, 12);
          long min = Integer.toUnsignedLong(p.getInt());
          long pref = Integer.toUnsignedLong(p.getInt());
          long max = Integer.toUnsignedLong(p.getInt());
          if (min < 1 || min > 65536 || Long.bitCount(min) != 1 || pref < min || Long.bitCount(pref) != 1
              || max < pref || max > Integer.MAX_VALUE) {
            throw new NbdProtocolException("invalid block sizes " + min + "/" + pref + "/" + max);
          }
          sizes = new BlockSizes((int) min, (int) pref, (int) max);
        }
        case Nbd.NBD_INFO_DESCRIPTION -> description = StandardCharsets.UTF_8.decode(p).toString();
        default -> { /* NBD_INFO_NAME and unknown infos: nothing pluck needs */ }
      }
    }
    throw new NbdProtocolException("server sent more than " + MAX_REPLIES + " replies to NBD_OPT_GO");
  }

  /** NBD_OPT_EXPORT_NAME: ends the handshake with the export's size and flags (no block sizes, no contexts). */
  ExportInfo exportName(String export, Map<String, Integer> contexts) throws IOException {
    decoder.expect(NegotiationDecoder.Expect.EXPORT_NAME_REPLY);
    sendOption(Nbd.NBD_OPT_EXPORT_NAME, export.getBytes(StandardCharsets.UTF_8));
    NegotiationDecoder.ExportNameReply r = take(NegotiationDecoder.ExportNameReply.class, "the NBD_OPT_EXPORT_NAME reply");
    return new ExportInfo(export, r.size(), r.flags(), BlockSizes.DEFAULT, Map.of(), false, false, "");
  }

  /** NBD_OPT_ABORT: leaves politely (used after listing). */
  void abort() {
    sendOption(Nbd.NBD_OPT_ABORT, new byte[0]);
  }

  /** Removes the handshake's handlers: the transmission phase takes over. */
  void finish() {
    channel.pipeline().remove("nbd-negotiation-inbox");
    channel.pipeline().remove("nbd-negotiation");
  }

  private void sendOption(int option, byte[] data) {
    ByteBuf b = Unpooled.buffer(16 + data.length).writeLong(Nbd.IHAVEOPT).writeInt(option).writeInt(data.length).writeBytes(data);
    if (NbdTrace.on()) {
      NbdTrace.emit(traceEvent("option", option, data.length, null));
    }
    channel.writeAndFlush(b);
  }

  private java.util.Map<String, Object> traceEvent(String event, int option, int length, String reply) {
    java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
    m.put("time", java.time.Instant.now().toString());
    m.put("event", event);
    m.put("server", String.valueOf(channel.remoteAddress()));
    m.put("option", Nbd.optionName(option));
    if (reply == null) {
      m.put("length", length);
    } else {
      m.put("reply", reply);
      m.put("length", length);
    }
    return m;
  }

  private void expectAck(int option) throws IOException {
    NegotiationDecoder.OptionReply r = reply(option);
    if (r.type() != Nbd.NBD_REP_ACK) {
      throw refusal(r);
    }
  }

  private NegotiationDecoder.OptionReply reply(int option) throws IOException {
    NegotiationDecoder.OptionReply r = take(NegotiationDecoder.OptionReply.class, "a reply to " + Nbd.optionName(option));
    if (NbdTrace.on()) {
      String type = r.type() == Nbd.NBD_REP_ACK ? "NBD_REP_ACK" : r.type() == Nbd.NBD_REP_SERVER ? "NBD_REP_SERVER"
          : r.type() == Nbd.NBD_REP_INFO ? "NBD_REP_INFO" : r.type() == Nbd.NBD_REP_META_CONTEXT ? "NBD_REP_META_CONTEXT"
          : Nbd.replyErrorName(r.type());
      NbdTrace.emit(traceEvent("option-reply", r.option(), r.payload() == null ? 0 : r.payload().length, type));
    }
    if (r.option() != option) {
      throw new NbdProtocolException("reply to " + Nbd.optionName(r.option()) + " while waiting for " + Nbd.optionName(option));
    }
    return r;
  }

  private IOException refusal(NegotiationDecoder.OptionReply r) {
    if ((r.type() & Nbd.NBD_REP_FLAG_ERROR) != 0) {
      return new NbdOptionException(r.option(), r.type(), new String(r.payload(), StandardCharsets.UTF_8));
    }
    return new NbdProtocolException("unexpected reply type " + r.type() + " to " + Nbd.optionName(r.option()));
  }

  private <T> T take(Class<T> type, String what) throws IOException {
    Object msg;
    try {
      long left = deadlineNanos - System.nanoTime();
      msg = left <= 0 ? null : inbox.poll(left, TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for " + what, e);
    }
    if (msg == null) {
      throw new NbdProtocolException("handshake timed out waiting for " + what);
    }
    if (msg == CLOSED) {
      throw new NbdProtocolException("server closed the connection while I waited for " + what);
    }
    if (msg instanceof Throwable t) {
      Throwable cause = t.getCause() instanceof NbdProtocolException ? t.getCause() : t;
      throw cause instanceof NbdProtocolException p ? p : new NbdProtocolException("handshake failed: " + t.getMessage(), t);
    }
    if (!type.isInstance(msg)) {
      throw new NbdProtocolException("unexpected " + msg.getClass().getSimpleName() + " while waiting for " + what);
    }
    return type.cast(msg);
  }

  private static ByteBuffer need(ByteBuffer p, int n) throws NbdProtocolException {
    if (p.remaining() < n) {
      throw new NbdProtocolException("option reply too short: need " + n + " bytes, have " + p.remaining());
    }
    return p;
  }

  private static String string(ByteBuffer p, long length, String what) throws NbdProtocolException {
    if (length > p.remaining()) {
      throw new NbdProtocolException(what + " of " + length + " bytes overruns its reply");
    }
    byte[] b = new byte[(int) length];
    p.get(b);
    return new String(b, StandardCharsets.UTF_8);
  }
}
