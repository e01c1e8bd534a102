package dev.pluck.engine;

import dev.pluck.engine.repo.Repository;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.Extent;
import dev.pluck.nbd.ForwardingBlockDevice;
import dev.pluck.nbd.NbdBlockDevice;
import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdUri;
import dev.pluck.qmp.MonitorAddress;
import dev.pluck.qmp.PullView;
import dev.pluck.qmp.QgaClient;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A backup of a running VM: begin a view of its drives (the chain's next checkpoint), back the
 * view up with the chain's dirty bitmap against the snapshot taken at the previous checkpoint,
 * commit, and only then end the view as a success. Whatever fails before the commit ends the view
 * as failed: the new bitmap is merged back, so the next backup still sees every change.
 */
public final class VmBackup {
  /** The metadata context under which every drive of the view answers with its own dirty bitmap. */
  static final String DIRTY = "pluck:dirty";

  /**
   * What happened.
   *
   * @param checkpoint the checkpoint the snapshot is at (the drives' new bitmaps)
   * @param since the checkpoint the changes were read since, or null for a full read
   * @param fullBecause why every selected byte was read (null for an incremental)
   */
  public record Result(Backup.Result backup, PullView.View view, String checkpoint, String since, String fullBecause) {}

  private VmBackup() {}

  /**
   * Backs up {@code drives} of the VM behind {@code monitor}. {@code options} say what to take;
   * their parent, bitmap and checkpoint are set here. {@code full}: read every selected byte
   * (the bitmaps still move on).
   */
  public static Result run(Repository repo, MonitorAddress monitor, List<String> drives, PullView.Options viewOptions,
      Backup.Options options, boolean full) throws IOException {
    return run(repo, monitor, drives, viewOptions, options, full, Backup.Reading.DEFAULT);
  }

  /** As {@link #run(Repository, MonitorAddress, List, PullView.Options, Backup.Options, boolean)}, reading as {@code reading} says. */
  public static Result run(Repository repo, MonitorAddress monitor, List<String> drives, PullView.Options viewOptions,
      Backup.Options options, boolean full, Backup.Reading reading) throws IOException {
    LiveMounts live = options.mode() == Backup.Mode.FILES && options.volumes().isEmpty() && viewOptions.qga() != null
        ? liveMounts(viewOptions.qga(), viewOptions.timeout()) : null;
    PullView.View view = PullView.begin(monitor, drives, viewOptions);
    AtomicBoolean ended = new AtomicBoolean();
    Thread hook = new Thread(() -> end(monitor, view, false, viewOptions, ended), "pluck-end-view");
    Runtime.getRuntime().addShutdownHook(hook);
    List<BlockDevice> opened = new ArrayList<>();
    boolean success = false;
    try {
      List<VolumeTree.Disk> disks = new ArrayList<>();
      boolean incremental = !full;
      List<String> now = new ArrayList<>();
      List<String> before = new ArrayList<>();
      for (PullView.DriveView d : view.drives()) {
        disks.add(new VolumeTree.Disk(d.drive(), openExport(view.uri(d), d.context(), opened)));
        now.add(d.newBitmap());
        before.add(d.mergedBitmap() != null ? PullView.bitmapName(viewOptions.chain(), viewOptions.sinceCheckpoint()) : d.previousBitmap());
        incremental &= d.context() != null;
      }
      String checkpoint = checkpointName(now);
      String since = incremental ? checkpointName(before) : null;
      String fullBecause = full ? "--full asked for it"
          : since == null ? "the chain has no earlier checkpoint on " + String.join(", ", view.drives().stream()
              .filter(d -> d.context() == null).map(PullView.DriveView::drive).toList())
              + " (its first backup, or its bitmaps were lost): every change since is unknown" : null;
      Backup.Result r = Backup.run(repo, disks, options.incremental(since == null ? null : "checkpoint:" + since, since == null ? null : DIRTY,
          checkpoint), reading, live);
      success = true;
      if (fullBecause == null && r.parent() == null) {
        fullBecause = r.parentNote();  // a bitmap, but no snapshot at its checkpoint to compare with
      }
      return new Result(r, view, checkpoint, since, fullBecause);
    } finally {
      closeAll(opened);  // the view goes next
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook ends the view
      }
      IOException failure = end(monitor, view, success, viewOptions, ended);
      if (failure != null && success) {
        throw new IOException("the snapshot is committed, but ending the view failed (run pluck vm cleanup): " + failure.getMessage(),
            failure);
      }
    }
  }

  /**
   * What the guest's agent says is mounted, asked before the view (a frozen agent answers little
   * else than thaw); why not, when it cannot say.
   */
  static LiveMounts liveMounts(MonitorAddress agent, java.time.Duration timeout) {
    try (QgaClient qga = QgaClient.connect(agent, timeout)) {
      List<LiveMounts.Mount> mounts = new ArrayList<>();
      for (QgaClient.FsInfo f : qga.fsInfo()) {
        mounts.add(new LiveMounts.Mount(f.mountpoint(), f.type(), f.name()));
      }
      return LiveMounts.of(mounts);
    } catch (IOException e) {
      return LiveMounts.unavailable(e.getMessage());
    }
  }

  /**
   * Opens a drive's export with {@code base:allocation} and, when not null, its dirty bitmap's
   * {@code context}, answered under {@link #DIRTY}; the connection is added to {@code opened}.
   */
  static BlockDevice openExport(String uri, String context, List<BlockDevice> opened) throws IOException {
    List<String> contexts = new ArrayList<>(List.of(BlockDevice.BASE_ALLOCATION));
    if (context != null) {
      contexts.add(context);
    }
    NbdBlockDevice device = NbdBlockDevice.open(NbdUri.parse(uri), NbdOptions.defaults().withMetaContexts(contexts));
    opened.add(device);
    if (context != null && !device.metaContexts().contains(context)) {
      throw new IOException("the export " + uri + " has no " + context + " for the incremental");
    }
    return context == null ? device : new Alias(device, context);
  }

  /** Closes the exports opened, quietly: what ends the view comes next. */
  static void closeAll(List<BlockDevice> opened) {
    for (BlockDevice d : opened) {
      try {
        d.close();
      } catch (IOException ignored) {
        // the view or job ends next
      }
    }
  }

  /**
   * The name a snapshot records for the drives' bitmaps: the bitmap's name when every drive's is
   * the same (a chain moves all its drives together; and a libvirt checkpoint is named so), else
   * the names joined by commas.
   */
  static String checkpointName(List<String> bitmaps) {
    return bitmaps.stream().distinct().count() == 1 ? bitmaps.get(0) : String.join(",", bitmaps);
  }

  private static IOException end(MonitorAddress monitor, PullView.View view, boolean success, PullView.Options o, AtomicBoolean ended) {
    if (!ended.compareAndSet(false, true)) {
      return null;
    }
    try {
      PullView.end(monitor, view, success, o);
      return null;
    } catch (IOException e) {
      System.err.println("pluck: ending the view failed: " + e.getMessage() + " (run pluck vm cleanup)");
      return e;
    }
  }

  /** A drive's export that answers {@link #DIRTY} with its own bitmap's context. */
  static final class Alias extends ForwardingBlockDevice {
    private final String context;

    Alias(BlockDevice inner, String context) {
      super(inner);
      this.context = context;
    }

    @Override
    public Set<String> metaContexts() {
      Set<String> out = new java.util.HashSet<>(super.metaContexts());
      out.add(DIRTY);
      return out;
    }

    @Override
    public List<Extent> blockStatus(String name, long offset, long length) throws IOException {
      return super.blockStatus(DIRTY.equals(name) ? context : name, offset, length);
    }
  }
}
