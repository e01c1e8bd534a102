package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.QemuSystem;
import dev.pluck.testdata.Tools;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs every {@code sh} block of docs/GUIDE.md in order, as a user would paste them, each in
 * {@code bash -euo pipefail} from the project's root, against qemu-storage-daemon serving a small
 * GPT disk as VM web1 (a qcow2 image, so its bitmaps persist for the offline backup) and a paused
 * qemu-system-x86_64 guest with Proxmox VE's device ids; then checks what each block did. Every
 * block is named by a marker; a block the test does not run says why in its marker, and every
 * other one must have a check here.
 */
class GuideIT {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  private static final Path GUIDE = ROOT.resolve("docs/GUIDE.md");
  private static final Pattern BLOCK = Pattern.compile("<!-- guide: ([a-z0-9-]+)( \\(not run: ([^)]+)\\))? -->\\s*\n```(\\w*)\n(.*?)```", Pattern.DOTALL);
  private static final Pattern ANY_SH_BLOCK = Pattern.compile("^```sh$", Pattern.MULTILINE);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String NOTES = "buy milk\ncall the bank\n";
  private static final String NOTES_APPENDED = "water the plants\n";

  @TempDir Path tmp;
  private Path repo;
  private Path work;
  private Path image;
  private long rootOffset;
  private long rootSize;
  private QemuStorageDaemon web1;
  private Path fuse;

  record Run(String name, int exit, String out, String err) {}

  record Block(String name, String notRun, String language, String text) {}

