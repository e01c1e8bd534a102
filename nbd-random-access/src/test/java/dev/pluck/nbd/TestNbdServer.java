package dev.pluck.nbd;

import dev.pluck.nbd.protocol.Nbd;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A small NBD server written for tests: it can speak extended headers (QEMU here is too old to)
 * and can misbehave on purpose, as a hostile server would. Serves a byte array read-only over a
 * unix socket, one connection at a time. Deliberately separate from pluck's client code.
 */
final class TestNbdServer implements AutoCloseable {
  /**
   * What the server does wrong when answering reads and block status. SCATTERED_CHUNKS is no
   * wrong but a legal reply the client must assemble: data for a read's first quarter, then data
   * for its second half, then a hole for its second quarter (zeros whatever {@code data} holds).
   */
  enum Misbehaviour { NONE, OLD_SERVER_WITHOUT_GO, UNKNOWN_COOKIE, LONG_CHUNK, TOO_MANY_DESCRIPTORS, BAD_MAGIC, SILENT, CHUNK_OUTSIDE_REQUEST,
    SHORT_READ, SCATTERED_CHUNKS }

  private final byte[] data;
  private final boolean extendedHeaders;
  private final Misbehaviour misbehaviour;
  private final Path socket;
  private final ServerSocketChannel server;
  private final Thread thread;

  TestNbdServer(Path dir, byte[] data, boolean extendedHeaders, Misbehaviour misbehaviour) throws IOException {
    this.data = data;
    this.extendedHeaders = extendedHeaders;
    this.misbehaviour = misbehaviour;
    this.socket = dir.resolve("test-nbd.sock");
    Files.deleteIfExists(socket);
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
    thread = new Thread(this::serve, "test-nbd-server");
    thread.setDaemon(true);
    thread.start();
  }

  String uri() {
    return "nbd+unix:///?socket=" + socket;
  }

  private void serve() {
    while (server.isOpen()) {
      try (SocketChannel ch = server.accept()) {
        session(new DataInputStream(Channels.newInputStream(ch)), new DataOutputStream(Channels.newOutputStream(ch)));
      } catch (IOException e) {
        // client went away or the server closed: take the next one
      }
    }
  }

  private void session(DataInputStream in, DataOutputStream out) throws IOException {
    out.writeLong(Nbd.NBDMAGIC);
    out.writeLong(Nbd.IHAVEOPT);
    out.writeShort(Nbd.NBD_FLAG_FIXED_NEWSTYLE | Nbd.NBD_FLAG_NO_ZEROES);
    out.flush();
    in.readInt();  // client flags
    boolean extended = false;
    while (true) {
      if (in.readLong() != Nbd.IHAVEOPT) {
        return;
      }
      int option = in.readInt();
      byte[] payload = new byte[in.readInt()];
      in.readFully(payload);
      switch (option) {
        case Nbd.NBD_OPT_EXTENDED_HEADERS -> {
          if (extendedHeaders) {
            extended = true;
            reply(out, option, Nbd.NBD_REP_ACK, new byte[0]);
          } else {
            reply(out, option, Nbd.NBD_REP_ERR_UNSUP, new byte[0]);
          }
        }
        case Nbd.NBD_OPT_STRUCTURED_REPLY -> reply(out, option, Nbd.NBD_REP_ACK, new byte[0]);
        case Nbd.NBD_OPT_SET_META_CONTEXT, Nbd.NBD_OPT_LIST_META_CONTEXT -> {
          byte[] name = "base:allocation".getBytes(StandardCharsets.UTF_8);
          byte[] body = java.nio.ByteBuffer.allocate(4 + name.length).putInt(1).put(name).array();
          reply(out, option, Nbd.NBD_REP_META_CONTEXT, body);
          reply(out, option, Nbd.NBD_REP_ACK, new byte[0]);
        }
        case Nbd.NBD_OPT_GO -> {
          if (misbehaviour == Misbehaviour.OLD_SERVER_WITHOUT_GO) {
            reply(out, option, Nbd.NBD_REP_ERR_UNSUP, new byte[0]);
            continue;
          }
          byte[] info = java.nio.ByteBuffer.allocate(12).putShort((short) Nbd.NBD_INFO_EXPORT).putLong(data.length)
              .putShort((short) (Nbd.NBD_FLAG_HAS_FLAGS | Nbd.NBD_FLAG_READ_ONLY)).array();
          reply(out, option, Nbd.NBD_REP_INFO, info);
          reply(out, option, Nbd.NBD_REP_ACK, new byte[0]);
          transmission(in, out, extended);
          return;
        }
        case Nbd.NBD_OPT_EXPORT_NAME -> {
          out.writeLong(data.length);  // NO_ZEROES was agreed: no 124 bytes of padding
          out.writeShort(Nbd.NBD_FLAG_HAS_FLAGS | Nbd.NBD_FLAG_READ_ONLY);
          out.flush();
          transmission(in, out, false);
          return;
        }
        case Nbd.NBD_OPT_ABORT -> {
          reply(out, option, Nbd.NBD_REP_ACK, new byte[0]);
          return;
        }
        default -> reply(out, option, Nbd.NBD_REP_ERR_UNSUP, new byte[0]);
      }
    }
  }

  private static void reply(DataOutputStream out, int option, int type, byte[] payload) throws IOException {
    out.writeLong(Nbd.OPTION_REPLY_MAGIC);
    out.writeInt(option);
    out.writeInt(type);
    out.writeInt(payload.length);
    out.write(payload);
    out.flush();
  }

