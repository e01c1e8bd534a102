package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.testdata.LibvirtDomain;
import dev.pluck.testdata.OracleEntry;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pluck vm backup --libvirt}: a domain a real libvirtd runs, backed up by guest path
 * twice through libvirt's checkpoints, the second reading nothing when nothing it takes changed;
 * a file restored from the first equals the oracle.
 */
class LibvirtCommandIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void guestPathsThroughLibvirt(@TempDir Path dir) throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    String repo = dir.resolve("repo").toString();
    assertThat(CliRun.of("init", "--repo", repo).exit()).isZero();
    try (LibvirtDomain vm = LibvirtDomain.start(disk.image(), dir)) {
      CliRun first = CliRun.of("vm", "backup", "--libvirt", vm.name(), "--repo", repo, "--include", "/home/**", "--json");
      assertThat(first.exit()).as(first.err()).isZero();
      JsonNode a = JSON.readTree(first.out());
      assertThat(a.get("checkpoint").asText()).isEqualTo("pluck-backup-1");
      assertThat(a.get("since").isNull()).isTrue();

      // A write the selection does not take (the swap partition): the incremental reads no data.
      long swap = disk.oracle().volumes().stream().filter(v -> v.fsType().equals("swap") && v.segments().isEmpty()).findFirst()
          .orElseThrow().offset();
      vm.write(0x11, swap + (1 << 20), 65536);
      CliRun second = CliRun.of("vm", "backup", "--libvirt", vm.name(), "--repo", repo, "--include", "/home/**", "--json");
      assertThat(second.exit()).as(second.err()).isZero();
      JsonNode b = JSON.readTree(second.out());
      assertThat(b.get("since").asText()).isEqualTo("pluck-backup-1");
      assertThat(b.get("checkpoint").asText()).isEqualTo("pluck-backup-2");
      assertThat(b.at("/bytesRead/data").asLong()).isZero();
      assertThat(vm.virsh("checkpoint-list", "--name", vm.name()).strip()).isEqualTo("pluck-backup-2");

      OracleEntry one = disk.oracle().files("vg0/home").stream().filter(o -> o.type().equals("file") && o.sha256() != null
          && !o.path().contains("\n")).findFirst().orElseThrow();
      Path target = dir.resolve("r");
      CliRun r = CliRun.of("restore", "--repo", repo, a.get("snapshot").asText().substring(0, 12), "/home" + one.path(), "--target",
          target.toString());
      assertThat(r.exit()).as(r.err()).isZero();
      assertThat(Tools.runOk("sha256sum", target.resolve("home" + one.path()).toString()).stdout()).contains(one.sha256());

      // A pluck killed mid-read (kill -9) leaves libvirt's job and its new checkpoint: vm cleanup ends the job and merges it back.
      java.nio.file.Path jobs = java.nio.file.Path.of("/var/lib/libvirt/qemu/pluck");
      Process p = new ProcessBuilder("java", "-jar", Path.of("target/pluck.jar").toAbsolutePath().toString(), "vm", "backup", "--libvirt",
          vm.name(), "--repo", repo, "--mode", "disk", "--limit-read", "1M").redirectErrorStream(true)
          .redirectOutput(dir.resolve("killed.out").toFile()).start();
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (!vm.virsh("checkpoint-list", "--name", vm.name()).contains("pluck-backup-3") && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      Thread.sleep(1000);  // reading now, at 1 MiB/s
      p.destroyForcibly();
      p.waitFor();
      assertThat(CliRun.of("vm", "checkpoints", "--libvirt", vm.name()).out()).contains("pluck-backup-3").contains("pluck-backup-2");
      CliRun cleanup = CliRun.of("vm", "cleanup", "--libvirt", vm.name(), "--json");
      assertThat(cleanup.exit()).as(cleanup.err()).isZero();
      assertThat(cleanup.out()).contains("merged back into pluck-backup-2");
      assertThat(vm.virsh("checkpoint-list", "--name", vm.name()).strip()).isEqualTo("pluck-backup-2");
      try (var left = java.nio.file.Files.list(jobs)) {
        assertThat(left.map(f -> f.getFileName().toString()).filter(n -> n.contains(vm.name()))).as("nothing of the job left").isEmpty();
      }
      CliRun third = CliRun.of("vm", "backup", "--libvirt", vm.name(), "--repo", repo, "--include", "/home/**", "--json");
      assertThat(third.exit()).as(third.err()).isZero();
      assertThat(JSON.readTree(third.out()).get("since").asText()).isEqualTo("pluck-backup-2");

      // vm export --libvirt: libvirt's export with the chain's bitmap, served until stdin closes, then ended as a success.
      Process export = new ProcessBuilder("java", "-jar", Path.of("target/pluck.jar").toAbsolutePath().toString(), "vm", "export",
          "--libvirt", vm.name(), "--until-stdin-closes", "--json").redirectError(ProcessBuilder.Redirect.INHERIT).start();
      JsonNode view = JSON.readTree(new java.io.BufferedReader(new java.io.InputStreamReader(export.getInputStream())).readLine());
      assertThat(view.get("since").asText()).isEqualTo("pluck-backup-3");
      JsonNode vda = view.get("drives").get(0);
      assertThat(vda.get("context").asText()).isEqualTo("qemu:dirty-bitmap:backup-vda");
      String map = Tools.runOk("nbdinfo", "--map=" + vda.get("context").asText(), vda.get("uri").asText()).stdout();
      assertThat(map).as("nothing written since the last backup").doesNotContain("dirty");
      assertThat(Tools.runOk("nbdinfo", "--size", vda.get("uri").asText()).stdout().strip()).isEqualTo(
          Long.toString(java.nio.file.Files.size(disk.image())));
      export.getOutputStream().close();
      assertThat(export.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      assertThat(export.exitValue()).isZero();
      assertThat(vm.virsh("checkpoint-list", "--name", vm.name()).strip()).isEqualTo("pluck-backup-4");

      assertThat(CliRun.of("vm", "backup", "--repo", repo).exit()).as("no --qmp or --libvirt").isEqualTo(2);
      CliRun none = CliRun.of("vm", "backup", "--libvirt", "no-such-domain-" + ProcessHandle.current().pid(), "--repo", repo);
      assertThat(none.exit()).isEqualTo(1);
      assertThat(none.err()).contains("no domain").doesNotContain("\n\n");
    }
  }
}
