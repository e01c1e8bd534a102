package dev.pluck.cli;

import dev.pluck.engine.Backup;
import dev.pluck.engine.repo.Snapshot;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/** What to back up, as {@code backup} and {@code vm backup} take it; and how both print their result. */
final class SelectionOptions {
  @Option(names = "--mode", defaultValue = "files", paramLabel = "MODE",
      description = "files (default), volumes (block images of the volumes) or disk (every volume's image and the bytes between them: the whole disks).")
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

  @Option(names = "--chain", defaultValue = "backup", paramLabel = "NAME", description = "The checkpoint chain, part of the snapshot group (default ${DEFAULT-VALUE}).")
  String chain;

  @Option(names = "--limit-read", paramLabel = "RATE", description = "Read the sources at most this fast, in bytes per second "
      + "(suffixes K, M, G: 50M), to spare the storage the VM runs on.")
  String limitRead;

  /** How to read: the rate limit, and a progress line on a terminal (stderr). */
  Backup.Reading reading(CommandSpec spec, Progress progress) {
    long limit = 0;
    if (limitRead != null) {
      try {
        limit = VmCommand.Export.parseBytes(limitRead);
      } catch (NumberFormatException | ArithmeticException e) {
        throw new ParameterException(spec.commandLine(), "--limit-read takes bytes per second, such as 50M: " + limitRead);
      }
      if (limit <= 0) {
        throw new ParameterException(spec.commandLine(), "--limit-read must be positive: " + limitRead);
      }
    }
    return new Backup.Reading(limit, new Backup.Progress() {
      private volatile long expected = -1;

      @Override
      public void expect(long bytesReadAtEnd) {
        expected = bytesReadAtEnd;
      }

      @Override
      public void update(long bytes, long files, boolean done) {
        progress.status(bytes, expected, files + " files");
      }
    });
  }

  /** The engine's options for this selection; {@code parent} as {@link Backup.Options#parent()}. */
  Backup.Options options(CommandSpec spec, String parent, Snapshot.Source source) throws IOException {
    Backup.Mode m = switch (mode.toLowerCase(Locale.ROOT)) {
      case "files" -> Backup.Mode.FILES;
      case "volumes" -> Backup.Mode.VOLUMES;
      case "disk" -> Backup.Mode.DISK;
      default -> throw new ParameterException(spec.commandLine(), "--mode is files, volumes or disk, not " + mode);
    };
    if (m == Backup.Mode.DISK && !volumes.isEmpty()) {
      throw new ParameterException(spec.commandLine(), "--mode disk takes every volume: no --volume");
    }
    return new Backup.Options(m, volumes, include, exclude, excludeCaches, excludeIfPresent, includeSwap, tags, parent, source, chain,
        InetAddress.getLocalHost().getHostName(), null, null);
  }

  /** Prints a backup's result: one JSON object (with {@code extra} fields first), or lines of text. */
  static void print(PrintWriter out, boolean json, Backup.Result r, Map<String, Object> extra) {
    if (json) {
      Map<String, Object> m = new LinkedHashMap<>(extra);
      m.put("snapshot", r.snapshot());
      m.put("complete", r.complete());
      m.put("failed", r.failed());
      m.put("bytesRead", r.bytesRead());
      m.put("bytesSkipped", r.bytesSkipped());
      m.put("files", r.files());
      m.put("bytesAdded", r.bytesAdded());
      m.put("seconds", Math.round(r.seconds() * 1000) / 1000.0);
      m.put("parent", r.parent());
      if (r.parentNote() != null) {
        m.put("parentNote", r.parentNote());
      }
      m.put("volumesLeftOut", r.volumesLeftOut());
      m.put("warnings", r.warnings());
      Output.json(out, m);
    } else {
      extra.forEach((k, v) -> out.printf("%s: %s%n", k, v));
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
      for (String w : r.warnings()) {
        out.println("warning: " + w);
      }
      for (Backup.Failure f : r.failed()) {
        out.println("could not read " + f.path() + ": " + f.reason());
      }
    }
    out.flush();
  }
}
