package dev.pluck.cli;

import dev.pluck.engine.Backup;
import dev.pluck.engine.VmBackup;
import dev.pluck.engine.repo.Config;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.Volume;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.qmp.MonitorAddress;
import dev.pluck.qmp.PullView;
import dev.pluck.qmp.QmpClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code pluck demo}: a pull-mode backup of a sample VM, from scratch. The disk is built by the
 * test suite's gpt-mixed recipe script and served by qemu-storage-daemon; changes between the two
 * backups are written through the daemon's FUSE export, as a guest's writes would be.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, description = {
    "Back up a sample VM twice and show what was read: builds a 512 MiB GPT disk (ext4 root, LVM with ext4 /home, "
        + "NTFS /srv/data and swap, a swap partition), serves it with qemu-storage-daemon, backs up /home and /etc, "
        + "changes a few files as the guest would, backs up again through the dirty bitmap, prints both results side by side "
        + "and cleans up. Needs root (loop devices, mounts); installs missing Debian packages when it can.",
    "",
    "Example: ./pluck demo"})
final class DemoCommand implements Callable<Integer> {
  /** Tools the demo runs, and the Debian package of each. */
  static final Map<String, String> TOOLS = Map.ofEntries(Map.entry("qemu-storage-daemon", "qemu-system-common"),
      Map.entry("sgdisk", "gdisk"), Map.entry("sfdisk", "fdisk"), Map.entry("mkfs.ext4", "e2fsprogs"), Map.entry("mkfs.vfat", "dosfstools"),
      Map.entry("mcopy", "mtools"), Map.entry("mkswap", "util-linux"), Map.entry("losetup", "mount"), Map.entry("blkid", "util-linux"),
      Map.entry("mkntfs", "ntfs-3g"), Map.entry("ntfs-3g", "ntfs-3g"), Map.entry("pvcreate", "lvm2"), Map.entry("python3", "python3"),
      Map.entry("fusermount3", "fuse3"));

  @Spec CommandSpec spec;

  @Option(names = "--dir", paramLabel = "DIR", description = "Work in DIR (default: a new directory under /var/tmp).")
  Path dir;

  @Option(names = "--keep", description = "Keep the disk, the repository and the work directory afterwards.")
  boolean keep;

