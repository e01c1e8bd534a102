package dev.pluck.restore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.engine.Backup;
import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.Config;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tar streams checked by their reader: GNU tar extracts them (as root, with --xattrs, --acls and
 * --numeric-owner) into a tree that equals the oracle of the image in every field a directory
 * restore is checked on; a hostile catalog's names never make it into the archive.
 */
class TarRestoreIT {
  @TempDir Path tmp;

  @Test
  void gnuTarExtractsEverythingTheFilesystemRecorded() throws Exception {
    TestDisk disk = TestDisks.ext4Features();
    Path archive = tmp.resolve("snapshot.tar");
    List<String> notes = new ArrayList<>();
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"));
        BlockDevice img = FileBlockDevice.open(disk.image())) {
      Backup.Result b = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), DirectoryRestoreIT.files());
      Snapshot s = repo.snapshot(b.snapshot());
      try (OutputStream out = Files.newOutputStream(archive)) {
        TarRestore.Result r = TarRestore.write(repo, s, List.of(new TarRestore.Part(s.volumes().get(0), List.of(), "")), out);
        assertThat(r.failed()).isEmpty();
        assertThat(r.files()).isPositive();
        notes.addAll(r.notes());
      }
    }
    assertThat(Files.size(archive) % 10240).as("whole tar records").isZero();
    Path target = tmp.resolve("extracted");
    Files.createDirectories(target);
    long start0 = System.nanoTime();
    Tools.Result x = Tools.run(Duration.ofMinutes(2), List.of("tar", "--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner",
        "--same-permissions", "-xf", archive.toString(), "-C", target.toString()));
    assertThat(x.exitCode()).as(x.stderr()).isZero();
    System.err.printf("extracted in %.1f s%n", (System.nanoTime() - start0) / 1e9);
    // The image holds times tar finds odd on purpose (before 1970, in 2040): it says so, and sets them.
    assertThat(x.stderr().lines().filter(l -> !l.contains("time stamp")).toList()).as("GNU tar's complaints").isEmpty();
    long start = System.nanoTime();
    DirectoryRestoreIT.assertRestoredEqualsTheOracle(disk, target, tmp, notes, true);
    System.err.printf("compared in %.1f s%n", (System.nanoTime() - start) / 1e9);
    // bsdtar (libarchive), an independent reader, lists the same members.
    Tools.Result gnu = Tools.runOk("tar", "-tf", archive.toString());
    Tools.Result bsd = Tools.run(Duration.ofMinutes(1), List.of("bsdtar", "-tf", archive.toString()));
    assertThat(bsd.exitCode()).as(bsd.stderr()).isZero();
    assertThat(bsd.stdout().lines().sorted().toList()).isEqualTo(gnu.stdout().lines().sorted().toList());
  }

  @Test
  void aHostileCatalogStaysOutOfTheArchive() throws Exception {
    Path archive = tmp.resolve("hostile.tar");
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"))) {
      byte[] data = "payload".getBytes();
      String chunk = repo.put(data, 0, data.length).hex();
      Catalog.Writer w = new Catalog.Writer(repo);
      w.add(DirectoryRestoreIT.entry("/", "dir", 0, null, null));
      w.add(DirectoryRestoreIT.entry("/../escape", "file", data.length, List.of(chunk), null));
      w.add(DirectoryRestoreIT.entry("/ok/../../escape2", "file", data.length, List.of(chunk), null));
      w.add(DirectoryRestoreIT.entry("/nul\0name", "file", data.length, List.of(chunk), null));
      w.add(DirectoryRestoreIT.entry("/link", "symlink", 0, null, "/etc"));
      w.add(DirectoryRestoreIT.entry("/link/planted", "file", data.length, List.of(chunk), null));
      w.add(DirectoryRestoreIT.entry("/" + "long-name-".repeat(30) + "é", "file", data.length, List.of(chunk), null));
      w.add(DirectoryRestoreIT.entry("/fine", "file", data.length, List.of(chunk), null));
      Snapshot.Volume v = new Snapshot.Volume("p1", "ext4", "files", w.finish(), w.entries(), data.length, 0, 0, null);
      Snapshot s = repo.snapshot(repo.commit(new Snapshot(null, Config.FORMAT, Instant.now().toString(), "h",
          new Snapshot.Source("vm", List.of("0"), List.of()), List.of(), true, List.of(), null, "backup", null, Map.of(),
          repo.config().chunkSize(), List.of(v))));
      TarRestore.Result r;
      try (OutputStream out = Files.newOutputStream(archive)) {
        r = TarRestore.write(repo, s, List.of(new TarRestore.Part(v, List.of(), "")), out);
      }
      assertThat(r.failed()).extracting(DirectoryRestore.Failure::path).containsExactlyInAnyOrder("/../escape", "/ok/../../escape2",
          "/nul\\0name", "/link/planted");
    }
    List<String> members = Tools.runOk("tar", "-tf", archive.toString()).stdout().lines().toList();
    assertThat(members).containsExactlyInAnyOrder("link", "long-name-".repeat(30) + "é", "fine");
  }
}
