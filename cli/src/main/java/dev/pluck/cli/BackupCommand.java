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
import java.util.concurrent.CompletableFuture;
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
  @Mixin TraceOptions.Nbd trace = new TraceOptions.Nbd();

  @Parameters(paramLabel = "SOURCE", arity = "1..*", description = "The machine's disks: NBD URIs or image paths (NAME=SOURCE names a disk).")
  List<String> sources;

  @Mixin SelectionOptions selection = new SelectionOptions();

  @Option(names = "--vm", paramLabel = "NAME", description = "The machine's name in the repository (default: the first source's file name).")
  String vm;

  @Option(names = "--parent", defaultValue = "auto", paramLabel = "SNAPSHOT",
      description = "Compare with this snapshot; auto (default): the newest complete one of this VM, drives and chain; none: read everything.")
  String parent;

  @Option(names = "--bitmap", paramLabel = "NAME",
      description = {"A dirty bitmap every NBD source exports (qemu:dirty-bitmap:NAME, or a full context name) holding every write since "
          + "the parent was taken: files and blocks outside it are taken from the parent unread."})
  String bitmap;

  @Override
  public Integer call() throws IOException {
    String context = bitmap == null ? null : bitmap.startsWith("qemu:") ? bitmap : "qemu:dirty-bitmap:" + bitmap;
    if (context != null && parent.equals("none")) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--bitmap needs a parent to compare with (not --parent none)");
    }
    repo.storage(spec);  // no --repo: a usage error before anything is opened
    // The repository is locked and opened (its index read, JSON's classes started) while the
    // sources connect and are probed: ~40 ms of a small backup (docs/PERFORMANCE.md).
    CompletableFuture<OpenRepository> opening = OpenRepository.start(repo, spec);
    Sources opened;
    try {
      opened = new Sources(sources, context == null ? List.of() : List.of(context));
    } catch (IOException | RuntimeException e) {
      OpenRepository.closeWhenOpen(opening);
      throw e;
    }
    Backup.Result r;
    try (opened; OpenRepository open = OpenRepository.await(opening)) {
      List<String> names = opened.disks.stream().map(VolumeTree.Disk::name).toList();
      String machine = vm != null ? vm : NbdUri.isNbdUri(sources.get(0)) ? sources.get(0) : Path.of(sources.get(0)).getFileName().toString();
      Backup.Options options = selection.options(spec, parent.equals("none") ? null : parent, new Snapshot.Source(machine, names, sources))
          .incremental(parent.equals("none") ? null : parent, context, null);
      try (Progress progress = new Progress("backup", -1)) {
        r = Backup.run(open.repository(), opened.disks, options, selection.reading(spec, progress));
      }
    }
    SelectionOptions.print(spec.commandLine().getOut(), repo.json, r, Map.of());
    return r.complete() ? 0 : 3;
  }

  /** The repository, locked for a backup and open; released in that order's reverse. */
  record OpenRepository(Locks.Lock lock, Repository repository) implements AutoCloseable {
    /** Locks and opens the repository on a thread of its own. */
    static CompletableFuture<OpenRepository> start(RepoCommands.RepoOption repo, CommandSpec spec) {
      CompletableFuture<OpenRepository> f = new CompletableFuture<>();
      Thread t = new Thread(() -> {
        try {
          Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "backup");
          try {
            f.complete(new OpenRepository(lock, repo.open(spec)));
          } catch (IOException | RuntimeException | Error e) {
            lock.close();
            throw e;
          }
        } catch (Throwable e) {
          f.completeExceptionally(e);
        }
      }, "repository-open");
      t.setDaemon(true);
      t.start();
      return f;
    }

    static OpenRepository await(CompletableFuture<OpenRepository> f) throws IOException {
      try {
        return f.join();
      } catch (java.util.concurrent.CompletionException e) {
        if (e.getCause() instanceof IOException io) {
          throw io;
        }
        if (e.getCause() instanceof RuntimeException rt) {
          throw rt;
        }
        if (e.getCause() instanceof Error err) {
          throw err;
        }
        throw e;
      }
    }

    /** After a failure elsewhere: let the lock go once the repository is open (or failed to). */
    static void closeWhenOpen(CompletableFuture<OpenRepository> f) {
      try {
        f.join().close();
      } catch (IOException | RuntimeException e) {
        // the failure being reported matters more
      }
    }

    @Override
    public void close() throws IOException {
      try (Locks.Lock l = lock) {
        repository.close();
      }
    }
  }
}
