package dev.pluck.restore;

import static dev.pluck.nbd.protocol.Nbd.*;

import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.Extent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One client connection of {@link NbdServer}: the handshake's options, then transmission. Bytes
 * are parsed here as they arrive (nothing is acted on before it is whole); reads and block
 * status run on the server's workers and write their replies from there.
 */
final class NbdServerHandler extends ByteToMessageDecoder {
  /** Longest option payload accepted: names and meta context queries, never more. */
  private static final int MAX_OPTION = 64 << 10;
  /** Longest name in an option (the protocol's limit for strings). */
  private static final int MAX_NAME = 4096;
  /** The one meta context served, and its id on every connection. */
  private static final String BASE_ALLOCATION = BlockDevice.BASE_ALLOCATION;
  private static final int BASE_ALLOCATION_ID = 1;
  /** Block status descriptors per reply, and bytes per descriptor (lengths are 32-bit). */
  private static final int MAX_DESCRIPTORS = 1 << 16;
  private static final long MAX_DESCRIPTOR_LENGTH = 1L << 31;
  /** errno values on the wire (doc/proto.md "Error values"). */
  private static final int EPERM = 1;
  private static final int EIO = 5;
  private static final int EINVAL = 22;
  /** Transmission flags: read-only, flush accepted (a no-op), DF honoured, many connections alike. */
  private static final int TRANSMISSION_FLAGS = NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_DF
      | NBD_FLAG_CAN_MULTI_CONN;

  private enum State { CLIENT_FLAGS, OPTIONS, TRANSMISSION, CLOSED }

  private final NbdServer server;
  private State state = State.CLIENT_FLAGS;
  private boolean noZeroes;
  private boolean structured;
  private boolean baseAllocation;
  private NbdServer.Export export;
  private final AtomicInteger inFlight = new AtomicInteger();

