package dev.pluck.cli;

import dev.pluck.engine.LibvirtBackup;
import dev.pluck.engine.OfflineImage;
import dev.pluck.engine.VmBackup;
import dev.pluck.engine.repo.Locks;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.qmp.MonitorAddress;
import dev.pluck.qmp.PullView;
import java.io.IOException;
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
import picocli.CommandLine.Spec;

/** {@code pluck vm backup}: a pull-mode backup of a running VM's drives into a repository. */
@Command(name = "backup", mixinStandardHelpOptions = true, description = {
    "Back up a running VM: begin a point-in-time view of its drives (the chain's next checkpoint), read only what changed since "
        + "the snapshot taken at the previous checkpoint (its dirty bitmap), commit the snapshot, then end the view. "
        + "A failure ends the view as failed, so the next backup still sees every change.",
    "",
    "Examples:",
    "  pluck vm backup --qmp /run/vm1.qmp --drive drive0 --repo /srv/backups --volume vg0/home",
    "  pluck vm backup --qmp /run/vm1.qmp --qga /run/vm1.qga --drive drive0 --repo /srv/backups --mode volumes --exclude-caches",
    "",
    "Exit status: 0 done, 3 done but some paths could not be read (they are read in full next time), 1 failed, 2 usage."})
final class VmBackupCommand implements Callable<Integer> {
  @Spec CommandSpec spec;
  @Option(names = "--qmp", paramLabel = "SOCKET", description = "QMP monitor: unix socket path or host:port (or --libvirt).")
  String qmp;

  @Option(names = "--libvirt", paramLabel = "DOMAIN", description = "A domain libvirt runs: back it up through libvirt's pull-mode "
      + "backup API (checkpoints pluck-CHAIN-N) instead of QMP.")
  String libvirt;

  @Option(names = "--offline-image", paramLabel = "FILE", description = "A qcow2 disk no QEMU runs (a shut-off VM's): pluck opens it "
      + "in a qemu-storage-daemon of its own and backs it up like a running drive, its chain's bitmaps kept in the image. Give "
      + "the --vm and --drive the VM's online backups use, and its chain goes on either way.")
  Path offlineImage;

  @Option(names = "--connect", paramLabel = "URI", description = "libvirt connection (default qemu:///system).")
  String connect;

  @Option(names = "--libvirt-dir", defaultValue = "/var/lib/libvirt/qemu/pluck", paramLabel = "DIR",
      description = "Where libvirt's QEMU puts the backup's NBD socket and scratch files: a directory its user can reach (default ${DEFAULT-VALUE}).")
  Path libvirtDir;
  @Mixin RepoCommands.RepoOption repo = new RepoCommands.RepoOption();
  @Mixin SelectionOptions selection = new SelectionOptions();
  @Mixin TraceOptions trace = new TraceOptions();

  @Option(names = "--drive", paramLabel = "NODE", description = "A drive of the VM (repeatable; node name, qdev id or BlockBackend name; "
      + "with --libvirt the disk's target, vda; default there: every disk).")
  List<String> drives = new ArrayList<>();

  @Option(names = "--vm", paramLabel = "NAME", description = "The VM's name in the repository (default: the monitor's address).")
  String vm;

  @Option(names = "--full", description = "Read every selected byte, ignoring the dirty bitmap (the chain still moves on).")
  boolean full;

  @Option(names = "--fleecing", defaultValue = "auto", paramLabel = "MODE",
      description = "auto, backup-sync-none or copy-before-write (default ${DEFAULT-VALUE}).")
  String fleecing;

  @Option(names = "--scratch", paramLabel = "DIR", defaultValue = "/var/tmp/pluck", description = "Directory for fleecing files and pluck's NBD socket (default ${DEFAULT-VALUE}).")
  Path scratch;

  @Option(names = "--qga", paramLabel = "SOCKET", description = "Guest agent socket: freeze the guest's filesystems across the switch; a backup by guest paths also checks the fstab against what the guest has mounted (warnings).")
  String qga;

  @Option(names = "--freeze", paramLabel = "MOUNTPOINT", description = "Freeze only these guest mountpoints (repeatable; default all).")
  List<String> freeze = new ArrayList<>();

  @Option(names = "--nbd-server", paramLabel = "ADDR", description = "The NBD server already running in this QEMU (unix socket or host:port).")
  String nbdServer;