  private void transmission(DataInputStream in, DataOutputStream out, boolean extended) throws IOException {
    while (true) {
      int magic;
      try {
        magic = in.readInt();
      } catch (EOFException e) {
        return;
      }
      if (magic != (extended ? Nbd.NBD_EXTENDED_REQUEST_MAGIC : Nbd.NBD_REQUEST_MAGIC)) {
        return;
      }
      in.readUnsignedShort();  // flags
      int type = in.readUnsignedShort();
      long cookie = in.readLong();
      long offset = in.readLong();
      long length = extended ? in.readLong() : Integer.toUnsignedLong(in.readInt());
      if (type == Nbd.NBD_CMD_DISC) {
        return;
      }
      if (misbehaviour == Misbehaviour.OLD_SERVER_WITHOUT_GO && type == Nbd.NBD_CMD_READ) {
        out.writeInt(Nbd.NBD_SIMPLE_REPLY_MAGIC);  // an old server: simple replies only
        out.writeInt(0);
        out.writeLong(cookie);
        out.write(data, (int) offset, (int) length);
        out.flush();
        continue;
      }
      if (misbehaviour == Misbehaviour.SILENT) {
        continue;
      }
      long sentCookie = misbehaviour == Misbehaviour.UNKNOWN_COOKIE ? cookie + 1000 : cookie;
      if (type == Nbd.NBD_CMD_READ && misbehaviour == Misbehaviour.SCATTERED_CHUNKS && length >= 4) {
        long q = length / 4;
        header(out, extended, 0, Nbd.NBD_REPLY_TYPE_OFFSET_DATA, cookie, offset, 8 + q);
        out.writeLong(offset);
        out.write(data, (int) offset, (int) q);
        header(out, extended, 0, Nbd.NBD_REPLY_TYPE_OFFSET_DATA, cookie, offset, 8 + length - 2 * q);
        out.writeLong(offset + 2 * q);
        out.write(data, (int) (offset + 2 * q), (int) (length - 2 * q));
        header(out, extended, Nbd.NBD_REPLY_FLAG_DONE, Nbd.NBD_REPLY_TYPE_OFFSET_HOLE, cookie, offset, 12);
        out.writeLong(offset + q);
        out.writeInt((int) q);
      } else if (type == Nbd.NBD_CMD_READ) {
        long chunkOffset = misbehaviour == Misbehaviour.CHUNK_OUTSIDE_REQUEST ? offset + 1 : offset;
        long chunkLength = misbehaviour == Misbehaviour.LONG_CHUNK ? length + 4096
            : misbehaviour == Misbehaviour.SHORT_READ ? length / 2 : length;
        header(out, extended, Nbd.NBD_REPLY_FLAG_DONE, Nbd.NBD_REPLY_TYPE_OFFSET_DATA, sentCookie, offset, 8 + chunkLength);
        out.writeLong(chunkOffset);
        long end = Math.min(data.length, chunkOffset + chunkLength);
        out.write(data, (int) chunkOffset, (int) (end - chunkOffset));
        for (long i = end; i < chunkOffset + chunkLength; i++) {
          out.write(0);
        }
      } else if (type == Nbd.NBD_CMD_BLOCK_STATUS) {
        if (misbehaviour == Misbehaviour.TOO_MANY_DESCRIPTORS) {
          // Claims 2^20 + 1 descriptors; the client must refuse before reading them.
          long count = (1 << 20) + 1;
          header(out, extended, Nbd.NBD_REPLY_FLAG_DONE, extended ? Nbd.NBD_REPLY_TYPE_BLOCK_STATUS_EXT : Nbd.NBD_REPLY_TYPE_BLOCK_STATUS,
              cookie, offset, extended ? 8 + 16 * count : 4 + 8 * count);
          out.writeInt(1);
          out.flush();
          continue;
        }
        long half = Math.max(1, length / 2);
        if (extended) {
          header(out, true, Nbd.NBD_REPLY_FLAG_DONE, Nbd.NBD_REPLY_TYPE_BLOCK_STATUS_EXT, cookie, offset, 8 + 32);
          out.writeInt(1);
          out.writeInt(2);
          out.writeLong(half);
          out.writeLong(0);
          out.writeLong(length - half);
          out.writeLong(Extent.HOLE | Extent.ZERO);
        } else {
          header(out, false, Nbd.NBD_REPLY_FLAG_DONE, Nbd.NBD_REPLY_TYPE_BLOCK_STATUS, cookie, offset, 4 + 16);
          out.writeInt(1);
          out.writeInt((int) half);
          out.writeInt(0);
          out.writeInt((int) (length - half));
          out.writeInt(Extent.HOLE | Extent.ZERO);
        }
      } else {
        header(out, extended, Nbd.NBD_REPLY_FLAG_DONE, Nbd.NBD_REPLY_TYPE_NONE, cookie, offset, 0);
      }
      out.flush();
    }
  }

  private void header(DataOutputStream out, boolean extended, int flags, int type, long cookie, long offset, long length) throws IOException {
    int magic = extended ? Nbd.NBD_EXTENDED_REPLY_MAGIC : Nbd.NBD_STRUCTURED_REPLY_MAGIC;
    out.writeInt(misbehaviour == Misbehaviour.BAD_MAGIC ? 0x12345678 : magic);
    out.writeShort(flags);
    out.writeShort(type);
    out.writeLong(cookie);
    if (extended) {
      out.writeLong(offset);
      out.writeLong(length);
    } else {
      out.writeInt((int) length);
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    Files.deleteIfExists(socket);
  }
}
