package dev.pluck.qmp;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A point-in-time view of a VM's drives, exported over NBD with the dirty bitmap of a checkpoint
 * chain: what a pull-mode backup reads.
 *
 * <p>{@link #begin} makes it atomically for the guest (one transaction that adds the chain's new
 * bitmap, disables the previous one and starts fleecing, inside a pause of the guest); {@link
 * #end} tears it down and, on failure, merges the new bitmap back into the previous one so no
 * change is lost. Each step opens its own monitor connection and closes it: the monitor is never
 * held while the view is read.
 */
public final class PullView {
  /** How the frozen view is kept while the guest keeps writing. */
  public enum Mode {
    /** A qcow2 overlay backed by the live node, filled by blockdev-backup sync=none (QEMU >= 4.2). */
    BACKUP_SYNC_NONE,
    /** A copy-before-write filter in front of the guest device, read through snapshot-access (QEMU >= 7.0). */
    COPY_BEFORE_WRITE
  }

  /**
   * @param chain the checkpoint chain (bitmaps pluck-CHAIN-N)
   * @param mode null to choose: copy-before-write where QEMU has it and a guest device can be moved
   * @param scratchDir where overlay files and pluck's own NBD socket go
   * @param keepPrevious on success, keep the previous bitmap (disabled) instead of dropping it
   * @param qga the guest agent's socket, to freeze the guest's filesystems across the switch (null:
   *     pause the guest instead)
   * @param freezeMountpoints only these guest mountpoints (empty: all)
   * @param lockDir where per-drive lock files live
   * @param nbdServer the address of an NBD server already running in this QEMU (null: pluck
   *     starts its own on a unix socket in the scratch directory)
   * @param sinceCheckpoint export the changes since this checkpoint of the chain (its sequence
   *     number; its bitmap and every later one must have been kept), 0 for since the previous one
   */
  public record Options(String chain, Mode mode, Path scratchDir, boolean keepPrevious, Duration timeout,
      MonitorAddress qga, List<String> freezeMountpoints, Path lockDir, MonitorAddress nbdServer, long sinceCheckpoint) {
    public Options {
      if (!chain.matches("[A-Za-z0-9_.]{1,40}")) {
        throw new IllegalArgumentException("chain names are 1-40 letters, digits, '_' or '.': " + chain);
      }
    }

    public static Options defaults(String chain, Path scratchDir) {
      return new Options(chain, null, scratchDir, false, Duration.ofSeconds(30), null, List.of(), DriveLock.DEFAULT_DIR, null, 0);
    }

    public Options withMode(Mode m) {
      return new Options(chain, m, scratchDir, keepPrevious, timeout, qga, freezeMountpoints, lockDir, nbdServer, sinceCheckpoint);
    }

    public Options withKeepPrevious(boolean keep) {
      return new Options(chain, mode, scratchDir, keep, timeout, qga, freezeMountpoints, lockDir, nbdServer, sinceCheckpoint);
    }

    public Options withGuestAgent(MonitorAddress agent, List<String> mountpoints) {
      return new Options(chain, mode, scratchDir, keepPrevious, timeout, agent, List.copyOf(mountpoints), lockDir, nbdServer, sinceCheckpoint);
    }

    public Options withNbdServer(MonitorAddress server) {
      return new Options(chain, mode, scratchDir, keepPrevious, timeout, qga, freezeMountpoints, lockDir, server, sinceCheckpoint);
    }

    public Options since(long checkpoint) {
      return new Options(chain, mode, scratchDir, keepPrevious, timeout, qga, freezeMountpoints, lockDir, nbdServer, checkpoint);
    }

    public Options withLockDir(Path dir) {
      return new Options(chain, mode, scratchDir, keepPrevious, timeout, qga, freezeMountpoints, dir, nbdServer, sinceCheckpoint);
    }
  }

  /**
   * One drive of a view: everything {@link #end} needs, so that it can run in another process.
   *
   * @param context the NBD metadata context of the exported bitmap, or null for a first (full)
   *     backup of the chain
   * @param mergedBitmap a temporary bitmap merging several checkpoints (changes since an older
   *     one), exported instead of the previous bitmap; null when not asked for
   */
  public record DriveView(String drive, String node, String qdev, long size, String exportName, String exportId,
      String newBitmap, String previousBitmap, String context, String overlayNode, String scratchNode,
      String scratchFile, String jobId, String snapshotNode, boolean persistent, String mergedBitmap) {}

  /**
   * A live view.
   *
   * @param consistency "frozen" (the guest agent froze the filesystems across the switch),
   *     "paused" (the guest was stopped across the switch: crash-consistent), or
   *     "crash-consistent" when there is no guest to pause (qemu-storage-daemon)
   * @param notice why the view is less than frozen, when a freeze was asked for ("" otherwise)
   */
  public record View(String chain, Mode mode, String qemuVersion, String nbdSocket, boolean startedNbdServer,
      String consistency, String notice, List<DriveView> drives) {
    /** The NBD URI of a drive's export (nbdSocket is a unix socket path, or host:port). */
    public String uri(DriveView d) {
      MonitorAddress a = MonitorAddress.parse(nbdSocket);
      return a.socket() != null ? "nbd+unix:///" + d.exportName() + "?socket=" + a.socket()
          : "nbd://" + (a.host().contains(":") ? "[" + a.host() + "]" : a.host()) + ":" + a.port() + "/" + d.exportName();
    }
  }

  private static final Pattern CHAIN_BITMAP = Pattern.compile("pluck-(.+)-(\\d+)");
  /** The state of a view on disk, so that another process can end or repair it. */
  static final String STATE_FILE = "view.json";
  private static final java.util.Map<Path, List<DriveLock>> LOCKS = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * What a crash would leave to repair: the view, and whether pluck had frozen or paused the
   * guest at that moment.
   */
  public record State(String monitor, View view, boolean guestFrozen, boolean guestPaused) {}

  static void writeState(Path dir, State s) throws IOException {
    Path tmp = dir.resolve(STATE_FILE + ".tmp");
    QemuBlock.JSON.writeValue(tmp.toFile(), s);
    Files.move(tmp, dir.resolve(STATE_FILE), java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  static Optional<State> readState(Path dir) {
    try {
      return Optional.of(QemuBlock.JSON.readValue(dir.resolve(STATE_FILE).toFile(), State.class));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private PullView() {}

  /** The chain's bitmap name with sequence number {@code n}. */
  public static String bitmapName(String chain, long n) {
    return "pluck-" + chain + "-" + n;
  }

  /** The newest bitmap of {@code chain} on a node, if any. */
  static Optional<BlockNode.Bitmap> newest(BlockNode node, String chain) {
    BlockNode.Bitmap best = null;
    long bestN = -1;
    for (BlockNode.Bitmap b : node.bitmaps()) {
      Matcher m = CHAIN_BITMAP.matcher(b.name());
      if (m.matches() && m.group(1).equals(chain) && Long.parseLong(m.group(2)) > bestN) {
        best = b;
        bestN = Long.parseLong(m.group(2));
      }
    }
    return Optional.ofNullable(best);
  }

  static long sequence(String bitmap) {
    Matcher m = CHAIN_BITMAP.matcher(bitmap);
    return m.matches() ? Long.parseLong(m.group(2)) : 0;
  }

  /** Makes the view of {@code drives} (one transaction, one pause) and exports it. */
  public static View begin(MonitorAddress monitor, List<String> drives, Options o) throws IOException {
    Files.createDirectories(o.scratchDir());
    Scratch.limit(o.scratchDir(), 0);  // refuse plainly, before touching the VM, when the scratch is too full
    try (QmpClient qmp = QmpClient.connect(monitor, o.timeout())) {
      QemuBlock block = new QemuBlock(qmp);
      QemuVersion version = qmp.version();
      boolean guest = block.hasGuest();
      List<BlockNode> nodes = new ArrayList<>();
      for (String d : drives) {
        BlockNode n = block.resolve(d);
        for (BlockNode.Bitmap b : n.bitmaps()) {
          if (b.inconsistent() && CHAIN_BITMAP.matcher(b.name()).matches()) {
            throw new QmpException("begin", "InconsistentBitmap", "bitmap " + b.name() + " on " + n.nodeName()
                + " is inconsistent (QEMU stopped uncleanly); remove it to restart chain " + o.chain() + " with a full backup");
          }
        }
        nodes.add(n);
      }
      List<DriveLock> locks = new ArrayList<>();
      try {
        for (BlockNode n : nodes) {
          locks.add(DriveLock.acquire(o.lockDir(), monitor, n.nodeName()));
        }
      } catch (IOException e) {
        for (DriveLock l : locks) {
          l.close();
        }
        throw e;
      }
      LOCKS.put(o.scratchDir(), locks);
      try {
        return beginLocked(monitor, drives, o, qmp, block, version, guest, nodes);
      } catch (IOException | RuntimeException e) {
        releaseLocks(o.scratchDir());
        throw e;
      }
    }
  }

  private static void releaseLocks(Path scratchDir) {
    List<DriveLock> locks = LOCKS.remove(scratchDir);
    if (locks != null) {
      for (DriveLock l : locks) {
        try {
          l.close();
        } catch (IOException ignored) {
          // released with the process anyway
        }
      }
    }
  }

  private static View beginLocked(MonitorAddress monitor, List<String> drives, Options o, QmpClient qmp, QemuBlock block,
      QemuVersion version, boolean guest, List<BlockNode> nodes) throws IOException {
    {
      Mode mode = o.mode();
      if (mode == null) {
        boolean movable = guest && nodes.stream().allMatch(n -> !n.qdev().isEmpty());
        mode = movable && QmpSchema.load(qmp).canCopyBeforeWrite() ? Mode.COPY_BEFORE_WRITE : Mode.BACKUP_SYNC_NONE;
      }
      if (mode == Mode.COPY_BEFORE_WRITE && (!guest || nodes.stream().anyMatch(n -> n.qdev().isEmpty()))) {
        throw new QmpException("begin", "GenericError", "copy-before-write needs a guest device on every drive; use backup-sync-none");
      }
      String token = UUID.randomUUID().toString().substring(0, 8);
      List<DriveView> views = new ArrayList<>();
      List<ObjectNode> actions = new ArrayList<>();
      // Copy-before-write cannot move the device inside the transaction (qom-set is no
      // transaction action). The new bitmap starts before the move and the previous one stops
      // after it, so a write slipping between the commands is in both bitmaps: re-read once,
      // never missed. Under a freeze or pause no guest write slips in at all.
      List<ObjectNode> afterMove = new ArrayList<>();
      for (int i = 0; i < nodes.size(); i++) {
        BlockNode n = nodes.get(i);
        Optional<BlockNode.Bitmap> prev = newest(n, o.chain());
        String newBitmap = bitmapName(o.chain(), prev.map(b -> sequence(b.name()) + 1).orElse(1L));
        String base = "pluck-" + token + "-" + i;
        Path scratch = o.scratchDir().resolve(base + (mode == Mode.BACKUP_SYNC_NONE ? ".qcow2" : ".raw"));
        String merged = null;
        if (o.sinceCheckpoint() > 0 && prev.isPresent()) {
          long last = sequence(prev.get().name());
          if (o.sinceCheckpoint() > last) {
            throw new QmpException("begin", "GenericError", "chain " + o.chain() + " on " + n.nodeName() + " has no checkpoint "
                + o.sinceCheckpoint() + " (its newest is " + last + ")");
          }
          for (long k = o.sinceCheckpoint(); k <= last; k++) {
            String name = bitmapName(o.chain(), k);
            if (n.bitmaps().stream().noneMatch(b -> b.name().equals(name))) {
              throw new QmpException("begin", "GenericError", "checkpoint " + k + " of chain " + o.chain() + " on " + n.nodeName()
                  + " was not kept (keep bitmaps with --keep-previous to export changes since an older checkpoint)");
            }
          }
          merged = o.sinceCheckpoint() < last ? base + "-since-" + o.sinceCheckpoint() : null;
        }
        String exported = merged != null ? merged : prev.map(BlockNode.Bitmap::name).orElse(null);
        DriveView v = new DriveView(drives.get(i), n.nodeName(), n.qdev(), n.virtualSize(), base, base + "-export",
            newBitmap, prev.map(BlockNode.Bitmap::name).orElse(null),
            exported == null ? null : "qemu:dirty-bitmap:" + exported,
            mode == Mode.BACKUP_SYNC_NONE ? base + "-overlay" : base + "-cbw", base + "-scratch", scratch.toString(),
            mode == Mode.BACKUP_SYNC_NONE ? base + "-job" : null, mode == Mode.COPY_BEFORE_WRITE ? base + "-snap" : null,
            n.canPersistBitmaps(), merged);
        views.add(v);
        actions.add(QemuBlock.action("block-dirty-bitmap-add",
            QemuBlock.bitmapRef(v.node(), v.newBitmap()).put("persistent", v.persistent())));
        if (v.previousBitmap() != null) {
          ObjectNode disable = QemuBlock.action("block-dirty-bitmap-disable", QemuBlock.bitmapRef(v.node(), v.previousBitmap()));
          (mode == Mode.COPY_BEFORE_WRITE ? afterMove : actions).add(disable);
        }
        if (mode == Mode.BACKUP_SYNC_NONE) {
          actions.add(QemuBlock.action("blockdev-backup", QemuBlock.JSON.createObjectNode()
              .put("device", v.node()).put("target", v.overlayNode()).put("sync", "none").put("job-id", v.jobId())));
        }
      }
      Path socket = o.scratchDir().resolve("nbd.sock");
      View view = new View(o.chain(), mode, version.toString(), socket.toString(), false,
          guest ? "paused" : "crash-consistent", "", views);
      // The state goes first: whatever pluck creates in QEMU from here on, cleanup can find.
      writeState(o.scratchDir(), new State(monitor.toString(), view, false, false));
      try {
        for (DriveView v : views) {
          prepareScratch(block, v, mode);
        }
        String[] consistency = {view.consistency(), ""};
        View pending = view;
        switchAtomically(block, guest, actions, afterMove, views, mode, o, consistency,
            (frozen, paused) -> writeState(o.scratchDir(), new State(monitor.toString(), pending, frozen, paused)));
        String notice = consistency[1];
        for (DriveView v : views) {
          if (!v.persistent()) {
            notice = (notice.isEmpty() ? "" : notice + "; ") + "the bitmaps of " + v.drive() + " (" + v.node()
                + ") cannot be stored in its image: a restart of QEMU makes the next backup of chain " + o.chain() + " full";
          }
        }
        view = new View(view.chain(), mode, view.qemuVersion(), view.nbdSocket(), false, consistency[0], notice, views);
        if (o.nbdServer() == null) {
          if (!block.nbdServerStart(socket)) {
            throw new QmpException("nbd-server-start", "GenericError",
                "an NBD server already runs in this QEMU; its address cannot be queried, give it with --nbd-server");
          }
          view = new View(view.chain(), mode, view.qemuVersion(), socket.toString(), true, view.consistency(), view.notice(), views);
        } else {
          view = new View(view.chain(), mode, view.qemuVersion(), o.nbdServer().toString(), false, view.consistency(), view.notice(), views);
        }
        writeState(o.scratchDir(), new State(monitor.toString(), view, false, false));
        for (DriveView v : views) {
          if (v.mergedBitmap() != null) {  // the checkpoints since k, frozen now that the switch is done
            ObjectNode merge = QemuBlock.JSON.createObjectNode().put("node", v.node()).put("target", v.mergedBitmap());
            var sources = merge.putArray("bitmaps");
            for (long k = o.sinceCheckpoint(); k <= sequence(v.previousBitmap()); k++) {
              sources.add(bitmapName(o.chain(), k));
            }
            block.transaction(List.of(
                QemuBlock.action("block-dirty-bitmap-add", QemuBlock.bitmapRef(v.node(), v.mergedBitmap()).put("disabled", true)),
                QemuBlock.action("block-dirty-bitmap-merge", merge)));
          }
          String exported = v.mergedBitmap() != null ? v.mergedBitmap() : v.previousBitmap();
          List<ObjectNode> bitmaps = exported == null ? List.of() : List.of(QemuBlock.bitmapRef(v.node(), exported));
          block.exportNbd(v.exportId(), mode == Mode.BACKUP_SYNC_NONE ? v.overlayNode() : v.snapshotNode(), v.exportName(), bitmaps);
        }
        return view;
      } catch (IOException | RuntimeException e) {
        try {
          teardown(block, view, false);
          settleBitmaps(block, view, false, false);
          Files.deleteIfExists(o.scratchDir().resolve(STATE_FILE));
        } catch (IOException | RuntimeException cleanup) {
          e.addSuppressed(cleanup);  // the state file stays for pluck vm cleanup
        }
        throw e;
      }
    }
  }

  private static void prepareScratch(QemuBlock block, DriveView v, Mode mode) throws IOException {
    Path scratch = Path.of(v.scratchFile());
    if (mode == Mode.BACKUP_SYNC_NONE) {
      createQcow2(scratch, v.size());
      ObjectNode file = QemuBlock.JSON.createObjectNode().put("driver", "file").put("filename", scratch.toString());
      ObjectNode overlay = QemuBlock.JSON.createObjectNode().put("driver", "qcow2").put("node-name", v.overlayNode())
          .put("backing", v.node()).put("discard", "unmap");
      overlay.set("file", file);
      block.blockdevAdd(overlay);
    } else {
      try (var raf = new java.io.RandomAccessFile(scratch.toFile(), "rw")) {
        raf.setLength(v.size());
      }
      block.blockdevAdd(QemuBlock.JSON.createObjectNode().put("driver", "file").put("node-name", v.scratchNode())
          .put("filename", scratch.toString()).put("discard", "unmap"));
      block.blockdevAdd(QemuBlock.JSON.createObjectNode().put("driver", "copy-before-write").put("node-name", v.overlayNode())
          .put("file", v.node()).put("target", v.scratchNode()).put("on-cbw-error", "break-snapshot").put("cbw-timeout", 45));
    }
  }

  private static void createQcow2(Path file, long size) throws IOException {
    Process p = new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", file.toString(), Long.toString(size))
        .redirectErrorStream(true).start();
    try {
      String out = new String(p.getInputStream().readAllBytes());
      if (p.waitFor() != 0) {
        throw new IOException("qemu-img create " + file + " failed: " + out.strip());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted creating " + file, e);
    }
  }

  /**
   * The switch, atomic for the guest: freeze its filesystems through the agent (or, without an
   * agent or when it refuses, stop the guest), run the transaction, move the devices onto their
   * copy-before-write filters, and always thaw or let the guest run again.
   */
  private static void switchAtomically(QemuBlock block, boolean guest, List<ObjectNode> actions,
      List<ObjectNode> afterMove, List<DriveView> views, Mode mode, Options o, String[] consistency, Phase phase) throws IOException {
    QgaClient agent = null;
    if (o.qga() != null) {
      try {
        agent = QgaClient.connect(o.qga(), o.timeout());
        phase.record(true, false);
        agent.freeze(o.freezeMountpoints());
        consistency[0] = "frozen";
      } catch (IOException e) {
        consistency[1] = "the guest agent did not freeze (" + e.getMessage() + "); "
            + (guest ? "the guest was paused instead: the view is crash-consistent" : "the view is crash-consistent");
        if (agent != null) {
          thaw(agent);  // a partial freeze must not stay
          agent.close();
          agent = null;
        }
        phase.record(false, false);
      }
    }
    boolean wasRunning = agent == null && guest && block.runState().equals("running");
    if (wasRunning) {
      phase.record(false, true);
      block.stop();
    }
    try {
      block.transaction(actions);
      if (mode == Mode.COPY_BEFORE_WRITE) {
        for (DriveView v : views) {
          block.qomSet(qomPath(v.qdev()), "drive", v.overlayNode());
        }
        if (!afterMove.isEmpty()) {
          block.transaction(afterMove);
        }
      }
    } finally {
      if (wasRunning) {
        block.cont();
      }
      if (agent != null) {
        try {
          thaw(agent);
        } finally {
          agent.close();
        }
      }
      phase.record(false, false);
    }
    if (mode == Mode.COPY_BEFORE_WRITE) {
      for (DriveView v : views) {
        block.blockdevAdd(QemuBlock.JSON.createObjectNode().put("driver", "snapshot-access").put("node-name", v.snapshotNode())
            .put("file", v.overlayNode()));
      }
    }
  }

  /** Records in the state file that the guest is (or is no longer) frozen or paused by pluck. */
  private interface Phase {
    void record(boolean frozen, boolean paused) throws IOException;
  }

  /** Thaws, and checks that the guest says so: a guest left frozen is the worst outcome. */
  private static void thaw(QgaClient agent) throws IOException {
    IOException failure = null;
    for (int attempt = 0; attempt < 3; attempt++) {
      try {
        agent.thaw();
        if (agent.freezeStatus().equals("thawed")) {
          return;
        }
      } catch (IOException e) {
        failure = e;
      }
    }
    throw new IOException("the guest's filesystems may still be frozen: thaw failed"
        + (failure == null ? "" : " (" + failure.getMessage() + ")") + "; run pluck vm cleanup", failure);
  }

  /** query-block's qdev is the device's QOM path (virtio: .../virtio-backend) or its id. */
  static String qomPath(String qdev) {
    return qdev.startsWith("/") ? qdev : "/machine/peripheral/" + qdev;
  }

  /**
   * Tears the view down and settles its bitmaps: on success the previous bitmap is dropped (or
   * kept, disabled); on failure the new bitmap is merged into the previous one, which records
   * again, in one transaction, so the next view still sees every change.
   */
  public static void end(MonitorAddress monitor, View view, boolean success, Options o) throws IOException {
    try (QmpClient qmp = QmpClient.connect(monitor, o.timeout())) {
      QemuBlock block = new QemuBlock(qmp);
      teardown(block, view, true);
      settleBitmaps(block, view, success, o.keepPrevious());
      Files.deleteIfExists(o.scratchDir().resolve(STATE_FILE));
    } finally {
      releaseLocks(o.scratchDir());
    }
  }

  static void settleBitmaps(QemuBlock block, View view, boolean success, boolean keepPrevious) throws IOException {
    List<ObjectNode> actions = new ArrayList<>();
    for (DriveView v : view.drives()) {
      java.util.Set<String> present = new java.util.HashSet<>();
      java.util.Set<String> recording = new java.util.HashSet<>();
      for (BlockNode.Bitmap b : block.resolve(v.node()).bitmaps()) {
        present.add(b.name());
        if (b.recording()) {
          recording.add(b.name());
        }
      }
      if (!present.contains(v.newBitmap())) {
        if (!success && v.previousBitmap() != null && present.contains(v.previousBitmap()) && !recording.contains(v.previousBitmap())) {
          // the switch never happened (or was undone): the previous bitmap must record again
          actions.add(QemuBlock.action("block-dirty-bitmap-enable", QemuBlock.bitmapRef(v.node(), v.previousBitmap())));
        }
        continue;
      }
      if (v.previousBitmap() == null || !present.contains(v.previousBitmap())) {
        if (!success && v.previousBitmap() == null) {  // a failed first backup: the next one is full again
          actions.add(QemuBlock.action("block-dirty-bitmap-remove", QemuBlock.bitmapRef(v.node(), v.newBitmap())));
        }
        continue;
      }
      if (success) {
        if (!keepPrevious) {
          actions.add(QemuBlock.action("block-dirty-bitmap-remove", QemuBlock.bitmapRef(v.node(), v.previousBitmap())));
        }
      } else {
        ObjectNode merge = QemuBlock.JSON.createObjectNode().put("node", v.node()).put("target", v.previousBitmap());
        merge.putArray("bitmaps").add(v.newBitmap());
        actions.add(QemuBlock.action("block-dirty-bitmap-enable", QemuBlock.bitmapRef(v.node(), v.previousBitmap())));
        actions.add(QemuBlock.action("block-dirty-bitmap-merge", merge));
        actions.add(QemuBlock.action("block-dirty-bitmap-remove", QemuBlock.bitmapRef(v.node(), v.newBitmap())));
      }
    }
    if (!actions.isEmpty()) {
      block.transaction(actions);
    }
  }

  /** Removes exports, the NBD server (if pluck started it), jobs, filters, nodes and files. */
  static void teardown(QemuBlock block, View view, boolean strict) throws IOException {
    IOException first = null;
    List<String> exports = block.exportIds();
    for (DriveView v : view.drives()) {
      if (exports.contains(v.exportId())) {
        first = keep(first, () -> block.client().execute("block-export-del",
            QemuBlock.JSON.createObjectNode().put("id", v.exportId()).put("mode", "hard")));
      }
    }
    waitUntil(() -> view.drives().stream().noneMatch(v -> {
      try {
        return block.exportIds().contains(v.exportId());
      } catch (IOException e) {
        return false;
      }
    }), Duration.ofSeconds(10));
    if (view.startedNbdServer() && block.nbdExportIds().isEmpty()) {
      first = keep(first, block::nbdServerStop);
    }
    for (DriveView v : view.drives()) {
      if (v.jobId() != null && block.jobIds().contains(v.jobId())) {
        first = keep(first, () -> block.cancelJob(v.jobId()));
        waitUntil(() -> {
          try {
            return !block.jobIds().contains(v.jobId());
          } catch (IOException e) {
            return true;
          }
        }, Duration.ofSeconds(10));
      }
      if (v.snapshotNode() != null) {
        first = keep(first, () -> ignoreMissing(() -> block.blockdevDel(v.snapshotNode())));
        // Move the guest device back before removing the filter; never onto the node it already has.
        String current = currentNode(block, v);
        if (v.overlayNode().equals(current)) {
          first = keep(first, () -> block.qomSet(qomPath(v.qdev()), "drive", v.node()));
        }
      }
      first = keep(first, () -> ignoreMissing(() -> block.blockdevDel(v.overlayNode())));
      if (v.mergedBitmap() != null) {
        first = keep(first, () -> ignoreMissing(() -> block.removeBitmap(v.node(), v.mergedBitmap())));
      }
      if (v.snapshotNode() != null) {
        first = keep(first, () -> ignoreMissing(() -> block.blockdevDel(v.scratchNode())));
      }
      Files.deleteIfExists(Path.of(v.scratchFile()));
    }
    if (view.startedNbdServer()) {
      Files.deleteIfExists(Path.of(view.nbdSocket()));
    }
    if (strict && first != null) {
      throw first;
    }
  }

  private static String currentNode(QemuBlock block, DriveView v) throws IOException {
    for (var b : block.client().execute("query-block")) {
      if (b.path("qdev").asText("").equals(v.qdev())) {
        return b.path("inserted").path("node-name").asText("");
      }
    }
    return "";
  }

  private interface Step {
    void run() throws IOException;
  }

  private static IOException keep(IOException first, Step step) {
    try {
      step.run();
      return first;
    } catch (IOException e) {
      return first != null ? first : e;
    }
  }

  private static void ignoreMissing(Step step) throws IOException {
    try {
      step.run();
    } catch (QmpException e) {
      if (!e.errorClass().equals("DeviceNotFound") && !e.description().contains("not found")
          && !e.description().contains("Cannot find")) {
        throw e;
      }
    }
  }

  private static void waitUntil(java.util.function.BooleanSupplier done, Duration max) {
    long deadline = System.nanoTime() + max.toNanos();
    while (!done.getAsBoolean() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
