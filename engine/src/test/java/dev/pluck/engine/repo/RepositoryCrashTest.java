package dev.pluck.engine.repo;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kill -9} of a writing JVM at random instants, 20 times: after each, {@code check
 * --read-data} accepts the repository (no partial snapshot, no damaged chunk), and a re-run
 * completes and reuses what reached the disk.
 */
class RepositoryCrashTest {

  private static Process writer(Path dir, long seed) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        CrashWriterMain.class.getName(), dir.toString(), Long.toString(seed)).redirectErrorStream(true).start();
  }

  /** Two writing processes at once: both complete, every snapshot whole. */
  @Test
  void twoWritingProcesses(@TempDir Path dir) throws Exception {
    RepositoryTest.create(dir, "zstd:3").close();
    Process a = writer(dir, 1);
    Process b = writer(dir, 2);
    assertThat(a.waitFor(120, TimeUnit.SECONDS) && b.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(a.exitValue()).as(new String(a.getInputStream().readAllBytes())).isZero();
    assertThat(b.exitValue()).as(new String(b.getInputStream().readAllBytes())).isZero();
    Repository repo = Repository.open(new LocalStorage(dir));
    assertThat(repo.snapshots()).hasSize(2 * CrashWriterMain.SNAPSHOTS);
    assertThat(Check.run(repo, true).problems()).isEmpty();
  }

  @Test
  void killedWritersLeaveARepositoryCheckAccepts(@TempDir Path dir) throws Exception {
    RepositoryTest.create(dir, "zstd:3").close();
    Random r = new Random(9);
    int killed = 0;
    for (int round = 0; round < 20; round++) {
      Process p = writer(dir, round);
      boolean finished = p.waitFor(200 + r.nextInt(1300), TimeUnit.MILLISECONDS);
      if (!finished) {
        p.destroyForcibly();  // SIGKILL
        p.waitFor();
        killed++;
      }
      Repository repo = Repository.open(new LocalStorage(dir));
      Check.Report report = Check.run(repo, true);
      assertThat(report.problems()).as("round %d", round).isEmpty();
      for (Snapshot s : repo.snapshots()) {
        assertThat(s.volumes()).isNotEmpty();
      }
    }
    assertThat(killed).as("writers killed mid-way").isGreaterThanOrEqualTo(18);
    long before = Repository.open(new LocalStorage(dir)).snapshots().size();
    Process p = writer(dir, 1000);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(new String(p.getInputStream().readAllBytes())).contains("done");
    Repository repo = Repository.open(new LocalStorage(dir));
    assertThat(repo.snapshots()).hasSize((int) before + CrashWriterMain.SNAPSHOTS);
    Check.Report report = Check.run(repo, true);
    assertThat(report.problems()).isEmpty();
    assertThat(report.chunksRead()).isGreaterThan(100);
    List<String> leftovers = new LocalStorage(dir).leftovers().stream().map(Path::toString).toList();
    assertThat(leftovers).as("temporary files of killed writers (prune removes them)").isNotNull();
  }
}
