package dev.pluck.engine.repo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * A pack file: "PLUCKPK1", the stored chunks one after another, then a trailer that lists them
 * (so a pack describes itself and the index can be rebuilt from packs alone), then a footer:
 * entry count, CRC-32C of the trailer, "PLUCKEND". Named by the SHA-256 of its trailer.
 */
public final class Pack {
  static final byte[] MAGIC = "PLUCKPK1".getBytes(StandardCharsets.US_ASCII);
  static final byte[] END = "PLUCKEND".getBytes(StandardCharsets.US_ASCII);
  /** id (32), codec (1), reserved (3), offset (8), stored length (4), raw length (4). */
  static final int ENTRY = 52;
  static final int FOOTER = 16;

  /** Where one chunk lies in its pack. */
  public record Entry(ChunkId id, Codec codec, long offset, int storedLength, int rawLength) {}

  private Pack() {}

  static String name(String hexId) {
    return "data/" + hexId.substring(0, 2) + "/" + hexId;
  }

  static byte[] trailer(List<Entry> entries) {
    ByteBuffer b = ByteBuffer.allocate(entries.size() * ENTRY + FOOTER);
    byte[] id = new byte[ChunkId.BYTES];
    for (Entry e : entries) {
      e.id().write(id, 0);
      b.put(id).put((byte) e.codec().id()).put(new byte[3]).putLong(e.offset()).putInt(e.storedLength()).putInt(e.rawLength());
    }
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, b.position());
    b.putInt(entries.size()).putInt((int) crc.getValue()).put(END);
    return b.array();
  }

  /** Reads a pack's trailer: its entries, checked against the pack's size and the trailer's CRC. */
  static List<Entry> readTrailer(Storage storage, String name) throws IOException {
    long size = storage.size(name);
    if (size < MAGIC.length + FOOTER) {
      throw new IOException("pack " + name + " is " + size + " bytes: truncated");
    }
    ByteBuffer footer = ByteBuffer.wrap(storage.get(name, size - FOOTER, FOOTER));
    int count = footer.getInt();
    int crc = footer.getInt();
    byte[] end = new byte[8];
    footer.get(end);
    if (!java.util.Arrays.equals(end, END) || count < 0 || (long) count * ENTRY > size - MAGIC.length - FOOTER) {
      throw new IOException("pack " + name + " has no valid footer (truncated or damaged)");
    }
    byte[] t = storage.get(name, size - FOOTER - (long) count * ENTRY, count * ENTRY);
    CRC32C check = new CRC32C();
    check.update(t);
    if ((int) check.getValue() != crc) {
      throw new IOException("pack " + name + ": its trailer fails its checksum");
    }
    ByteBuffer b = ByteBuffer.wrap(t);
    List<Entry> out = new ArrayList<>(count);
    long dataEnd = size - FOOTER - (long) count * ENTRY;
    for (int i = 0; i < count; i++) {
      ChunkId id = ChunkId.fromBytes(t, i * ENTRY);
      b.position(i * ENTRY + ChunkId.BYTES);
      Codec codec = Codec.byId(b.get());
      b.position(b.position() + 3);
      long offset = b.getLong();
      int stored = b.getInt();
      int raw = b.getInt();
      if (offset < MAGIC.length || stored < 0 || raw < 0 || offset + stored > dataEnd) {
        throw new IOException("pack " + name + ": entry " + i + " points outside its data");
      }
      out.add(new Entry(id, codec, offset, stored, raw));
    }
    return out;
  }
}
