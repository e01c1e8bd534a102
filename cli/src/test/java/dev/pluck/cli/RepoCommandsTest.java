package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.Config;
import dev.pluck.engine.repo.Content;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The repository verbs end to end: init, snapshots, stats, check finding damage, rebuild-index, forget, prune. */
class RepoCommandsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static String commit(Path dir, String vm, String time, byte[] data) throws Exception {
    try (Repository repo = Repository.open(new LocalStorage(dir))) {
      Catalog.Writer c = new Catalog.Writer(repo);
      List<String> chunks = Content.store(repo, channel(data));
      c.add(new CatalogEntry("/data.bin", "file", data.length, 0644, 0L, 0L, 1, 12, 0, 0, 0, null, null, null, null, 0, null, chunks, null, null));
      return repo.commit(new Snapshot(null, Config.FORMAT, time, "host", new Snapshot.Source(vm, List.of("vda"), List.of()), List.of(),
          true, List.of(), null, "backup", null, Map.of(), repo.config().chunkSize(),
          List.of(new Snapshot.Volume("p1", "ext4", "files", c.finish(), 1, data.length, 0, 0, null))));
    }
  }

  /** Without --compression, init makes a zstd level 1 repository whose chunks are level-1 frames. */
  @Test
  void initDefaultsToZstdLevelOne(@TempDir Path dir) throws Exception {
    assertThat(CliRun.of("init", "--repo", dir.toString()).exit()).isZero();
    assertThat(JSON.readTree(Files.readString(dir.resolve("config"))).get("compression").asText()).isEqualTo("zstd:1");
    StringBuilder text = new StringBuilder();
    Random r = new Random(9);
    while (text.length() < 1 << 20) {
      text.append("word").append(r.nextInt(5000)).append(r.nextBoolean() ? ' ' : '\n');
    }
    byte[] data = text.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    try (Repository repo = Repository.open(new LocalStorage(dir))) {
      Repository.Prepared p = repo.prepare(data, 0, data.length);
      assertThat(p.codec()).isEqualTo(dev.pluck.engine.repo.Codec.ZSTD);
      assertThat(p.stored()).as("a level-1 frame").isEqualTo(com.github.luben.zstd.Zstd.compress(data, 1))
          .isNotEqualTo(com.github.luben.zstd.Zstd.compress(data, 2));
      assertThat(p.codec().decompress(p.stored(), data.length)).isEqualTo(data);
    }
  }

  @Test
  void repositoryVerbs(@TempDir Path dir) throws Exception {
    assertThat(CliRun.of("init", "--repo", dir.toString(), "--compression", "zstd:5", "--chunk-size", "65536").exit()).isZero();
    Random r = new Random(4);
    byte[] shared = new byte[300_000];
    r.nextBytes(shared);
    String first = commit(dir, "web1", "2026-11-20T10:00:00Z", shared);
    commit(dir, "web1", "2026-11-21T10:00:00Z", shared);
    byte[] other = new byte[200_000];
    r.nextBytes(other);
    String third = commit(dir, "db1", "2026-11-21T11:00:00Z", other);

    CliRun list = CliRun.of("snapshots", "--repo", dir.toString(), "--json");
    assertThat(list.exit()).isZero();
    List<JsonNode> lines = list.out().lines().map(l -> {
      try {
        return JSON.readTree(l);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }).toList();
    assertThat(lines).extracting(n -> n.get("vm").asText()).containsExactly("web1", "web1", "db1");
    assertThat(CliRun.of("snapshots", "--repo", dir.toString(), "--vm", "db1").out()).contains(third.substring(0, 12)).doesNotContain(first.substring(0, 12));

    JsonNode stats = JSON.readTree(CliRun.of("stats", "--repo", dir.toString(), "--json").out());
    assertThat(stats.get("snapshots").asInt()).isEqualTo(3);
    assertThat(stats.get("dedupeRatio").asDouble()).isGreaterThan(1.5);

    assertThat(CliRun.of("check", "--repo", dir.toString(), "--read-data").exit()).isZero();
    // Damage: one byte of the pack holding db1's data.
    Path pack = null;
    for (String p : new LocalStorage(dir).list("data/")) {
      pack = dir.resolve(p);
    }
    byte[] original = Files.readAllBytes(pack);
    byte[] damaged = original.clone();
    damaged[20] ^= 1;
    Files.write(pack, damaged);
    CliRun bad = CliRun.of("check", "--repo", dir.toString(), "--read-data");
    assertThat(bad.exit()).isEqualTo(1);
    assertThat(bad.out()).contains("problem:").contains("affects snapshot");
    assertThat(bad.err()).contains("check found");
    Files.write(pack, original);

    for (String index : new LocalStorage(dir).list("index/")) {
      Files.delete(dir.resolve(index));
    }
    assertThat(CliRun.of("check", "--repo", dir.toString()).out()).contains("rebuild-index");
    assertThat(CliRun.of("rebuild-index", "--repo", dir.toString()).exit()).isZero();
    assertThat(CliRun.of("check", "--repo", dir.toString(), "--read-data").exit()).isZero();

    CliRun dry = CliRun.of("forget", "--repo", dir.toString(), "--keep-last", "1", "--dry-run");
    assertThat(dry.out()).contains("would forget " + first.substring(0, 12)).doesNotContain(third.substring(0, 12));
    assertThat(CliRun.of("forget", "--repo", dir.toString(), "--keep-last", "1").exit()).isZero();
    JsonNode pruned = JSON.readTree(CliRun.of("prune", "--repo", dir.toString(), "--json").out());
    assertThat(pruned.get("bytesAfter").asLong()).isLessThanOrEqualTo(pruned.get("bytesBefore").asLong());
    assertThat(CliRun.of("snapshots", "--repo", dir.toString()).out().lines().count()).isEqualTo(2);
    assertThat(CliRun.of("check", "--repo", dir.toString(), "--read-data").exit()).isZero();
    assertThat(CliRun.of("snapshots").exit()).as("no --repo").isEqualTo(2);
  }

  static SeekableByteChannel channel(byte[] data) {
    return dev.pluck.fs.ReadOnlyChannel.of(data);
  }


}
