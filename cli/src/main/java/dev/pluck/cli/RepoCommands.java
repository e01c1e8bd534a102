package dev.pluck.cli;

import dev.pluck.engine.repo.Check;
import dev.pluck.engine.repo.Codec;
import dev.pluck.engine.repo.Config;
import dev.pluck.engine.repo.Forget;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Locks;
import dev.pluck.engine.repo.Prune;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.engine.repo.Stats;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** The repository verbs: init, snapshots, check, stats, forget, prune, rebuild-index. */
final class RepoCommands {
  private RepoCommands() {}

  /** {@code --repo DIR}, or $PLUCK_REPOSITORY. */
  static final class RepoOption {
    @Option(names = "--repo", paramLabel = "DIR", defaultValue = "${env:PLUCK_REPOSITORY}",
        description = "The repository (a directory; default $PLUCK_REPOSITORY).")
    Path repo;

    @Option(names = "--json", description = "One JSON object (or JSON lines for listings) on stdout.")
    boolean json;

    LocalStorage storage(CommandSpec spec) {
      if (repo == null) {
        throw new ParameterException(spec.commandLine(), "Missing required option: '--repo=DIR' (or set PLUCK_REPOSITORY)");
      }
      return new LocalStorage(repo);
    }

    Repository open(CommandSpec spec) throws IOException {
      return Repository.open(storage(spec));
    }
  }

  @Command(name = "init", mixinStandardHelpOptions = true, description = {"Create a repository.", "",
      "Example: pluck init --repo /srv/backups --compression zstd:6"})
  static final class Init implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RepoOption repo = new RepoOption();

    @Option(names = "--compression", defaultValue = Config.DEFAULT_COMPRESSION, paramLabel = "CODEC[:LEVEL]",
        description = "zstd[:1-22], lz4, xz[:0-9] or none (default ${DEFAULT-VALUE}).")
    String compression;

    @Option(names = "--chunk-size", defaultValue = "1048576", paramLabel = "BYTES",
        description = "Bytes per chunk of file content and per block of volume images: a power of two from 4 KiB to 8 MiB (default ${DEFAULT-VALUE}).")
    int chunkSize;

