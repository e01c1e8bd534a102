package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pluck backup} through the command line: the JSON result, the parent found, usage errors. */
class BackupCommandIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * The repository is opened while the sources are: whichever fails, the error is the one line it
   * gives, and no lock is left behind.
   */
  @Test
  void aFailingSourceOrRepositoryLeavesNoLock(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    Path repo = dir.resolve("repo");
    assertThat(CliRun.of("init", "--repo", repo.toString()).exit()).isZero();
    CliRun noSource = CliRun.of("backup", "--repo", repo.toString(), dir.resolve("no-such.raw").toString());
    assertThat(noSource.exit()).isEqualTo(1);
    assertThat(noSource.err()).startsWith("pluck: ").contains("no-such.raw").hasLineCount(1);
    try (var locks = java.nio.file.Files.list(repo.resolve("locks"))) {
      assertThat(locks).as("locks left by the failed backup").isEmpty();
    }

    CliRun noRepo = CliRun.of("backup", "--repo", dir.resolve("no-repo").toString(), disk.image().toString());
    assertThat(noRepo.exit()).isEqualTo(1);
    assertThat(noRepo.err()).startsWith("pluck: ").contains("no-repo").hasLineCount(1);

    CliRun good = CliRun.of("backup", "--repo", repo.toString(), "--volume", "p3", disk.image().toString());
    assertThat(good.exit()).as(good.err()).isZero();
    try (var locks = java.nio.file.Files.list(repo.resolve("locks"))) {
      assertThat(locks).as("locks left by the backup").isEmpty();
    }
  }

  @Test
  void backupThenIncremental(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    String repo = dir.resolve("repo").toString();
    assertThat(CliRun.of("init", "--repo", repo).exit()).isZero();
    CliRun first = CliRun.of("backup", "--repo", repo, "--json", "--vm", "web1", "--volume", "p3", "--exclude", "*.log",
        disk.image().toString());
    assertThat(first.exit()).as(first.err()).isZero();
    JsonNode r = JSON.readTree(first.out());
    assertThat(r.get("complete").asBoolean()).isTrue();
    assertThat(r.get("files").get("new").asLong()).isPositive();
    assertThat(r.get("bytesRead").get("data").asLong()).isPositive();
    assertThat(r.get("parent").isNull()).isTrue();
    assertThat(r.get("parentNote").asText()).contains("full read");

    CliRun second = CliRun.of("backup", "--repo", repo, "--json", "--vm", "web1", "--volume", "p3", "--exclude", "*.log",
        disk.image().toString());
    JsonNode r2 = JSON.readTree(second.out());
    assertThat(r2.get("parent").asText()).isEqualTo(r.get("snapshot").asText());
    assertThat(r2.get("bytesRead").get("data").asLong()).isZero();
    assertThat(r2.get("files").get("unchanged").asLong()).isEqualTo(r.get("files").get("new").asLong());
    assertThat(CliRun.of("snapshots", "--repo", repo, "--vm", "web1").out().lines().count()).isEqualTo(2);

    CliRun text = CliRun.of("backup", "--repo", repo, "--mode", "volumes", "--volume", "p4", disk.image().toString());
    assertThat(text.exit()).isZero();
    assertThat(text.out()).contains("skipped: swap");
    assertThat(CliRun.of("backup", "--repo", repo, "--mode", "tar", disk.image().toString()).exit()).isEqualTo(2);
    CliRun fat = CliRun.of("backup", "--repo", repo, "--volume", "p2", disk.image().toString());
    assertThat(fat.exit()).isEqualTo(1);
    assertThat(fat.err()).contains("p2").contains("--mode volumes");
  }
}