  @Override
  public Integer call() throws IOException {
    int sources = (qmp != null ? 1 : 0) + (libvirt != null ? 1 : 0) + (offlineImage != null ? 1 : 0);
    if (sources != 1) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "say which VM: --qmp SOCKET, --libvirt DOMAIN or "
          + "--offline-image FILE");
    }
    if (libvirt != null) {
      return viaLibvirt();
    }
    if (offlineImage != null) {
      if (drives.size() > 1) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--offline-image is one drive: one --drive NAME at most");
      }
      if (drives.isEmpty()) {
        drives.add("disk0");
      }
      try (OfflineImage image = OfflineImage.open(offlineImage, drives.get(0), scratch)) {
        return viaQmp(image.monitor(), vm != null ? vm : offlineImage.toString());
      }
    }
    if (drives.isEmpty()) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--qmp needs --drive NODE (repeatable)");
    }
    return viaQmp(MonitorAddress.parse(qmp), vm != null ? vm : qmp);
  }

  /** Through a QMP monitor: a running VM's, or pluck's own daemon on an offline image. */
  private int viaQmp(MonitorAddress address, String machine) throws IOException {
    PullView.Mode m = switch (fleecing) {
      case "auto" -> null;
      case "backup-sync-none" -> PullView.Mode.BACKUP_SYNC_NONE;
      case "copy-before-write" -> PullView.Mode.COPY_BEFORE_WRITE;
      default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(),
          "--fleecing must be auto, backup-sync-none or copy-before-write");
    };
    PullView.Options view = PullView.Options.defaults(selection.chain, scratch.resolve("view-" + ProcessHandle.current().pid())).withMode(m);
    if (qga != null) {
      view = view.withGuestAgent(MonitorAddress.parse(qga), freeze);
    }
    if (nbdServer != null) {
      view = view.withNbdServer(MonitorAddress.parse(nbdServer));
    }
    VmBackup.Result r;
    try (Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "backup"); Repository repository = repo.open(spec);
        Progress progress = new Progress("vm backup", -1)) {
      r = VmBackup.run(repository, address, drives, view, selection.options(spec, null, new Snapshot.Source(machine, drives, List.of())),
          full, selection.reading(spec, progress));
    } finally {
      try {
        java.nio.file.Files.deleteIfExists(view.scratchDir());
      } catch (IOException notEmpty) {
        // vm cleanup removes what is left
      }
    }
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("chain", selection.chain);
    extra.put("checkpoint", r.checkpoint());
    extra.put("since", r.since());
    if (r.fullBecause() != null) {
      extra.put("fullBecause", r.fullBecause());
    }
    extra.put("consistency", r.view().consistency());
    if (!r.view().notice().isEmpty()) {
      extra.put("notice", r.view().notice());
    }
    SelectionOptions.print(spec.commandLine().getOut(), repo.json, r.backup(), extra);
    return r.backup().complete() ? 0 : 3;
  }

  /** Through libvirt: its backup job and checkpoints, pluck's reading. */
  private int viaLibvirt() throws IOException {
    String machine = vm != null ? vm : libvirt;
    LibvirtBackup.Result r;
    try (Locks.Lock lock = Locks.acquire(repo.storage(spec), false, "backup"); Repository repository = repo.open(spec);
        Progress progress = new Progress("vm backup", -1)) {
      LibvirtBackup.Options o = new LibvirtBackup.Options(libvirt, connect, drives, selection.chain, libvirtDir);
      r = LibvirtBackup.run(repository, o, selection.options(spec, null, new Snapshot.Source(machine, drives, List.of())), full,
          selection.reading(spec, progress));
    }
    if (!Pluck.quiet) {
      for (String n : r.notices()) {
        spec.commandLine().getErr().println("pluck: notice: " + n);
      }
    }
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("chain", selection.chain);
    extra.put("checkpoint", r.checkpoint());
    extra.put("since", r.since());
    if (r.fullBecause() != null) {
      extra.put("fullBecause", r.fullBecause());
    }
    if (!r.notices().isEmpty()) {
      extra.put("notice", r.notices());
    }
    SelectionOptions.print(spec.commandLine().getOut(), repo.json, r.backup(), extra);
    return r.backup().complete() ? 0 : 3;
  }
}
