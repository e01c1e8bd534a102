package dev.pluck.testdata;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The ext4 variant images are what their names say, by e2fsprogs' own account. */
class Ext4VariantsIT {

  private static String header(String name) {
    return Tools.runOk("dumpe2fs", "-h", TestDisks.get(name).image().toString()).stdout();
  }

  @Test
  void metaBgSpreadsItsDescriptors() {
    String h = header("ext4-meta_bg");
    assertThat(h).containsPattern("features:.* meta_bg").containsPattern("features:.* sparse_super2").doesNotContain("resize_inode")
        .contains("Block size:               1024");
    String groups = Tools.runOk("dumpe2fs", TestDisks.get("ext4-meta_bg").image().toString()).stdout();
    // Descriptor blocks in groups far from the first: 16 descriptors per block, one block per meta group.
    assertThat(groups).contains("Group descriptor at 131073").doesNotContain("Group descriptors at");
  }

  @Test
  void bigallocHasClustersOfSixteenBlocks() {
    String h = header("ext4-bigalloc");
    assertThat(h).containsPattern("features:.* bigalloc").contains("Cluster size:             65536").contains("Block size:               4096");
  }

  @Test
  void encryptedDirectoryHidesItsNamesFromTheKernelWithoutTheKey() {
    TestDisk disk = TestDisks.get("ext4-encrypt");
    assertThat(header("ext4-encrypt")).containsPattern("features:.* encrypt");
    List<OracleEntry> secret = disk.oracle().files("disk").stream().filter(e -> e.path().startsWith("/secret/")).toList();
    assertThat(secret).hasSize(8);
    assertThat(secret).noneMatch(e -> e.path().contains("file-"));
    assertThat(secret.stream().filter(OracleEntry::encrypted)).hasSize(6);
  }

  @Test
  void casefoldedDirectoriesCarryTheFlag() {
    TestDisk disk = TestDisks.get("ext4-casefold");
    assertThat(header("ext4-casefold")).containsPattern("features:.* casefold").contains("Character encoding:       utf8");
    String stat = Tools.runOk("debugfs", "-R", "stat /folded", disk.image().toString()).stdout();
    assertThat(stat).containsPattern("Flags: 0x4[0-9a-f]{7}");
  }

  @Test
  void journalCopyNeedsRecoveryAndReplayChangesWhatIsSeen() {
    TestDisk disk = TestDisks.get("ext4-journal");
    assertThat(header("ext4-journal")).containsPattern("features:.* needs_recovery");
    List<String> before = disk.oracle().files("noload").stream().map(OracleEntry::path).toList();
    List<String> after = disk.oracle().files("disk").stream().map(OracleEntry::path).toList();
    assertThat(after).contains("/after-crash/new-00.bin", "/link-after-crash").doesNotContain("/sparse.bin", "/large.bin");
    assertThat(before).contains("/sparse.bin", "/large.bin").doesNotContain("/link-after-crash");
    assertThat(Tools.runOk("dumpe2fs", "-h", disk.dir().resolve("replayed.img").toString()).stdout())
        .doesNotContainPattern("features:.* needs_recovery");
  }

  @ParameterizedTest
  @ValueSource(strings = {"ext4-meta_bg", "ext4-bigalloc", "ext4-encrypt", "ext4-casefold"})
  void e2fsckFindsNothingWrong(String name) {
    Tools.runOk("e2fsck", "-fn", TestDisks.get(name).image().toString());
  }
}
