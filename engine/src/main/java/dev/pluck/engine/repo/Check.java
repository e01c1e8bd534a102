package dev.pluck.engine.repo;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Verifies a repository. Always: every index file and pack trailer parses and agrees, every pack
 * is indexed, every chunk every snapshot names (catalogs, file contents, streams, block maps) is
 * indexed in a pack that holds it. With {@code readData}: every chunk of every pack is read,
 * decompressed and hashed. Each problem names the snapshots (and paths) it affects.
 */
public final class Check {
  /** One thing wrong, and what it touches: "snapshot ID: path" or "snapshot ID". */
  public record Problem(String what, List<String> affects) {}

  /** What was checked and what was found. */
  public record Report(int snapshots, int packs, long chunks, long chunksRead, List<Problem> problems, List<String> notes) {
    public boolean ok() {
      return problems.isEmpty();
    }
  }

  private Check() {}

  public static Report run(Repository repo, boolean readData) throws IOException {
    return run(repo, readData, (chunks, bytes, total) -> { });
  }

  /** Hears how far --read-data got: chunks and stored bytes read, of {@code totalBytes}. */
  public interface Progress {
    void read(long chunks, long bytes, long totalBytes);
  }

  /** As {@link #run(Repository, boolean)}, telling {@code progress} after every chunk read. */
  public static Report run(Repository repo, boolean readData, Progress progress) throws IOException {
    Storage storage = repo.storage();
    List<Problem> problems = new ArrayList<>();
    Map<ChunkId, String> indexed = new HashMap<>();
    Set<String> indexedPacks = new HashSet<>();
    for (String name : storage.list("index/")) {
      try {
        for (Map.Entry<String, List<Pack.Entry>> p : IndexFile.decode(storage.get(name), name).entrySet()) {
          indexedPacks.add(p.getKey());
          for (Pack.Entry e : p.getValue()) {
            indexed.putIfAbsent(e.id(), p.getKey());
          }
        }
      } catch (IOException e) {
        problems.add(new Problem(e.getMessage(), List.of()));
      }
    }
    Map<String, Map<ChunkId, Pack.Entry>> packs = new LinkedHashMap<>();
    Map<ChunkId, String> unindexedChunks = new HashMap<>();
    List<String> notes = new ArrayList<>();
    Set<String> damagedPacks = new TreeSet<>();
    for (String pack : storage.list("data/")) {
      try {
        Map<ChunkId, Pack.Entry> entries = new HashMap<>();
        for (Pack.Entry e : Pack.readTrailer(storage, pack)) {
          entries.put(e.id(), e);
        }
        packs.put(pack, entries);
        if (!indexedPacks.contains(pack)) {
          // Left by an interrupted backup (the next one reuses it), or its index file was lost:
          // a problem only if a snapshot needs it, below.
          notes.add("pack " + pack + " is in no index file");
          for (ChunkId id : entries.keySet()) {
            unindexedChunks.putIfAbsent(id, pack);
          }
        }
      } catch (IOException e) {
        damagedPacks.add(pack);
      }
    }
    for (String pack : indexedPacks) {
      if (!packs.containsKey(pack) && !damagedPacks.contains(pack)) {
        damagedPacks.add(pack);
      }
    }
    // Chunks whose pack is gone or unreadable, or that their pack does not hold.
    Set<ChunkId> bad = new HashSet<>();
    for (Map.Entry<ChunkId, String> e : indexed.entrySet()) {
      Map<ChunkId, Pack.Entry> pack = packs.get(e.getValue());
      if (pack == null || !pack.containsKey(e.getKey())) {
        bad.add(e.getKey());
      }
    }
    long read = 0;
    if (readData) {
      long total = 0;
      for (Map<ChunkId, Pack.Entry> p : packs.values()) {
        for (Pack.Entry e : p.values()) {
          total += e.storedLength();
        }
      }
      long readBytes = 0;
      for (Map.Entry<String, Map<ChunkId, Pack.Entry>> p : packs.entrySet()) {
        for (Pack.Entry e : p.getValue().values()) {
          read++;
          readBytes += e.storedLength();
          progress.read(read, readBytes, total);
          try {
            byte[] data = e.codec().decompress(storage.get(p.getKey(), e.offset(), e.storedLength()), e.rawLength());
            if (!ChunkId.of(data, 0, data.length).equals(e.id())) {
              bad.add(e.id());
            }
          } catch (IOException x) {
            bad.add(e.id());
          }
        }
      }
    }
    // Which snapshots and files need what is missing or damaged.
    Map<String, List<String>> affected = new LinkedHashMap<>();
    List<Snapshot> snapshots = new ArrayList<>();
    for (String name : storage.list("snapshots/")) {
      String id = name.substring(name.lastIndexOf('/') + 1);
      try {
        byte[] b = storage.get(name);
        if (!Repository.sha256(b).equals(id)) {
          problems.add(new Problem("snapshot " + id + " does not hash to its name (damaged manifest)", List.of("snapshot " + id)));
          continue;
        }
        snapshots.add(Repository.JSON.readValue(b, Snapshot.class).withId(id));
      } catch (IOException e) {
        problems.add(new Problem("snapshot " + id + ": " + e.getMessage(), List.of("snapshot " + id)));
      }
    }
    for (Snapshot s : snapshots) {
      try {
        References.visit(repo, s, chunks -> allIndexed(chunks, indexed, unindexedChunks, bad),
            (hex, where) -> check(hex, indexed, unindexedChunks, bad, affected, where));
      } catch (IOException e) {
        affected.computeIfAbsent("catalog or block map unreadable: " + e.getMessage(), k -> new ArrayList<>())
            .add("snapshot " + s.id().substring(0, 12));
      }
    }
    for (String pack : damagedPacks) {
      problems.add(new Problem("pack " + pack + " is missing, truncated or damaged", List.of()));
    }
    affected.forEach((what, where) -> problems.add(new Problem(what, where)));
    return new Report(snapshots.size(), packs.size(), indexed.size() + unindexedChunks.size(), read, problems, notes);
  }

