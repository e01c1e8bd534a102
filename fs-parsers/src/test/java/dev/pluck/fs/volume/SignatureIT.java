package dev.pluck.fs.volume;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every format pluck recognises, made by its own tool, compared with blkid -p on the same file. */
class SignatureIT {
  @TempDir Path tmp;

  private Path image(String name, long size) throws Exception {
    Path p = tmp.resolve(name);
    Tools.runOk("truncate", "-s", Long.toString(size), p.toString());
    return p;
  }

  private static void run(String... cmd) {
    Tools.run(Duration.ofMinutes(2), List.of(cmd)).ok();
  }

  private static Map<String, String> blkid(Path p) {
    Map<String, String> out = new HashMap<>();
    Tools.Result r = Tools.run(Duration.ofMinutes(1), List.of("blkid", "-p", "-o", "export", p.toString()));
    for (String line : r.lines()) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        out.put(line.substring(0, eq), line.substring(eq + 1).replaceAll("\\\\(.)", "$1"));
      }
    }
    return out;
  }

  private static final Map<String, String> NAMES = Map.of("crypto_LUKS", "luks", "LVM2_member", "lvm2-pv");

  @Test
  void formatsMadeByTheirOwnToolsAreRecognisedAsBlkidRecognisesThem() throws Exception {
    List<Path> made = new ArrayList<>();
    Path f12 = image("fat12.img", 2 << 20);
    run("mkfs.vfat", "-F", "12", "-n", "SMALLFAT", f12.toString());
    made.add(f12);
    Path f16 = image("fat16.img", 32 << 20);
    run("mkfs.vfat", "-F", "16", "-n", "MIDFAT", f16.toString());
    made.add(f16);
    Path exfat = image("exfat.img", 32 << 20);
    run("mkfs.exfat", "-L", "EXLABEL", exfat.toString());
    made.add(exfat);
    Path xfs = image("xfs.img", 300 << 20);
    run("mkfs.xfs", "-q", "-L", "xfslabel", xfs.toString());
    made.add(xfs);
    Path btrfs = image("btrfs.img", 128 << 20);
    run("mkfs.btrfs", "-q", "-L", "btrlabel", btrfs.toString());
    made.add(btrfs);
    Path ext2 = image("ext2.img", 8 << 20);
    run("mkfs.ext2", "-q", "-L", "e2", ext2.toString());
    made.add(ext2);
    Path swap = image("swap.img", 8 << 20);
    run("mkswap", "-L", "swaplabel", swap.toString());
    made.add(swap);
    for (String type : new String[] {"luks1", "luks2"}) {
      Path luks = image(type + ".img", 16 << 20);
      List<String> cmd = new ArrayList<>(List.of("bash", "-c", "printf pw | cryptsetup luksFormat --type " + type
          + (type.equals("luks2") ? " --label lukslabel" : "") + " --pbkdf pbkdf2 --pbkdf-force-iterations 1000 -q --batch-mode --key-file=- "
          + luks));
      Tools.run(Duration.ofMinutes(2), cmd);  // may warn that a 16 MiB device is too small to open: the header is written
      made.add(luks);
    }
    Path dir = Files.createDirectories(tmp.resolve("iso-content"));
    Files.writeString(dir.resolve("readme.txt"), "hello");
    Path iso = tmp.resolve("disc.iso");
    run("genisoimage", "-quiet", "-V", "DISCLABEL", "-o", iso.toString(), dir.toString());
    made.add(iso);

    for (Path p : made) {
      Map<String, String> theirs = blkid(p);
      try (FileBlockDevice dev = FileBlockDevice.open(p)) {
        Signature ours = SignatureProbe.probe(dev);
        String type = theirs.getOrDefault("TYPE", "");
        assertThat(ours.fs()).as("type of %s", p.getFileName()).isEqualTo(NAMES.getOrDefault(type, type));
        assertThat(ours.label()).as("label of %s", p.getFileName()).isEqualTo(theirs.getOrDefault("LABEL", ""));
        if (!type.equals("iso9660")) {  // blkid makes an ISO's UUID from its dates
          assertThat(ours.uuid()).as("uuid of %s", p.getFileName()).isEqualTo(theirs.getOrDefault("UUID", ""));
        }
      }
    }
  }

  @Test
  void aSwapAreaHoldingAHibernationImageIsSaidToHoldOne() throws Exception {
    Path swap = image("hib.img", 8 << 20);
    run("mkswap", "-L", "hib", swap.toString());
    try (var ch = java.nio.channels.FileChannel.open(swap, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap("S1SUSPEND\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII)), 4086);
    }
    try (FileBlockDevice dev = FileBlockDevice.open(swap)) {
      Signature s = SignatureProbe.probe(dev);
      assertThat(s.fs()).isEqualTo("swap");
      assertThat(s.detail()).contains("hibernation").contains("S1SUSPEND");
      assertThat(s.label()).isEqualTo("hib");
    }
    assertThat(blkid(swap).get("TYPE")).isEqualTo("swsuspend");  // blkid agrees it is a hibernation image
  }
}
