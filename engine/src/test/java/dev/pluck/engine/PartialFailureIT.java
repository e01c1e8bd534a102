package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.Content;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.OracleEntry;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hostile or damaged guest: a file whose extent tree is corrupt, a file whose inode's xattrs are
 * and a directory whose block is garbage do not stop the backup. The snapshot commits incomplete,
 * naming the three; every other file is in it (a damaged entry fails alone, not its directory);
 * the next backup of the repaired disk reads them in full.
 */
class PartialFailureIT {
  @TempDir Path tmp;

  @Test
  void aCorruptFileAndDirectoryAreListedAndReadAgainNextTime() throws Exception {
    TestDisk disk = TestDisks.ext4Features();
    Path image = tmp.resolve("disk.img");
    Tools.runOk("cp", "--sparse=always", disk.image().toString(), image.toString());
    int block = Integer.parseInt(debugfs(image, "stats").replaceAll("(?s).*Block size:\\s+(\\d+).*", "$1"));
    // the file's inode: its extent header magic (i_block, 0x28 into the inode) zeroed
    Matcher at = Pattern.compile("located at block (\\d+), offset (0x[0-9a-f]+)").matcher(debugfs(image, "imap /filler.bin"));
    assertThat(at.find()).isTrue();
    long inode = Long.parseLong(at.group(1)) * block + Long.decode(at.group(2));
    write(image, inode + 0x28, new byte[2]);
    // the directory's only block: garbage
    long dirBlock = Long.parseLong(debugfs(image, "blocks /links").strip());
    byte[] garbage = new byte[block];
    new java.util.Random(5).nextBytes(garbage);
    write(image, dirBlock * block, garbage);
    // a file whose own inode cannot be made sense of (its xattr block's magic zeroed): it fails alone, not its directory
    long xattrBlock = Long.parseLong(debugfs(image, "stat /xattr/file").replaceAll("(?s).*File ACL: (\\d+).*", "$1"));
    assertThat(xattrBlock).isPositive();
    write(image, xattrBlock * block, new byte[4]);

    try (Repository repo = BackupIT.repo(tmp.resolve("repo"))) {
      Backup.Result broken;
      try (FileBlockDevice img = FileBlockDevice.open(image)) {
        broken = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), BackupIT.options(Backup.Mode.FILES, List.of(), List.of()));
      }
      assertThat(broken.complete()).isFalse();
      assertThat(broken.failed()).extracting(Backup.Failure::path).containsExactlyInAnyOrder("disk:/filler.bin", "disk:/links",
          "disk:/xattr/file");
      assertThat(broken.failed()).allSatisfy(f -> assertThat(f.reason()).isNotBlank());
      Snapshot s = repo.snapshot(broken.snapshot());
      assertThat(s.complete()).isFalse();
      assertThat(s.unreadable()).hasSize(3);
      Map<String, CatalogEntry> stored = catalog(repo, s);
      long expected = disk.oracle().files("disk").stream().map(OracleEntry::path)
          .filter(p -> !p.equals("/filler.bin") && !p.startsWith("/links/") && !p.equals("/xattr/file")).count();
      assertThat(stored.keySet()).as("everything else").hasSize((int) expected).doesNotContain("/filler.bin", "/xattr/file")
          .contains("/xattr", "/xattr/acl-dir/child");

