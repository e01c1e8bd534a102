package dev.pluck.engine.repo;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.function.Predicate;

/** Every chunk a snapshot needs: its catalogs and block maps, and the file, stream and block chunks they name. */
final class References {
  /** Receives each referenced chunk (hex) and where it is needed ("volume p1: /etc/hosts"). */
  interface Visitor {
    void chunk(String hex, String where) throws IOException;
  }

  private References() {}

  /**
   * Visits what {@code s} references; a catalog or block map is read only when {@code descend}
   * accepts its chunks (a check does not read what it already knows is missing). Returns the
   * logical bytes: file and stream sizes, and volume sizes of block images.
   */
  static long visit(Repository repo, Snapshot s, Predicate<List<String>> descend, Visitor v) throws IOException {
    long[] logical = {0};
    for (Snapshot.Volume vol : s.volumes()) {
      String where = "snapshot " + s.id().substring(0, Math.min(12, s.id().length())) + " volume " + vol.id();
      if (vol.catalog() != null) {
        for (String c : vol.catalog()) {
          v.chunk(c, where + " catalog");
        }
        if (descend.test(vol.catalog())) {
          Catalog.read(repo, vol.catalog(), e -> {
            logical[0] += e.size();
            visitAll(e.chunks(), where + ": " + e.path(), v);
            if (e.streams() != null) {
              for (var st : e.streams().entrySet()) {
                logical[0] += st.getValue().size();
                visitAll(st.getValue().chunks(), where + ": " + e.path() + ":" + st.getKey(), v);
              }
            }
          });
        }
      }
      if (vol.blockMap() != null) {
        logical[0] += vol.size();
        blocks(repo, vol, where, descend, v);
      }
      if (vol.metadata() != null) {
        for (String c : vol.metadata().ranges()) {
          v.chunk(c, where + " metadata ranges");
        }
        blocks(repo, vol.metadata().image(), where + " metadata", descend, v);
      }
    }
    return logical[0];
  }

  /** A block map's chunks and, when {@code descend} accepts them, the blocks it names. */
  private static void blocks(Repository repo, Snapshot.Volume vol, String where, Predicate<List<String>> descend, Visitor v)
      throws IOException {
    for (String c : vol.blockMap()) {
      v.chunk(c, where + " block map");
    }
    if (descend.test(vol.blockMap())) {
      byte[] one = new byte[ChunkId.BYTES];
      try (InputStream in = ChunkedStream.reader(repo, vol.blockMap())) {
        for (long block = 0; in.readNBytes(one, 0, one.length) == one.length; block++) {
          if (!Content.isHole(one, 0)) {
            v.chunk(ChunkId.fromBytes(one, 0).hex(), where + " block " + block);
          }
        }
      }
    }
  }

  private static void visitAll(List<String> chunks, String where, Visitor v) throws IOException {
    if (chunks != null) {
      for (String c : chunks) {
        if (c != null) {
          v.chunk(c, where);
        }
      }
    }
  }
}