  NbdServerHandler(NbdServer server) {
    this.server = server;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    server.connections.incrementAndGet();
    server.connected.incrementAndGet();
    ByteBuf hello = ctx.alloc().buffer(18);
    hello.writeLong(NBDMAGIC).writeLong(IHAVEOPT).writeShort(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    ctx.writeAndFlush(hello);
    super.channelActive(ctx);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    server.connected.decrementAndGet();
    state = State.CLOSED;
    super.channelInactive(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();  // a broken or misbehaving client: its connection ends, the server goes on
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    switch (state) {
      case CLIENT_FLAGS -> {
        if (in.readableBytes() < 4) {
          return;
        }
        int flags = in.readInt();
        if ((flags & NBD_FLAG_C_FIXED_NEWSTYLE) == 0 || (flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) != 0) {
          close(ctx);  // the protocol: unknown client flags end the session
          return;
        }
        noZeroes = (flags & NBD_FLAG_C_NO_ZEROES) != 0;
        state = State.OPTIONS;
      }
      case OPTIONS -> {
        if (in.readableBytes() < 16) {
          return;
        }
        long magic = in.getLong(in.readerIndex());
        int option = in.getInt(in.readerIndex() + 8);
        long length = in.getUnsignedInt(in.readerIndex() + 12);
        if (magic != IHAVEOPT || length > MAX_OPTION) {
          close(ctx);
          return;
        }
        if (in.readableBytes() < 16 + length) {
          return;
        }
        in.skipBytes(16);
        ByteBuf data = in.readSlice((int) length);
        option(ctx, option, data);
      }
      case TRANSMISSION -> {
        if (in.readableBytes() < REQUEST_SIZE) {
          return;
        }
        int at = in.readerIndex();
        int type = in.getUnsignedShort(at + 6);
        long length = in.getUnsignedInt(at + 24);
        if (in.getInt(at) != NBD_REQUEST_MAGIC || (type == NBD_CMD_WRITE && length > NbdServer.MAX_REQUEST)) {
          close(ctx);
          return;
        }
        long payload = type == NBD_CMD_WRITE ? length : 0;
        if (in.readableBytes() < REQUEST_SIZE + payload) {
          return;
        }
        in.skipBytes(4);
        int flags = in.readUnsignedShort();
        in.skipBytes(2);
        long cookie = in.readLong();
        long offset = in.readLong();
        in.skipBytes(4);
        in.skipBytes((int) payload);
        request(ctx, flags, type, cookie, offset, length);
      }
      case CLOSED -> in.skipBytes(in.readableBytes());
    }
  }

  // ---- handshake

  private void option(ChannelHandlerContext ctx, int option, ByteBuf data) {
    switch (option) {
      case NBD_OPT_EXPORT_NAME -> {
        NbdServer.Export e = server.export(data.toString(StandardCharsets.UTF_8));
        if (e == null) {
          close(ctx);  // no way to say "unknown" to this old option but to hang up
          return;
        }
        export = e;
        ByteBuf reply = ctx.alloc().buffer(10 + 124);
        reply.writeLong(e.device().size()).writeShort(TRANSMISSION_FLAGS);
        if (!noZeroes) {
          reply.writeZero(124);
        }
        ctx.writeAndFlush(reply);
        state = State.TRANSMISSION;
      }
      case NBD_OPT_ABORT -> {
        optionReply(ctx, option, NBD_REP_ACK, null);
        close(ctx);
      }
      case NBD_OPT_LIST -> {
        if (data.isReadable()) {
          optionError(ctx, option, NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
          return;
        }
        for (NbdServer.Export e : server.exports()) {
          byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
          byte[] description = e.description().getBytes(StandardCharsets.UTF_8);
          ByteBuf b = Unpooled.buffer(4 + name.length + description.length);
          b.writeInt(name.length).writeBytes(name).writeBytes(description);
          optionReply(ctx, option, NBD_REP_SERVER, b);
        }
        optionReply(ctx, option, NBD_REP_ACK, null);
      }
      case NBD_OPT_INFO, NBD_OPT_GO -> info(ctx, option, data);
      case NBD_OPT_STRUCTURED_REPLY -> {
        if (data.isReadable()) {
          optionError(ctx, option, NBD_REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
          return;
        }
        structured = true;
        optionReply(ctx, option, NBD_REP_ACK, null);
      }
      case NBD_OPT_LIST_META_CONTEXT, NBD_OPT_SET_META_CONTEXT -> metaContext(ctx, option, data);
      case NBD_OPT_STARTTLS -> optionError(ctx, option, NBD_REP_ERR_POLICY, "TLS is not offered: serve on a unix socket or a "
          + "trusted network");
      default -> optionError(ctx, option, NBD_REP_ERR_UNSUP, "option " + option + " is not supported");
    }
  }

  private void info(ChannelHandlerContext ctx, int option, ByteBuf data) {
    if (data.readableBytes() < 4) {
      optionError(ctx, option, NBD_REP_ERR_INVALID, "short option");
      return;
    }
    long nameLength = data.readUnsignedInt();
    if (nameLength > MAX_NAME || data.readableBytes() < nameLength + 2) {
      optionError(ctx, option, NBD_REP_ERR_INVALID, "bad name length");
      return;
    }
    String name = data.readCharSequence((int) nameLength, StandardCharsets.UTF_8).toString();
    int requests = data.readUnsignedShort();
    if (data.readableBytes() != requests * 2) {
      optionError(ctx, option, NBD_REP_ERR_INVALID, "bad information request count");
      return;
    }
    boolean wantsName = false;
    boolean wantsDescription = false;
    for (int i = 0; i < requests; i++) {
      int r = data.readUnsignedShort();
      wantsName |= r == NBD_INFO_NAME;
      wantsDescription |= r == NBD_INFO_DESCRIPTION;
    }
    NbdServer.Export e = server.export(name);
    if (e == null) {
      optionError(ctx, option, NBD_REP_ERR_UNKNOWN, "no export named \"" + name + "\"");
      return;
    }
    ByteBuf info = Unpooled.buffer(12);
    info.writeShort(NBD_INFO_EXPORT).writeLong(e.device().size()).writeShort(TRANSMISSION_FLAGS);
    optionReply(ctx, option, NBD_REP_INFO, info);
    ByteBuf sizes = Unpooled.buffer(14);
    sizes.writeShort(NBD_INFO_BLOCK_SIZE).writeInt(1).writeInt(4096).writeInt(NbdServer.MAX_REQUEST);
    optionReply(ctx, option, NBD_REP_INFO, sizes);
    if (wantsName) {
      byte[] n = e.name().getBytes(StandardCharsets.UTF_8);
      optionReply(ctx, option, NBD_REP_INFO, Unpooled.buffer(2 + n.length).writeShort(NBD_INFO_NAME).writeBytes(n));
    }
    if (wantsDescription) {
      byte[] d = e.description().getBytes(StandardCharsets.UTF_8);
      optionReply(ctx, option, NBD_REP_INFO, Unpooled.buffer(2 + d.length).writeShort(NBD_INFO_DESCRIPTION).writeBytes(d));
    }
    optionReply(ctx, option, NBD_REP_ACK, null);
    if (option == NBD_OPT_GO) {
      export = e;
      state = State.TRANSMISSION;
    }
  }

  private void metaContext(ChannelHandlerContext ctx, int option, ByteBuf data) {
    boolean set = option == NBD_OPT_SET_META_CONTEXT;
    if (set && !structured) {
      optionError(ctx, option, NBD_REP_ERR_INVALID, "structured replies first");
      return;
    }
    if (data.readableBytes() < 4) {
      optionError(ctx, option, NBD_REP_ERR_INVALID, "short option");
      return;
    }
    long nameLength = data.readUnsignedInt();
    if (nameLength > MAX_NAME || data.readableBytes() < nameLength + 4) {
      optionError(ctx, option, NBD_REP_ERR_INVALID, "bad name length");
      return;
    }
    String name = data.readCharSequence((int) nameLength, StandardCharsets.UTF_8).toString();
    long queries = data.readUnsignedInt();
    List<String> asked = new ArrayList<>();
    for (long i = 0; i < queries; i++) {
      if (data.readableBytes() < 4) {
        optionError(ctx, option, NBD_REP_ERR_INVALID, "short query");
        return;
      }
      long n = data.readUnsignedInt();
      if (n > MAX_NAME || data.readableBytes() < n) {
        optionError(ctx, option, NBD_REP_ERR_INVALID, "bad query length");
        return;
      }
      asked.add(data.readCharSequence((int) n, StandardCharsets.UTF_8).toString());
    }
    if (data.isReadable()) {
      optionError(ctx, option, NBD_REP_ERR_INVALID, "trailing bytes");
      return;
    }
    if (server.export(name) == null) {
      optionError(ctx, option, NBD_REP_ERR_UNKNOWN, "no export named \"" + name + "\"");
      return;
    }
    boolean match = asked.contains(BASE_ALLOCATION) || (!set && (asked.isEmpty() || asked.contains("base:")));
    if (set) {
      baseAllocation = match;
    }
    if (match) {
      byte[] n = BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
      optionReply(ctx, option, NBD_REP_META_CONTEXT, Unpooled.buffer(4 + n.length).writeInt(BASE_ALLOCATION_ID).writeBytes(n));
    }
    optionReply(ctx, option, NBD_REP_ACK, null);
  }

  private static void optionReply(ChannelHandlerContext ctx, int option, int type, ByteBuf data) {
    int length = data == null ? 0 : data.readableBytes();
    ByteBuf b = ctx.alloc().buffer(20 + length);
    b.writeLong(OPTION_REPLY_MAGIC).writeInt(option).writeInt(type).writeInt(length);
    if (data != null) {
      b.writeBytes(data);
      data.release();
    }
    ctx.writeAndFlush(b);
  }

  private static void optionError(ChannelHandlerContext ctx, int option, int type, String message) {
    optionReply(ctx, option, type, Unpooled.copiedBuffer(message, StandardCharsets.UTF_8));
  }

  private void close(ChannelHandlerContext ctx) {
    state = State.CLOSED;
    ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
  }

  // ---- transmission

  private void request(ChannelHandlerContext ctx, int flags, int type, long cookie, long offset, long length) {
    server.requests.incrementAndGet();
    BlockDevice device = export.device();
    switch (type) {
      case NBD_CMD_READ, NBD_CMD_BLOCK_STATUS -> {
        boolean read = type == NBD_CMD_READ;
        if (length == 0 || offset < 0 || offset > device.size() - length || (read && length > NbdServer.MAX_REQUEST)) {
          error(ctx, cookie, EINVAL, "request outside the export or too large");
          return;
        }
        if (!read && !(structured && baseAllocation)) {
          error(ctx, cookie, EINVAL, "no meta context negotiated");
          return;
        }
        if (inFlight.incrementAndGet() >= NbdServer.MAX_IN_FLIGHT) {
          ctx.channel().config().setAutoRead(false);
        }
        server.workers().execute(() -> {
          try {
            if (read) {
              read(ctx, device, flags, cookie, offset, (int) length);
            } else {
              blockStatus(ctx, device, flags, cookie, offset, length);
            }
          } catch (Exception e) {
            error(ctx, cookie, EIO, e.getMessage() == null ? e.toString() : e.getMessage());
          } finally {
            if (inFlight.decrementAndGet() < NbdServer.MAX_IN_FLIGHT) {
              ctx.channel().eventLoop().execute(() -> ctx.channel().config().setAutoRead(true));
            }
          }
        });
      }
      case NBD_CMD_WRITE, NBD_CMD_WRITE_ZEROES, NBD_CMD_TRIM -> error(ctx, cookie, EPERM, "the export is read-only");
      case NBD_CMD_FLUSH -> done(ctx, cookie);
      case NBD_CMD_DISC -> close(ctx);
      default -> error(ctx, cookie, EINVAL, "command " + type + " is not supported");
    }
  }

  private void read(ChannelHandlerContext ctx, BlockDevice device, int flags, long cookie, long offset, int length) throws Exception {
    List<Extent> extents = structured && (flags & NBD_CMD_FLAG_DF) == 0 && device.metaContexts().contains(BASE_ALLOCATION)
        ? device.blockStatus(BASE_ALLOCATION, offset, length) : List.of(new Extent(offset, length, 0));
    if (!structured) {
      ByteBuf b = ctx.alloc().buffer(SIMPLE_REPLY_SIZE + length);
      b.writeInt(NBD_SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(cookie);
      ByteBuffer data = b.nioBuffer(SIMPLE_REPLY_SIZE, length);
      device.read(offset, data);
      b.writerIndex(SIMPLE_REPLY_SIZE + length);
      ctx.writeAndFlush(b);
      server.bytesServed.addAndGet(length);
      return;
    }
    List<ByteBuf> chunks = new ArrayList<>();
    try {
      for (Extent e : extents) {
        long from = Math.max(offset, e.offset());
        long to = Math.min(offset + (long) length, e.end());
        if (to <= from) {
          continue;
        }
        int n = (int) (to - from);
        if (e.readsAsZeros()) {
          ByteBuf b = ctx.alloc().buffer(STRUCTURED_REPLY_SIZE + 12);
          b.writeInt(NBD_STRUCTURED_REPLY_MAGIC).writeShort(0).writeShort(NBD_REPLY_TYPE_OFFSET_HOLE).writeLong(cookie).writeInt(12)
              .writeLong(from).writeInt(n);
          chunks.add(b);
        } else {
          ByteBuf b = ctx.alloc().buffer(STRUCTURED_REPLY_SIZE + 8 + n);
          b.writeInt(NBD_STRUCTURED_REPLY_MAGIC).writeShort(0).writeShort(NBD_REPLY_TYPE_OFFSET_DATA).writeLong(cookie).writeInt(8 + n)
              .writeLong(from);
          chunks.add(b);
          device.read(from, b.nioBuffer(b.writerIndex(), n));
          b.writerIndex(b.writerIndex() + n);
        }
      }
    } catch (Exception e) {
      chunks.forEach(ByteBuf::release);
      throw e;
    }
    if (chunks.isEmpty()) {
      done(ctx, cookie);
      return;
    }
    ByteBuf last = chunks.get(chunks.size() - 1);
    last.setShort(4, NBD_REPLY_FLAG_DONE);
    for (ByteBuf b : chunks) {
      ctx.write(b);
    }
    ctx.flush();
    server.bytesServed.addAndGet(length);
  }

  private void blockStatus(ChannelHandlerContext ctx, BlockDevice device, int flags, long cookie, long offset, long length)
      throws Exception {
    List<Extent> extents = device.blockStatus(BASE_ALLOCATION, offset, length);
    boolean one = (flags & NBD_CMD_FLAG_REQ_ONE) != 0;
    ByteBuf descriptors = ctx.alloc().buffer();
    int count = 0;
    for (Extent e : extents) {
      long from = Math.max(offset, e.offset());
      long to = Math.min(offset + length, e.end());
      while (to > from && count < MAX_DESCRIPTORS) {
        long n = Math.min(to - from, MAX_DESCRIPTOR_LENGTH);
        descriptors.writeInt((int) n).writeInt(e.flags() & (Extent.HOLE | Extent.ZERO));
        count++;
        from += n;
        if (one) {
          break;
        }
      }
      if (one && count > 0 || count >= MAX_DESCRIPTORS) {
        break;
      }
    }
    ByteBuf b = ctx.alloc().buffer(STRUCTURED_REPLY_SIZE + 4 + descriptors.readableBytes());
    b.writeInt(NBD_STRUCTURED_REPLY_MAGIC).writeShort(NBD_REPLY_FLAG_DONE).writeShort(NBD_REPLY_TYPE_BLOCK_STATUS).writeLong(cookie)
        .writeInt(4 + descriptors.readableBytes()).writeInt(BASE_ALLOCATION_ID).writeBytes(descriptors);
    descriptors.release();
    ctx.writeAndFlush(b);
  }

  /** A successful reply without data. */
  private void done(ChannelHandlerContext ctx, long cookie) {
    ByteBuf b = ctx.alloc().buffer(STRUCTURED_REPLY_SIZE);
    if (structured) {
      b.writeInt(NBD_STRUCTURED_REPLY_MAGIC).writeShort(NBD_REPLY_FLAG_DONE).writeShort(NBD_REPLY_TYPE_NONE).writeLong(cookie).writeInt(0);
    } else {
      b.writeInt(NBD_SIMPLE_REPLY_MAGIC).writeInt(0).writeLong(cookie);
    }
    ctx.writeAndFlush(b);
  }

  private void error(ChannelHandlerContext ctx, long cookie, int errno, String message) {
    if (!structured) {
      ctx.writeAndFlush(ctx.alloc().buffer(SIMPLE_REPLY_SIZE).writeInt(NBD_SIMPLE_REPLY_MAGIC).writeInt(errno).writeLong(cookie));
      return;
    }
    byte[] m = message.getBytes(StandardCharsets.UTF_8);
    int n = Math.min(m.length, 4096);
    ByteBuf b = ctx.alloc().buffer(STRUCTURED_REPLY_SIZE + 6 + n);
    b.writeInt(NBD_STRUCTURED_REPLY_MAGIC).writeShort(NBD_REPLY_FLAG_DONE).writeShort(NBD_REPLY_TYPE_ERROR).writeLong(cookie)
        .writeInt(6 + n).writeInt(errno).writeShort(n).writeBytes(m, 0, n);
    ctx.writeAndFlush(b);
  }
}
