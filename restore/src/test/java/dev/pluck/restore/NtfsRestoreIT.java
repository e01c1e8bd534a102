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
import dev.pluck.testdata.OracleEntry;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NTFS files restored with their named streams and, onto an ntfs-3g mount, with what ntfs-3g
 * keeps of them (the security descriptor, DOS attributes and creation time as system.ntfs_*):
 * compared with ntfs-3g's view of the source volume and with the oracle.
 */
class NtfsRestoreIT {
  @TempDir Path tmp;

  private Snapshot backup(Repository repo, TestDisk disk) throws Exception {
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      Backup.Result b = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), DirectoryRestoreIT.files());
      assertThat(b.complete()).as("%s", b.failed()).isTrue();
      return repo.snapshot(b.snapshot());
    }
  }

  @Test
  void streamsAsFilesOntoALinuxFilesystem() throws Exception {
    TestDisk disk = TestDisks.ntfsFeatures4k();
    Path target = tmp.resolve("t");
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"))) {
      Snapshot s = backup(repo, disk);
      DirectoryRestore.Result r = DirectoryRestore.restore(repo, s, s.volumes().get(0), List.of(), "", new DirectoryRestore.Options(
          target, DirectoryRestore.Overwrite.NEVER, DirectoryRestore.Owner.KEEP, DirectoryRestore.NtfsStreams.FILES));
      assertThat(r.failed()).isEmpty();
      assertThat(r.notes()).anyMatch(n -> n.contains("not an ntfs-3g mount"));
      int streams = 0;
      for (OracleEntry o : disk.oracle().files("disk")) {
        if (o.path().startsWith("/$") || o.path().equals("/")) {
          continue;
        }
        Path p = target.resolve(o.path().substring(1));
        if (o.path().equals("/pagefile.sys") || o.path().equals("/hiberfil.sys")) {
          assertThat(Files.exists(p, LinkOption.NOFOLLOW_LINKS)).as("swap and hibernation files are not restored").isFalse();
          continue;
        }
        if (o.isFile() && o.sha256() != null) {
          assertThat(DirectoryRestoreIT.sha256(p)).as(o.path()).isEqualTo(o.sha256());
        }
        for (Map.Entry<String, OracleEntry.Stream> st : o.streams().entrySet()) {
          Path file = p.resolveSibling(p.getFileName() + ":" + st.getKey());
          assertThat(Files.size(file)).as("%s:%s", o.path(), st.getKey()).isEqualTo(st.getValue().size());
          assertThat(DirectoryRestoreIT.sha256(file)).as("%s:%s", o.path(), st.getKey()).isEqualTo(st.getValue().sha256());
          streams++;
        }
      }
      assertThat(streams).isEqualTo(r.streams()).isPositive();
    }
  }

  @Test
  void ontoAnNtfs3gMountEverythingNtfs3gKeeps() throws Exception {
    TestDisk disk = TestDisks.ntfsFeatures4k();
    Path source = tmp.resolve("source");
    Path target = tmp.resolve("target");
    Path targetImage = tmp.resolve("target.img");
    Files.createDirectories(source);
    Files.createDirectories(target);
    Tools.runOk("truncate", "-s", "512M", targetImage.toString());
    Tools.runOk("mkntfs", "-F", "-Q", "-q", targetImage.toString());
    Tools.runOk("ntfs-3g", "-o", "ro", disk.image().toString(), source.toString());
    try {
      Tools.runOk("ntfs-3g", targetImage.toString(), target.toString());
      try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"))) {
        Snapshot s = backup(repo, disk);
        DirectoryRestore.Result r = DirectoryRestore.restore(repo, s, s.volumes().get(0), List.of("/streams", "/compressed", "/names"),
            "", new DirectoryRestore.Options(target, DirectoryRestore.Overwrite.NEVER, DirectoryRestore.Owner.KEEP));
        // Linux caps an xattr at 64 KiB: the one larger stream is named, and left for the next restore.
        List<OracleEntry.Stream> big = disk.oracle().files("disk").stream().filter(o -> o.path().startsWith("/streams/"))
            .flatMap(o -> o.streams().values().stream()).filter(st -> st.size() > DirectoryRestore.XATTR_SIZE_MAX).toList();
        assertThat(big).hasSize(1);
        assertThat(r.failed()).singleElement().satisfies(f -> assertThat(f.reason()).contains("--ntfs-streams files"));
        assertThat(r.notes()).noneMatch(n -> n.contains("not an ntfs-3g mount"));
        int compared = 0;
        int streams = 0;
        for (OracleEntry o : disk.oracle().files("disk")) {
          if (!(o.path().startsWith("/streams/") || o.path().startsWith("/compressed/") || o.path().startsWith("/names/"))) {
            continue;
          }
          Path from = source.resolve(o.path().substring(1));
          Path to = target.resolve(o.path().substring(1));
          assertThat(Files.exists(to, LinkOption.NOFOLLOW_LINKS)).as(o.path()).isTrue();
          assertThat(xattr(to, "system.ntfs_acl")).as("security descriptor of %s", o.path()).isEqualTo(xattr(from, "system.ntfs_acl"));
          assertThat(settable(xattr(to, "system.ntfs_attrib"))).as("DOS attributes of %s", o.path())
              .isEqualTo(settable(xattr(from, "system.ntfs_attrib")));
          assertThat(xattr(to, "system.ntfs_crtime")).as("creation time of %s", o.path()).isEqualTo(xattr(from, "system.ntfs_crtime"));
          for (String name : o.streams().keySet()) {
            if (o.streams().get(name).size() > DirectoryRestore.XATTR_SIZE_MAX) {
              continue;
            }
            assertThat(xattr(to, "user." + name)).as("%s:%s", o.path(), name).isEqualTo(xattr(from, "user." + name)).isNotEmpty();
            streams++;
          }
          if (o.isFile() && o.sha256() != null) {
            assertThat(DirectoryRestoreIT.sha256(to)).as(o.path()).isEqualTo(o.sha256());
          }
          compared++;
        }
        assertThat(compared).isGreaterThan(5);
        assertThat(streams).isPositive();
      } finally {
        Tools.run(Duration.ofSeconds(30), List.of("umount", target.toString()));
      }
    } finally {
      Tools.run(Duration.ofSeconds(30), List.of("umount", source.toString()));
    }
  }

  /**
   * ntfs-3g with streams_interface=windows takes "FILE:STREAM" paths as streams: --ntfs-streams
   * files then writes streams of any size into the NTFS, where the windows interface reads them
   * back and a listing does not show them as files.
   */
  @Test
  void largeStreamsThroughNtfs3gsWindowsInterface() throws Exception {
    TestDisk disk = TestDisks.ntfsFeatures4k();
    Path target = tmp.resolve("target");
    Path targetImage = tmp.resolve("target.img");
    Files.createDirectories(target);
    Tools.runOk("truncate", "-s", "256M", targetImage.toString());
    Tools.runOk("mkntfs", "-F", "-Q", "-q", targetImage.toString());
    Tools.runOk("ntfs-3g", "-o", "streams_interface=windows", targetImage.toString(), target.toString());
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"))) {
      Snapshot s = backup(repo, disk);
      DirectoryRestore.Result r = DirectoryRestore.restore(repo, s, s.volumes().get(0), List.of("/streams"), "",
          new DirectoryRestore.Options(target, DirectoryRestore.Overwrite.NEVER, DirectoryRestore.Owner.KEEP,
              DirectoryRestore.NtfsStreams.FILES));
      assertThat(r.failed()).isEmpty();
      int streams = 0;
      for (OracleEntry o : disk.oracle().files("disk")) {
        if (!o.path().startsWith("/streams/")) {
          continue;
        }
        Path p = target.resolve(o.path().substring(1));
        for (Map.Entry<String, OracleEntry.Stream> st : o.streams().entrySet()) {
          assertThat(DirectoryRestoreIT.sha256(p.resolveSibling(p.getFileName() + ":" + st.getKey()))).as("%s:%s", o.path(), st.getKey())
              .isEqualTo(st.getValue().sha256());
          streams++;
        }
      }
      assertThat(streams).isPositive();
      try (var list = Files.list(target.resolve("streams"))) {
        assertThat(list.map(Path::getFileName).map(Path::toString).toList()).as("streams are no files").noneMatch(n -> n.contains(":"));
      }
    } finally {
      Tools.run(Duration.ofSeconds(30), List.of("umount", target.toString()));
    }
  }

  /** An extended attribute's value in hex, as getfattr reads it ("" when absent). */
  private String xattr(Path p, String name) throws Exception {
    Path value = tmp.resolve("xattr-value");
    Tools.Result r = Tools.run(Duration.ofSeconds(30), List.of("getfattr", "-h", "--only-values", "-n", name, p.toString()), value);
    return r.exitCode() == 0 ? HexFormat.of().formatHex(Files.readAllBytes(value)) : "";
  }

  private static long settable(String hex) {
    if (hex.isEmpty()) {
      return -1;
    }
    byte[] b = HexFormat.of().parseHex(hex);
    long v = (b[0] & 0xff) | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16 | (long) (b[3] & 0xff) << 24;
    return v & DirectoryRestore.SETTABLE_ATTRIBUTES;
  }
}
