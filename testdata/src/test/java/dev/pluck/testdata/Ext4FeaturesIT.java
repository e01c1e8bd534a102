package dev.pluck.testdata;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Ext4FeaturesIT {
  private final TestDisk disk = TestDisks.ext4Features();
  private final Oracle oracle = disk.oracle();
  private final Map<String, OracleEntry> files = oracle.filesByPath("disk");

  private String debugfs(String request) {
    return Tools.runOk("debugfs", "-R", request, disk.image().toString()).stdout();
  }

  @Test
  void superblockHasTheModernFeatures() {
    String header = Tools.runOk("dumpe2fs", "-h", disk.image().toString()).stdout();
    Matcher m = Pattern.compile("(?m)^Filesystem features:\\s+(.*)$").matcher(header);
    assertThat(m.find()).isTrue();
    assertThat(m.group(1).split(" "))
        .contains("64bit", "flex_bg", "metadata_csum", "huge_file", "inline_data", "dir_index", "extent");
    assertThat(oracle.volume("disk").fsType()).isEqualTo("ext4");
  }

  @Test
  void fragmentedFileNeedsAnExtentTreeOfDepthTwo() {
    String ex = debugfs("ex /fragmented.bin");
    Matcher m = Pattern.compile("(?m)^\\s*0/\\s*(\\d+)").matcher(ex);
    assertThat(m.find()).as("debugfs ex output: %s", ex.lines().limit(3).toList()).isTrue();
    assertThat(Integer.parseInt(m.group(1))).isGreaterThanOrEqualTo(2);
    assertThat(files.get("/fragmented.bin").size()).isEqualTo(3072L * 4096);
  }

  @Test
  void holesUnwrittenExtentsAndHugeFiles() {
    assertThat(debugfs("ex /unwritten.bin")).contains("Uninit");
    assertThat(files.get("/sparse.bin").size()).isEqualTo(24L << 20);
    String stat = debugfs("stat /sparse.bin");
    Matcher blocks = Pattern.compile("Blockcount: (\\d+)").matcher(stat);
    assertThat(blocks.find()).isTrue();
    assertThat(Long.parseLong(blocks.group(1)) * 512).isLessThan(4L << 20);  // mostly hole
    assertThat(files.get("/huge-sparse.bin").size()).isEqualTo(5L << 30);
  }

  @Test
  void bigDirectoryIsAnHtreeWithTwentyThousandEntries() {
    assertThat(oracle.files("disk")).filteredOn(e -> e.path().startsWith("/big-dir/")).hasSize(20000);
    // EXT4_INDEX_FL (0x1000): the directory is hashed.
    Matcher flags = Pattern.compile("Flags: 0x([0-9a-f]+)").matcher(debugfs("stat /big-dir"));
    assertThat(flags.find()).isTrue();
    assertThat(Long.parseLong(flags.group(1), 16) & 0x1000).isNotZero();
    assertThat(debugfs("htree /big-dir")).contains("Root node dump");
  }

  @Test
  void smallFilesAndDirectoriesAreInline() {
    for (String p : new String[] {"/inline/tiny.txt", "/inline/fifty.txt", "/inline/small-dir"}) {
      assertThat(debugfs("stat " + p)).as(p).contains("Size of inline data");
    }
    assertThat(files.get("/inline/fifty.txt").size()).isEqualTo(50);
  }

  @Test
  void linksAndSpecialFiles() {
    assertThat(files.get("/links/fast-symlink").target()).isEqualTo("target.txt");
    assertThat(debugfs("stat /links/fast-symlink")).contains("Fast link dest");
    assertThat(files.get("/links/slow-symlink").target()).hasSizeGreaterThan(60);
    assertThat(debugfs("stat /links/slow-symlink")).doesNotContain("Fast link dest");
    OracleEntry target = files.get("/links/target.txt");
    assertThat(target.nlink()).isEqualTo(3);
    assertThat(files.get("/links/hard-link").inode()).isEqualTo(target.inode());
    assertThat(files.get("/links/dir/hard-link-2").inode()).isEqualTo(target.inode());
    assertThat(files.get("/special/char-null").type()).isEqualTo("chardev");
    assertThat(files.get("/special/char-null").rdev()).containsExactly(1, 3);
    assertThat(files.get("/special/block-loop7").rdev()).containsExactly(7, 7);
    assertThat(files.get("/special/fifo").type()).isEqualTo("fifo");
    assertThat(files.get("/special/socket").type()).isEqualTo("socket");
  }

  @Test
  void extendedAttributesAndAcls() {
    Map<String, byte[]> x = files.get("/xattr/file").xattrs();
    assertThat(new String(x.get("user.comment"), StandardCharsets.UTF_8)).isEqualTo("a user attribute");
    assertThat(x.get("user.binary")).containsExactly(0x00, 0xff, 0x10, 0xab);
    assertThat(x.get("user.big")).hasSize(3000);
    assertThat(x).containsKeys("security.pluck", "trusted.pluck", "system.posix_acl_access");
    assertThat(files.get("/xattr/acl-dir").xattrs()).containsKey("system.posix_acl_default");
  }

  @Test
  void namesModesOwnersAndTimes() {
    assertThat(files).containsKeys("/names/new\nline", "/names/with space", "/names/-leading-dash", "/names/ünïcödé-名前");
    assertThat(files.keySet()).anyMatch(p -> p.startsWith("/names/nnn") && p.length() == "/names/".length() + 255);
    assertThat(files.get("/modes/m4755").mode()).isEqualTo(04755);
    assertThat(files.get("/modes/m1777").mode()).isEqualTo(01777);
    OracleEntry owned = files.get("/modes/m0640");
    assertThat(owned.uid()).isEqualTo(1234);
    assertThat(owned.gid()).isEqualTo(5678);
    assertThat(owned.mtimeNs() % 1_000_000_000L).isEqualTo(123_456_789L);
    assertThat(files.get("/modes/m0777").mtimeNs()).isNegative();  // before 1970
  }

  @Test
  void debugfsReadsTheSameContentAndTheSwapfileIsSwap(@TempDir Path tmp) throws Exception {
    // Not the inline files: debugfs 1.47 dumps an inline file padded to 60 bytes, one reason
    // the kernel's own mount is the oracle and debugfs only a cross-check.
    for (String p : new String[] {"/fragmented.bin", "/sparse.bin", "/unwritten.bin", "/swapfile"}) {
      Path out = tmp.resolve("dump");
      Files.deleteIfExists(out);
      Tools.runOk("debugfs", "-R", "dump " + p + " " + out, disk.image().toString());
      assertThat(Tools.runOk("sha256sum", out.toString()).stdout()).startsWith(files.get(p).sha256());
      if (p.equals("/swapfile")) {
        byte[] page = new byte[4096];
        try (var in = Files.newInputStream(out)) {
          assertThat(in.readNBytes(page, 0, 4096)).isEqualTo(4096);
        }
        assertThat(new String(page, 4086, 10, StandardCharsets.US_ASCII)).isEqualTo("SWAPSPACE2");
      }
    }
  }
}
