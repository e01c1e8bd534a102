package dev.pluck.engine.repo;

import java.util.ArrayList;
import java.util.List;

/**
 * Which pack holds each chunk, in memory: an open-addressing table of six longs per slot (the
 * 32-byte id, the pack number and codec and raw length, the offset and stored length), about 70
 * bytes per chunk at the load factor used: 10 million chunks (10 TiB of distinct 1 MiB chunks)
 * take some 700 MiB, with no object per chunk for the garbage collector to trace.
 */
final class ChunkIndex {
  private static final int SLOT = 6;
  private long[] table = new long[SLOT * 1024];
  private int size;
  private final List<String> packs = new ArrayList<>();
  private final java.util.Map<String, Integer> packNumbers = new java.util.HashMap<>();

  /** Where a chunk is. */
  record Location(String pack, Codec codec, long offset, int storedLength, int rawLength) {}

  int size() {
    return size;
  }

  List<String> packs() {
    return packs;
  }

  boolean hasPack(String pack) {
    return packNumbers.containsKey(pack);
  }

  synchronized void add(String pack, Pack.Entry e) {
    int number = packNumbers.computeIfAbsent(pack, p -> {
      packs.add(p);
      return packs.size() - 1;
    });
    if ((size + 1) * 10L > (table.length / SLOT) * 7L) {
      grow();
    }
    insert(table, e.id(), ((long) number << 40) | ((long) e.codec().id() << 32) | (e.rawLength() & 0xFFFFFFFFL),
        (e.offset() << 24) | (e.storedLength() & 0xFFFFFFL), true);
  }

  private boolean insert(long[] t, ChunkId id, long meta, long place, boolean count) {
    int slots = t.length / SLOT;
    int i = (int) ((id.a() ^ (id.a() >>> 29)) & 0x7FFFFFFF) % slots;
    while (true) {
      int at = i * SLOT;
      if (t[at + 4] == 0 && t[at + 5] == 0 && t[at] == 0 && t[at + 1] == 0) {
        t[at] = id.a();
        t[at + 1] = id.b();
        t[at + 2] = id.c();
        t[at + 3] = id.d();
        t[at + 4] = meta | (1L << 63);  // the top bit marks a used slot
        t[at + 5] = place;
        if (count) {
          size++;
        }
        return true;
      }
      if (t[at] == id.a() && t[at + 1] == id.b() && t[at + 2] == id.c() && t[at + 3] == id.d()) {
        return false;  // already indexed (the same chunk in two packs: the first stays)
      }
      i = (i + 1) % slots;
    }
  }

  private void grow() {
    long[] old = table;
    long[] t = new long[old.length * 2];
    for (int at = 0; at < old.length; at += SLOT) {
      if (old[at + 4] != 0) {
        insert(t, new ChunkId(old[at], old[at + 1], old[at + 2], old[at + 3]), old[at + 4] & ~(1L << 63), old[at + 5], false);
      }
    }
    table = t;
  }

  synchronized Location get(ChunkId id) throws java.io.IOException {
    int slots = table.length / SLOT;
    int i = (int) ((id.a() ^ (id.a() >>> 29)) & 0x7FFFFFFF) % slots;
    while (true) {
      int at = i * SLOT;
      if (table[at + 4] == 0) {
        return null;
      }
      if (table[at] == id.a() && table[at + 1] == id.b() && table[at + 2] == id.c() && table[at + 3] == id.d()) {
        long meta = table[at + 4] & ~(1L << 63);
        long place = table[at + 5];
        return new Location(packs.get((int) (meta >>> 40)), Codec.byId((int) ((meta >>> 32) & 0xFF)), place >>> 24,
            (int) (place & 0xFFFFFF), (int) meta);
      }
      i = (i + 1) % slots;
    }
  }

  /** Moves a chunk to another pack (from the pack being written to its final name). */
  synchronized void move(ChunkId id, String pack) {
    int number = packNumbers.computeIfAbsent(pack, p -> {
      packs.add(p);
      return packs.size() - 1;
    });
    int slots = table.length / SLOT;
    int i = (int) ((id.a() ^ (id.a() >>> 29)) & 0x7FFFFFFF) % slots;
    while (table[i * SLOT + 4] != 0) {
      int at = i * SLOT;
      if (table[at] == id.a() && table[at + 1] == id.b() && table[at + 2] == id.c() && table[at + 3] == id.d()) {
        table[at + 4] = (table[at + 4] & ((1L << 40) - 1)) | ((long) number << 40) | (1L << 63);
        return;
      }
      i = (i + 1) % slots;
    }
  }

  synchronized boolean contains(ChunkId id) {
    try {
      return get(id) != null;
    } catch (java.io.IOException e) {
      return false;
    }
  }
}