  private final List<String> loops = new ArrayList<>();
  private final List<Path> mounts = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    ensureTools(err);
    Path home = Path.of(System.getProperty("pluck.home", "."));
    Path script = home.resolve("testdata/scripts/build-gpt-mixed.sh");
    if (!Files.isRegularFile(script)) {
      throw new IOException("the sample disk's recipe is missing: " + script + " (run ./pluck from the repository)");
    }
    Path work = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory(Path.of("/var/tmp"), "pluck-demo-");
    Process qsd = null;
    try {
      err.println("pluck demo: building the sample disk with " + home.relativize(script) + " (about a minute)...");
      err.flush();
      Path built = Files.createDirectories(work.resolve("disk"));
      run(Duration.ofMinutes(10), "bash", script.toString(), built.toString());
      Path disk = built.resolve("disk.img");

      err.println("pluck demo: starting qemu-storage-daemon with the disk as node disk0...");
      err.flush();
      Path qmp = work.resolve("qmp.sock");
      qsd = new ProcessBuilder("qemu-storage-daemon", "--chardev", "socket,path=" + qmp + ",server=on,wait=off,id=qmp0", "--monitor",
          "chardev=qmp0", "--blockdev", "driver=file,node-name=file0,filename=" + disk, "--blockdev", "driver=raw,node-name=disk0,file=file0")
          .redirectErrorStream(true).redirectOutput(work.resolve("qsd.log").toFile()).start();
      awaitSocket(qmp, qsd);
      MonitorAddress monitor = MonitorAddress.unix(qmp);
      Path fuse = Files.createFile(work.resolve("guest-disk"));
      try (QmpClient client = QmpClient.connect(monitor)) {
        client.execute("block-export-add", "{\"type\":\"fuse\",\"id\":\"guest\",\"node-name\":\"disk0\",\"mountpoint\":\"" + fuse
            + "\",\"writable\":true}");
      }

      Path repoDir = work.resolve("repo");
      Repository.init(new LocalStorage(repoDir), Config.defaults(Config.DEFAULT_COMPRESSION)).close();
      Backup.Options options = new Backup.Options(Backup.Mode.FILES, List.of(), List.of("/home/**", "/etc/**"), List.of(), false, List.of(),
          false, List.of("demo"), null, new Snapshot.Source("demo-vm", List.of("disk0"), List.of()), "backup",
          InetAddress.getLocalHost().getHostName(), null, null);
      VmBackup.Result full;
      err.println("pluck demo: vm backup of /home and /etc (the chain's first checkpoint: a full read)...");
      err.flush();
      try (Repository repo = Repository.open(new LocalStorage(repoDir))) {
        full = VmBackup.run(repo, monitor, List.of("disk0"), view(work), options, false);
      }

      err.println("pluck demo: the guest writes: a new file in /etc, 1 MiB appended and 4 KiB overwritten in /home...");
      err.flush();
      List<String> changes = guestWrites(disk, fuse, work);

      err.println("pluck demo: vm backup again (only what the dirty bitmap says changed)...");
      err.flush();
      VmBackup.Result incremental;
      try (Repository repo = Repository.open(new LocalStorage(repoDir))) {
        incremental = VmBackup.run(repo, monitor, List.of("disk0"), view(work), options, false);
      }
      print(out, Files.size(disk), full, incremental, changes);
      out.println();
      out.println("snapshots (pluck snapshots --repo " + repoDir + "):");
      out.flush();
      Pluck.commandLine().setOut(out).setErr(err).execute("snapshots", "--repo", repoDir.toString());
      // "Restore this one file from Tuesday": the overwritten file, from the first snapshot.
      Path restored = work.resolve("restored");
      String first = full.backup().snapshot().substring(0, 8);
      out.println();
      out.printf("restore %s as it was before the guest overwrote it:%n", overwritten);
      out.printf("  pluck restore --repo %s %s %s --target %s%n", repoDir, first, overwritten, restored);
      out.flush();
      int rc = Pluck.commandLine().setOut(out).setErr(err).execute("restore", "--repo", repoDir.toString(), first, overwritten,
          "--target", restored.toString());
      String got = rc == 0 ? sha256(restored.resolve(overwritten.substring(1))) : "(restore failed)";
      out.printf("  sha256 before the write  %s%n  sha256 restored          %s  %s%n  sha256 in the guest now  %s%n", shaBefore, got,
          got.equals(shaBefore) ? "(the same: restored)" : "(DIFFERENT)", shaAfter);
      if (!got.equals(shaBefore)) {
        out.flush();
        return 1;
      }
      if (keep) {
        out.println();
        out.println("kept: " + work + " (disk/disk.img, repo/)");
      }
      out.flush();
      return 0;
    } finally {
      cleanup(qsd, work);
    }
  }

  private static PullView.Options view(Path work) {
    return PullView.Options.defaults("backup", work.resolve("scratch")).withLockDir(work.resolve("locks"));
  }

  /** The file the guest overwrites, and its SHA-256 before and after. */
  private String overwritten;
  private String shaBefore;
  private String shaAfter;

  static String sha256(Path p) throws IOException {
    try (var in = Files.newInputStream(p)) {
      java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
      byte[] b = new byte[1 << 16];
      for (int n; (n = in.read(b)) > 0; ) {
        md.update(b, 0, n);
      }
      return java.util.HexFormat.of().formatHex(md.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** What the guest changes between the backups, written through the FUSE export with the kernel's ext4. */
  private List<String> guestWrites(Path disk, Path fuse, Path work) throws IOException {
    VolumeTree tree;
    try (FileBlockDevice d = FileBlockDevice.open(disk)) {
      tree = VolumeTree.probe(List.of(new VolumeTree.Disk("0", d)));
    }
    List<String> changes = new ArrayList<>();
    Path root = mount(fuse, tree.find("label=root").orElseThrow(), work.resolve("mnt-root"));
    Files.writeString(root.resolve("etc/demo.conf"), "# written by the guest between two backups\nanswer = 42\n");
    changes.add("/etc/demo.conf (new)");
    Path home = mount(fuse, tree.find("label=home").orElseThrow(), work.resolve("mnt-home"));
    Path largest;
    try (var files = Files.walk(home)) {
      largest = files.filter(p -> Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS))
          .max(java.util.Comparator.comparingLong(p -> p.toFile().length())).orElseThrow();
    }
    overwritten = "/home/" + home.relativize(largest);
    shaBefore = sha256(largest);
    try (FileChannel ch = FileChannel.open(largest, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(new byte[4096]), Math.max(0, ch.size() / 2));
    }
    shaAfter = sha256(largest);
    changes.add(overwritten + " (4 KiB overwritten in the middle)");
    Path log = home.resolve("demo.log");
    byte[] line = "a line of the guest's log\n".getBytes(StandardCharsets.US_ASCII);
    try (FileChannel ch = FileChannel.open(log, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
      for (int i = 0; i < (1 << 20) / line.length; i++) {
        ch.write(ByteBuffer.wrap(line));
      }
    }
    changes.add("/home/demo.log (new, 1 MiB)");
    unmountAll();
    return changes;
  }

  private Path mount(Path fuse, Volume v, Path at) throws IOException {
    long offset = v.offset();
    long size = v.size();
    if (!v.segments().isEmpty()) {
      if (v.segments().size() != 1) {
        throw new IOException("volume " + v.id() + " is not one stretch of the disk");
      }
      offset = v.segments().get(0).offset();
      size = v.segments().get(0).length();
    }
    String loop = run(Duration.ofSeconds(30), "losetup", "--find", "--show", "--offset", Long.toString(offset), "--sizelimit",
        Long.toString(size), fuse.toString()).strip();
    loops.add(loop);
    Files.createDirectories(at);
    run(Duration.ofSeconds(30), "mount", "-o", "noatime", loop, at.toString());
    mounts.add(at);
    return at;
  }

  private void unmountAll() {
    run(Duration.ofSeconds(60), "sync");
    for (Path m : mounts) {
      quietly("umount", m.toString());
    }
    mounts.clear();
    for (String l : loops) {
      quietly("losetup", "-d", l);
    }
    loops.clear();
  }

  private void cleanup(Process qsd, Path work) {
    unmountAll();
    if (qsd != null) {
      qsd.destroy();
      try {
        qsd.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      qsd.destroyForcibly();
    }
    if (!keep) {
      quietly("rm", "-rf", work.toString());
    }
  }

  static void print(PrintWriter out, long diskSize, VmBackup.Result full, VmBackup.Result incr, List<String> changes) {
    Backup.Result a = full.backup();
    Backup.Result b = incr.backup();
    out.printf("%nthe guest changed between the two backups:%n");
    changes.forEach(c -> out.println("  " + c));
    out.printf("%n%-28s %16s %16s%n", "", "full", "incremental");
    row(out, "checkpoint", full.checkpoint(), incr.checkpoint());
    row(out, "changes read since", "-", incr.since() == null ? "-" : incr.since());
    row(out, "disk size", RepoCommands.human(diskSize), RepoCommands.human(diskSize));
    row(out, "data read", RepoCommands.human(a.bytesRead().get("data")), RepoCommands.human(b.bytesRead().get("data")));
    row(out, "metadata read", RepoCommands.human(a.bytesRead().get("metadata")), RepoCommands.human(b.bytesRead().get("metadata")));
    for (String k : a.bytesSkipped().keySet()) {
      row(out, "skipped: " + k, RepoCommands.human(a.bytesSkipped().get(k)), RepoCommands.human(b.bytesSkipped().get(k)));
    }
    row(out, "files new/changed/unchanged", a.files().get("new") + "/" + a.files().get("changed") + "/" + a.files().get("unchanged"),
        b.files().get("new") + "/" + b.files().get("changed") + "/" + b.files().get("unchanged"));
    row(out, "added to the repository", RepoCommands.human(a.bytesAdded()), RepoCommands.human(b.bytesAdded()));
    row(out, "seconds", String.format("%.1f", a.seconds()), String.format("%.1f", b.seconds()));
    out.printf("%nvolumes left out: %s%n", String.join("; ", a.volumesLeftOut()));
    out.println("swap (a partition and an LV) is never read: files mode takes no swap, and the guest paths select /home and /etc only.");
  }

  private static void row(PrintWriter out, String name, String a, String b) {
    out.printf("%-28s %16s %16s%n", name, a, b);
  }

  /** Installs what is missing (as root, with apt-get), or names it. */
  private void ensureTools(PrintWriter err) throws IOException {
    List<String> packages = new ArrayList<>();
    for (Map.Entry<String, String> t : new java.util.TreeMap<>(TOOLS).entrySet()) {
      if (!onPath(t.getKey()) && !packages.contains(t.getValue())) {
        packages.add(t.getValue());
      }
    }
    boolean root = "root".equals(System.getProperty("user.name"));
    if (!root) {
      throw new IOException("the demo needs root (it attaches loop devices and mounts the guest's filesystems)");
    }
    if (packages.isEmpty()) {
      return;
    }
    if (!onPath("apt-get")) {
      throw new IOException("missing Debian packages: " + String.join(" ", packages) + " (install them, then run ./pluck demo again)");
    }
    err.println("pluck demo: installing " + String.join(" ", packages) + "...");
    err.flush();
    run(Duration.ofMinutes(10), "apt-get", "update", "-q");
    List<String> install = new ArrayList<>(List.of("apt-get", "install", "-y", "-q", "--no-install-recommends"));
    install.addAll(packages);
    run(Duration.ofMinutes(20), install.toArray(String[]::new));
  }

  private static boolean onPath(String tool) {
    for (String d : System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
      if (Files.isExecutable(Path.of(d, tool))) {
        return true;
      }
    }
    return Files.isExecutable(Path.of("/usr/sbin", tool)) || Files.isExecutable(Path.of("/sbin", tool));
  }

  private static void awaitSocket(Path socket, Process p) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!Files.exists(socket)) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        throw new IOException("qemu-storage-daemon did not start (see its log next to " + socket + ")");
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException();
      }
    }
  }

  /** Runs a command, returns its output; fails with its last lines. */
  static String run(Duration timeout, String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getOutputStream().close();
      byte[] output = p.getInputStream().readAllBytes();
      if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(command[0] + " took longer than " + timeout.toSeconds() + " s");
      }
      String text = new String(output, StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        String[] lines = text.strip().split("\n");
        throw new IllegalStateException(String.join(" ", command).replaceAll("^(\\S+ \\S+).*", "$1") + " failed (exit " + p.exitValue()
            + "): " + lines[lines.length - 1]);
      }
      return text;
    } catch (IOException e) {
      throw new IllegalStateException(command[0] + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private static void quietly(String... command) {
    try {
      run(Duration.ofSeconds(30), command);
    } catch (IllegalStateException ignored) {
      // cleaning up what may not be there
    }
  }
}
