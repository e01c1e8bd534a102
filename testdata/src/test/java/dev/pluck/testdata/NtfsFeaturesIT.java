package dev.pluck.testdata;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NtfsFeaturesIT {
  private static final int FILE_ATTRIBUTE_SYSTEM = 0x4;
  private static final int FILE_ATTRIBUTE_COMPRESSED = 0x800;

  @ParameterizedTest
  @ValueSource(strings = {"ntfs-features-4k", "ntfs-features-64k"})
  void clusterSizeIsWhatMkntfsWasAskedFor(String name) {
    TestDisk disk = TestDisks.get(name);
    int cluster = disk.oracle().facts().path("clusterSize").asInt();
    assertThat(cluster).isEqualTo(name.endsWith("-4k") ? 4096 : 65536);
    assertThat(Tools.runOk("fsstat", disk.image().toString()).stdout()).contains("Cluster Size: " + cluster);
    assertThat(disk.oracle().volume("disk").fsType()).isEqualTo("ntfs");
  }

  @ParameterizedTest
  @ValueSource(strings = {"ntfs-features-4k", "ntfs-features-64k"})
  void fragmentedFileHasAnAttributeList(String name) {
    TestDisk disk = TestDisks.get(name);
    OracleEntry f = disk.oracle().file("disk", "/fragmented.bin");
    assertThat(f.size()).isGreaterThanOrEqualTo(400L * disk.oracle().facts().path("clusterSize").asInt());
    assertThat(Sleuthkit.istat(disk.image(), 0, f.inode())).contains("$ATTRIBUTE_LIST");
    assertThat(Sleuthkit.icatSha256(disk.image(), 0, Long.toString(f.inode()))).isEqualTo(f.sha256());
  }

  @ParameterizedTest
  @ValueSource(strings = {"ntfs-features-4k", "ntfs-features-64k"})
  void treesManyFilesAndSystemFiles(String name) {
    Oracle oracle = TestDisks.get(name).oracle();
    OracleAsserts.assertTreeMatchesGenerator(oracle, "disk", "/tree", "tree-disk/tree");
    assertThat(oracle.files("disk")).filteredOn(e -> e.path().startsWith("/many/")).hasSize(5000);
    Map<String, OracleEntry> files = oracle.filesByPath("disk");
    assertThat(files).containsKeys("/pagefile.sys", "/hiberfil.sys", "/names/ünïcödé-名前", "/names/emoji-🎉");
    assertThat(files.get("/pagefile.sys").ntfsAttributes() & FILE_ATTRIBUTE_SYSTEM).isNotZero();
  }

  @ParameterizedTest
  @ValueSource(strings = {"ntfs-features-4k", "ntfs-features-64k"})
  void streamsAreListedAndTheSleuthKitReadsThem(String name) {
    TestDisk disk = TestDisks.get(name);
    Map<String, OracleEntry> files = disk.oracle().filesByPath("disk");
    assertThat(files.get("/streams/file.txt").streams()).containsOnlyKeys("one", "big", "Zone.Identifier");
    assertThat(files.get("/streams/file.txt").streams().get("big").size()).isEqualTo(200000);
    assertThat(files.get("/streams/dir-with-stream").streams()).containsOnlyKeys("dirstream");
    assertThat(files.get("/streams/empty-main.txt").size()).isZero();
    List<Sleuthkit.FlsEntry> fls = Sleuthkit.fls(disk.image(), 0);
    Sleuthkit.FlsEntry big = fls.stream().filter(e -> e.path().equals("streams/file.txt:big")).findFirst().orElseThrow();
    assertThat(Sleuthkit.icatSha256(disk.image(), 0, big.address()))
        .isEqualTo(files.get("/streams/file.txt").streams().get("big").sha256());
  }

  @ParameterizedTest
  @ValueSource(strings = {"ntfs-features-4k", "ntfs-features-64k"})
  void symlinksJunctionsAndHardLinks(String name) {
    Map<String, OracleEntry> files = TestDisks.get(name).oracle().filesByPath("disk");
    OracleEntry interix = files.get("/links/interix-symlink");
    assertThat(interix.isSymlink()).isTrue();
    assertThat(interix.target()).isEqualTo("target.txt");
    assertThat(interix.reparse()).isNull();
    assertThat(files.get("/links/reparse-symlink").reparse()).startsWith("0c0000a0");  // IO_REPARSE_TAG_SYMLINK
    assertThat(files.get("/links/reparse-symlink").target()).isEqualTo("target.txt");
    assertThat(files.get("/links/junction").reparse()).startsWith("030000a0");        // IO_REPARSE_TAG_MOUNT_POINT
    assertThat(files.get("/links/target.txt").nlink()).isEqualTo(3);
    assertThat(files.get("/links/hard-link.txt").inode()).isEqualTo(files.get("/links/target.txt").inode());
  }

  @ParameterizedTest
  @ValueSource(strings = {"ntfs-features-4k", "ntfs-features-64k"})
  void compressionOnlyWhereNtfsAllowsIt(String name) {
    TestDisk disk = TestDisks.get(name);
    Map<String, OracleEntry> files = disk.oracle().filesByPath("disk");
    if (name.endsWith("-64k")) {
      assertThat(files).doesNotContainKey("/compressed");
      return;
    }
    for (String p : new String[] {"/compressed/text.txt", "/compressed/random.bin", "/compressed/mixed.bin"}) {
      OracleEntry e = files.get(p);
      assertThat(e.ntfsAttributes() & FILE_ATTRIBUTE_COMPRESSED).as(p).isNotZero();
      assertThat(Sleuthkit.icatSha256(disk.image(), 0, Long.toString(e.inode()))).as(p).isEqualTo(e.sha256());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"ntfs-features-4k", "ntfs-features-64k"})
  void theSleuthKitListsTheSamePaths(String name) {
    TestDisk disk = TestDisks.get(name);
    OracleAsserts.assertSleuthkitAgrees(disk.image(), 0, disk.oracle(), "disk", p -> true, 30);
  }
}
