package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The agent's list is the guest's word: kinds of filesystems, what is skipped, and hostile entries. */
class LiveMountsTest {
  private static final GuestMounts FSTAB = new GuestMounts("p1", List.of(
      new GuestMounts.Mount("/", "LABEL=root", "ext4", "defaults", "p1", false, null),
      new GuestMounts.Mount("/data", "UUID=x", "ntfs-3g", "defaults", "p2", false, null),
      new GuestMounts.Mount("swap", "LABEL=swap", "swap", "sw", "p3", true, null)));
  private static final Map<String, String> FS = Map.of("p1", "ext4", "p2", "ntfs", "p3", "swap");

  private static List<String> check(List<LiveMounts.Mount> mounts, List<String> include) {
    return LiveMounts.of(mounts).check(FSTAB, FS::get, include.stream().map(Glob::new).toList());
  }

  @Test
  void driversOfTheSameKindAgreeAndImagesAndWindowsPathsAreLeftAlone() {
    assertThat(check(List.of(new LiveMounts.Mount("/", "ext3", "vda1"), new LiveMounts.Mount("/data", "fuseblk", "vda2"),
        new LiveMounts.Mount("/snap/core/1", "squashfs", "loop0"), new LiveMounts.Mount("C:\\", "NTFS", "Volume1")), List.of())).isEmpty();
    assertThat(check(List.of(new LiveMounts.Mount("/", "ext4", "vda1"), new LiveMounts.Mount("/data", "btrfs", "vdb")), List.of()))
        .containsExactly("guest agent: btrfs (vdb) is mounted at /data, where /etc/fstab puts p2 (ntfs); the files backed up under /data are p2's");
  }

  @Test
  void onlyWhereTheSelectionReaches() {
    List<LiveMounts.Mount> mounts = List.of(new LiveMounts.Mount("/", "ext4", "vda1"), new LiveMounts.Mount("/srv", "xfs", "vdc"));
    assertThat(check(mounts, List.of("/home/**"))).as("neither /srv nor /data is selected").isEmpty();
    assertThat(check(mounts, List.of("/srv/www/**"))).hasSize(1).allSatisfy(w -> assertThat(w).contains("mounted at /srv"));
    assertThat(check(mounts, List.of("/data/x"))).containsExactly(
        "guest agent: nothing is mounted at /data in the guest now; p2 was backed up there as /etc/fstab says");
    assertThat(LiveMounts.unavailable("timed out").check(FSTAB, FS::get, List.of())).containsExactly(
        "guest agent: it could not list the guest's filesystems (timed out); guest paths follow /etc/fstab alone");
  }

  @Test
  void aHostileListIsBoundedAndItsTextMadePrintable() {
    List<LiveMounts.Mount> many = new ArrayList<>();
    many.add(new LiveMounts.Mount("/", "ext4", "vda1"));
    many.add(new LiveMounts.Mount("/data", "ntfs3", "vda2"));
    for (int i = 0; i < 100_000; i++) {
      many.add(new LiveMounts.Mount("/m" + i, "ext4", "x"));
    }
    many.add(new LiveMounts.Mount("/" + "a".repeat(LiveMounts.MAX_PATH), "ext4", "long"));
    List<String> warnings = check(many, List.of());
    assertThat(warnings).hasSize(LiveMounts.MAX_MOUNTS - 2);
    String evil = check(List.of(new LiveMounts.Mount("/", "ext4", "vda1"), new LiveMounts.Mount("/data", "ntfs", "vda2"),
        new LiveMounts.Mount("/x\n\u001b[31mfake", "ext4\r", "d\u0000" + "e".repeat(1000))), List.of()).get(0);
    assertThat(evil).doesNotContainPattern("\\p{Cntrl}").contains("/x??[31mfake").hasSizeLessThan(1000);
  }
}