    @Override
    public Integer call() throws IOException {
      try {
        Codec.Choice.parse(compression);
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage());
      }
      Config d = Config.defaults(compression);
      Config config = new Config(d.format(), d.id(), d.created(), chunkSize, compression, d.packSize(), null);
      try {
        Repository.init(repo.storage(spec), config).close();
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage());
      }
      print(spec, repo.json, Map.of("repository", repo.repo.toString(), "id", config.id(), "compression", compression, "chunkSize", chunkSize),
          "created repository " + config.id() + " at " + repo.repo);
      return 0;
    }
  }

  @Command(name = "snapshots", mixinStandardHelpOptions = true, description = {"List snapshots, oldest first.", "",
      "Example: pluck snapshots --repo /srv/backups --vm web1 --json"})
  static final class Snapshots implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RepoOption repo = new RepoOption();

    @Option(names = "--vm", paramLabel = "NAME", description = "Only this VM's snapshots.")
    String vm;

    @Override
    public Integer call() throws IOException {
      PrintWriter out = spec.commandLine().getOut();
      try (Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "snapshots")) {
        for (Snapshot s : repo.open(spec).snapshots()) {
          if (vm != null && (s.source() == null || !vm.equals(s.source().vm()))) {
            continue;
          }
          if (repo.json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", s.id());
            m.put("time", s.time());
            m.put("hostname", s.hostname());
            m.put("vm", s.source() == null ? null : s.source().vm());
            m.put("drives", s.source() == null ? null : s.source().drives());
            m.put("chain", s.chain());
            m.put("tags", s.tags());
            m.put("complete", s.complete());
            m.put("parent", s.parent());
            m.put("volumes", s.volumes().stream().map(Snapshot.Volume::id).toList());
            Output.json(out, m);
          } else {
            out.printf("%s  %s  %-12s %-10s %s%s%n", s.id().substring(0, 12), s.time(), s.source() == null ? "-" : s.source().vm(),
                s.chain() == null ? "-" : s.chain(), String.join(",", s.volumes().stream().map(Snapshot.Volume::id).toList()),
                s.complete() ? "" : "  (incomplete)");
          }
        }
      }
      out.flush();
      return 0;
    }
  }

  @Command(name = "check", mixinStandardHelpOptions = true, description = {
      "Verify the repository: index files, pack trailers and every chunk each snapshot names; with --read-data every chunk is also read, "
          + "decompressed and hashed. Problems name the snapshots and files they affect; exit 1 when there is any.", "",
      "Example: pluck check --repo /srv/backups --read-data"})
  static final class CheckCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RepoOption repo = new RepoOption();

    @Option(names = "--read-data", description = "Read, decompress and hash every chunk.")
    boolean readData;

    @Override
    public Integer call() throws IOException {
      Check.Report r;
      try (Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "check")) {
        try (Progress progress = new Progress("check", -1)) {
          r = Check.run(repo.open(spec), readData, (chunks, bytes, total) -> progress.status(bytes, total, chunks + " chunks"));
        }
      }
      PrintWriter out = spec.commandLine().getOut();
      if (repo.json) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ok", r.ok());
        m.put("snapshots", r.snapshots());
        m.put("packs", r.packs());
        m.put("chunks", r.chunks());
        m.put("chunksRead", r.chunksRead());
        m.put("problems", r.problems());
        m.put("notes", r.notes());
        Output.json(out, m);
      } else {
        out.printf("%d snapshots, %d packs, %d chunks%s%n", r.snapshots(), r.packs(), r.chunks(),
            readData ? ", " + r.chunksRead() + " chunks read and hashed" : "");
        for (Check.Problem p : r.problems()) {
          out.println("problem: " + p.what());
          p.affects().stream().limit(20).forEach(a -> out.println("  affects " + a));
          if (p.affects().size() > 20) {
            out.println("  ... and " + (p.affects().size() - 20) + " more");
          }
        }
        out.println(r.ok() ? "no problems found" : r.problems().size() + " problems found");
      }
      out.flush();
      if (!r.ok()) {
        spec.commandLine().getErr().println("pluck: check found " + r.problems().size() + " problems in " + repo.repo);
        return 1;
      }
      return 0;
    }
  }

  @Command(name = "stats", mixinStandardHelpOptions = true, description = {
      "Snapshots, chunks, packs; logical, unique and stored bytes; dedupe and compression ratios.", "",
      "Example: pluck stats --repo /srv/backups --json"})
  static final class StatsCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RepoOption repo = new RepoOption();

    @Override
    public Integer call() throws IOException {
      Stats s;
      try (Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "stats")) {
        s = Stats.of(repo.open(spec));
      }
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("snapshots", s.snapshots());
      m.put("packs", s.packs());
      m.put("chunks", s.chunks());
      m.put("logicalBytes", s.logicalBytes());
      m.put("uniqueBytes", s.uniqueBytes());
      m.put("storedBytes", s.storedBytes());
      m.put("dedupeRatio", Math.round(s.dedupeRatio() * 100) / 100.0);
      m.put("compressionRatio", Math.round(s.compressionRatio() * 100) / 100.0);
      print(spec, repo.json, m, String.format("%d snapshots, %d packs, %d chunks%nlogical %s, unique %s, stored %s%n"
          + "dedupe %.2fx, compression %.2fx", s.snapshots(), s.packs(), s.chunks(), human(s.logicalBytes()), human(s.uniqueBytes()),
          human(s.storedBytes()), s.dedupeRatio(), s.compressionRatio()));
      return 0;
    }
  }

  @Command(name = "forget", mixinStandardHelpOptions = true, description = {
      "Remove snapshots: the ones named, or those a keep policy does not keep, per group of VM, drives and chain. "
          + "Their data goes with the next prune.", "",
      "Examples:", "  pluck forget --repo /srv/backups 3f2a9c1b", "  pluck forget --repo /srv/backups --keep-last 7 --keep-weekly 4 --vm web1"})
  static final class ForgetCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RepoOption repo = new RepoOption();

    @Parameters(paramLabel = "SNAPSHOT", arity = "0..*", description = "Snapshot ids (prefixes).")
    List<String> ids = new ArrayList<>();

    @Option(names = "--keep-last", paramLabel = "N", description = "Keep the newest N of each group.")
    int last;

    @Option(names = "--keep-daily", paramLabel = "N", description = "Keep the newest of each of the last N days (UTC).")
    int daily;

    @Option(names = "--keep-weekly", paramLabel = "N", description = "Keep the newest of each of the last N ISO weeks.")
    int weekly;

    @Option(names = "--keep-monthly", paramLabel = "N", description = "Keep the newest of each of the last N months.")
    int monthly;

    @Option(names = "--group-by", defaultValue = "vm,drive,chain", split = ",", paramLabel = "KEYS",
        description = "What a group is: any of vm, drive, chain (default ${DEFAULT-VALUE}).")
    Set<String> groupBy;

    @Option(names = "--vm", paramLabel = "NAME", description = "Apply the policy to this VM's snapshots only.")
    String vm;

    @Option(names = {"-n", "--dry-run"}, description = "Say what would be forgotten, forget nothing.")
    boolean dryRun;

    @Override
    public Integer call() throws IOException {
      Forget.Policy policy = new Forget.Policy(last, daily, weekly, monthly);
      if (ids.isEmpty() == policy.keepsAll()) {
        throw new ParameterException(spec.commandLine(), "name snapshots, or give a --keep-* policy (not both)");
      }
      List<Snapshot> forget = new ArrayList<>();
      try (Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "forget")) {
        Repository r = repo.open(spec);
        if (!ids.isEmpty()) {
          for (String id : ids) {
            forget.add(r.snapshot(id));
          }
        } else {
          List<Snapshot> candidates = r.snapshots().stream()
              .filter(s -> vm == null || (s.source() != null && vm.equals(s.source().vm()))).toList();
          forget.addAll(Forget.plan(candidates, policy, groupBy));
        }
        if (!dryRun) {
          for (Snapshot s : forget) {
            r.forget(s.id());
          }
        }
      }
      PrintWriter out = spec.commandLine().getOut();
      if (repo.json) {
        Output.json(out, Map.of("forgotten", forget.stream().map(Snapshot::id).toList(), "dryRun", dryRun));
      } else {
        for (Snapshot s : forget) {
          out.println((dryRun ? "would forget " : "forgot ") + s.id().substring(0, 12) + "  " + s.time());
        }
      }
      out.flush();
      return 0;
    }
  }

  @Command(name = "prune", mixinStandardHelpOptions = true, description = {
      "Remove data no snapshot needs (after forget), repacking mostly-unused packs. Takes the repository's exclusive lock.", "",
      "Example: pluck prune --repo /srv/backups"})
  static final class PruneCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RepoOption repo = new RepoOption();

    @Override
    public Integer call() throws IOException {
      Prune.Result r;
      try (Locks.Lock lock = Locks.acquire(repo.storage(spec), true, "prune");
          Progress progress = new Progress("prune", -1, "repacked")) {
        r = Prune.run(repo.open(spec), (stage, copied, toCopy) -> progress.status(copied, toCopy, stage));
      }
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("packsDeleted", r.packsDeleted());
      m.put("packsRepacked", r.packsRepacked());
      m.put("packsWritten", r.packsWritten());
      m.put("chunksRemoved", r.chunksRemoved());
      m.put("bytesBefore", r.bytesBefore());
      m.put("bytesAfter", r.bytesAfter());
      print(spec, repo.json, m, String.format("removed %d chunks: %d packs deleted, %d repacked into %d; %s -> %s", r.chunksRemoved(),
          r.packsDeleted(), r.packsRepacked(), r.packsWritten(), human(r.bytesBefore()), human(r.bytesAfter())));
      return 0;
    }
  }

  @Command(name = "rebuild-index", mixinStandardHelpOptions = true, description = {
      "Write the index anew from the packs' own trailers (after check reports a lost or damaged index file).", "",
      "Example: pluck rebuild-index --repo /srv/backups"})
  static final class RebuildIndex implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RepoOption repo = new RepoOption();

    @Override
    public Integer call() throws IOException {
      int packs;
      try (Locks.Lock lock = Locks.acquire(repo.storage(spec), true, "rebuild-index")) {
        packs = Check.rebuildIndex(repo.storage(spec));
      }
      print(spec, repo.json, Map.of("packs", packs), "indexed " + packs + " packs");
      return 0;
    }
  }

  static void print(CommandSpec spec, boolean json, Map<String, Object> result, String text) {
    PrintWriter out = spec.commandLine().getOut();
    if (json) {
      Output.json(out, result);
    } else {
      out.println(text);
    }
    out.flush();
  }

  static String human(long bytes) {
    return Output.bytes(bytes, false);
  }

}