      // the disk repaired: the next backup, with the incomplete one as parent, reads both again
      Tools.runOk("cp", "--sparse=always", disk.image().toString(), image.toString());
      Backup.Result fixed;
      try (FileBlockDevice img = FileBlockDevice.open(image)) {
        fixed = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), BackupIT.options(Backup.Mode.FILES, List.of(), List.of())
            .incremental(broken.snapshot(), null, null));
      }
      assertThat(fixed.complete()).isTrue();
      assertThat(fixed.parent()).isEqualTo(broken.snapshot());
      Map<String, CatalogEntry> now = catalog(repo, repo.snapshot(fixed.snapshot()));
      OracleEntry filler = disk.oracle().file("disk", "/filler.bin");
      CatalogEntry f = now.get("/filler.bin");
      try (InputStream in = Channels.newInputStream(Content.open(repo, f.chunks(), f.size()))) {
        assertThat(LiveGuest.sha256(in)).isEqualTo(filler.sha256());
      }
      assertThat(now).containsKeys("/links/target.txt", "/links/dir", "/xattr/file");
      assertThat(fixed.bytesRead().get("data")).as("the file read again in full").isGreaterThanOrEqualTo(filler.size());
    }
  }

  private static Map<String, CatalogEntry> catalog(Repository repo, Snapshot s) throws java.io.IOException {
    Map<String, CatalogEntry> out = new HashMap<>();
    Catalog.read(repo, s.volumes().get(0).catalog(), e -> out.put(e.path(), e));
    return out;
  }

  private static String debugfs(Path image, String request) {
    return Tools.runOk("debugfs", "-R", request, image.toString()).stdout();
  }

  private static void write(Path image, long offset, byte[] bytes) throws java.io.IOException {
    try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(bytes), offset);
    }
  }

  /**
   * More damaged files than the snapshot lists: 1,005 files whose extent headers are zeroed; the
   * first 1,000 failures are listed, the rest counted in one last entry, the intact file stored.
   */
  @Test
  void pastAThousandFailuresTheRestAreCounted() throws Exception {
    Path tree = tmp.resolve("tree");
    java.nio.file.Files.createDirectories(tree.resolve("d"));
    int damaged = Backup.MAX_FAILURES_LISTED + 5;
    for (int i = 0; i < damaged; i++) {
      java.nio.file.Files.write(tree.resolve("d/f" + i), new byte[] {(byte) i, 1, 2, 3});
    }
    java.nio.file.Files.writeString(tree.resolve("intact"), "kept\n");
    Path image = tmp.resolve("many.img");
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(64L << 20);
    }
    Tools.runOk("mkfs.ext4", "-q", "-F", "-O", "^inline_data,^metadata_csum", "-d", tree.toString(), image.toString());
    int block = Integer.parseInt(debugfs(image, "stats").replaceAll("(?s).*Block size:\\s+(\\d+).*", "$1"));
    Path script = tmp.resolve("imap");
    List<String> commands = new java.util.ArrayList<>();
    for (int i = 0; i < damaged; i++) {
      commands.add("imap /d/f" + i);
    }
    java.nio.file.Files.write(script, commands);
    String located = Tools.runOk("debugfs", "-f", script.toString(), image.toString()).stdout();
    Matcher at = Pattern.compile("located at block (\\d+), offset (0x[0-9a-f]+)").matcher(located);
    int zeroed = 0;
    while (at.find()) {
      write(image, Long.parseLong(at.group(1)) * block + Long.decode(at.group(2)) + 0x28, new byte[2]);
      zeroed++;
    }
    assertThat(zeroed).isEqualTo(damaged);
    try (Repository repo = BackupIT.repo(tmp.resolve("repo")); FileBlockDevice img = FileBlockDevice.open(image)) {
      Backup.Result r = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), BackupIT.options(Backup.Mode.FILES, List.of(), List.of()));
      assertThat(r.complete()).isFalse();
      assertThat(r.failed()).hasSize(Backup.MAX_FAILURES_LISTED + 1);
      assertThat(r.failed().get(Backup.MAX_FAILURES_LISTED)).isEqualTo(new Backup.Failure("...",
          "5 more paths could not be read (only the first " + Backup.MAX_FAILURES_LISTED + " are listed)"));
      assertThat(r.failed().subList(0, Backup.MAX_FAILURES_LISTED)).allMatch(f -> f.path().startsWith("disk:/d/f"));
      assertThat(catalog(repo, repo.snapshot(r.snapshot()))).containsKey("/intact");
    }
  }
}

