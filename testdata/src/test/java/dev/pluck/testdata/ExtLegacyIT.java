package dev.pluck.testdata;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ExtLegacyIT {

  @ParameterizedTest
  @ValueSource(strings = {"ext2", "ext3"})
  void indirectBlockMapsUpToTripleIndirect(String name) {
    TestDisk disk = TestDisks.get(name);
    String features = Tools.runOk("dumpe2fs", "-h", disk.image().toString()).stdout();
    assertThat(features).doesNotContain(" extent");
    if (name.equals("ext3")) {
      assertThat(features).contains("has_journal");
    } else {
      assertThat(features).doesNotContain("has_journal");
    }
    assertThat(disk.oracle().volume("disk").fsType()).isEqualTo(name);
    String img = disk.image().toString();
    assertThat(Tools.runOk("debugfs", "-R", "stat /indirect/single.bin", img).stdout()).contains("(IND)").doesNotContain("(DIND)");
    assertThat(Tools.runOk("debugfs", "-R", "stat /indirect/double.bin", img).stdout()).contains("(DIND)");
    assertThat(Tools.runOk("debugfs", "-R", "stat /indirect/triple.bin", img).stdout()).contains("(TIND)");
  }

  @ParameterizedTest
  @ValueSource(strings = {"ext2", "ext3"})
  void treeMatchesTheGeneratorAndTheSleuthKit(String name) {
    TestDisk disk = TestDisks.get(name);
    OracleAsserts.assertTreeMatchesGenerator(disk.oracle(), "disk", "/", "tree-disk", "/indirect");
    OracleAsserts.assertSleuthkitAgrees(disk.image(), 0, disk.oracle(), "disk", p -> true, 40);
    OracleAsserts.assertSleuthkitAgrees(disk.image(), 0, disk.oracle(), "disk", p -> p.startsWith("/indirect"), 10);
  }
}
