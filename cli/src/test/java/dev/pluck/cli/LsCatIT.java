package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.testdata.OracleEntry;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code pluck ls -R --json} and {@code pluck cat} against the kernel's view of the same volume. */
class LsCatIT {

  @Test
  void recursiveJsonListingEqualsTheOracle() throws Exception {
    TestDisk disk = TestDisks.ext4Features();
    CliRun r = CliRun.of("ls", disk.image().toString(), "--volume", "disk", "-R", "--json");
    assertThat(r.exit()).as(r.err()).isZero();
    Map<String, JsonNode> ours = new HashMap<>();
    ObjectMapper json = new ObjectMapper();
    for (String line : r.out().lines().toList()) {
      JsonNode n = json.readTree(line);
      ours.put(n.get("path").asText(), n);
    }
    Map<String, OracleEntry> theirs = disk.oracle().filesByPath("disk");
    assertThat(ours.keySet()).containsExactlyInAnyOrderElementsOf(theirs.keySet());
    for (OracleEntry o : theirs.values()) {
      JsonNode n = ours.get(o.path());
      assertThat(n.get("type").asText()).isEqualTo(o.type());
      assertThat(Integer.parseInt(n.get("mode").asText(), 8)).isEqualTo(o.mode());
      Instant mtime = Instant.parse(n.get("mtime").asText());
      assertThat(mtime.getEpochSecond() * 1_000_000_000L + mtime.getNano()).as(o.path()).isEqualTo(o.mtimeNs());
      assertThat(n.get("xattrs").size()).isEqualTo(o.xattrs().size());
      if (o.target() != null) {
        assertThat(n.get("target").asText()).isEqualTo(o.target());
      }
    }
  }

  /** As a process, the JSON listing goes to stdout as UTF-8 bytes: the same bytes as through a writer, names beyond the BMP included. */
  @Test
  void processListingEqualsTheInProcessOne() throws Exception {
    TestDisk disk = TestDisks.ntfsFeatures4k();
    CliRun r = CliRun.of("ls", disk.image().toString(), "--volume", "disk", "-R", "--json", "--streams");
    assertThat(r.exit()).as(r.err()).isZero();
    Process p = new ProcessBuilder("java", "-Dpluck.home=" + Path.of("..").toAbsolutePath().normalize(), "-jar",
        Path.of("target/pluck.jar").toAbsolutePath().toString(), "ls", disk.image().toString(), "--volume", "disk", "-R", "--json",
        "--streams").redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(p.waitFor()).isZero();
    assertThat(out.lines().count()).isGreaterThan(100);
    assertThat(out).isEqualTo(r.out());
    assertThat(out).as("a name beyond the BMP, as itself").containsPattern("[\\x{10000}-\\x{10FFFF}]");
  }

  /** {@code ls --repo SNAPSHOT} prints what {@code ls} of the live volume printed, field for field (the swap file gains "swap"). */
  @Test
  void snapshotListingEqualsTheLiveOne(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.ext4Features();
    String repo = dir.resolve("repo").toString();
    assertThat(CliRun.of("init", "--repo", repo).exit()).isZero();
    CliRun b = CliRun.of("backup", "--repo", repo, disk.image().toString());
    assertThat(b.exit()).as(b.err()).isZero();
    for (List<String> args : List.of(List.of("-R", "--json"), List.of("/xattr"), List.of("/xattr", "--json"), List.of("/swapfile"))) {
      List<String> live = new java.util.ArrayList<>(List.of("ls", disk.image().toString(), "--volume", "disk"));
      live.addAll(args);
      List<String> snap = new java.util.ArrayList<>(List.of("ls", "--repo", repo, "latest", "--volume", "disk"));
      snap.addAll(args);
      CliRun a = CliRun.of(live.toArray(String[]::new));
      CliRun s = CliRun.of(snap.toArray(String[]::new));
      assertThat(s.exit()).as(s.err()).isZero();
      assertThat(s.out().lines().count()).as("%s", args).isEqualTo(a.out().lines().count()).isPositive();
      assertThat(s.out().lines().filter(l -> !l.contains("/swapfile")).toList()).as("%s", args)
          .isEqualTo(a.out().lines().filter(l -> !l.contains("/swapfile")).toList());
    }
    CliRun missing = CliRun.of("ls", "--repo", repo, "latest", "--volume", "disk", "/no/such");
    assertThat(missing.exit()).isEqualTo(1);
    assertThat(missing.err()).contains("/no/such");
  }

