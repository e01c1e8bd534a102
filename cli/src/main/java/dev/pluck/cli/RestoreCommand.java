package dev.pluck.cli;

import dev.pluck.engine.repo.Locks;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.restore.DirectoryRestore;
import dev.pluck.restore.ImageRestore;
import dev.pluck.restore.TarRestore;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pluck restore}: files and folders of a snapshot into a directory. */
@Command(name = "restore", mixinStandardHelpOptions = true, description = {
    "Restore files and folders of a snapshot into a directory, at their full paths below it, with their metadata: contents (holes "
        + "stay holes), mode bits, numeric owners (as root), nanosecond times, symlinks, hard links, devices and fifos (as root) "
        + "and extended attributes (ACLs, SELinux labels). Paths are guest paths (/home/alice/notes.txt) when the snapshot "
        + "knows the guest's mounts, or paths inside the volume with --volume. Names that could leave the target, and anything "
        + "below a symlink, are refused and listed. Exit 3 when some paths could not be restored; what was restored stays.", "",
    "With --image or --nbd, writes a volume image (--volume) or rebuilds every disk of a --mode disk snapshot (--whole-disk) "
        + "onto raw files, block devices or writable NBD exports; free space stays holes or is sent as zeros.", "",
    "Example: pluck restore --repo /srv/backups latest /home/alice/notes.txt --target /tmp/r",
    "Example: pluck restore --repo /srv/backups 3f2a --volume vg0/data /projects --target /srv/restore --overwrite if-newer",
    "Example: pluck restore --repo /srv/backups latest /etc --tar - | ssh host tar -xpf - -C /srv/etc-restore",
    "Example: pluck restore --repo /srv/backups latest --volume vg0/data --image /var/tmp/data.img",
    "Example: pluck restore --repo /srv/backups latest:nightly --whole-disk --nbd nbd+unix:///?socket=/run/new-disk.sock"})
