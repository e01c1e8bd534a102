package dev.pluck.cli;

import dev.pluck.engine.Glob;
import dev.pluck.engine.GuestMounts;
import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.Locks;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pluck find}: which snapshots hold a path, and how it was in each. */
@Command(name = "find", mixinStandardHelpOptions = true, description = {
    "Which snapshots hold paths matching a glob (gitignore-style, ** for any depth), with each version's size and mtime: "
        + "\"which backup still has the file before it was overwritten?\". Guest paths when the snapshot knows the guest's "
        + "mounts, else paths inside the volume; --volume matches paths inside that volume.", "",
    "Example: pluck find --repo /srv/backups '/home/alice/**/report.odt'",
    "Example: pluck find --repo /srv/backups --volume p1 '/etc/ssh/*' --snapshot latest --json"})
final class FindCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Mixin RepoCommands.RepoOption repo = new RepoCommands.RepoOption();

  @Parameters(index = "0", paramLabel = "PATTERN", description = "A glob over paths (/home/*/notes.txt, **/*.conf).")
  String pattern;

  @Option(names = "--snapshot", paramLabel = "SNAPSHOT", description = "Only these snapshots (id prefix, latest, latest:TAG; repeatable).")
  List<String> only = new ArrayList<>();

  @Option(names = "--volume", paramLabel = "ID", description = "Match paths inside this volume instead of guest paths.")
  String volume;

  @Override
  public Integer call() throws IOException {
    Glob glob = new Glob(pattern);
    PrintWriter out = spec.commandLine().getOut();
    long found = 0;
    try (Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "find"); Repository r = repo.open(spec)) {
      List<Snapshot> snapshots = new ArrayList<>();
      if (only.isEmpty()) {
        snapshots.addAll(r.snapshots());
      } else {
        for (String ref : only) {
          snapshots.add(r.snapshot(ref));
        }
      }
      for (Snapshot s : snapshots) {
        @SuppressWarnings("unchecked")
        Map<String, String> mounts = s.selection() == null || volume != null ? null : (Map<String, String>) s.selection().get("mounts");
        for (Snapshot.Volume v : s.volumes()) {
          if (v.catalog() == null || (volume != null && !volume.equals(v.id()))) {
            continue;
          }
          String at = mounts == null ? null : mounts.get(v.id());
          List<Map<String, Object>> hits = new ArrayList<>();
          Catalog.read(r, v.catalog(), c -> {
            String path = at == null ? c.path() : GuestMounts.guestPath(at, c.path());
            if (glob.matches(path)) {
              Map<String, Object> m = new LinkedHashMap<>();
              m.put("snapshot", s.id());
              m.put("time", s.time());
              m.put("volume", v.id());
              m.put("path", path);
              m.put("type", c.type());
              m.put("size", c.size());
              m.put("mtime", LsCommand.isoTime(CatalogEntry.instant(c.mtimeNs())));
              hits.add(m);
            }
          });
          for (Map<String, Object> m : hits) {
            found++;
            if (repo.json) {
              Output.json(out, m);
            } else {
              out.printf("%s  %s  %-10s %12d  %s  %s%n", s.id().substring(0, 12), s.time(), v.id(), (Long) m.get("size"), m.get("mtime"),
                  m.get("path"));
            }
          }
        }
      }
    }
    out.flush();
    if (found == 0 && !repo.json) {
      spec.commandLine().getErr().println("pluck: no snapshot holds a path matching " + pattern);
    }
    return 0;
  }
}