  @Test
  void catWritesTheFilesBytes() throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    OracleEntry file = disk.oracle().files("vg0/home").stream().filter(e -> e.isFile() && e.size() > 10_000).findFirst().orElseThrow();
    Process p = new ProcessBuilder("java", "-jar", java.nio.file.Path.of("target/pluck.jar").toAbsolutePath().toString(), "cat",
        disk.image().toString(), "--volume", "label=home", file.path()).start();
    byte[] bytes = p.getInputStream().readAllBytes();
    assertThat(p.waitFor()).isZero();
    assertThat(java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes))).isEqualTo(file.sha256());
    CliRun notFile = CliRun.of("cat", disk.image().toString(), "--volume", "p3", "/");
    assertThat(notFile.exit()).isEqualTo(1);
    assertThat(notFile.err()).contains("not a regular file");
    CliRun noVolume = CliRun.of("ls", disk.image().toString(), "--volume", "p9");
    assertThat(noVolume.err()).contains("no volume p9").contains("vg0/home");
  }

  @Test
  void crashCopyIsListedAfterItsJournalAndSaysSo() throws Exception {
    TestDisk disk = TestDisks.get("ext4-journal");
    CliRun r = CliRun.of("ls", disk.image().toString(), "--volume", "disk", "/after-crash");
    assertThat(r.exit()).as(r.err()).isZero();
    assertThat(r.out()).contains("new-00.bin", "moved-large.bin");
    assertThat(r.err()).contains("pluck: warning: ext4: replayed the journal in memory");
  }

  /** One flipped bit in an inode: a warning and the listing by default, exit 1 naming the inode with --strict. */
  @Test
  void strictTurnsAChecksumMismatchIntoAnError(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    TestDisk disk = TestDisks.ext4Features();
    OracleEntry o = disk.oracle().file("disk", "/modes/m0640");
    java.nio.file.Path copy = dir.resolve("damaged.img");
    dev.pluck.testdata.Tools.runOk("cp", "--sparse=always", disk.image().toString(), copy.toString());
    String stat = dev.pluck.testdata.Tools.runOk("debugfs", "-R", "imap <" + o.inode() + ">", copy.toString()).stdout();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("located at block (\\d+), offset 0x([0-9a-f]+)").matcher(stat);
    assertThat(m.find()).as(stat).isTrue();
    long at = Long.parseLong(m.group(1)) * 4096 + Long.parseLong(m.group(2), 16) + 0x2;  // i_uid
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(copy, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(new byte[] {0x77}), at);
    }
    CliRun lenient = CliRun.of("ls", copy.toString(), "--volume", "disk", "/modes");
    assertThat(lenient.exit()).as(lenient.err()).isZero();
    assertThat(lenient.out()).contains("m0640");
    assertThat(lenient.err()).contains("pluck: warning: ext4 inode " + o.inode()).contains("checksum mismatch");
    CliRun strict = CliRun.of("ls", copy.toString(), "--volume", "disk", "/modes", "--strict");
    assertThat(strict.exit()).isEqualTo(1);
    assertThat(strict.err().strip()).doesNotContain("\n").contains("inode " + o.inode()).contains("checksum mismatch");
  }

  /** NTFS through the CLI: streams listed and read by FILE:STREAM, no invented owners, the page file marked as swap. */
  @Test
  void ntfsStreamsAndSwapFiles() throws Exception {
    TestDisk disk = TestDisks.ntfsFeatures4k();
    OracleEntry file = disk.oracle().file("disk", "/streams/file.txt");
    CliRun r = CliRun.of("ls", disk.image().toString(), "--volume", "disk", "/streams", "--streams", "--json");
    assertThat(r.exit()).as(r.err()).isZero();
    ObjectMapper json = new ObjectMapper();
    JsonNode n = r.out().lines().map(l -> {
      try {
        return json.readTree(l);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }).filter(j -> j.get("path").asText().equals("/streams/file.txt")).findFirst().orElseThrow();
    assertThat(n.has("mode")).isFalse();
    assertThat(n.has("uid")).isFalse();
    Map<String, Long> streams = new HashMap<>();
    n.get("streams").forEach(s -> streams.put(s.get("name").asText(), s.get("size").asLong()));
    Map<String, Long> expected = new HashMap<>();
    file.streams().forEach((k, v) -> expected.put(k, v.size()));
    assertThat(streams).isEqualTo(expected);
    String name = file.streams().keySet().iterator().next();
    Process p = new ProcessBuilder("java", "-jar", java.nio.file.Path.of("target/pluck.jar").toAbsolutePath().toString(), "cat",
        disk.image().toString(), "--volume", "disk", "/streams/file.txt:" + name).start();
    byte[] bytes = p.getInputStream().readAllBytes();
    assertThat(p.waitFor()).isZero();
    assertThat(java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes)))
        .isEqualTo(file.streams().get(name).sha256());
    CliRun root = CliRun.of("ls", disk.image().toString(), "--volume", "disk", "/", "--json");
    JsonNode page = json.readTree(root.out().lines().filter(l -> l.contains("\"/pagefile.sys\"")).findFirst().orElseThrow());
    assertThat(page.get("attributes").toString()).contains("swap");
  }
}
