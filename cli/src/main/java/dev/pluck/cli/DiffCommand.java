package dev.pluck.cli;

import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.Locks;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pluck diff}: what changed between two snapshots, path by path. */
@Command(name = "diff", mixinStandardHelpOptions = true, description = {
    "What changed between two snapshots, per volume both hold as files: paths added (+), removed (-), with changed content (M) "
        + "or changed metadata only (U: type, size, mode, owner, mtime, link target, extended attributes, attributes). "
        + "Content is compared by chunk ids: nothing is read.", "",
    "Example: pluck diff --repo /srv/backups 3f2a latest",
    "Example: pluck diff --repo /srv/backups latest:monday latest --json"})
final class DiffCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Mixin RepoCommands.RepoOption repo = new RepoCommands.RepoOption();

  @Parameters(index = "0", paramLabel = "SNAPSHOT1", description = "The older snapshot.")
  String first;

  @Parameters(index = "1", paramLabel = "SNAPSHOT2", description = "The newer snapshot.")
  String second;

  /** What a path was in a snapshot, as far as a diff compares it. */
  private record Seen(String type, String content, String metadata) {}

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    Map<String, Long> counts = new LinkedHashMap<>();
    for (String k : List.of("added", "removed", "modified", "metadata")) {
      counts.put(k, 0L);
    }
    try (Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "diff"); Repository r = repo.open(spec)) {
      Snapshot a = r.snapshot(first);
      Snapshot b = r.snapshot(second);
      for (Snapshot.Volume vb : b.volumes()) {
        Snapshot.Volume va = a.volumes().stream().filter(v -> v.id().equals(vb.id()) && v.catalog() != null).findFirst().orElse(null);
        if (vb.catalog() == null || va == null) {
          continue;
        }
        Map<String, Seen> before = new HashMap<>();
        Catalog.read(r, va.catalog(), e -> before.put(e.path(), seen(e)));
        Catalog.read(r, vb.catalog(), e -> {
          Seen now = seen(e);
          Seen was = before.remove(e.path());
          String change = was == null ? "added" : !was.type().equals(now.type()) || !was.content().equals(now.content()) ? "modified"
              : !was.metadata().equals(now.metadata()) ? "metadata" : null;
          if (change != null) {
            print(out, change, vb.id(), e.path(), e.type());
            counts.merge(change, 1L, Long::sum);
          }
        });
        for (Map.Entry<String, Seen> gone : before.entrySet()) {
          print(out, "removed", vb.id(), gone.getKey(), gone.getValue().type());
          counts.merge("removed", 1L, Long::sum);
        }
      }
    }
    if (!repo.json) {
      out.printf("%d added, %d removed, %d modified, %d with changed metadata%n", counts.get("added"), counts.get("removed"),
          counts.get("modified"), counts.get("metadata"));
    }
    out.flush();
    return 0;
  }

  private void print(PrintWriter out, String change, String volume, String path, String type) {
    if (repo.json) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("change", change);
      m.put("volume", volume);
      m.put("path", path);
      m.put("type", type);
      Output.json(out, m);
    } else {
      String mark = switch (change) {
        case "added" -> "+";
        case "removed" -> "-";
        case "modified" -> "M";
        default -> "U";
      };
      out.printf("%s %s:%s%n", mark, volume, path);
    }
  }

  /** A path's type, and digests of its content and of its metadata (16 bytes of SHA-256 each: a million paths fit). */
  private static Seen seen(CatalogEntry e) {
    String content = e.size() + "|" + e.chunks() + "|" + e.target() + "|" + (e.streams() == null ? "" : new java.util.TreeMap<>(
        e.streams()).entrySet().stream().map(s -> s.getKey() + "=" + s.getValue().chunks()).toList());
    String metadata = e.mode() + "|" + e.uid() + "|" + e.gid() + "|" + e.mtimeNs() + "|" + (e.xattrs() == null ? "" : new java.util.TreeMap<>(
        e.xattrs())) + "|" + e.attributes() + "|" + e.rdev() + "|" + e.flags();
    return new Seen(e.type(), digest(content), digest(metadata));
  }

  private static String digest(String s) {
    try {
      byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return java.util.Base64.getEncoder().withoutPadding().encodeToString(java.util.Arrays.copyOf(d, 16));
    } catch (java.security.NoSuchAlgorithmException x) {
      throw new IllegalStateException(x);
    }
  }
}
