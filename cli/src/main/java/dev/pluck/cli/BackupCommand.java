package dev.pluck.cli;

import dev.pluck.engine.Backup;
import dev.pluck.engine.repo.Locks;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.protocol.NbdUri;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
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
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pluck backup}: one machine's disks (NBD URIs or images) into the repository. */
@Command(name = "backup", mixinStandardHelpOptions = true, description = {
    "Back up one machine's disks (NBD exports or image files) into a repository: the files of chosen volumes, or their images; "
        + "never swap, never free space, and files unchanged since the parent snapshot are carried over without being read.",
    "",
    "Examples:",
    "  pluck backup --repo /srv/backups --vm web1 nbd+unix:///vda?socket=/run/vda.sock --volume vg0/home --exclude '**/.cache'",
    "  pluck backup --repo /srv/backups --mode volumes disk.qcow2",
    "",
    "Exit status: 0 done, 3 done but some paths could not be read (listed; the snapshot is marked incomplete), 1 failed, 2 usage."})
final class BackupCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Mixin RepoCommands.RepoOption repo = new RepoCommands.RepoOption();

  @Parameters(paramLabel = "SOURCE", arity = "1..*", description = "The machine's disks: NBD URIs or image paths (NAME=SOURCE names a disk).")
  List<String> sources;

  @Option(names = "--mode", defaultValue = "files", paramLabel = "MODE", description = "files (default) or volumes (block images of the volumes).")
  String mode;

  @Option(names = "--volume", paramLabel = "ID", description = "A volume to back up (repeatable; p1, VG/LV, label=, uuid=); default: all.")
  List<String> volumes = new ArrayList<>();

  @Option(names = "--include", paramLabel = "GLOB", description = "Only files matching (repeatable; gitignore-style, ** across directories; paths inside the volume).")
  List<String> include = new ArrayList<>();

  @Option(names = "--exclude", paramLabel = "GLOB", description = "Leave out what matches (repeatable).")
  List<String> exclude = new ArrayList<>();

  @Option(names = "--exclude-caches", description = "Leave out the contents of directories holding a valid CACHEDIR.TAG (the tag itself is kept).")
  boolean excludeCaches;

  @Option(names = "--exclude-if-present", paramLabel = "NAME", description = "Leave out the contents of directories holding a file NAME (repeatable).")
  List<String> excludeIfPresent = new ArrayList<>();

  @Option(names = "--include-swap", description = "Back up swap partitions, LVs and files too (by default never read past their signature).")
  boolean includeSwap;

  @Option(names = "--tag", paramLabel = "TAG", description = "Stored in the snapshot (repeatable).")
  List<String> tags = new ArrayList<>();

  @Option(names = "--vm", paramLabel = "NAME", description = "The machine's name in the repository (default: the first source's file name).")
  String vm;

  @Option(names = "--chain", defaultValue = "backup", paramLabel = "NAME", description = "The checkpoint chain, part of the snapshot group (default ${DEFAULT-VALUE}).")
  String chain;

  @Option(names = "--parent", defaultValue = "auto", paramLabel = "SNAPSHOT",
      description = "Compare with this snapshot; auto (default): the newest complete one of this VM, drives and chain; none: read everything.")
  String parent;

  @Override
  public Integer call() throws IOException {
    Backup.Mode m = switch (mode.toLowerCase(Locale.ROOT)) {
      case "files" -> Backup.Mode.FILES;
      case "volumes" -> Backup.Mode.VOLUMES;
      default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--mode is files or volumes, not " + mode);
    };
    Backup.Result r;
    try (Sources opened = new Sources(sources)) {
      List<String> names = opened.disks.stream().map(VolumeTree.Disk::name).toList();
      String machine = vm != null ? vm : NbdUri.isNbdUri(sources.get(0)) ? sources.get(0) : Path.of(sources.get(0)).getFileName().toString();
      Backup.Options options = new Backup.Options(m, volumes, include, exclude, excludeCaches, excludeIfPresent, includeSwap, tags,
          parent.equals("none") ? null : parent, new Snapshot.Source(machine, names, sources), chain, InetAddress.getLocalHost().getHostName());
      try (Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "backup"); Repository repository = repo.open(spec)) {
        r = Backup.run(repository, opened.disks, options);
      }
    }
    PrintWriter out = spec.commandLine().getOut();
    if (repo.json) {
      Map<String, Object> m2 = new LinkedHashMap<>();
      m2.put("snapshot", r.snapshot());
      m2.put("complete", r.complete());
      m2.put("failed", r.failed());
      m2.put("bytesRead", r.bytesRead());
      m2.put("bytesSkipped", r.bytesSkipped());
      m2.put("files", r.files());
      m2.put("bytesAdded", r.bytesAdded());
      m2.put("seconds", Math.round(r.seconds() * 1000) / 1000.0);
      m2.put("parent", r.parent());
      if (r.parentNote() != null) {
        m2.put("parentNote", r.parentNote());
      }
      m2.put("volumesLeftOut", r.volumesLeftOut());
      Output.json(out, m2);
    } else {
      out.printf("snapshot %s%s%n", r.snapshot().substring(0, 12), r.complete() ? "" : " (incomplete)");
      out.printf("read %s of data, %s of metadata; added %s to the repository%n", RepoCommands.human(r.bytesRead().get("data")),
          RepoCommands.human(r.bytesRead().get("metadata")), RepoCommands.human(r.bytesAdded()));
      StringBuilder sk = new StringBuilder("skipped:");
      r.bytesSkipped().forEach((k, v) -> sk.append(' ').append(k).append(' ').append(RepoCommands.human(v)).append(','));
      out.println(sk.substring(0, sk.length() - 1));
      out.printf("files: %d new, %d changed, %d unchanged; %.1f s%n", r.files().get("new"), r.files().get("changed"),
          r.files().get("unchanged"), r.seconds());
      if (r.parentNote() != null) {
        out.println("parent: " + r.parentNote());
      }
      for (String v : r.volumesLeftOut()) {
        out.println("left out " + v);
      }
      for (Backup.Failure f : r.failed()) {
        out.println("could not read " + f.path() + ": " + f.reason());
      }
    }
    out.flush();
    return r.complete() ? 0 : 3;
  }
}
