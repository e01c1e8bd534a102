package dev.pluck.engine.repo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Removes chunks no snapshot needs. Packs with nothing needed are deleted; packs with more than
 * {@link #REPACK_WASTE} of their bytes unneeded are repacked (the needed chunks copied, as
 * stored, into new packs). Order, for a crash at any point: new packs, then one new index over
 * every pack kept, then the old index files, then the old packs.
 */
public final class Prune {
  static final double REPACK_WASTE = 0.2;
  /** Temporary files older than this are leftovers of interrupted writes. */
  static final Duration LEFTOVER_AGE = Duration.ofHours(1);

  /** What prune did. */
  public record Result(int packsDeleted, int packsRepacked, int packsWritten, long bytesBefore, long bytesAfter, long chunksRemoved) {}

  /** Hears how far prune is: the stage ("marking: 3 of 9 snapshots"), bytes repacked so far and in all (-1: not known yet). */
  @FunctionalInterface
  public interface Listener {
    void progress(String stage, long bytesCopied, long bytesToCopy);
  }

  private Prune() {}

  public static Result run(Repository repo) throws IOException {
    return run(repo, (stage, copied, toCopy) -> { });
  }

  public static Result run(Repository repo, Listener listener) throws IOException {
    Storage storage = repo.storage();
    Set<ChunkId> needed = new HashSet<>();
    List<Snapshot> snapshots = repo.snapshots();
    for (int i = 0; i < snapshots.size(); i++) {
      listener.progress("marking: " + (i + 1) + " of " + snapshots.size() + " snapshots", 0, -1);
      References.visit(repo, snapshots.get(i), c -> true, (hex, where) -> needed.add(ChunkId.parse(hex)));
    }
    Map<String, List<Pack.Entry>> keep = new LinkedHashMap<>();
    List<String> drop = new ArrayList<>();
    List<Pack.Entry> moveEntries = new ArrayList<>();
    List<String> moveFrom = new ArrayList<>();
    long before = 0;
    long removed = 0;
    Set<ChunkId> placed = new HashSet<>();
    for (String pack : storage.list("data/")) {
      long size = storage.size(pack);
      before += size;
      List<Pack.Entry> entries;
      try {
        entries = Pack.readTrailer(storage, pack);
      } catch (IOException damaged) {
        continue;  // left alone: check reports it
      }
      long used = 0;
      int usedCount = 0;
      for (Pack.Entry e : entries) {
        if (needed.contains(e.id()) && !placed.contains(e.id())) {
          used += e.storedLength();
          usedCount++;
        }
      }
      if (usedCount == 0) {
        drop.add(pack);
        removed += entries.size();
      } else if (used < size * (1 - REPACK_WASTE)) {
        drop.add(pack);
        for (Pack.Entry e : entries) {
          if (needed.contains(e.id()) && placed.add(e.id())) {
            moveEntries.add(e);
            moveFrom.add(pack);
          } else {
            removed++;
          }
        }
      } else {
        keep.put(pack, entries);
        for (Pack.Entry e : entries) {
          placed.add(e.id());
        }
      }
    }
    int written = 0;
    PackWriter w = null;
    long toCopy = moveEntries.stream().mapToLong(Pack.Entry::storedLength).sum();
    long copied = 0;
    for (int i = 0; i < moveEntries.size(); i++) {
      Pack.Entry e = moveEntries.get(i);
      listener.progress("repacking: " + (i + 1) + " of " + moveEntries.size() + " chunks", copied, toCopy);
      copied += e.storedLength();
      if (w == null) {
        w = new PackWriter(storage.scratch());
      }
      w.add(e.id(), e.codec(), storage.get(moveFrom.get(i), e.offset(), e.storedLength()), e.rawLength());
      if (w.size() >= repo.config().packSize() || i == moveEntries.size() - 1) {
        keep.put(w.finish(storage), List.copyOf(w.entries()));
        w.closeChannel();
        written++;
        w = null;
      }
    }
    List<String> oldIndex = storage.list("index/");
    byte[] index = IndexFile.encode(keep);
    String name = "index/" + Repository.sha256(index);
    storage.put(name, index);
    for (String o : oldIndex) {
      if (!o.equals(name)) {
        storage.delete(o);
      }
    }
    int repacked = (int) moveFrom.stream().distinct().count();
    for (int i = 0; i < drop.size(); i++) {
      listener.progress("deleting: " + (i + 1) + " of " + drop.size() + " packs", copied, toCopy);
      storage.delete(drop.get(i));
    }
    if (storage instanceof LocalStorage local) {
      for (Path p : local.leftovers()) {
        if (Files.getLastModifiedTime(p).toInstant().plus(LEFTOVER_AGE).isBefore(Instant.now())) {
          Files.deleteIfExists(p);
        }
      }
    }
    long after = 0;
    for (String pack : storage.list("data/")) {
      after += storage.size(pack);
    }
    return new Result(drop.size() - repacked, repacked, written, before, after, removed);
  }
}
