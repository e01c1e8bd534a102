package dev.pluck.engine;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.ChunkId;
import dev.pluck.engine.repo.Repository;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The parent snapshot's regular files of one volume, held compactly for lookups by path and by
 * inode while the next backup walks the volume: what deciding "unchanged" and reusing chunks
 * needs (type, size, times, inode, chunks, extents, streams), about 100 bytes a small file, so a
 * volume of millions of files fits a small heap. Other entries are not kept: their catalog lines
 * are made anew from the filesystem.
 */
final class ParentCatalog {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int PAGE = 1 << 24;
  private final List<byte[]> pages = new ArrayList<>();
  private int used = PAGE;  // in the last page
  private final Table byPath = new Table();
  private final Table byInode = new Table();

  /** Reads a catalog, keeping its regular files with content. */
  static ParentCatalog read(Repository repo, List<String> catalog) throws IOException {
    ParentCatalog p = new ParentCatalog();
    Catalog.read(repo, catalog, e -> {
      if (e.type().equals("file") && e.chunks() != null) {
        p.add(e);
      }
    });
    return p;
  }

  /** The file at {@code path}, or null. */
  CatalogEntry get(String path) {
    byte[] key = path.getBytes(StandardCharsets.UTF_8);
    for (long at : byPath.all(hash(key))) {
      CatalogEntry e = decode(at);
      if (e.path().equals(path)) {
        return e;
      }
    }
    return null;
  }

  /** The first file of the catalog with inode number {@code inode} that is not swap, or null. */
  CatalogEntry byInode(long inode) {
    long[] at = byInode.all(mix(inode));
    for (long a : at) {
      CatalogEntry e = decode(a);
      if (e.inode() == inode) {
        return e;
      }
    }
    return null;
  }

  private void add(CatalogEntry e) throws IOException {
    byte[] path = e.path().getBytes(StandardCharsets.UTF_8);
    byte[] streams = e.streams() == null ? new byte[0] : JSON.writeValueAsBytes(e.streams());
    List<long[]> extents = e.extents() == null ? List.of() : e.extents();
    boolean swap = e.attributes() != null && e.attributes().contains("swap");
    int length = 4 + path.length + 1 + 4 * 8 + 4 + e.chunks().size() * (1 + ChunkId.BYTES) + 4 + extents.size() * 24 + 4 + streams.length;
    ByteBuffer b = ByteBuffer.allocate(length);
    b.putInt(path.length).put(path).put((byte) (swap ? 1 : 0));
    b.putLong(e.size()).putLong(e.mtimeNs()).putLong(e.ctimeNs()).putLong(e.inode());
    b.putInt(e.chunks().size());
    byte[] id = new byte[ChunkId.BYTES];
    for (String c : e.chunks()) {
      if (c == null) {
        b.put((byte) 0).put(new byte[ChunkId.BYTES]);
      } else {
        ChunkId.parse(c).write(id, 0);
        b.put((byte) 1).put(id);
      }
    }
    b.putInt(extents.size());
    for (long[] x : extents) {
      b.putLong(x[0]).putLong(x[1]).putLong(x[2]);
    }
    b.putInt(streams.length).put(streams);
    long at = append(b.array());
    byPath.put(hash(path), at);
    if (!swap) {
      byInode.put(mix(e.inode()), at);
    }
  }

  private long append(byte[] record) {
    if (record.length > PAGE) {
      pages.add(record);  // a file of more than ~450,000 chunks: a page of its own
      used = PAGE;
      return (long) (pages.size() - 1) << 32;
    }
    if (used + record.length > PAGE) {
      pages.add(new byte[PAGE]);
      used = 0;
    }
    System.arraycopy(record, 0, pages.get(pages.size() - 1), used, record.length);
    long at = ((long) (pages.size() - 1) << 32) | used;
    used += record.length;
    return at;
  }

  private CatalogEntry decode(long at) {
    ByteBuffer b = ByteBuffer.wrap(pages.get((int) (at >>> 32)));
    b.position((int) at);
    byte[] path = new byte[b.getInt()];
    b.get(path);
    boolean swap = b.get() != 0;
    long size = b.getLong();
    long mtime = b.getLong();
    long ctime = b.getLong();
    long inode = b.getLong();
    int n = b.getInt();
    List<String> chunks = new ArrayList<>(n);
    byte[] id = new byte[ChunkId.BYTES];
    for (int i = 0; i < n; i++) {
      boolean present = b.get() != 0;
      b.get(id);
      chunks.add(present ? ChunkId.fromBytes(id, 0).hex() : null);
    }
    int x = b.getInt();
    List<long[]> extents = x == 0 ? null : new ArrayList<>(x);
    for (int i = 0; i < x; i++) {
      extents.add(new long[] {b.getLong(), b.getLong(), b.getLong()});
    }
    byte[] streamBytes = new byte[b.getInt()];
    b.get(streamBytes);
    Map<String, CatalogEntry.Content> streams = null;
    if (streamBytes.length > 0) {
      try {
        streams = JSON.readValue(streamBytes, new TypeReference<Map<String, CatalogEntry.Content>>() {});
      } catch (IOException e) {
        throw new IllegalStateException("a parent catalog record does not read back", e);
      }
    }
    return new CatalogEntry(new String(path, StandardCharsets.UTF_8), "file", size, null, null, null, 0, inode, 0, mtime, ctime, null, null,
        null, null, 0, swap ? List.of("swap") : null, chunks, streams, extents);
  }

  private static long hash(byte[] s) {
    long h = 0xcbf29ce484222325L;  // FNV-1a, then mixed
    for (byte c : s) {
      h = (h ^ (c & 0xff)) * 0x100000001b3L;
    }
    return mix(h);
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
    z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
    return z ^ (z >>> 33);
  }

  /** Open addressing from 64-bit hashes to record positions; a hash may hold several. */
  private static final class Table {
    private long[] keys = new long[1 << 10];
    private long[] values = new long[1 << 10];
    private int size;

    void put(long hash, long value) {
      if (2 * (size + 1) > keys.length) {
        grow();
      }
      long key = hash == 0 ? 1 : hash;
      int mask = keys.length - 1;
      int i = (int) key & mask;
      while (keys[i] != 0) {
        i = (i + 1) & mask;
      }
      keys[i] = key;
      values[i] = value;
      size++;
    }

    /** Every value stored under {@code hash}. */
    long[] all(long hash) {
      long key = hash == 0 ? 1 : hash;
      int mask = keys.length - 1;
      long[] out = new long[0];
      for (int i = (int) key & mask; keys[i] != 0; i = (i + 1) & mask) {
        if (keys[i] == key) {
          out = java.util.Arrays.copyOf(out, out.length + 1);
          out[out.length - 1] = values[i];
        }
      }
      return out;
    }

    private void grow() {
      long[] oldKeys = keys;
      long[] oldValues = values;
      keys = new long[oldKeys.length * 2];
      values = new long[oldKeys.length * 2];
      size = 0;
      for (int i = 0; i < oldKeys.length; i++) {
        if (oldKeys[i] != 0) {
          put(oldKeys[i], oldValues[i]);
        }
      }
    }
  }
}