  private static boolean allIndexed(List<String> chunks, Map<ChunkId, String> indexed, Map<ChunkId, String> unindexed, Set<ChunkId> bad) {
    for (String hex : chunks) {
      ChunkId id = ChunkId.parse(hex);
      if ((!indexed.containsKey(id) && !unindexed.containsKey(id)) || bad.contains(id)) {
        return false;
      }
    }
    return true;
  }

  private static void check(String hex, Map<ChunkId, String> indexed, Map<ChunkId, String> unindexed, Set<ChunkId> bad,
      Map<String, List<String>> affected, String where) {
    ChunkId id = ChunkId.parse(hex);
    String problem = !indexed.containsKey(id)
        ? (unindexed.containsKey(id) ? "chunk " + hex + " is in pack " + unindexed.get(id) + ", which no index file lists "
            + "(a lost index file): `pluck rebuild-index` restores it" : "chunk " + hex + " is in no pack")
        : bad.contains(id) ? "chunk " + hex + " in pack " + indexed.get(id) + " is missing or damaged" : null;
    if (problem != null) {
      affected.computeIfAbsent(problem, k -> new ArrayList<>()).add(where);
    }
  }

  /** Writes one index file covering every readable pack, then removes the old index files. */
  public static int rebuildIndex(Storage storage) throws IOException {
    Map<String, List<Pack.Entry>> all = new LinkedHashMap<>();
    for (String pack : storage.list("data/")) {
      try {
        all.put(pack, Pack.readTrailer(storage, pack));
      } catch (IOException damaged) {
        // left out: its chunks are not in the new index, and check names what needed them
      }
    }
    List<String> old = storage.list("index/");
    byte[] file = IndexFile.encode(all);
    String name = "index/" + Repository.sha256(file);
    storage.put(name, file);
    for (String o : old) {
      if (!o.equals(name)) {
        storage.delete(o);
      }
    }
    return all.size();
  }
}
