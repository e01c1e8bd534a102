package dev.pluck.engine.repo;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * An index file ("index/ID"): "PLUCKIX1", then for each pack its 32-byte id, its entry count and
 * its entries in the pack trailer's form, then CRC-32C of all that and "PLUCKEND". Written after
 * the packs it lists are durable; never changed; the union of all index files is the index.
 */
final class IndexFile {
  static final byte[] MAGIC = "PLUCKIX1".getBytes(StandardCharsets.US_ASCII);

  private IndexFile() {}

  static byte[] encode(Map<String, List<Pack.Entry>> packs) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(MAGIC);
    for (Map.Entry<String, List<Pack.Entry>> p : packs.entrySet()) {
      out.writeBytes(HexFormat.of().parseHex(p.getKey().substring(p.getKey().lastIndexOf('/') + 1)));
      out.writeBytes(ByteBuffer.allocate(4).putInt(p.getValue().size()).array());
      byte[] t = Pack.trailer(p.getValue());
      out.write(t, 0, t.length - Pack.FOOTER);
    }
    CRC32C crc = new CRC32C();
    byte[] body = out.toByteArray();
    crc.update(body);
    out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    out.writeBytes(Pack.END);
    return out.toByteArray();
  }

  static Map<String, List<Pack.Entry>> decode(byte[] b, String name) throws IOException {
    if (b.length < MAGIC.length + 12 || !java.util.Arrays.equals(b, 0, 8, MAGIC, 0, 8)
        || !java.util.Arrays.equals(b, b.length - 8, b.length, Pack.END, 0, 8)) {
      throw new IOException("index file " + name + " is truncated or not an index");
    }
    CRC32C crc = new CRC32C();
    crc.update(b, 0, b.length - 12);
    if ((int) crc.getValue() != ByteBuffer.wrap(b, b.length - 12, 4).getInt()) {
      throw new IOException("index file " + name + " fails its checksum");
    }
    Map<String, List<Pack.Entry>> out = new LinkedHashMap<>();
    ByteBuffer in = ByteBuffer.wrap(b, 8, b.length - 20);
    while (in.hasRemaining()) {
      byte[] id = new byte[32];
      in.get(id);
      int count = in.getInt();
      if (count < 0 || (long) count * Pack.ENTRY > in.remaining()) {
        throw new IOException("index file " + name + " lists more entries than it holds");
      }
      byte[] t = new byte[count * Pack.ENTRY];
      in.get(t);
      List<Pack.Entry> entries = new java.util.ArrayList<>(count);
      ByteBuffer e = ByteBuffer.wrap(t);
      for (int i = 0; i < count; i++) {
        ChunkId chunk = ChunkId.fromBytes(t, i * Pack.ENTRY);
        e.position(i * Pack.ENTRY + 32);
        Codec codec = Codec.byId(e.get());
        e.position(e.position() + 3);
        entries.add(new Pack.Entry(chunk, codec, e.getLong(), e.getInt(), e.getInt()));
      }
      out.put(Pack.name(HexFormat.of().formatHex(id)), entries);
    }
    return out;
  }
}
