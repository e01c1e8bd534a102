package dev.pluck.cli;

import dev.pluck.qmp.BlockNode;
import dev.pluck.qmp.MonitorAddress;
import dev.pluck.qmp.PullView;
import dev.pluck.qmp.QemuBlock;
import dev.pluck.qmp.QmpClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pluck vm ...}: point-in-time views and checkpoint chains of a running VM. */
@Command(name = "vm", mixinStandardHelpOptions = true, description = "Views and checkpoints of running VMs (over QMP).")
final class VmCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  @Command(name = "checkpoints", mixinStandardHelpOptions = true,
      description = {"Dirty bitmaps of the VM's drives, grouped by pluck checkpoint chain.", "",
          "Example: pluck vm checkpoints --qmp /run/qemu/web1.qmp",
          "Example: pluck vm checkpoints --libvirt web1 --json"})
  static final class Checkpoints implements Callable<Integer> {
    @Spec CommandSpec spec;

    @picocli.CommandLine.Mixin MonitorOption monitor = new MonitorOption();
    @picocli.CommandLine.Mixin TraceOptions trace = new TraceOptions();

    @Option(names = "--drive", paramLabel = "NODE", description = "Only this drive (node name, qdev id or BlockBackend name).")
    String drive;

    @Option(names = "--json", description = "JSON lines, one per bitmap.")
    boolean json;

    @Override
    public Integer call() throws IOException {
      PrintWriter out = spec.commandLine().getOut();
      if (monitor.isLibvirt()) {
        return libvirt(out);
      }
      try (QmpClient client = QmpClient.connect(monitor.address())) {
        QemuBlock block = new QemuBlock(client);
        List<BlockNode> nodes = drive != null ? List.of(block.resolve(drive)) : block.nodesWithBitmaps();
        if (!json) {
          out.printf("%-14s %-28s %-12s %-8s %-10s %11s %12s%n", "NODE", "BITMAP", "CHAIN", "ENABLED", "PERSISTENT", "GRANULARITY", "DIRTY");
        }
        for (BlockNode n : nodes) {
          for (BlockNode.Bitmap b : n.bitmaps()) {
            String chain = b.name().matches("pluck-.+-\\d+") ? b.name().replaceAll("^pluck-(.+)-\\d+$", "$1") : "";
            if (json) {
              Map<String, Object> row = new LinkedHashMap<>();
              row.put("node", n.nodeName());
              row.put("bitmap", b.name());
              row.put("chain", chain);
              row.put("enabled", b.recording());
              row.put("persistent", b.persistent());
              row.put("inconsistent", b.inconsistent());
              row.put("granularity", b.granularity());
              row.put("dirtyBytes", b.dirtyBytes());
              Output.json(out, row);
            } else {
              out.printf("%-14s %-28s %-12s %-8s %-10s %11d %12d%n", n.nodeName(), b.name(), chain.isEmpty() ? "-" : chain,
                  b.recording() ? "yes" : "no", b.persistent() ? "yes" : "no", b.granularity(), b.dirtyBytes());
            }
          }
        }
      }
      return 0;
    }

    /** libvirt's checkpoints of the domain, pluck's by chain. */
    private int libvirt(PrintWriter out) throws IOException {
      try (dev.pluck.qmp.Libvirt conn = dev.pluck.qmp.Libvirt.open(monitor.connect);
          dev.pluck.qmp.Libvirt.Domain dom = conn.domain(monitor.libvirt)) {
        if (!json) {
          out.printf("%-28s %-12s%n", "CHECKPOINT", "CHAIN");
        }
        for (String c : dom.checkpoints()) {
          String chain = c.matches("pluck-.+-\\d+") ? c.replaceAll("^pluck-(.+)-\\d+$", "$1") : "";
          if (json) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("domain", monitor.libvirt);
            row.put("checkpoint", c);
            row.put("chain", chain);
            Output.json(out, row);
          } else {
            out.printf("%-28s %-12s%n", c, chain.isEmpty() ? "-" : chain);
          }
        }
      }
      return 0;
    }
  }

  @Command(name = "cleanup", mixinStandardHelpOptions = true,
      description = {"Repair what an interrupted pluck left: thaw or resume the guest, remove pluck's exports, jobs, "
          + "nodes and files, and end its views as failed so the next backup still sees every change.", "",
          "Example: pluck vm cleanup --qmp /run/qemu/web1.qmp --qga /run/qemu/web1.qga",
          "Example: pluck vm cleanup --libvirt web1"})
  static final class Cleanup implements Callable<Integer> {
    @Spec CommandSpec spec;

    @picocli.CommandLine.Mixin MonitorOption monitor = new MonitorOption();
    @picocli.CommandLine.Mixin TraceOptions trace = new TraceOptions();

    @Option(names = "--qga", paramLabel = "SOCKET", description = "Guest agent socket, to thaw a guest left frozen.")
    String qga;

    @Option(names = "--scratch", paramLabel = "DIR", defaultValue = "/var/tmp/pluck", description = "Directory of pluck's view state (default ${DEFAULT-VALUE}).")
    Path scratch;

    @Option(names = "--json", description = "One JSON object: {actions: [...]}.")
    boolean json;

    @Override
    public Integer call() throws IOException {
      List<String> done = monitor.isLibvirt()
          ? dev.pluck.engine.LibvirtBackup.cleanup(monitor.connect, monitor.libvirt, monitor.libvirtDir)
          : dev.pluck.qmp.Reconcile.run(monitor.address(), scratch,
          qga == null ? null : MonitorAddress.parse(qga), dev.pluck.qmp.DriveLock.DEFAULT_DIR, java.time.Duration.ofSeconds(30));
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        Output.json(out, Map.of("actions", done));
      } else if (done.isEmpty()) {
        out.println("nothing to clean up");
      } else {
        done.forEach(out::println);
      }
      return 0;
    }
  }

  @Command(name = "export", mixinStandardHelpOptions = true,
      description = {"Begin a point-in-time view of drives, export it over NBD with the chain's dirty bitmap, "
          + "serve until interrupted (or stdin closes), then end it.", "",
          "Example: pluck vm export --qmp /run/qemu/web1.qmp --drive vda --chain replication --json",
          "Example: pluck vm export --libvirt web1 --drive vda --until-stdin-closes"})
  static final class Export implements Callable<Integer> {
    @Spec CommandSpec spec;

    @picocli.CommandLine.Mixin MonitorOption monitor = new MonitorOption();
    @picocli.CommandLine.Mixin TraceOptions trace = new TraceOptions();

    @Option(names = "--drive", paramLabel = "NODE", description = "Drive to export (repeatable; with --libvirt a disk target, vda; "
        + "default there: every disk).")
    List<String> drives = new ArrayList<>();

    @Option(names = "--chain", paramLabel = "NAME", defaultValue = "backup", description = "Checkpoint chain (default ${DEFAULT-VALUE}).")
    String chain;

    @Option(names = "--mode", paramLabel = "MODE", defaultValue = "auto", description = "auto, backup-sync-none or copy-before-write (default ${DEFAULT-VALUE}).")
    String mode;

    @Option(names = "--scratch", paramLabel = "DIR", defaultValue = "/var/tmp/pluck", description = "Directory for fleecing files and pluck's NBD socket.")
    Path scratch;

    @Option(names = "--qga", paramLabel = "SOCKET", description = "Guest agent socket: freeze the guest's filesystems across the switch.")
    String qga;

    @Option(names = "--freeze", paramLabel = "MOUNTPOINT", description = "Freeze only these guest mountpoints (repeatable; default all).")
    List<String> freeze = new ArrayList<>();

    @Option(names = "--nbd-server", paramLabel = "ADDR",
        description = "The NBD server already running in this QEMU (its unix socket or host:port); pluck adds its exports there.")
    String nbdServer;

    @Option(names = "--scratch-limit", paramLabel = "BYTES", defaultValue = "0",
        description = "Give the view up when its scratch files use more (suffixes K, M, G; default half the free space).")
    String scratchLimit;

    @Option(names = "--since", paramLabel = "N", defaultValue = "0",
        description = "Export the changes since checkpoint N of the chain (its bitmaps kept with --keep-previous); default: since the previous one.")
    long since;

    @Option(names = "--keep-previous", description = "On success keep the previous checkpoint's bitmap (disabled).")
    boolean keepPrevious;

    @Option(names = "--until-stdin-closes", description = "End the view when standard input closes.")
    boolean untilStdinCloses;

    @Option(names = "--fail", description = "End as a failed backup: merge the new bitmap back into the previous one.")
    boolean fail;

    @Option(names = "--json", description = "Print the view as one JSON object.")
    boolean json;

    @Override
    public Integer call() throws Exception {
      if (monitor.isLibvirt()) {
        return libvirtExport();
      }
      if (drives.isEmpty()) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--qmp needs --drive NODE (repeatable)");
      }
      PullView.Mode m = switch (mode) {
        case "auto" -> null;
        case "backup-sync-none" -> PullView.Mode.BACKUP_SYNC_NONE;
        case "copy-before-write" -> PullView.Mode.COPY_BEFORE_WRITE;
        default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--mode must be auto, backup-sync-none or copy-before-write");
      };
      MonitorAddress monitor = this.monitor.address();
      Path dir = scratch.resolve("view-" + ProcessHandle.current().pid());
      PullView.Options options = PullView.Options.defaults(chain, dir).withMode(m).withKeepPrevious(keepPrevious);
      if (qga != null) {
        options = options.withGuestAgent(MonitorAddress.parse(qga), freeze);
      }
      if (nbdServer != null) {
        options = options.withNbdServer(MonitorAddress.parse(nbdServer));
      }
      if (since > 0) {
        options = options.since(since);
      }
      PullView.Options opts = options;
      PullView.View view = PullView.begin(monitor, drives, opts);
      AtomicBoolean ended = new AtomicBoolean();
      CountDownLatch done = new CountDownLatch(1);
      Thread hook = new Thread(() -> {
        endOnce(monitor, view, opts, ended, false);
        done.countDown();
      }, "pluck-end-view");
      Runtime.getRuntime().addShutdownHook(hook);
      long limit = dev.pluck.qmp.Scratch.limit(dir, parseBytes(scratchLimit));
      String[] broken = {null};
      Thread watch = dev.pluck.qmp.Scratch.watch(view, limit, java.time.Duration.ofMillis(500), reason -> {
        broken[0] = reason;
        System.err.println("pluck: giving the view up: " + reason + "; the guest is unaffected and the next view keeps every change");
        endOnce(monitor, view, opts, ended, true);
        done.countDown();
        if (untilStdinCloses) {
          Runtime.getRuntime().halt(1);  // stdin may never close: there is nothing left to serve
        }
      });
      PrintWriter out = spec.commandLine().getOut();
      Map<String, Object> result = new LinkedHashMap<>();
      result.put("chain", view.chain());
      result.put("mode", view.mode().name().toLowerCase().replace('_', '-'));
      result.put("qemu", view.qemuVersion());
      result.put("consistency", view.consistency());
      if (!view.notice().isEmpty()) {
        result.put("notice", view.notice());
      }
      List<Map<String, Object>> ds = new ArrayList<>();
      for (PullView.DriveView d : view.drives()) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("drive", d.drive());
        e.put("node", d.node());
        e.put("uri", view.uri(d));
        e.put("context", d.context());
        e.put("bitmap", d.newBitmap());
        ds.add(e);
      }
      result.put("drives", ds);
      if (json) {
        Output.json(out, result);
      } else {
        out.printf("view of %s (%s, %s, QEMU %s)%n", String.join(", ", drives), result.get("mode"), view.consistency(), view.qemuVersion());
        if (!view.notice().isEmpty()) {
          out.printf("notice: %s%n", view.notice());
        }
        printDrives(out, ds, "first view of chain " + chain);
      }
      out.flush();
      try {
        serveUntilDone(done);
      } finally {
        watch.interrupt();
        endOnce(monitor, view, opts, ended, false);
        try {
          Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
          // the hook is running
        }
      }
      return broken[0] == null ? 0 : 1;
    }

    static long parseBytes(String s) {
      String t = s.trim().toUpperCase(java.util.Locale.ROOT);
      long unit = 1;
      if (t.endsWith("K")) {
        unit = 1L << 10;
      } else if (t.endsWith("M")) {
        unit = 1L << 20;
      } else if (t.endsWith("G")) {
        unit = 1L << 30;
      } else if (t.endsWith("T")) {
        unit = 1L << 40;
      }
      String digits = unit == 1 ? t : t.substring(0, t.length() - 1);
      return Math.multiplyExact(Long.parseLong(digits), unit);
    }

    /** Each drive's URI and changes context ({@code whyFull} when it has none), then how long the export serves. */
    private void printDrives(PrintWriter out, List<Map<String, Object>> ds, String whyFull) {
      for (Map<String, Object> e : ds) {
        out.printf("%s: %s%n  changes since the last checkpoint: %s%n", e.get("drive"), e.get("uri"),
            e.get("context") == null ? "none (" + whyFull + ": read everything)" : e.get("context"));
      }
      out.printf("serving until %s%n", untilStdinCloses ? "standard input closes" : "interrupted (Ctrl-C)");
    }

    /** Serves until standard input closes (--until-stdin-closes) or {@code done} counts down (an interrupt, a broken view). */
    private void serveUntilDone(CountDownLatch done) throws Exception {
      if (untilStdinCloses) {
        while (System.in.read() >= 0) {
          // wait for EOF
        }
      } else {
        done.await();
      }
    }

    /**
     * libvirt's pull-mode export of the domain's disks at the chain's next checkpoint, until
     * interrupted or stdin closes; then the job ends as a success (the previous checkpoint goes)
     * or, with --fail, as a failure (the new one merges back).
     */
    private int libvirtExport() throws Exception {
      dev.pluck.engine.LibvirtBackup.Options o = new dev.pluck.engine.LibvirtBackup.Options(monitor.libvirt, monitor.connect, drives,
          chain, monitor.libvirtDir);
      try (dev.pluck.qmp.Libvirt conn = dev.pluck.qmp.Libvirt.open(monitor.connect);
          dev.pluck.qmp.Libvirt.Domain dom = conn.domain(monitor.libvirt)) {
        dev.pluck.engine.LibvirtBackup.Begun begun = dev.pluck.engine.LibvirtBackup.beginJob(dom, o, false);
        dev.pluck.engine.LibvirtBackup.Job job = begun.job();
        AtomicBoolean ended = new AtomicBoolean();
        CountDownLatch done = new CountDownLatch(1);
        Runnable end = () -> {
          if (ended.compareAndSet(false, true)) {
            IOException e = dev.pluck.engine.LibvirtBackup.end(dom, fail ? job : job.asCommitted(), monitor.libvirtDir);
            if (e != null) {
              System.err.println("pluck: ending libvirt's job failed: " + e.getMessage() + " (run pluck vm cleanup --libvirt "
                  + monitor.libvirt + ")");
            }
          }
          done.countDown();
        };
        Thread hook = new Thread(end, "pluck-end-libvirt-export");
        Runtime.getRuntime().addShutdownHook(hook);
        PrintWriter out = spec.commandLine().getOut();
        List<Map<String, Object>> ds = new ArrayList<>();
        for (String d : job.drives()) {
          Map<String, Object> e = new LinkedHashMap<>();
          e.put("drive", d);
          e.put("uri", job.uri(d));
          e.put("context", job.context(d));
          e.put("bitmap", job.next());
          ds.add(e);
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("chain", chain);
        result.put("domain", monitor.libvirt);
        result.put("checkpoint", job.next());
        result.put("since", job.since());
        if (!begun.notices().isEmpty()) {
          result.put("notice", begun.notices());
        }
        result.put("drives", ds);
        if (json) {
          Output.json(out, result);
        } else {
          out.printf("libvirt backup job of %s at checkpoint %s%n", monitor.libvirt, job.next());
          begun.notices().forEach(n -> out.println("notice: " + n));
          printDrives(out, ds, begun.fullBecause());
        }
        out.flush();
        try {
          serveUntilDone(done);
        } finally {
          end.run();
          try {
            Runtime.getRuntime().removeShutdownHook(hook);
          } catch (IllegalStateException shuttingDown) {
            // the hook is running
          }
        }
      }
      return 0;
    }

    private void endOnce(MonitorAddress monitor, PullView.View view, PullView.Options options, AtomicBoolean ended, boolean failed) {
      if (ended.compareAndSet(false, true)) {
        try {
          PullView.end(monitor, view, !fail && !failed, options);
          java.nio.file.Files.deleteIfExists(options.scratchDir());
        } catch (IOException e) {
          System.err.println("pluck: ending the view failed: " + e.getMessage() + " (run pluck vm cleanup)");
        }
      }
    }
  }
}
