package dev.pluck.restore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.engine.Backup;
import dev.pluck.engine.repo.Config;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.Tools;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest filesystem made hostile by hand: mkfs.ext4 and debugfs -w write ordinary entries, then
 * the test edits directory entries in the image's bytes (no checksums to betray it) into names
 * no kernel would write: "../../esc" (slashes), a second "..", one with a NUL, and a directory
 * named like the symlink to outside that comes before it, holding a file. A restore to a
 * directory and through tar extracts nothing outside the target, names every refusal, and
 * restores every benign entry exactly.
 */
class HostileNamesIT {
  @TempDir Path tmp;
  private Path image;
  private Path outside;
  private final Map<String, String> benign = Map.of("/benign1.txt", "first benign file\n", "/sub/benign2.txt", "second benign file\n");

  @BeforeEach
  void craft() throws Exception {
    outside = tmp.resolve("outside");
    Files.createDirectories(outside);
    Path src = tmp.resolve("src");
    Files.createDirectories(src);
    Files.writeString(src.resolve("benign1.txt"), benign.get("/benign1.txt"));
    Files.writeString(src.resolve("benign2.txt"), benign.get("/sub/benign2.txt"));
    Files.writeString(src.resolve("payload"), "should never land outside\n");
    image = tmp.resolve("hostile.img");
    Tools.runOk("truncate", "-s", "16M", image.toString());
    Tools.runOk("mkfs.ext4", "-q", "-F", "-O", "^metadata_csum,^dir_index,^has_journal", image.toString());
    // Creation order is directory order in a linear directory: the symlink comes before the directory.
    String commands = String.join("\n",
        "write " + src.resolve("benign1.txt") + " benign1.txt",
        "mkdir sub",
        "write " + src.resolve("benign2.txt") + " sub/benign2.txt",
        "write " + src.resolve("payload") + " zzslashzz",
        "write " + src.resolve("payload") + " zzdotdot",
        "write " + src.resolve("payload") + " zznulzz",
        "symlink zzlink " + outside,
        "mkdir zzlin2",
        "write " + src.resolve("payload") + " zzlin2/planted",
        "");
    Path cmds = tmp.resolve("debugfs.cmds");
    Files.writeString(cmds, commands);
    Tools.runOk("debugfs", "-w", "-f", cmds.toString(), image.toString());
    byte[] img = Files.readAllBytes(image);
    rename(img, "zzslashzz", "../../esc".getBytes(StandardCharsets.US_ASCII));
    rename(img, "zzdotdot", "..".getBytes(StandardCharsets.US_ASCII));
    rename(img, "zznulzz", "zz\0zz".getBytes(StandardCharsets.US_ASCII));
    rename(img, "zzlin2", "zzlink".getBytes(StandardCharsets.US_ASCII));
    Files.write(image, img);
  }

  /** Rewrites the one directory entry named {@code from}: its name_len (byte 6 of ext4_dir_entry_2) and name. */
  private static void rename(byte[] img, String from, byte[] to) {
    byte[] name = from.getBytes(StandardCharsets.US_ASCII);
    int found = -1;
    for (int i = 8; i + name.length <= img.length; i++) {
      if ((img[i - 2] & 0xff) == name.length && java.util.Arrays.equals(img, i, i + name.length, name, 0, name.length)) {
        assertThat(found).as("one entry named %s", from).isEqualTo(-1);
        found = i;
      }
    }
    assertThat(found).as("entry %s", from).isPositive();
    img[found - 2] = (byte) to.length;
    System.arraycopy(to, 0, img, found, to.length);
    java.util.Arrays.fill(img, found + to.length, found + name.length, (byte) 0);
  }

  @Test
  void nothingLeavesTheTargetAndTheRestIsRestored() throws Exception {
    Path target = tmp.resolve("target");
    Path archive = tmp.resolve("hostile.tar");
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"));
        BlockDevice img = FileBlockDevice.open(image)) {
      Backup.Result b = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), DirectoryRestoreIT.files());
      Snapshot s = repo.snapshot(b.snapshot());
      DirectoryRestore.Result r = DirectoryRestore.restore(repo, s, s.volumes().get(0), List.of(), "",
          new DirectoryRestore.Options(target, DirectoryRestore.Overwrite.NEVER, DirectoryRestore.Owner.KEEP));
      List<String> refused = r.failed().stream().map(DirectoryRestore.Failure::path).toList();
      assertThat(refused).as("%s", r.failed()).contains("/../../esc", "/zz\\0zz", "/zzlink/planted");
      try (OutputStream out = Files.newOutputStream(archive)) {
        TarRestore.Result t = TarRestore.write(repo, s, List.of(new TarRestore.Part(s.volumes().get(0), List.of(), "")), out);
        assertThat(t.failed().stream().map(DirectoryRestore.Failure::path).toList()).as("%s", t.failed())
            .contains("/../../esc", "/zz\\0zz", "/zzlink");
      }
    }
    for (Map.Entry<String, String> e : benign.entrySet()) {
      assertThat(Files.readString(target.resolve(e.getKey().substring(1)))).isEqualTo(e.getValue());
    }
    assertThat(Files.isSymbolicLink(target.resolve("zzlink"))).isTrue();
    Path extracted = tmp.resolve("extracted");
    Files.createDirectories(extracted);
    Tools.Result x = Tools.run(Duration.ofMinutes(1), List.of("tar", "-xpf", archive.toString(), "-C", extracted.toString()));
    assertThat(x.exitCode()).as(x.stderr()).isZero();
    for (Map.Entry<String, String> e : benign.entrySet()) {
      assertThat(Files.readString(extracted.resolve(e.getKey().substring(1)))).isEqualTo(e.getValue());
    }
    try (var walk = Files.walk(outside)) {
      assertThat(walk.count()).as("nothing written to the symlink's target").isEqualTo(1);
    }
    try (var walk = Files.walk(tmp, 1)) {
      assertThat(walk.map(p -> p.getFileName().toString()).toList()).as("nothing next to the target").doesNotContain("esc");
    }
    assertThat(Files.exists(tmp.getParent().resolve("esc"), LinkOption.NOFOLLOW_LINKS)).isFalse();
  }
}
