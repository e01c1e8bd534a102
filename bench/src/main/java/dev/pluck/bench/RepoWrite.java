package dev.pluck.bench;

import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.Config;
import dev.pluck.engine.repo.Content;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;

/**
 * Writes one file into a fresh repository as a snapshot, then reads it back through the catalog,
 * and prints "write SECONDS" and "read SECONDS". usage: RepoWrite REPO_DIR FILE COMPRESSION
 */
public final class RepoWrite {
  private RepoWrite() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    Path file = Path.of(args[1]);
    Config d = Config.defaults(args[2]);
    long size = Files.size(file);
    long t0 = System.nanoTime();
    String id;
    try (Repository repo = Repository.init(new LocalStorage(dir), d);
        FileChannel in = FileChannel.open(file, StandardOpenOption.READ)) {
      List<String> chunks = Content.store(repo, in);
      Catalog.Writer c = new Catalog.Writer(repo);
      c.add(new CatalogEntry("/" + file.getFileName(), "file", size, 0644, 0L, 0L, 1, 1, 0, 0, 0, null, null, null, null, 0, null, chunks,
          null, null));
      id = repo.commit(new Snapshot(null, Config.FORMAT, java.time.Instant.now().toString(), "bench", new Snapshot.Source("bench",
          List.of(), List.of()), List.of(), true, List.of(), null, null, null, Map.of(), d.chunkSize(),
          List.of(new Snapshot.Volume("disk", "raw", "files", c.finish(), 1, size, 0, 0, null))));
    }
    System.out.printf("write %.3f%n", (System.nanoTime() - t0) / 1e9);
    long t1 = System.nanoTime();
    long read = 0;
    try (Repository repo = Repository.open(new LocalStorage(dir))) {
      Snapshot s = repo.snapshot(id);
      CatalogEntry[] e = new CatalogEntry[1];
      Catalog.read(repo, s.volumes().get(0).catalog(), x -> e[0] = x);
      ByteBuffer buf = ByteBuffer.allocate(1 << 20);
      try (SeekableByteChannel ch = Content.open(repo, e[0].chunks(), e[0].size())) {
        for (int n; (n = ch.read(buf.clear())) > 0; ) {
          read += n;
        }
      }
    }
    if (read != size) {
      throw new IllegalStateException("read back " + read + " of " + size + " bytes");
    }
    System.out.printf("read %.3f%n", (System.nanoTime() - t1) / 1e9);
  }
}
