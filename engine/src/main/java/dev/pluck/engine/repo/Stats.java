package dev.pluck.engine.repo;

import java.io.IOException;
import java.util.HashSet;
import java.util.Set;

/**
 * How much a repository holds: snapshots, chunks and packs; logical bytes (what the snapshots
 * describe), unique bytes (their distinct chunks, uncompressed) and stored bytes (pack files).
 */
public record Stats(int snapshots, int packs, long chunks, long logicalBytes, long uniqueBytes, long storedBytes) {
  public double dedupeRatio() {
    return uniqueBytes == 0 ? 1 : (double) logicalBytes / uniqueBytes;
  }

  public double compressionRatio() {
    return storedBytes == 0 ? 1 : (double) uniqueBytes / storedBytes;
  }

  public static Stats of(Repository repo) throws IOException {
    Set<ChunkId> seen = new HashSet<>();
    long[] unique = {0};
    long logical = 0;
    var snapshots = repo.snapshots();
    for (Snapshot s : snapshots) {
      logical += References.visit(repo, s, c -> true, (hex, where) -> {
        ChunkId id = ChunkId.parse(hex);
        if (seen.add(id)) {
          ChunkIndex.Location at = repo.locate(id);
          unique[0] += at == null ? 0 : at.rawLength();
        }
      });
    }
    long stored = 0;
    var packs = repo.storage().list("data/");
    for (String p : packs) {
      stored += repo.storage().size(p);
    }
    return new Stats(snapshots.size(), packs.size(), repo.chunkCount(), logical, unique[0], stored);
  }
}