final class RestoreCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Mixin RepoCommands.RepoOption repo = new RepoCommands.RepoOption();

  @Parameters(index = "0", paramLabel = "SNAPSHOT", description = "An id prefix, latest, or latest:TAG.")
  String snapshot;

  @Parameters(index = "1..*", paramLabel = "PATH", description = "What to restore, with everything below it (default: everything).")
  List<String> paths = new ArrayList<>();

  @Option(names = "--volume", paramLabel = "ID", description = "Take PATHs inside this volume of the snapshot (p1, vg0/home).")
  String volume;

  @Option(names = "--target", paramLabel = "DIR", description = "Where to restore files and folders (created if missing).")
  Path target;

  @Option(names = "--ntfs-streams", paramLabel = "HOW", defaultValue = "xattr", description = {"NTFS named streams: xattr (default: "
      + "user.NAME extended attributes, as an ntfs-3g mount shows them; up to 64 KiB each), files (FILE:NAME beside FILE) or skip."})
  String ntfsStreams;

  @Option(names = "--tar", paramLabel = "FILE", description = {"Write the selection as a pax tar to FILE, or - for stdout (the summary "
      + "then goes to stderr): owners, modes, nanosecond times, links, devices, xattrs and ACLs, holes left out. Extract with "
      + "tar --xattrs --xattrs-include='*' --acls --numeric-owner -xpf FILE."})
  String tar;

  @Option(names = "--image", paramLabel = "FILE", description = {"Write the --volume's image (or with --whole-disk, one disk per --image, "
      + "in the snapshot's order) to a raw file, made sparse: free space stays holes. An existing file or block device is "
      + "written over only with --overwrite always."})
  List<Path> images = new ArrayList<>();

  @Option(names = "--nbd", paramLabel = "URI", description = {"Write the --volume's image (or with --whole-disk, one disk per --nbd) to a "
      + "writable NBD export at least as large; free space is sent as NBD_CMD_WRITE_ZEROES."})
  List<String> nbds = new ArrayList<>();

  @Option(names = "--whole-disk", description = "Rebuild every disk of a --mode disk snapshot: partition tables, boot code, LVM "
      + "metadata, volumes and swap headers (with --image or --nbd).")
  boolean wholeDisk;

  @Option(names = "--overwrite", paramLabel = "WHEN", defaultValue = "never",
      description = "Existing paths: never (default), if-newer (the snapshot's is newer), always.")
  String overwrite;

  @Option(names = "--owner", paramLabel = "WHOSE", defaultValue = "keep",
      description = "keep: the snapshot's numeric owners (default; needs root); current: the restoring user's.")
  String owner;

  @Override
  public Integer call() throws IOException {
    int kinds = (target != null ? 1 : 0) + (tar != null ? 1 : 0) + (images.isEmpty() ? 0 : 1) + (nbds.isEmpty() ? 0 : 1);
    if (kinds != 1) {
      throw new ParameterException(spec.commandLine(), "say where to restore: one of --target DIR, --tar FILE, --image FILE or --nbd URI");
    }
    if (target == null && tar == null) {
      return images();
    }
    if (tar != null) {
      if (wholeDisk) {
        throw new ParameterException(spec.commandLine(), "--whole-disk writes disks: give --image or --nbd");
      }
      return tar();
    }
    if (wholeDisk) {
      throw new ParameterException(spec.commandLine(), "--whole-disk writes disks: give --image or --nbd");
    }
    DirectoryRestore.Overwrite when = switch (overwrite.toLowerCase(Locale.ROOT)) {
      case "never" -> DirectoryRestore.Overwrite.NEVER;
      case "if-newer" -> DirectoryRestore.Overwrite.IF_NEWER;
      case "always" -> DirectoryRestore.Overwrite.ALWAYS;
      default -> throw new ParameterException(spec.commandLine(), "--overwrite takes never, if-newer or always: " + overwrite);
    };
    DirectoryRestore.Owner whose = switch (owner.toLowerCase(Locale.ROOT)) {
      case "keep" -> DirectoryRestore.Owner.KEEP;
      case "current" -> DirectoryRestore.Owner.CURRENT;
      default -> throw new ParameterException(spec.commandLine(), "--owner takes keep or current: " + owner);
    };
    DirectoryRestore.NtfsStreams streams = switch (ntfsStreams.toLowerCase(Locale.ROOT)) {
      case "xattr" -> DirectoryRestore.NtfsStreams.XATTR;
      case "files" -> DirectoryRestore.NtfsStreams.FILES;
      case "skip" -> DirectoryRestore.NtfsStreams.SKIP;
      default -> throw new ParameterException(spec.commandLine(), "--ntfs-streams takes xattr, files or skip: " + ntfsStreams);
    };
    long[] before = {0, 0};  // entries and bytes of the volumes done

    long files = 0;
    long dirs = 0;
    long links = 0;
    long hard = 0;
    long special = 0;
    long bytes = 0;
    long kept = 0;
    long streamsRestored = 0;
    List<DirectoryRestore.Failure> failed = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    Snapshot s;
    try (Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "restore"); Repository r = repo.open(spec);
        Progress progress = new Progress("restore", -1, "written")) {
      s = r.snapshot(snapshot);
      Map<Snapshot.Volume, Map.Entry<String, List<String>>> jobs = plan(s);
      // Everything of the volumes asked for whole: their bytes are known; a part of one: not.
      long expected = jobs.values().stream().allMatch(j -> j.getValue().isEmpty())
          ? jobs.keySet().stream().mapToLong(Snapshot.Volume::bytes).sum() : -1;
      DirectoryRestore.Options options = new DirectoryRestore.Options(target, when, whose, streams, (entries, done) ->
          progress.status(before[1] + done, expected, (before[0] + entries) + " entries"));
      for (Map.Entry<Snapshot.Volume, Map.Entry<String, List<String>>> job : jobs.entrySet()) {
        DirectoryRestore.Result res = DirectoryRestore.restore(r, s, job.getKey(), job.getValue().getValue(), job.getValue().getKey(),
            options);
        before[0] += res.files() + res.directories() + res.symlinks() + res.hardlinks() + res.special();
        before[1] += res.bytes();
        files += res.files();
        dirs += res.directories();
        links += res.symlinks();
        hard += res.hardlinks();
        special += res.special();
        bytes += res.bytes();
        kept += res.kept();
        streamsRestored += res.streams();
        failed.addAll(res.failed());
        notes.addAll(res.notes());
      }
    }
    PrintWriter out = spec.commandLine().getOut();
    if (repo.json) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("snapshot", s.id());
      m.put("target", target.toString());
      m.put("files", files);
      m.put("directories", dirs);
      m.put("symlinks", links);
      m.put("hardlinks", hard);
      m.put("special", special);
      m.put("bytes", bytes);
      m.put("kept", kept);
      m.put("streams", streamsRestored);
      m.put("failed", failed);
      m.put("notes", notes);
      Output.json(out, m);
    } else {
      out.printf("restored %s (%s), %s, %s, %s, %s%s into %s%s%n", Output.count(files, "file"),
          RepoCommands.human(bytes), Output.count(dirs, "directory", "directories"), Output.count(links, "symlink"),
          Output.count(hard, "hard link"), Output.count(special, "special file"),
          streamsRestored > 0 ? ", " + Output.count(streamsRestored, "NTFS stream") : "",
          target, kept > 0 ? "; " + Output.count(kept, "existing path") + " kept" : "");
      notes.forEach(n -> out.println("note: " + n));
      failed.forEach(f -> out.println("could not restore " + f.path() + ": " + f.reason()));
    }
    out.flush();
    return failed.isEmpty() ? 0 : 3;
  }

  /** The selection as one tar stream. */
  private int tar() throws IOException {
    boolean toStdout = tar.equals("-");
    if (toStdout && repo.json) {
      throw new ParameterException(spec.commandLine(), "--tar - writes the archive to stdout: --json has no room there");
    }
    Path file = toStdout ? null : Path.of(tar);
    if (file != null && java.nio.file.Files.exists(file) && !overwrite.equalsIgnoreCase("always")) {
      throw new IOException(file + " exists: --overwrite always writes over it");
    }
    Snapshot s;
    TarRestore.Result r;
    try (Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "restore"); Repository rp = repo.open(spec)) {
      s = rp.snapshot(snapshot);
      List<TarRestore.Part> parts = new ArrayList<>();
      for (Map.Entry<Snapshot.Volume, Map.Entry<String, List<String>>> job : plan(s).entrySet()) {
        parts.add(new TarRestore.Part(job.getKey(), job.getValue().getValue(), job.getValue().getKey()));
      }
      try (java.io.OutputStream out = new java.io.BufferedOutputStream(toStdout ? new java.io.FileOutputStream(java.io.FileDescriptor.out)
          : java.nio.file.Files.newOutputStream(file), 1 << 20)) {
        r = TarRestore.write(rp, s, parts, out);
      }
    }
    PrintWriter out = toStdout ? spec.commandLine().getErr() : spec.commandLine().getOut();
    if (repo.json) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("snapshot", s.id());
      m.put("tar", tar);
      m.put("entries", r.entries());
      m.put("files", r.files());
      m.put("bytes", r.bytes());
      m.put("failed", r.failed());
      m.put("notes", r.notes());
      Output.json(out, m);
    } else {
      out.printf("wrote %d entries (%d files, %s) to %s%n", r.entries(), r.files(), RepoCommands.human(r.bytes()),
          toStdout ? "stdout" : tar);
      r.notes().forEach(n -> out.println("note: " + n));
      r.failed().forEach(f -> out.println("left out " + f.path() + ": " + f.reason()));
    }
    out.flush();
    return r.failed().isEmpty() ? 0 : 3;
  }

  /** A volume image or whole disks onto raw files or NBD exports. */
  private int images() throws IOException {
    if (!paths.isEmpty()) {
      throw new ParameterException(spec.commandLine(), "--image and --nbd restore whole volumes or disks, not paths: " + paths.get(0));
    }
    if (!wholeDisk && volume == null) {
      throw new ParameterException(spec.commandLine(), "--image and --nbd need --volume ID or --whole-disk");
    }
    if (wholeDisk && volume != null) {
      throw new ParameterException(spec.commandLine(), "--whole-disk takes every volume: leave out --volume");
    }
    if (!wholeDisk && images.size() + nbds.size() > 1) {
      throw new ParameterException(spec.commandLine(), "a volume is restored to one --image or --nbd");
    }
    boolean always = overwrite.equalsIgnoreCase("always");
    Snapshot s;
    ImageRestore.Result result;
    List<String> where = new ArrayList<>();
    List<dev.pluck.nbd.BlockDevice> targets = new ArrayList<>();
    try (Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "restore"); Repository r = repo.open(spec)) {
      s = r.snapshot(snapshot);
      List<Snapshot.Volume> wanted;
      if (wholeDisk) {
        wanted = s.volumes().stream().filter(v -> v.id().startsWith("layout:") && "layout".equals(v.fs())).toList();
        if (wanted.isEmpty()) {
          throw new IOException("snapshot " + s.id() + " holds no disk layout: --whole-disk needs a --mode disk backup");
        }
      } else {
        Snapshot.Volume v = s.volumes().stream().filter(x -> x.id().equals(volume)).findFirst().orElseThrow(() -> new ParameterException(
            spec.commandLine(), "the snapshot has no volume " + volume + " (it has: " + ids(s.volumes()) + ")"));
        wanted = List.of(v);
      }
      int count = images.isEmpty() ? nbds.size() : images.size();
      if (count != wanted.size()) {
        throw new ParameterException(spec.commandLine(), "the snapshot holds " + Output.count(wanted.size(), "disk") + " (" + ids(wanted)
            + "): give one target for each");
      }
      boolean fresh = true;
      try {
        for (int i = 0; i < count; i++) {
          if (!images.isEmpty()) {
            Path image = images.get(i);
            boolean exists = java.nio.file.Files.exists(image);
            if (exists && !always) {
              throw new IOException(image + " exists: --overwrite always writes over it");
            }
            if (!exists || java.nio.file.Files.isRegularFile(image)) {
              try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
                f.setLength(0);
                f.setLength(wanted.get(i).size());  // sparse: holes are free space
              }
            } else {
              fresh = false;  // a block device: its old bytes are zeroed where the snapshot has holes
            }
            targets.add(dev.pluck.nbd.FileBlockDevice.openWritable(image));
            where.add(image.toString());
          } else {
            dev.pluck.nbd.NbdBlockDevice d = dev.pluck.nbd.NbdBlockDevice.open(nbds.get(i));
            targets.add(d);
            where.add(d.uri().toString());
            fresh = false;
          }
        }
        long total = wanted.stream().mapToLong(Snapshot.Volume::size).sum();
        long[] done = {0};
        try (Progress progress = new Progress("restore", total)) {
          java.util.function.LongConsumer tick = n -> {
            synchronized (done) {
              done[0] += n;
              progress.update(done[0]);
            }
          };
          result = wholeDisk ? ImageRestore.wholeDisk(r, s, targets, fresh, tick) : ImageRestore.volume(r, wanted.get(0),
              targets.get(0), fresh, tick);
        }
      } finally {
        for (dev.pluck.nbd.BlockDevice t : targets) {
          t.close();
        }
      }
    }
    PrintWriter out = spec.commandLine().getOut();
    if (repo.json) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("snapshot", s.id());
      m.put(wholeDisk ? "disks" : "volume", wholeDisk ? where : volume);
      m.put("targets", where);
      m.put("size", result.size());
      m.put("bytesWritten", result.data());
      m.put("bytesZeroed", result.zeroed());
      Output.json(out, m);
    } else {
      out.printf("restored %s to %s: %s of data written, %s made zero, the rest left as holes%n",
          wholeDisk ? Output.count(where.size(), "disk") : "volume " + volume, String.join(", ", where), RepoCommands.human(result.data()),
          RepoCommands.human(result.zeroed()));
    }
    out.flush();
    return 0;
  }

  /**
   * Which volumes to restore from, each with where its root lands and its volume paths: with
   * --volume, that volume at the target's root; else guest paths through the snapshot's mounts;
   * else the snapshot's only files volume.
   */
  private Map<Snapshot.Volume, Map.Entry<String, List<String>>> plan(Snapshot s) {
    List<Snapshot.Volume> withFiles = s.volumes().stream().filter(v -> v.catalog() != null).toList();
    Map<Snapshot.Volume, Map.Entry<String, List<String>>> out = new LinkedHashMap<>();
    if (volume != null) {
      Snapshot.Volume v = withFiles.stream().filter(x -> x.id().equals(volume)).findFirst().orElseThrow(() -> new ParameterException(
          spec.commandLine(), "the snapshot has no files of volume " + volume + " (it has: " + ids(withFiles) + ")"));
      out.put(v, Map.entry("", paths));
      return out;
    }
    @SuppressWarnings("unchecked")
    Map<String, String> mounts = s.selection() == null ? null : (Map<String, String>) s.selection().get("mounts");
    if (mounts == null || mounts.isEmpty()) {
      if (withFiles.size() != 1) {
        throw new ParameterException(spec.commandLine(), "the snapshot does not know the guest's mounts: name the volume with --volume "
            + "(it has: " + ids(withFiles) + ")");
      }
      out.put(withFiles.get(0), Map.entry("", paths));
      return out;
    }
    for (Snapshot.Volume v : withFiles) {
      String at = mounts.get(v.id());
      if (at == null) {
        continue;
      }
      List<String> inside = new ArrayList<>();
      boolean everything = paths.isEmpty();
      for (String p : paths) {
        String g = p.startsWith("/") ? p : "/" + p;
        String owner = owningMount(mounts, g);
        if (!v.id().equals(owner)) {
          if (at.equals(g) || at.startsWith(g.equals("/") ? "/" : g + "/")) {
            everything = true;  // the path holds this whole mount
          }
          continue;
        }
        inside.add(at.equals("/") ? g : g.equals(at) ? "/" : g.substring(at.length()));
      }
      if (everything) {
        inside = List.of();
      } else if (inside.isEmpty()) {
        continue;
      }
      out.put(v, Map.entry(at.equals("/") ? "" : at, inside));
    }
    if (out.isEmpty()) {
      throw new ParameterException(spec.commandLine(), "no volume of the snapshot holds " + String.join(", ", paths) + " (mounts: "
          + mounts + ")");
    }
    return out;
  }

  /** The volume whose mountpoint is the longest prefix of guest path {@code g}. */
  private static String owningMount(Map<String, String> mounts, String g) {
    String best = null;
    int length = -1;
    for (Map.Entry<String, String> m : mounts.entrySet()) {
      String at = m.getValue();
      boolean under = at.equals("/") || g.equals(at) || g.startsWith(at + "/");
      if (under && at.length() > length) {
        best = m.getKey();
        length = at.length();
      }
    }
    return best;
  }

  private static String ids(List<Snapshot.Volume> vs) {
    return String.join(", ", vs.stream().map(Snapshot.Volume::id).toList());
  }
}
