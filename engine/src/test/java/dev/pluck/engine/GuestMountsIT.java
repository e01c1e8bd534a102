package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.Oracle;
import dev.pluck.testdata.OracleEntry;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The guest's mount tree from its /etc/fstab, and backups selected by guest paths. */
class GuestMountsIT {
  private static final TestDisk DISK = TestDisks.gptMixed();

  /** Volume ids by what blkid and sfdisk (the oracle) say of them, for the forms the builder's fstab uses. */
  private static String byLabel(Oracle o, String label) {
    return o.volumes().stream().filter(v -> label.equals(v.blkid().get("LABEL"))).findFirst().orElseThrow().id();
  }

  @Test
  void theRootsFstabMountsEveryVolumeWhereTheOracleSays() throws Exception {
    Oracle o = DISK.oracle();
    try (BlockDevice img = FileBlockDevice.open(DISK.image())) {
      VolumeTree tree = VolumeTree.probe(List.of(new VolumeTree.Disk("0", img)));
      GuestMounts g = GuestMounts.find(tree).orElseThrow();
      assertThat(g.root()).isEqualTo(byLabel(o, "root"));
      Map<String, String> mounted = g.mounts().stream().filter(m -> !m.swap())
          .collect(Collectors.toMap(GuestMounts.Mount::mountpoint, GuestMounts.Mount::volume));
      String espUuid = o.partitionTable().orElseThrow().path("partitions").get(1).path("uuid").asText();
      assertThat(g.mounts()).filteredOn(m -> m.mountpoint().equals("/boot/efi")).extracting(GuestMounts.Mount::spec)
          .containsExactly("PARTUUID=" + espUuid.toLowerCase(java.util.Locale.ROOT));
      assertThat(mounted).containsExactlyInAnyOrderEntriesOf(Map.of("/", byLabel(o, "root"), "/boot/efi", byLabel(o, "EFI"),
          "/home", byLabel(o, "home"), "/srv/data", byLabel(o, "data")));
      assertThat(g.mounts()).filteredOn(GuestMounts.Mount::swap).extracting(GuestMounts.Mount::volume)
          .containsExactlyInAnyOrder(byLabel(o, "swap0"), byLabel(o, "lvswap"));
      assertThat(g.mountpoint(byLabel(o, "home"))).contains("/home");

      // the other forms of fstab lines, resolved against the same volumes
      List<GuestMounts.Mount> more = GuestMounts.parse(String.join("\n",
          "/dev/disk/by-label/home /mnt/my\\040home ext4 defaults 0 0",
          "UUID=\"" + o.volume(byLabel(o, "home")).blkid().get("UUID") + "\" /quoted ext4 defaults",
          "/dev/vda3 /kernel-name ext4 defaults",
          "/dev/mapper/vg0-nothing /nothing ext4 defaults",
          "tmpfs /tmp tmpfs defaults",
          "LABEL=home ../escape ext4 defaults",
          "LABEL=home /a/../b ext4 defaults",
          "/swapfile none swap sw",
          "PARTLABEL=root /by-partlabel ext4 defaults",
          "/dev/disk/by-partlabel/EFI\\x20system /efi-by-link vfat defaults",
          "PARTLABEL=EFI\\040system /efi-by-name vfat defaults",
          "   # a comment", "garbage"), tree);
      assertThat(more).extracting(GuestMounts.Mount::mountpoint)
          .containsExactly("/mnt/my home", "/quoted", "/kernel-name", "/nothing", "/tmp", "swap", "/by-partlabel", "/efi-by-link",
              "/efi-by-name");
      assertThat(more).extracting(GuestMounts.Mount::volume)
          .containsExactly(byLabel(o, "home"), byLabel(o, "home"), null, null, null, null, byLabel(o, "root"), byLabel(o, "EFI"),
              byLabel(o, "EFI"));
      assertThat(more.get(2).note()).contains("no volume matches /dev/vda3");
      assertThat(more.get(4).note()).isEqualTo("not a disk filesystem");
      assertThat(more.get(5).note()).isEqualTo("a swap file");
    }
  }

  @Test
  void guestPathGlobsSelectFilesAcrossVolumes(@TempDir Path dir) throws Exception {
    Oracle o = DISK.oracle();
    String home = byLabel(o, "home");
    // a folder of the home volume, as the guest sees it
    String folder = o.files(home).stream().filter(e -> e.isDirectory() && e.path().length() > 1 && !e.path().equals("/lost+found") && e.path().chars().filter(c -> c == '/').count() == 1)
        .map(OracleEntry::path).sorted().findFirst().orElseThrow();
    try (Repository repo = BackupIT.repo(dir); BlockDevice img = FileBlockDevice.open(DISK.image())) {
      Backup.Options options = new Backup.Options(Backup.Mode.FILES, List.of(), List.of("/home" + folder + "/**", "/etc/fstab"), List.of(),
          false, List.of(), false, List.of(), null, new Snapshot.Source("vm", List.of("0"), List.of()), "backup", "test", null, null);
      Backup.Result r = Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), options);
      Snapshot s = repo.snapshot(r.snapshot());
      assertThat(s.volumes()).extracting(Snapshot.Volume::id).containsExactlyInAnyOrder(byLabel(o, "root"), home);
      assertThat(s.selection().get("mounts")).as("recorded for restores of guest paths").isEqualTo(Map.of(byLabel(o, "root"), "/",
          byLabel(o, "EFI"), "/boot/efi", home, "/home", byLabel(o, "data"), "/srv/data"));
      List<String> rootPaths = paths(repo, s, byLabel(o, "root"));
      assertThat(rootPaths).as("the root: the way to /etc/fstab, and /home as the mountpoint only")
          .containsExactlyInAnyOrder("/", "/etc", "/etc/fstab", "/home");
      List<String> expected = new ArrayList<>(List.of("/"));
      o.files(home).stream().map(OracleEntry::path).filter(p -> p.equals(folder) || p.startsWith(folder + "/")).forEach(expected::add);
      assertThat(paths(repo, s, home)).containsExactlyInAnyOrderElementsOf(expected);
      assertThat(r.bytesSkipped().get("swap")).as("swap is not in files mode's volumes").isZero();
    }
  }

  private static List<String> paths(Repository repo, Snapshot s, String volume) throws java.io.IOException {
    List<String> out = new ArrayList<>();
    Snapshot.Volume v = s.volumes().stream().filter(x -> x.id().equals(volume)).findFirst().orElseThrow();
    Catalog.read(repo, v.catalog(), (CatalogEntry e) -> out.add(e.path()));
    return out;
  }
}
