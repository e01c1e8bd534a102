package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code pluck diff} of two backups of one ext4, changed in between by the kernel's driver. */
class DiffCommandIT {
  @Test
  void addedRemovedModifiedAndMetadataOnly(@TempDir Path dir) throws Exception {
    Path tree = Files.createDirectories(dir.resolve("tree/docs"));
    Files.writeString(tree.resolve("keep.txt"), "the same");
    Files.writeString(tree.resolve("edit.txt"), "before");
    Files.writeString(tree.resolve("chmod.txt"), "mode changes");
    Files.writeString(tree.resolve("gone.txt"), "deleted later");
    Files.writeString(tree.resolve("old-name.txt"), "renamed later");
    Path image = dir.resolve("disk.img");
    Tools.runOk("truncate", "-s", "32M", image.toString());
    Tools.runOk("mkfs.ext4", "-q", "-F", "-d", dir.resolve("tree").toString(), image.toString());
    String repo = dir.resolve("repo").toString();
    assertThat(CliRun.of("init", "--repo", repo).exit()).isZero();
    assertThat(CliRun.of("backup", "--repo", repo, "--vm", "d", "--tag", "before", image.toString()).exit()).isZero();

    Path mnt = Files.createDirectories(dir.resolve("mnt"));
    Tools.runOk("mount", "-o", "loop", image.toString(), mnt.toString());
    try {
      Files.writeString(mnt.resolve("docs/edit.txt"), "after!");
      Tools.runOk("chmod", "0600", mnt.resolve("docs/chmod.txt").toString());
      Files.delete(mnt.resolve("docs/gone.txt"));
      Files.move(mnt.resolve("docs/old-name.txt"), mnt.resolve("docs/new-name.txt"));
      Files.writeString(mnt.resolve("docs/new.txt"), "added");
    } finally {
      Tools.runOk("umount", mnt.toString());
    }
    assertThat(CliRun.of("backup", "--repo", repo, "--vm", "d", image.toString()).exit()).isZero();

    CliRun d = CliRun.of("diff", "--repo", repo, "latest:before", "latest");
    assertThat(d.exit()).as(d.err()).isZero();
    List<String> lines = d.out().lines().toList();
    assertThat(lines).contains("M disk:/docs/edit.txt", "U disk:/docs/chmod.txt", "- disk:/docs/gone.txt", "- disk:/docs/old-name.txt",
        "+ disk:/docs/new-name.txt", "+ disk:/docs/new.txt");
    assertThat(lines).noneMatch(l -> l.contains("keep.txt"));
    assertThat(lines).anyMatch(l -> l.startsWith("U disk:/docs") || l.equals("U disk:/docs"));  // the folder's mtime changed
    CliRun j = CliRun.of("diff", "--repo", repo, "latest:before", "latest", "--json");
    assertThat(j.out()).contains("{\"change\":\"modified\",\"volume\":\"disk\",\"path\":\"/docs/edit.txt\",\"type\":\"file\"}");
    assertThat(CliRun.of("diff", "--repo", repo, "latest", "latest").out().lines().toList())
        .containsExactly("0 added, 0 removed, 0 modified, 0 with changed metadata");
  }
}