  @Test
  void everyShellBlockOfTheGuideRunsAndDoesWhatItSays() throws Exception {
    String guide = Files.readString(GUIDE);
    List<Block> blocks = new ArrayList<>();
    Matcher m = BLOCK.matcher(guide);
    while (m.find()) {
      blocks.add(new Block(m.group(1), m.group(3), m.group(4), m.group(5)));
    }
    Matcher sh = ANY_SH_BLOCK.matcher(guide);
    int shellBlocks = 0;
    while (sh.find()) {
      shellBlocks++;
    }
    assertThat(blocks).as("every sh block of the guide has a <!-- guide: NAME --> marker").hasSize(shellBlocks);
    assertThat(blocks).allMatch(b -> b.language().equals("sh"));
    assertThat(blocks.stream().map(Block::name).distinct().count()).isEqualTo(blocks.size());

    repo = tmp.resolve("repo");
    work = tmp.resolve("work");
    image = tmp.resolve("web1.qcow2");
    Path raw = tmp.resolve("web1.raw");
    buildDisk(raw);
    Tools.runOk("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw.toString(), image.toString());
    Path pveImage = tmp.resolve("pve-101.qcow2");
    Tools.runOk("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw.toString(), pveImage.toString());

    web1 = QemuStorageDaemon.start(image, "qcow2", List.of());
    try (QemuSystem pve = QemuSystem.startPaused(pveImage, "qcow2", QemuSystem.Bus.NONE, List.of(
        "-device", "virtio-scsi-pci,id=scsihw0", "-device", "scsi-hd,bus=scsihw0.0,drive=disk0,id=scsi0"))) {
      fuse = web1.exportFuse("guest");
      Map<String, String> env = new HashMap<>();
      env.put("QMP", web1.qmpSocket().toString());
      env.put("DRIVE", "disk0");
      env.put("WORK", work.toString());
      env.put("PLUCK_REPOSITORY", repo.toString());
      env.put("PVE_QMP", pve.qmpSocket().toString());
      env.put("WEB1_DISK", image.toString());
      Map<String, Run> runs = new LinkedHashMap<>();
      for (Block b : blocks) {
        if (b.notRun() != null) {
          assertThat(b.notRun()).as("why block %s is not run", b.name()).hasSizeGreaterThan(20);
          continue;
        }
        before(b.name());
        Run r = run(b, env);
        runs.put(b.name(), r);
        assertThat(r.exit()).as("block %s exits 0; stdout:%n%s%nstderr:%n%s", b.name(), r.out(), r.err()).isZero();
        check(r);
      }
      assertThat(runs.keySet()).as("blocks run").contains("setup", "backup-folder", "incremental", "restore-file", "offline");
    } finally {
      web1.close();
    }
  }

  /** What happens in the guest between blocks. */
  private void before(String block) throws Exception {
    switch (block) {
      case "incremental" -> guestWrites(root -> {
        Files.writeString(root.resolve("home/alice/notes.txt"), NOTES_APPENDED, java.nio.file.StandardOpenOption.APPEND);
        Files.writeString(root.resolve("home/alice/todo.txt"), "renew the certificate\n");
      });
      case "offline" -> {
        guestWrites(root -> Files.writeString(root.resolve("home/alice/later.txt"), "written before the shutdown\n"));
        web1.close();  // the VM shuts down
      }
      default -> { }
    }
  }

  private void check(Run r) throws Exception {
    switch (r.name()) {
      case "setup" -> assertThat(CliRun.of("snapshots", "--repo", repo.toString()).exit()).isZero();
      case "backup-folder" -> {
        assertThat(r.out()).contains("notes.txt").contains("photos");
        assertThat(snapshots()).hasSize(1);
        assertThat(CliRun.of("ls", "--repo", repo.toString(), "latest", "--volume", "p1", "/home").out())
            .as("only alice's folder").contains("alice").doesNotContain("bob");
      }
      case "incremental" -> {
        JsonNode result = JSON.readTree(work.resolve("result.json").toFile());
        assertThat(result.at("/files/new").asLong()).as("todo.txt").isEqualTo(1);
        assertThat(result.at("/files/changed").asLong()).as("notes.txt").isEqualTo(1);
        assertThat(result.at("/bytesRead/data").asLong()).as("the photos are not read again").isLessThan(64 << 10);
        assertThat(r.out()).contains("\"files\":{").contains("todo.txt").contains("notes.txt");
        assertThat(snapshots()).hasSize(2);
      }
      case "exclude" -> assertThat(r.out()).contains("bob").contains("todo.txt").doesNotContain("draft.tmp")
          .doesNotContain("thumb-0001.png");
      case "backup-volume" -> assertThat(last().get("volumes").toString()).contains("p3");
      case "backup-disk" -> {
        assertThat(last().get("tags").toString()).contains("disk");
        assertThat(r.out()).containsIgnoringCase("dedup");
      }
      case "restore-file" -> assertThat(r.out()).endsWith("\n" + NOTES + NOTES_APPENDED);
      case "restore-file-version" -> {
        assertThat(Files.readString(work.resolve("tuesday/home/alice/notes.txt"))).isEqualTo(NOTES);
        assertThat(r.out()).endsWith(NOTES);
      }
      case "restore-folder" -> {
        Path notes = work.resolve("folder/home/alice/notes.txt");
        assertThat(Files.getAttribute(notes, "unix:uid")).isEqualTo(1000);
        assertThat(Files.readString(notes)).isEqualTo(NOTES + NOTES_APPENDED);
        assertThat(r.out()).contains(" 1000 ");
      }
      case "restore-tar" -> assertThat(Files.readString(work.resolve("listing.txt"))).contains("home/alice/notes.txt")
          .contains("home/alice/photos/").doesNotContain("draft.tmp");
      case "restore-volume" -> {
        String index = Tools.runOk("debugfs", "-R", "cat /www/index.html", work.resolve("data.img").toString()).stdout();
        assertThat(index).isEqualTo("<h1>web1</h1>\n");
      }
      case "restore-disk" -> {
        Path restored = work.resolve("web1.img");
        assertThat(sfdiskDump(restored)).isEqualTo(sfdiskDump(tmp.resolve("web1.raw")));
        assertThat(r.out()).contains("web1.img3");
      }
      case "serve" -> assertThat(r.out()).contains("nbd+unix").contains("backing file: nbd+unix");
      case "proxmox" -> {
        assertThat(r.out()).contains("pluck-backup-1");
        assertThat(snapshots().stream().filter(s -> s.get("vm").asText().equals("pve-101")).count()).isEqualTo(1);
      }
      case "maintenance" -> assertThat(snapshots().stream().filter(s -> s.get("vm").asText().equals("web1")).count()).isEqualTo(3);
      case "scheduled" -> {
        assertThat(r.out()).isEqualTo("web1: backed up\n");
        try (var files = Files.list(work)) {
          Path result = files.filter(p -> p.getFileName().toString().matches("web1-\\d{4}-\\d\\d-\\d\\d\\.json")).findFirst().orElseThrow();
          assertThat(JSON.readTree(result.toFile()).get("complete").asBoolean()).isTrue();
        }
      }
      case "offline" -> {
        assertThat(r.out()).contains("later.txt").contains("todo.txt");
        JsonNode offline = last();
        assertThat(offline.get("complete").asBoolean()).isTrue();
        assertThat(offline.get("vm").asText()).isEqualTo("web1");
      }
      default -> throw new AssertionError("block " + r.name() + " of the guide has no check in GuideIT");
    }
  }

  private Run run(Block b, Map<String, String> env) throws Exception {
    Path out = tmp.resolve("block-" + b.name() + ".out");
    Path err = tmp.resolve("block-" + b.name() + ".err");
    // A process group of its own, so that what a failed block left running (serve &) goes with it.
    ProcessBuilder pb = new ProcessBuilder("setsid", "bash", "-euo", "pipefail", "-c", b.text()).directory(ROOT.toFile())
        .redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.environment().putAll(env);
    Process p = pb.start();
    boolean ended = p.waitFor(5, TimeUnit.MINUTES);
    Tools.run(Duration.ofSeconds(10), List.of("kill", "-KILL", "--", "-" + p.pid()));
    if (!ended) {
      throw new AssertionError("block " + b.name() + " did not end within 5 minutes");
    }
    // Kept for whoever edits the guide: what each block printed.
    Path kept = Files.createDirectories(Path.of("target/guide"));
    Files.copy(out, kept.resolve(b.name() + ".out"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Files.copy(err, kept.resolve(b.name() + ".err"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    return new Run(b.name(), p.exitValue(), Files.readString(out), Files.readString(err));
  }

  private List<JsonNode> snapshots() throws IOException {
    CliRun r = CliRun.of("snapshots", "--repo", repo.toString(), "--json");
    assertThat(r.exit()).as(r.err()).isZero();
    List<JsonNode> list = new ArrayList<>();
    for (String l : r.out().lines().toList()) {
      list.add(JSON.readTree(l));
    }
    return list;
  }

  private JsonNode last() throws IOException {
    List<JsonNode> all = snapshots();
    return all.get(all.size() - 1);
  }

  private static String sfdiskDump(Path disk) {
    return Tools.runOk("sfdisk", "-d", disk.toString()).stdout().replace(disk.toString(), "DISK");
  }

  interface GuestChange {
    void apply(Path root) throws IOException;
  }

  /** The guest's writes: p1 mounted from the daemon's FUSE export (the kernel's ext4, through QEMU's block layer). */
  private void guestWrites(GuestChange change) throws Exception {
    String loop = Tools.runOk("losetup", "--find", "--show", "--offset", Long.toString(rootOffset), "--sizelimit",
        Long.toString(rootSize), fuse.toString()).stdout().strip();
    Path mnt = Files.createDirectories(tmp.resolve("guest-root"));
    try {
      Tools.runOk("mount", "-o", "noatime", loop, mnt.toString());
      try {
        change.apply(mnt);
      } finally {
        Tools.runOk("umount", mnt.toString());
      }
    } finally {
      Tools.run(Duration.ofSeconds(30), List.of("losetup", "-d", loop));
    }
  }

  /**
   * web1's disk: GPT, p1 ext4 "root" (/etc with an fstab, /home/alice and /home/bob owned by 1000
   * and 1001, a cache directory with CACHEDIR.TAG, a *.tmp file), p2 swap, p3 ext4 "data" mounted
   * at /srv/data.
   */
  private void buildDisk(Path raw) throws Exception {
    Path root = tmp.resolve("tree-root");
    Files.createDirectories(root.resolve("etc/ssh"));
    Files.writeString(root.resolve("etc/fstab"), """
        LABEL=root   /          ext4  errors=remount-ro  0 1
        LABEL=data   /srv/data  ext4  defaults           0 2
        LABEL=swap0  none       swap  sw                 0 0
        """);
    Files.writeString(root.resolve("etc/hostname"), "web1\n");
    Files.writeString(root.resolve("etc/ssh/sshd_config"), "PermitRootLogin no\n");
    Files.createDirectories(root.resolve("srv/data"));
    Files.createDirectories(root.resolve("var/log"));
    Files.writeString(root.resolve("var/log/syslog"), "booted\n".repeat(1000));
    Path alice = Files.createDirectories(root.resolve("home/alice"));
    Files.writeString(alice.resolve("notes.txt"), NOTES);
    Files.writeString(alice.resolve("draft.tmp"), "half a thought\n");
    Random random = new Random(11);
    Files.createDirectories(alice.resolve("photos"));
    for (int i = 1; i <= 3; i++) {
      byte[] photo = new byte[512 << 10];
      random.nextBytes(photo);
      Files.write(alice.resolve("photos/IMG_000" + i + ".jpg"), photo);
    }
    Path cache = Files.createDirectories(alice.resolve(".cache/thumbnails"));
    Files.writeString(cache.resolve("CACHEDIR.TAG"), "Signature: 8a477f597d28d172789f06886806bc55\n# a cache\n");
    Files.write(cache.resolve("thumb-0001.png"), new byte[8192]);
    Path bob = Files.createDirectories(root.resolve("home/bob"));
    Files.writeString(bob.resolve("todo.txt"), "fix the printer\n");
    Tools.runOk("chown", "-R", "1000:1000", alice.toString());
    Tools.runOk("chown", "-R", "1001:1001", bob.toString());
    Path data = tmp.resolve("tree-data");
    Files.createDirectories(data.resolve("www"));
    Files.writeString(data.resolve("www/index.html"), "<h1>web1</h1>\n");
    Files.createDirectories(data.resolve("db"));
    byte[] dump = new byte[2 << 20];
    random.nextBytes(dump);
    Files.write(data.resolve("db/dump.sql"), dump);

    Tools.runOk("truncate", "-s", "200M", raw.toString());
    Tools.runOk("sgdisk", "-n", "1:2048:+96M", "-t", "1:8300", "-c", "1:root", "-n", "2:0:+32M", "-t", "2:8200", "-c", "2:swap",
        "-n", "3:0:+64M", "-t", "3:8300", "-c", "3:data", raw.toString());
    JsonNode parts = JSON.readTree(Tools.runOk("sfdisk", "--json", raw.toString()).stdout()).at("/partitiontable/partitions");
    long[] offsets = new long[3];
    long[] sizes = new long[3];
    for (int i = 0; i < 3; i++) {
      offsets[i] = parts.get(i).get("start").asLong() * 512;
      sizes[i] = parts.get(i).get("size").asLong() * 512;
    }
    rootOffset = offsets[0];
    rootSize = sizes[0];
    place(raw, offsets[0], sizes[0], f -> Tools.runOk("mkfs.ext4", "-q", "-L", "root", "-d", root.toString(), f.toString()));
    place(raw, offsets[1], sizes[1], f -> Tools.runOk("mkswap", "-L", "swap0", f.toString()));
    place(raw, offsets[2], sizes[2], f -> Tools.runOk("mkfs.ext4", "-q", "-L", "data", "-d", data.toString(), f.toString()));
  }

  interface Format {
    void make(Path file) throws Exception;
  }

  /** Makes a volume in a file of its own, then copies it into the disk at its partition's offset. */
  private void place(Path disk, long offset, long size, Format format) throws Exception {
    Path volume = tmp.resolve("volume.img");
    Files.deleteIfExists(volume);
    Tools.runOk("truncate", "-s", Long.toString(size), volume.toString());
    format.make(volume);
    Tools.runOk("dd", "if=" + volume, "of=" + disk, "bs=1M", "seek=" + offset / (1 << 20), "conv=notrunc,sparse", "status=none");
    Files.delete(volume);
  }

}
