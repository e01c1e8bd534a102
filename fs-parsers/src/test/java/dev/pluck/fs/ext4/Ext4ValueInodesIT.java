package dev.pluck.fs.ext4;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.fs.Entry;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.Tools;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * xattr values in inodes of their own, written by debugfs (e2fsprogs' own ea_inode code) on a
 * filesystem of 64 KiB blocks, where one inode can name hundreds of 64 KiB values: a few are read
 * back byte for byte; more than {@link Ext4FileSystem#MAX_VALUE_INODE_BYTES} in one inode end in a
 * named error for that inode, not in memory use the guest chooses. (The kernel's ext4-ea_inode
 * image is checked against the kernel in Ext4ReaderIT.)
 */
class Ext4ValueInodesIT {
  @Test
  void valuesAreReadAndTheirSumPerInodeIsBounded(@TempDir Path dir) throws Exception {
    Path image = dir.resolve("ea.img");
    try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(256L << 20);
    }
    Tools.runOk("mkfs.ext4", "-q", "-F", "-b", "65536", "-O", "ea_inode", image.toString());
    Random random = new Random(63);
    Path small = dir.resolve("small");
    Files.write(small, "a file\n".getBytes());
    List<byte[]> values = new ArrayList<>();
    List<String> commands = new ArrayList<>(List.of("write " + small + " few", "write " + small + " many"));
    for (int i = 0; i < 3; i++) {
      byte[] v = new byte[20_000 + 20_000 * i];
      random.nextBytes(v);
      values.add(v);
      Path p = dir.resolve("v" + i);
      Files.write(p, v);
      commands.add("ea_set -f " + p + " /few user.v" + i);
    }
    long over = Ext4FileSystem.MAX_VALUE_INODE_BYTES / 65536 + 8;
    for (int i = 0; i < over; i++) {
      byte[] v = new byte[65536];
      random.nextBytes(v);
      Path p = dir.resolve("big");
      Files.write(p, v);
      commands.add("ea_set -f " + p + " /many user.big" + i);
      if (commands.size() % 50 == 0 || i == over - 1) {
        Path script = dir.resolve("cmds");
        Files.write(script, commands);
        Tools.runOk("debugfs", "-w", "-f", script.toString(), image.toString());
        commands.clear();
      }
    }
    assertThat(Tools.runOk("debugfs", "-R", "ea_list /many", image.toString()).stdout()).contains("user.big" + (over - 1) + " (65536)");

    try (FileBlockDevice img = FileBlockDevice.open(image); Ext4FileSystem fs = Ext4FileSystem.open(img)) {
      Entry few = fs.lookup("/few").orElseThrow();
      for (int i = 0; i < values.size(); i++) {
        assertThat(few.xattrs().get("user.v" + i)).as("user.v%d", i).isEqualTo(values.get(i));
      }
      assertThatThrownBy(() -> fs.lookup("/many")).isInstanceOf(Ext4CorruptException.class)
          .hasMessageContaining("values kept in inodes of their own add up to more than " + Ext4FileSystem.MAX_VALUE_INODE_BYTES);
    }
  }
}
