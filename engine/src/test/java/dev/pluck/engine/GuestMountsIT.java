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
import dev.pluck.testdata.Tools;
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
          "/dev/disk/by-id/dm-uuid-" + dmUuid("vg0/data") + " /by-dm-uuid ntfs-3g defaults",
          "/dev/disk/by-id/dm-name-vg0-home /by-dm-name ext4 defaults",
          "/dev/disk/by-id/dm-uuid-LVM-" + "0".repeat(64) + " /unknown-dm-uuid ext4 defaults",
          "   # a comment", "garbage"), tree);
      assertThat(more).extracting(GuestMounts.Mount::mountpoint)
          .containsExactly("/mnt/my home", "/quoted", "/kernel-name", "/nothing", "/tmp", "swap", "/by-partlabel", "/efi-by-link",
              "/efi-by-name", "/by-dm-uuid", "/by-dm-name", "/unknown-dm-uuid");
      assertThat(more).extracting(GuestMounts.Mount::volume)
          .containsExactly(byLabel(o, "home"), byLabel(o, "home"), null, null, null, null, byLabel(o, "root"), byLabel(o, "EFI"),
              byLabel(o, "EFI"), byLabel(o, "data"), byLabel(o, "home"), null);
      assertThat(more.get(2).note()).contains("no volume matches /dev/vda3");
      assertThat(more.get(4).note()).isEqualTo("not a disk filesystem");
      assertThat(more.get(5).note()).isEqualTo("a swap file");
    }
  }

  /**
   * Ubuntu's installer names LVs in fstab by {@code /dev/disk/by-id/dm-uuid-LVM-<VG id><LV id>}:
   * here a root LV and a home LV of a VG with a dash in its name, as a custom layout of that
   * installer writes them. pluck resolves both lines and backs up /home's files by guest path.
   */
  @Test
  void ubuntuStyleDmUuidLinesMountTheirLvs(@TempDir Path dir) throws Exception {
    Path pv = dir.resolve("pv.img");
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(pv.toFile(), "rw")) {
      f.setLength(80 << 20);
    }
    String vg = "ubuntu-vg-" + Long.toHexString(System.nanoTime() & 0xffffff);
    Map<String, String> dmUuids = new java.util.HashMap<>();
    Map<String, Long> offsets = new java.util.HashMap<>();
    String loop = Tools.runOk("losetup", "--find", "--show", pv.toString()).stdout().trim();
    try {
      BackupIT.lvm("pvcreate", "-q", loop);
      BackupIT.lvm("vgcreate", "-q", "-s", "4m", vg, loop);
      BackupIT.lvm("lvcreate", "--driverloaded", "n", "-an", "-Zn", "-L", "32m", "-n", "ubuntu-lv", vg);
      BackupIT.lvm("lvcreate", "--driverloaded", "n", "-an", "-Zn", "-L", "32m", "-n", "home-lv", vg);
      com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
      long peStart = json.readTree(BackupIT.lvm("pvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", "pe_start", loop))
          .path("report").get(0).path("pv").get(0).path("pe_start").asLong();
      for (com.fasterxml.jackson.databind.JsonNode lv : json.readTree(BackupIT.lvm("lvs", "--driverloaded", "n", "--reportformat", "json",
          "-o", "lv_name,vg_uuid,lv_uuid,seg_pe_ranges", vg)).path("report").get(0).path("lv")) {
        String name = lv.path("lv_name").asText();
        dmUuids.put(name, "LVM-" + lv.path("vg_uuid").asText().replace("-", "") + lv.path("lv_uuid").asText().replace("-", ""));
        String range = lv.path("seg_pe_ranges").asText();  // "/dev/loop0:8-15"
        offsets.put(name, peStart + Long.parseLong(range.substring(range.lastIndexOf(':') + 1, range.lastIndexOf('-'))) * (4 << 20));
      }
    } finally {
      Tools.run(java.time.Duration.ofMinutes(1), List.of("losetup", "-d", loop));
    }
    Path root = dir.resolve("root");
    java.nio.file.Files.createDirectories(root.resolve("etc"));
    java.nio.file.Files.createDirectories(root.resolve("home"));
    java.nio.file.Files.writeString(root.resolve("etc/fstab"), "# / was on /dev/" + vg + "/ubuntu-lv during curtin installation\n"
        + "/dev/disk/by-id/dm-uuid-" + dmUuids.get("ubuntu-lv") + " / ext4 defaults 0 1\n"
        + "# /home was on /dev/" + vg + "/home-lv during curtin installation\n"
        + "/dev/disk/by-id/dm-uuid-" + dmUuids.get("home-lv") + " /home ext4 defaults 0 1\n");
    Path home = dir.resolve("home");
    java.nio.file.Files.createDirectories(home.resolve("ubuntu"));
    java.nio.file.Files.writeString(home.resolve("ubuntu/notes.txt"), "kept\n");
    for (String[] lv : new String[][] {{"ubuntu-lv", root.toString()}, {"home-lv", home.toString()}}) {
      Path fs = dir.resolve(lv[0] + ".img");
      Tools.runOk("mkfs.ext4", "-q", "-d", lv[1], fs.toString(), "32M");
      Tools.runOk("dd", "if=" + fs, "of=" + pv, "bs=1M", "seek=" + offsets.get(lv[0]), "oflag=seek_bytes", "conv=notrunc", "status=none");
    }

    try (BlockDevice img = FileBlockDevice.open(pv); Repository repo = BackupIT.repo(dir.resolve("repo"))) {
      VolumeTree tree = VolumeTree.probe(List.of(new VolumeTree.Disk("0", img)));
      GuestMounts g = GuestMounts.find(tree).orElseThrow();
      assertThat(g.root()).isEqualTo(vg + "/ubuntu-lv");
      assertThat(g.mounts()).extracting(GuestMounts.Mount::mountpoint, GuestMounts.Mount::volume).containsExactly(
          org.assertj.core.groups.Tuple.tuple("/", vg + "/ubuntu-lv"), org.assertj.core.groups.Tuple.tuple("/home", vg + "/home-lv"));
      Backup.Options options = new Backup.Options(Backup.Mode.FILES, List.of(), List.of("/home/**"), List.of(), false, List.of(), false,
          List.of(), null, new Snapshot.Source("vm", List.of("0"), List.of()), "backup", "test", null, null);
      Snapshot s = repo.snapshot(Backup.run(repo, List.of(new VolumeTree.Disk("0", img)), options).snapshot());
      assertThat(paths(repo, s, vg + "/home-lv")).contains("/ubuntu", "/ubuntu/notes.txt");
    }
  }

  /** The device-mapper UUID of an LV, as LVM's own report gives it (testdata's lvmap.py layout). */
  private static String dmUuid(String lv) throws java.io.IOException {
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    for (String line : java.nio.file.Files.readAllLines(DISK.dir().resolve("lvm-layout.jsonl"))) {
      com.fasterxml.jackson.databind.JsonNode n = json.readTree(line);
      if (n.path("lv").asText().equals(lv)) {
        return n.path("dmUuid").asText();
      }
    }
    throw new AssertionError("no LV " + lv + " in the layout");
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
