package dev.pluck.engine.repo;

import java.nio.file.Path;
import java.util.Random;

/** A backup-like writer for the crash test: snapshots of random files, run in its own JVM and killed at random. */
public final class CrashWriterMain {
  /** Enough work, paced (over 3 s), that a kill within the test's delays always lands mid-way. */
  static final int SNAPSHOTS = 8;
  static final int PACE_MS = 10;

  private CrashWriterMain() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    Random r = new Random(Long.parseLong(args[1]));
    try (Repository repo = Repository.open(new LocalStorage(dir))) {
      for (int s = 0; s < SNAPSHOTS; s++) {
        Catalog.Writer c = new Catalog.Writer(repo);
        for (int f = 0; f < 40; f++) {
          byte[] data = RepositoryTest.bytes(r, r.nextInt(6 * RepositoryTest.CHUNK), f % 3 == 0);
          c.add(RepositoryTest.entry("/s" + s + "/f" + f, data.length, RepositoryTest.store(repo, data)));
          Thread.sleep(PACE_MS);  // a backup's pace: reads from a source take time
        }
        repo.commit(RepositoryTest.snapshot(c.finish(), 40, "vm" + (s % 2)));
      }
    }
    System.out.println("done");
  }
}
