package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.testdata.FakeGuestAgent;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.QemuSystem;
import dev.pluck.testdata.TestQmp;
import dev.pluck.testdata.Tools;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Regenerates every transcript and command output of docs/PULL-BACKUP.md from real runs
 * (qemu-storage-daemon in backup-sync-none mode, a paused qemu-system-x86_64 guest in
 * copy-before-write mode) and fails when the committed ones drift from what pluck really sends and
 * QEMU really answers. The fresh ones are left in {@code cli/target/transcripts/} to copy from.
 */
class PullBackupTranscriptIT {
  private static final Path DOC = Path.of("../docs/PULL-BACKUP.md");
  private static final Path FRESH = Path.of("target/transcripts");
  private static final long BLOCK = 4096;

  @TempDir Path tmp;
  private final Map<String, List<String>> generated = new LinkedHashMap<>();
  private Map<String, String> placeholders;
  private String qga;

  @Test
  void theDocumentsTranscriptsAreWhatPluckSendsAndQemuAnswers() throws Exception {
    placeholders = Map.of(tmp.toString(), "$TMP");
    Path raw = tmp.resolve("guest.raw");
    long bigFileBlock = buildGuestDisk(raw);
    // 64 KiB in the middle of /docs/big.bin (contiguous, as mkfs -d writes it), on one 64 KiB bitmap granule.
    long overwrite = ((bigFileBlock * BLOCK + (256 << 10)) + 0xffff) & ~0xffffL;
    Path repo = tmp.resolve("repo");
    assertThat(CliRun.of("init", "--repo", repo.toString()).exit()).isZero();

    Path qsdImage = tmp.resolve("qsd.qcow2");
    Tools.runOk("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw.toString(), qsdImage.toString());
    try (QemuStorageDaemon qsd = QemuStorageDaemon.start(qsdImage, "qcow2", List.of())) {
      String qmp = qsd.qmpSocket().toString();
      Path fuse = qsd.exportFuse("guest");

      JsonNode first = backup("sync-none-first", qmp, repo, "backup");
      assertThat(first.get("checkpoint").asText()).isEqualTo("pluck-backup-1");
      checkpoints("chains-after-first-backup", qmp);
      JsonNode replica = backup(null, qmp, repo, "replication");
      assertThat(replica.get("checkpoint").asText()).isEqualTo("pluck-replication-1");
      checkpoints("chains-after-second-chain", qmp);

      // The guest overwrites 64 KiB in the middle of /docs/big.bin.
      write(fuse, overwrite, 64 << 10);
      checkpoints("chains-after-a-write", qmp);
      JsonNode incremental = backup("sync-none-incremental", qmp, repo, "backup");
      assertThat(incremental.get("since").asText()).isEqualTo("pluck-backup-1");
      assertThat(incremental.get("bytesRead").get("data").asLong()).isEqualTo(64 << 10);
      checkpoints("chains-after-incremental", qmp);

      // A view of the replication chain that fails: the new bitmap merges back into the old.
      Path failTrace = tmp.resolve("fail.jsonl");
      Process export = pluck("vm", "export", "--qmp", qmp, "--drive", "disk0", "--chain", "replication", "--scratch",
          tmp.resolve("scratch").toString(), "--until-stdin-closes", "--fail", "--json", "--trace-qmp", failTrace.toString());
      JsonNode view = firstLine(export);
      assertThat(view.at("/drives/0/bitmap").asText()).isEqualTo("pluck-replication-2");
      write(fuse, overwrite + (1 << 20), 64 << 10);  // the guest writes while the view is open
      checkpoints("chains-during-a-view", qmp);
      export.getOutputStream().close();
      assertThat(export.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(export.exitValue()).isZero();
      generated.put("sync-none-failed", QmpTranscript.render(failTrace, placeholders));
      checkpoints("chains-after-failed-view", qmp);

      // A pluck killed with its view open; vm cleanup ends that view as failed.
      Process killed = pluck("vm", "export", "--qmp", qmp, "--drive", "disk0", "--chain", "backup", "--scratch",
          tmp.resolve("scratch").toString(), "--until-stdin-closes", "--json");
      firstLine(killed);
      write(fuse, overwrite + (2 << 20), 64 << 10);
      killed.destroyForcibly();
      assertThat(killed.waitFor(30, TimeUnit.SECONDS)).isTrue();
      checkpoints("chains-after-kill", qmp);
      Path cleanupTrace = tmp.resolve("cleanup.jsonl");
      CliRun cleanup = CliRun.of("vm", "cleanup", "--qmp", qmp, "--scratch", tmp.resolve("scratch").toString(),
          "--trace-qmp", cleanupTrace.toString());
      assertThat(cleanup.exit()).as(cleanup.err()).isZero();
      generated.put("cleanup", QmpTranscript.render(cleanupTrace, placeholders));
      generated.put("cleanup-output", cleanup.out().lines().map(l -> QmpTranscript.normalize(l, placeholders)).toList());
      checkpoints("chains-after-cleanup", qmp);
      try (TestQmp check = new TestQmp(qsd.qmpSocket())) {
        assertThat(check.execute("query-block-exports").size()).isEqualTo(1);  // only the test's own FUSE export
        assertThat(check.execute("query-jobs").size()).isZero();
      }
    }

    Path guestImage = tmp.resolve("guest.qcow2");
    Tools.runOk("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw.toString(), guestImage.toString());
    try (QemuSystem vm = QemuSystem.startPaused(guestImage, "qcow2", QemuSystem.Bus.VIRTIO_BLK, List.of());
        FakeGuestAgent agent = new FakeGuestAgent(tmp, false)) {
      // A paused guest runs no agent: FakeGuestAgent answers the freeze as qemu-ga does.
      String qmp = vm.qmpSocket().toString();
      qga = agent.socket().toString();
      Path guestRepo = tmp.resolve("repo-guest");
      assertThat(CliRun.of("init", "--repo", guestRepo.toString()).exit()).isZero();
      JsonNode full = backupOf(null, qmp, "vda", guestRepo, "backup");
      assertThat(full.get("checkpoint").asText()).isEqualTo("pluck-backup-1");
      try (TestQmp hmp = new TestQmp(vm.qmpSocket())) {
        hmp.execute("human-monitor-command", "{\"command-line\":\"qemu-io -d /machine/peripheral/vda/virtio-backend \\\"write -P 0x5a "
            + overwrite + " 64k\\\"\"}");
      }
      JsonNode incremental = backupOf("cbw-incremental", qmp, "vda", guestRepo, "backup");
      assertThat(generated.get("cbw-incremental")).anyMatch(l -> l.contains("\"driver\":\"copy-before-write\""));
      assertThat(incremental.get("bytesRead").get("data").asLong()).isEqualTo(64 << 10);
    }

    Files.createDirectories(FRESH);
    for (Map.Entry<String, List<String>> g : generated.entrySet()) {
      Files.write(FRESH.resolve(g.getKey() + ".txt"), g.getValue());
    }
    Map<String, String> committed = QmpTranscript.blocks(Files.readString(DOC));
    assertThat(committed.keySet()).as("generated blocks in " + DOC).containsExactlyInAnyOrderElementsOf(generated.keySet());
    for (Map.Entry<String, List<String>> g : generated.entrySet()) {
      assertThat(QmpTranscript.comparable(committed.get(g.getKey())))
          .as("block %s of %s drifted from a real run (the fresh one is %s)", g.getKey(), DOC, FRESH.resolve(g.getKey() + ".txt"))
          .containsExactlyElementsOf(QmpTranscript.comparable(String.join("\n", g.getValue())));
    }
  }

  /** A 32 MiB ext4 with a few files, the same every run (fixed UUID and hash seed); returns the first block of /docs/big.bin. */
  private long buildGuestDisk(Path raw) throws Exception {
    Path tree = Files.createDirectories(tmp.resolve("tree/docs"));
    Files.writeString(tree.resolve("report.txt"), "quarterly report\n");
    byte[] big = new byte[4 << 20];
    new Random(7).nextBytes(big);
    Files.write(tree.resolve("big.bin"), big);
    Files.createDirectories(tmp.resolve("tree/etc"));
    Files.writeString(tmp.resolve("tree/etc/hostname"), "web1\n");
    Tools.runOk("truncate", "-s", "32M", raw.toString());
    Tools.runOk("mkfs.ext4", "-q", "-b", "4096", "-L", "root", "-U", "2b1e5c34-7a35-4e55-9a7c-0d6f3d1f6c11",
        "-E", "hash_seed=7c1c8a3e-1b4f-4b0e-8f0b-6d55a1b2c3d4", "-d", tmp.resolve("tree").toString(), raw.toString());
    String bmap = Tools.runOk("debugfs", "-R", "bmap /docs/big.bin 0", raw.toString()).stdout().strip();
    return Long.parseLong(bmap);
  }

  private JsonNode backup(String name, String qmp, Path repo, String chain) throws Exception {
    return backupOf(name, qmp, "disk0", repo, chain);
  }

  private JsonNode backupOf(String name, String qmp, String drive, Path repo, String chain) throws Exception {
    Path trace = tmp.resolve((name == null ? "untold-" + chain : name) + ".jsonl");
    List<String> args = new ArrayList<>(List.of("vm", "backup", "--qmp", qmp, "--drive", drive, "--repo", repo.toString(), "--vm", "web1",
        "--chain", chain, "--volume", "disk", "--include", "/docs/**", "--scratch", tmp.resolve("scratch").toString(),
        "--json", "--trace-qmp", trace.toString()));
    if (qga != null) {
      args.addAll(List.of("--qga", qga));
    }
    CliRun run = CliRun.of(args.toArray(String[]::new));
    assertThat(run.exit()).as(run.err()).isZero();
    if (name != null) {
      generated.put(name, QmpTranscript.render(trace, placeholders));
    }
    return new ObjectMapper().readTree(run.out());
  }

  private void checkpoints(String name, String qmp) {
    CliRun run = CliRun.of("vm", "checkpoints", "--qmp", qmp);
    assertThat(run.exit()).as(run.err()).isZero();
    generated.put(name, run.out().lines().toList());
  }

  private static void write(Path fuse, long offset, int length) throws Exception {
    byte[] bytes = new byte[length];
    new Random(offset).nextBytes(bytes);
    try (FileChannel ch = FileChannel.open(fuse, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(bytes), offset);
      ch.force(false);
    }
  }

  private static Process pluck(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("java", "-jar", Path.of("target/pluck.jar").toAbsolutePath().toString()));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
  }

  private static JsonNode firstLine(Process p) throws Exception {
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line = out.readLine();
    assertThat(line).as("the view's first line").isNotNull();
    return new ObjectMapper().readTree(line);
  }
}
