package dev.pluck.cli;

import dev.pluck.engine.repo.BlockMap;
import dev.pluck.engine.repo.Locks;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.restore.NbdServer;
import dev.pluck.restore.SnapshotDisks;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pluck serve}: a snapshot's volume or disks as read-only NBD exports, for instant recovery. */
@Command(name = "serve", mixinStandardHelpOptions = true, description = {
    "Serve a volume image (--volume) or every disk of a --mode disk snapshot (--whole-disk) over NBD, read-only, straight from "
        + "the repository: nothing is restored first. Free space is served as holes (structured replies, base:allocation). "
        + "Prints each export's URI, then serves until interrupted (SIGINT, SIGTERM). With --writable-overlay, also creates a "
        + "qcow2 overlay backed by the export, which a VM can boot from and write to now, and move to real storage later with "
        + "blockdev-mirror.", "",
    "Example: pluck serve --repo /srv/backups latest --whole-disk --socket /run/pluck/web1.sock",
    "Example: pluck serve --repo /srv/backups 3f2a --volume vg0/data --port 10809 --bind 0.0.0.0",
    "Example: pluck serve --repo /srv/backups latest --whole-disk --socket /run/pluck/web1.sock --writable-overlay /var/lib/libvirt/images/web1-now.qcow2"})
final class ServeCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Mixin RepoCommands.RepoOption repo = new RepoCommands.RepoOption();

  @Parameters(index = "0", paramLabel = "SNAPSHOT", description = "An id prefix, latest, or latest:TAG.")
  String snapshot;

  @Option(names = "--volume", paramLabel = "ID", description = "Serve this volume image of the snapshot (export name: the id).")
  String volume;

  @Option(names = "--whole-disk", description = "Serve every disk of a --mode disk snapshot (export names: the disks' names; the "
      + "empty name is the first).")
  boolean wholeDisk;

  @Option(names = "--socket", paramLabel = "PATH", description = "Listen on this unix socket.")
  Path socket;

  @Option(names = "--port", paramLabel = "N", description = "Listen on this TCP port (0: any free one; the URI says which).")
  Integer port;

  @Option(names = "--bind", paramLabel = "ADDRESS", defaultValue = "127.0.0.1", description = "Address for --port (default ${DEFAULT-VALUE}).")
  String bind;

  @Option(names = "--writable-overlay", paramLabel = "FILE", description = "Create FILE, a qcow2 overlay whose backing is the export "
      + "(one export only): boot a VM from it; writes stay in FILE.")
  Path overlay;

  @Override
  public Integer call() throws Exception {
    if (wholeDisk == (volume != null)) {
      throw new ParameterException(spec.commandLine(), "say what to serve: --volume ID or --whole-disk");
    }
    if ((socket == null) == (port == null)) {
      throw new ParameterException(spec.commandLine(), "say where to listen: --socket PATH or --port N");
    }
    if (overlay != null && Files.exists(overlay)) {
      throw new IOException(overlay + " exists: the overlay is created new");
    }
    try (Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "serve"); Repository r = repo.open(spec)) {
      Snapshot s = r.snapshot(snapshot);
      List<NbdServer.Export> exports = new ArrayList<>();
      if (wholeDisk) {
        for (Map.Entry<String, BlockDevice> d : SnapshotDisks.open(r, s).entrySet()) {
          exports.add(new NbdServer.Export(d.getKey(), "disk " + d.getKey() + " of snapshot " + s.id(), d.getValue()));
        }
      } else {
        Snapshot.Volume v = s.volumes().stream().filter(x -> x.id().equals(volume)).findFirst().orElseThrow(() -> new ParameterException(
            spec.commandLine(), "the snapshot has no volume " + volume));
        if (v.blockMap() == null) {
          throw new IOException("volume " + volume + " of the snapshot holds files, not an image: back it up with --mode volumes or disk "
              + "to serve it");
        }
        exports.add(new NbdServer.Export(v.id(), v.fs() + " volume " + v.id() + " of snapshot " + s.id(), BlockMap.open(r, v)));
      }
      if (overlay != null && exports.size() != 1) {
        throw new ParameterException(spec.commandLine(), "--writable-overlay takes one export; the snapshot has " + exports.size() + " disks");
      }
      try (NbdServer server = socket != null ? NbdServer.unix(exports, socket) : NbdServer.tcp(exports, bind, port)) {
        Thread main = Thread.currentThread();
        Thread hook = new Thread(() -> {
          server.close();
          try {
            main.join(5000);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }, "pluck-serve-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        if (overlay != null) {
          createOverlay(server.uri(exports.get(0).name()));
        }
        print(s, exports, server);
        try (Progress progress = new Progress("serve", -1, "served")) {
          while (!server.awaitClose(1000)) {
            progress.status(server.bytesServed(), "served to " + server.connections() + " clients (" + server.connected() + " connected)");
          }
        }
        try {
          Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
          // shutting down: the hook runs
        }
      }
    }
    return 0;
  }

  private void createOverlay(String uri) throws IOException {
    Process p = new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", uri, overlay.toString())
        .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    String said = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
    try {
      if (!p.waitFor(1, java.util.concurrent.TimeUnit.MINUTES) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IOException("qemu-img create of the overlay " + overlay + " failed: " + said);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while creating the overlay");
    }
  }

  private void print(Snapshot s, List<NbdServer.Export> exports, NbdServer server) {
    PrintWriter out = spec.commandLine().getOut();
    if (repo.json) {
      List<Map<String, Object>> list = new ArrayList<>();
      for (NbdServer.Export e : exports) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", e.name());
        m.put("uri", server.uri(e.name()));
        m.put("size", e.device().size());
        list.add(m);
      }
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("snapshot", s.id());
      m.put("exports", list);
      m.put("overlay", overlay == null ? null : overlay.toString());
      Output.json(out, m);
    } else {
      for (NbdServer.Export e : exports) {
        out.printf("serving %s (%s) at %s%n", e.name(), RepoCommands.human(e.device().size()), server.uri(e.name()));
      }
      if (overlay != null) {
        out.printf("overlay %s: boot from it with -drive file=%s,format=qcow2 while this runs%n", overlay, overlay);
      }
    }
    out.flush();
  }
}
