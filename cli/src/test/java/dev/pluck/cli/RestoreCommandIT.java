package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.testdata.OracleEntry;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pluck restore}: guest paths through the mounts the snapshot recorded, volume paths with
 * --volume, the JSON result, exit 3 for what could not be restored, usage errors.
 */
class RestoreCommandIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void guestPathsAndVolumePaths(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    String repo = dir.resolve("repo").toString();
    assertThat(CliRun.of("init", "--repo", repo).exit()).isZero();
    CliRun b = CliRun.of("backup", "--repo", repo, "--json", "--vm", "web1", "--include", "/home/**", "--include", "/etc/**",
        disk.image().toString());
    assertThat(b.exit()).as(b.err()).isZero();

    // A guest path: the home LV (vg0/home, mounted at /home in the guest's fstab) below target/home.
    Path target = dir.resolve("t1");
    CliRun r = CliRun.of("restore", "--repo", repo, "latest", "/home", "--target", target.toString(), "--json");
    assertThat(r.exit()).as(r.err() + r.out()).isZero();
    JsonNode res = JSON.readTree(r.out());
    int checked = 0;
    for (OracleEntry o : disk.oracle().files("vg0/home")) {
      if (!o.type().equals("file") || o.path().startsWith("/lost+found")) {
        continue;
      }
      Path p = target.resolve("home").resolve(o.path().substring(1));
      assertThat(Tools.runOk("sha256sum", p.toString()).stdout()).as(o.path()).contains(o.sha256());
      checked++;
    }
    assertThat(checked).isPositive();
    assertThat(res.get("files").asLong() + res.get("hardlinks").asLong()).as("files and their other links").isEqualTo(checked);
    assertThat(Files.exists(target.resolve("etc"))).as("only what was asked for").isFalse();

    // One file by its path inside the volume.
    OracleEntry one = disk.oracle().files("vg0/home").stream().filter(o -> o.type().equals("file") && o.sha256() != null
        && !o.path().contains("\n")).findFirst().orElseThrow();
    Path t2 = dir.resolve("t2");
    CliRun v = CliRun.of("restore", "--repo", repo, "latest", "--volume", "vg0/home", one.path(), "--target", t2.toString());
    assertThat(v.exit()).as(v.err()).isZero();
    assertThat(v.out()).contains("restored 1 file (");
    assertThat(Tools.runOk("sha256sum", t2.resolve(one.path().substring(1)).toString()).stdout()).contains(one.sha256());

    // find: every version of a path, by guest path, in each snapshot holding it.
    assertThat(CliRun.of("backup", "--repo", repo, "--vm", "web1", "--include", "/home/**", disk.image().toString()).exit()).isZero();
    CliRun f = CliRun.of("find", "--repo", repo, "--json", "/home" + one.path());
    assertThat(f.exit()).as(f.err()).isZero();
    List<JsonNode> versions = f.out().lines().map(l -> {
      try {
        return JSON.readTree(l);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }).toList();
    assertThat(versions).hasSize(2);
    assertThat(versions).allSatisfy(n -> {
      assertThat(n.get("volume").asText()).isEqualTo("vg0/home");
      assertThat(n.get("size").asLong()).isEqualTo(one.size());
    });
    assertThat(versions.stream().map(n -> n.get("snapshot").asText()).distinct().count()).isEqualTo(2);
    long underHome = disk.oracle().files("vg0/home").stream().filter(o -> !o.path().equals("/")).count();
    CliRun all = CliRun.of("find", "--repo", repo, "--snapshot", "latest", "--json", "/home/**");
    assertThat(all.out().lines().count()).as("every entry below /home in the latest snapshot").isEqualTo(underHome);
    assertThat(CliRun.of("find", "--repo", repo, "--volume", "vg0/home", one.path()).out().lines().count()).isEqualTo(2);

    // A path the snapshot does not hold: listed, exit 3; usage errors: exit 2.
    CliRun missing = CliRun.of("restore", "--repo", repo, "latest", "/home/nobody/here", "--target", dir.resolve("t3").toString());
    assertThat(missing.exit()).isEqualTo(3);
    assertThat(missing.out()).contains("could not restore /home/nobody/here");
    assertThat(CliRun.of("restore", "--repo", repo, "latest", "--target", dir.resolve("t4").toString(), "--overwrite", "maybe").exit())
        .isEqualTo(2);
    assertThat(CliRun.of("restore", "--repo", repo, "latest", "--volume", "p9", "--target", dir.resolve("t5").toString()).exit())
        .isEqualTo(2);
  }

  /** --volume with --image, --whole-disk with --nbd onto a writable qemu-nbd export, and what each refuses. */
  @Test
  void volumeAndWholeDiskImages(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.mbrLogical();
    String repo = dir.resolve("repo").toString();
    assertThat(CliRun.of("init", "--repo", repo).exit()).isZero();
    CliRun b = CliRun.of("backup", "--repo", repo, "--mode", "disk", disk.image().toString());
    assertThat(b.exit()).as(b.err()).isZero();
    String ext4 = disk.oracle().volumes().stream().filter(v -> v.fsType().equals("ext4")).findFirst().orElseThrow().id();

    Path image = dir.resolve("vol.img");
    CliRun v = CliRun.of("restore", "--repo", repo, "latest", "--volume", ext4, "--image", image.toString(), "--json");
    assertThat(v.exit()).as(v.err()).isZero();
    JsonNode res = JSON.readTree(v.out());
    assertThat(res.get("size").asLong()).isEqualTo(Files.size(image));
    assertThat(res.get("bytesWritten").asLong()).isPositive().isLessThan(Files.size(image));
    assertThat(Tools.run(java.time.Duration.ofMinutes(1), List.of("e2fsck", "-fn", image.toString())).exitCode()).isZero();
    CliRun again = CliRun.of("restore", "--repo", repo, "latest", "--volume", ext4, "--image", image.toString());
    assertThat(again.exit()).as("an existing file is not written over").isEqualTo(1);
    assertThat(again.err()).contains("--overwrite always");
    assertThat(CliRun.of("restore", "--repo", repo, "latest", "--volume", ext4, "--image", image.toString(), "--overwrite", "always")
        .exit()).isZero();

    Path raw = dir.resolve("disk.raw");
    Tools.runOk("truncate", "-s", Long.toString(Files.size(disk.image())), raw.toString());
    try (dev.pluck.testdata.QemuNbd nbd = dev.pluck.testdata.QemuNbd.serve(raw, "raw", false, "", List.of())) {
      CliRun w = CliRun.of("restore", "--repo", repo, "latest", "--whole-disk", "--nbd", nbd.uri());
      assertThat(w.exit()).as(w.err()).isZero();
      assertThat(w.out()).contains("restored 1 disk to ");
    }
    assertThat(Tools.runOk("sfdisk", "--dump", raw.toString()).stdout().replace(raw.toString(), "X"))
        .isEqualTo(Tools.runOk("sfdisk", "--dump", disk.image().toString()).stdout().replace(disk.image().toString(), "X"));

    assertThat(CliRun.of("restore", "--repo", repo, "latest", "--image", dir.resolve("x").toString()).exit()).as("no volume").isEqualTo(2);
    assertThat(CliRun.of("restore", "--repo", repo, "latest", "--whole-disk", "--target", dir.resolve("y").toString()).exit())
        .isEqualTo(2);
    assertThat(CliRun.of("restore", "--repo", repo, "latest", "--whole-disk", "--image", dir.resolve("a").toString(), "--image",
        dir.resolve("b").toString()).exit()).as("one disk, two targets").isEqualTo(2);
  }

  /** --tar FILE and --tar - (through the jar, piped into GNU tar): guest paths, the same members either way. */
  @Test
  void tarStreams(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    String repo = dir.resolve("repo").toString();
    assertThat(CliRun.of("init", "--repo", repo).exit()).isZero();
    assertThat(CliRun.of("backup", "--repo", repo, "--include", "/home/**", disk.image().toString()).exit()).isZero();
    Path file = dir.resolve("home.tar");
    CliRun t = CliRun.of("restore", "--repo", repo, "latest", "/home", "--tar", file.toString(), "--json");
    assertThat(t.exit()).as(t.err()).isZero();
    JsonNode res = JSON.readTree(t.out());
    List<String> members = Tools.runOk("tar", "-tf", file.toString()).stdout().lines().toList();
    assertThat(members).hasSize(res.get("entries").asInt()).allMatch(m -> m.startsWith("home/"));
    long files = disk.oracle().files("vg0/home").stream().filter(o -> o.type().equals("file") && !o.path().startsWith("/lost+found")
        || o.path().equals("/lost+found")).count();
    assertThat(res.get("files").asLong()).isLessThanOrEqualTo(files).isPositive();
    assertThat(CliRun.of("restore", "--repo", repo, "latest", "/home", "--tar", file.toString()).exit()).as("exists").isEqualTo(1);

    Path out = dir.resolve("x");
    java.nio.file.Files.createDirectories(out);
    String jar = Path.of("target/pluck.jar").toAbsolutePath().toString();
    Tools.Result piped = Tools.run(java.time.Duration.ofMinutes(2), List.of("bash", "-o", "pipefail", "-c", "java -jar " + jar
        + " restore --repo " + repo + " latest /home --tar - | tar --numeric-owner -xpf - -C " + out));
    assertThat(piped.exitCode()).as(piped.stderr()).isZero();
    assertThat(piped.stderr()).as("the summary goes to stderr").contains("wrote " + res.get("entries").asLong() + " entries");
    OracleEntry one = disk.oracle().files("vg0/home").stream().filter(o -> o.type().equals("file") && o.sha256() != null
        && !o.path().contains("\n")).findFirst().orElseThrow();
    assertThat(Tools.runOk("sha256sum", out.resolve("home" + one.path()).toString()).stdout()).contains(one.sha256());
  }

  /** Through a pseudo-terminal (script), a restore draws its progress on stderr; piped, it draws none. */
  @Test
  void progressOnATerminalOnly(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.ext4Features();
    String repo = dir.resolve("repo").toString();
    assertThat(CliRun.of("init", "--repo", repo).exit()).isZero();
    assertThat(CliRun.of("backup", "--repo", repo, disk.image().toString()).exit()).isZero();
    String launcher = Path.of("../pluck").toAbsolutePath().normalize().toString();
    String command = launcher + " restore --repo " + repo + " latest --target ";
    Tools.Result tty = Tools.run(java.time.Duration.ofMinutes(2), List.of("env", "TERM=xterm", "script", "-qec",
        command + dir.resolve("t1") + " >/dev/null", "/dev/null"));
    assertThat(tty.exitCode()).as(tty.stdout()).isZero();
    assertThat(tty.stdout()).as("script's terminal shows stderr").contains("restore ").contains(" written, ").contains(" entries");
    Tools.Result quiet = Tools.run(java.time.Duration.ofMinutes(2), List.of("env", "TERM=xterm", "script", "-qec",
        launcher + " restore -q --repo " + repo + " latest --target " + dir.resolve("t3") + " >/dev/null", "/dev/null"));
    assertThat(quiet.exitCode()).isZero();
    assertThat(quiet.stdout()).as("-q: no progress on a terminal").doesNotContain(" written, ");
    Tools.Result piped = Tools.run(java.time.Duration.ofMinutes(2), List.of("bash", "-c", command + dir.resolve("t2") + " 2>&1 >/dev/null"));
    assertThat(piped.exitCode()).isZero();
    assertThat(piped.stdout()).as("no terminal, no progress").doesNotContain(" written, ");
    Tools.Result check = Tools.run(java.time.Duration.ofMinutes(2), List.of("env", "TERM=xterm", "script", "-qec",
        launcher + " check --repo " + repo + " --read-data >/dev/null", "/dev/null"));
    assertThat(check.exitCode()).isZero();
    assertThat(check.stdout()).as("check --read-data on a terminal").contains("check ").contains(" read, ").contains(" chunks");
    assertThat(CliRun.of("forget", "--repo", repo, "latest").exit()).isZero();
    Tools.Result prune = Tools.run(java.time.Duration.ofMinutes(2), List.of("env", "TERM=xterm", "script", "-qec",
        launcher + " prune --repo " + repo + " >/dev/null", "/dev/null"));
    assertThat(prune.exitCode()).isZero();
    assertThat(prune.stdout()).as("prune on a terminal").contains("prune ").contains(" repacked, ").contains("deleting: ");
    Tools.Result prunePiped = Tools.run(java.time.Duration.ofMinutes(2), List.of("bash", "-c", launcher + " prune --repo " + repo
        + " 2>&1 >/dev/null"));
    assertThat(prunePiped.exitCode()).isZero();
    assertThat(prunePiped.stdout()).as("no terminal, no progress").isEmpty();
  }
}
