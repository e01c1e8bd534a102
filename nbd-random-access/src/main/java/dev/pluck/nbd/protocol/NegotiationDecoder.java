package dev.pluck.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Turns the server's bytes during the handshake into messages: the greeting, option replies, and
 * the reply to NBD_OPT_EXPORT_NAME. What to expect next is set by the handshake before it sends
 * the option that provokes it.
 */
final class NegotiationDecoder extends ByteToMessageDecoder {
  /** What the server sends next. */
  enum Expect { GREETING, OPTION_REPLY, EXPORT_NAME_REPLY }

  /** Server greeting: handshake flags. */
  record Greeting(int flags) {}

  /** One option reply: the option it answers, the reply type, and its payload. */
  record OptionReply(int option, int type, byte[] payload) {}

  /** Answer to NBD_OPT_EXPORT_NAME: export size and transmission flags. */
  record ExportNameReply(long size, int flags) {}

  /** Greeting: NBDMAGIC (8), IHAVEOPT (8), handshake flags (2). */
  private static final int GREETING_SIZE = 18;
  /** Option reply header: magic (8), option (4), reply type (4), length (4). */
  private static final int OPTION_REPLY_HEADER = 20;

  private final int maxReplyPayload;
  private volatile Expect expect = Expect.GREETING;
  private volatile boolean noZeroes;

  NegotiationDecoder(int maxReplyPayload) {
    this.maxReplyPayload = maxReplyPayload;
  }

  void expect(Expect next) {
    this.expect = next;
  }

  void noZeroes(boolean on) {
    this.noZeroes = on;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws NbdProtocolException {
    switch (expect) {
      case GREETING -> {
        if (in.readableBytes() < GREETING_SIZE) {
          return;
        }
        long magic = in.readLong();
        long second = in.readLong();
        if (magic != Nbd.NBDMAGIC) {
          throw new NbdProtocolException("not an NBD server: greeting magic 0x" + Long.toHexString(magic));
        }
        if (second == Nbd.CLISERV_MAGIC) {
          throw new NbdProtocolException("server speaks the oldstyle protocol, which has no export names or options");
        }
        if (second != Nbd.IHAVEOPT) {
          throw new NbdProtocolException("bad newstyle greeting magic 0x" + Long.toHexString(second));
        }
        out.add(new Greeting(in.readUnsignedShort()));
        expect = Expect.OPTION_REPLY;
      }
      case OPTION_REPLY -> {
        if (in.readableBytes() < OPTION_REPLY_HEADER) {
          return;
        }
        int start = in.readerIndex();
        long magic = in.getLong(start);
        if (magic != Nbd.OPTION_REPLY_MAGIC) {
          throw new NbdProtocolException("bad option reply magic 0x" + Long.toHexString(magic));
        }
        int option = in.getInt(start + 8);
        int type = in.getInt(start + 12);
        long length = in.getUnsignedInt(start + 16);
        if (length > maxReplyPayload) {
          throw new NbdProtocolException("option reply to " + Nbd.optionName(option) + " of " + length
              + " bytes exceeds the limit of " + maxReplyPayload);
        }
        if (in.readableBytes() < OPTION_REPLY_HEADER + length) {
          return;
        }
        in.skipBytes(OPTION_REPLY_HEADER);
        byte[] payload = new byte[(int) length];
        in.readBytes(payload);
        out.add(new OptionReply(option, type, payload));
      }
      case EXPORT_NAME_REPLY -> {
        int need = 10 + (noZeroes ? 0 : 124);
        if (in.readableBytes() < need) {
          return;
        }
        long size = in.readLong();
        int flags = in.readUnsignedShort();
        in.skipBytes(need - 10);
        out.add(new ExportNameReply(size, flags));
      }
      default -> throw new IllegalStateException();
    }
  }
}
