package dev.pluck.engine;

import dev.pluck.engine.repo.BlockMap;
import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.Content;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.Entry;
import dev.pluck.fs.EntryType;
import dev.pluck.fs.FileExtent;
import dev.pluck.fs.FileSystem;
import dev.pluck.fs.FileSystems;
import dev.pluck.fs.OpenOptions;
import dev.pluck.fs.TreeWalk;
import dev.pluck.fs.VolumeRange;
import dev.pluck.fs.volume.Volume;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A backup of one machine's disks into a repository: the chosen volumes' files (mode FILES) or
 * images (mode VOLUMES), never swap, never free space, and nothing a parent snapshot already
 * holds unchanged. Everything read from the sources is counted.
 */
public final class Backup {
  /** How to take the files or images. */
  public enum Mode {
    /** The files of chosen volumes. */
    FILES,
    /** Chosen volumes as block images of their allocated blocks. */
    VOLUMES,
    /**
     * Everything needed to rebuild the disks: every volume's image, and per disk the bytes no
     * volume holds (partition tables, boot code, gaps, extended-partition chains, LVM labels and
     * metadata) as its own image.
     */
    DISK
  }

  /**
   * What to back up.
   *
   * @param volumes volume selectors (ids, label=, uuid=); empty: every volume pluck can read (FILES) or every volume (VOLUMES)
   * @param include globs a file must match (empty: everything); paths inside the volume
   * @param parent a snapshot id to compare with, "auto" for the newest of the same group, "checkpoint:NAME" for the newest
   *     snapshot taken at checkpoint NAME (complete or not), or null for none
   * @param dirtyContext the NBD metadata context of a dirty bitmap holding every write since the parent was taken (every
   *     disk answers it); null: compare files by their metadata only
   * @param checkpoint the checkpoint the sources are a view of, recorded so the next incremental finds this snapshot
   */
  public record Options(Mode mode, List<String> volumes, List<String> include, List<String> exclude, boolean excludeCaches,
      List<String> excludeIfPresent, boolean includeSwap, List<String> tags, String parent, Snapshot.Source source, String chain,
      String hostname, String dirtyContext, String checkpoint) {
    /** These options comparing with {@code parentRef} through the dirty bitmap {@code context}, recorded at {@code at}. */
    public Options incremental(String parentRef, String context, String at) {
      return new Options(mode, volumes, include, exclude, excludeCaches, excludeIfPresent, includeSwap, tags, parentRef, source, chain,
          hostname, context, at);
    }
  }

  /** The first bytes of a valid CACHEDIR.TAG (the Cache Directory Tagging Specification). */
  static final byte[] CACHEDIR_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  /** A path that could not be read, and why. */
  public record Failure(String path, String reason) {}

  /** What a backup did (the JSON result of `pluck backup`). */
  public record Result(String snapshot, boolean complete, List<Failure> failed, Map<String, Long> bytesRead, Map<String, Long> bytesSkipped,
      Map<String, Long> files, long bytesAdded, double seconds, String parent, String parentNote, List<String> volumesLeftOut,
      List<String> warnings) {}

  /** Names under which a volume's root holds a swap file, as distros make them. */
  static final Set<String> SWAP_FILE_NAMES = Set.of("/swapfile", "/swap.img", "/swap");
  /** Linux swap's signature, at the end of the first page. */
  static final byte[][] SWAP_MAGIC = {"SWAPSPACE2".getBytes(java.nio.charset.StandardCharsets.US_ASCII),
      "SWAP-SPACE".getBytes(java.nio.charset.StandardCharsets.US_ASCII)};
  static final int PAGE = 4096;

  private final Repository repo;
  private final Options options;
  private final List<CountingDevice> disks = new ArrayList<>();
  private final VolumeTree tree;
  private final AtomicLong dataRead = new AtomicLong();
  private final Map<String, Long> skipped = new LinkedHashMap<>();
  private final List<Failure> failed = new ArrayList<>();
  /** Failures past {@link #MAX_FAILURES_LISTED}: counted, not listed (a damaged volume may fail millions of paths). */
  private long failuresNotListed;
  static final int MAX_FAILURES_LISTED = 1000;
  private final List<String> leftOut = new ArrayList<>();
  private final List<String> warnings = java.util.Collections.synchronizedList(new ArrayList<>());
  private MetadataImage metadataImage;  // of the volume being walked, when metadata is kept
  private BlockDevice volumeDevice;  // the volume being walked, for content read around its filesystem
  private volatile long volumeStartRead;  // bytes done (progressBytes) when the current volume began
  /** Wanted bytes not read because the source's block status says they read as zeros: done all the same, for the progress bar. */
  private final java.util.concurrent.atomic.AtomicLong zerosNotRead = new java.util.concurrent.atomic.AtomicLong();
  private volatile long volumeEstimate = -1;  // about how many bytes the current volume will read, or -1
  private volatile boolean lastVolume;  // the current volume is the last one to read
  /** The guest's mount tree when globs match guest paths (FILES mode without --volume, a Linux root found). */
  private GuestMounts guest;
  /** Where the volume being backed up is mounted in the guest, when {@link #guest} is known. */
  private String mountpoint;
  /** The volume being backed up. */
  private String volumeId;
  private long filesNew;
  private long filesChanged;
  private long filesUnchanged;

  /**
   * How the sources are read, besides what is read.
   *
   * @param limit bytes per second all disks together are read at, at most (0: no limit)
   * @param progress told every fifth of a second how far the backup is (null: nobody)
   */
  public record Reading(long limit, Progress progress) {
    public static final Reading DEFAULT = new Reading(0, null);
  }

  /** Hears how far a backup is. */
  public interface Progress {
    /**
     * {@code bytes} read from the sources so far (with the wanted bytes not read because the source
     * says they read as zeros), {@code files} stored or carried over so far; {@code done} at the end.
     */
    void update(long bytesRead, long files, boolean done);

    /**
     * About how many bytes will have been read when the backup ends, once that can be told (the
     * last volume has begun and its reads can be foreseen), else -1; told before each update.
     */
    default void expect(long bytesReadAtEnd) {}
  }

  private final Reading reading;
  private LiveMounts live;

  private Backup(Repository repo, List<VolumeTree.Disk> sources, Options options, Reading reading) throws IOException {
    this.repo = repo;
    this.options = options;
    this.reading = reading;
    List<VolumeTree.Disk> counted = new ArrayList<>();
    dev.pluck.nbd.RateLimitedDevice.Rate rate = reading.limit() > 0 ? new dev.pluck.nbd.RateLimitedDevice.Rate(reading.limit()) : null;
    for (VolumeTree.Disk d : sources) {
      CountingDevice c = new CountingDevice(rate == null ? d.device() : new dev.pluck.nbd.RateLimitedDevice(d.device(), rate));
      disks.add(c);
      counted.add(new VolumeTree.Disk(d.name(), c));
    }
    this.tree = VolumeTree.probe(counted);
    for (String k : List.of("swap", "free", "zero", "unchanged", "excluded", "encrypted")) {
      skipped.put(k, 0L);
    }
  }

  /** Backs up {@code sources} (one machine's disks) into {@code repo} and commits the snapshot. */
  public static Result run(Repository repo, List<VolumeTree.Disk> sources, Options options) throws IOException {
    return run(repo, sources, options, Reading.DEFAULT);
  }

  /** Backs up {@code sources} into {@code repo}, reading them as {@code reading} says. */
  public static Result run(Repository repo, List<VolumeTree.Disk> sources, Options options, Reading reading) throws IOException {
    return run(repo, sources, options, reading, null);
  }

  /**
   * As {@link #run(Repository, List, Options, Reading)}; a selection by guest paths is also checked
   * against what the running guest says is mounted ({@code live}, null: not asked), and the
   * differences are warnings of the result.
   */
  public static Result run(Repository repo, List<VolumeTree.Disk> sources, Options options, Reading reading, LiveMounts live)
      throws IOException {
    Backup b = new Backup(repo, sources, options, reading);
    b.live = live;
    if (reading.progress() == null) {
      return b.run();
    }
    java.util.concurrent.ScheduledExecutorService ticker = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "pluck-progress");
      t.setDaemon(true);
      return t;
    });
    ticker.scheduleAtFixedRate(b::report, 200, 200, java.util.concurrent.TimeUnit.MILLISECONDS);
    try {
      return b.run();
    } finally {
      ticker.shutdownNow();
      b.reading.progress().update(b.progressBytes(), b.filesNew + b.filesChanged + b.filesUnchanged, true);
    }
  }

  private void report() {
    long estimate = volumeEstimate;
    reading.progress().expect(lastVolume && estimate >= 0 ? volumeStartRead + estimate : -1);
    reading.progress().update(progressBytes(), filesNew + filesChanged + filesUnchanged, false);
  }

  /** Bytes read, and wanted bytes skipped as zeros, so far: how far along the reading is. */
  private long progressBytes() {
    return totalRead() + zerosNotRead.get();
  }

  /** Notes that a volume's reads begin and about how many bytes they will be (-1: cannot be foreseen). */
  private void foresee(long bytes) {
    volumeStartRead = progressBytes();
    volumeEstimate = bytes;
  }

  private static long total(List<VolumeRange> ranges) {
    return ranges.stream().mapToLong(VolumeRange::length).sum();
  }

  private long totalRead() {
    return disks.stream().mapToLong(CountingDevice::bytesRead).sum();
  }

  private Result run() throws IOException {
    long start = System.nanoTime();
    Snapshot parent = null;
    String parentNote;
    if (options.parent() == null) {
      parentNote = "no parent asked for: every selected byte read";
    } else {
      String group = new Snapshot(null, 0, "", "", options.source(), List.of(), true, List.of(), null, options.chain(), null, Map.of(), 0,
          List.of()).group();
      if (options.parent().startsWith("checkpoint:")) {
        String at = options.parent().substring("checkpoint:".length());
        parent = atCheckpoint(group, at);
        parentNote = parent == null ? "no snapshot of this VM, drives and chain at checkpoint " + at + ": a full read" : null;
      } else {
        parent = options.parent().equals("auto") ? repo.latest(group) : repo.snapshot(options.parent());
        parentNote = parent == null ? "no earlier complete snapshot of this VM, drives and chain: a full read" : null;
      }
      parentNote = parentNote != null ? parentNote
          : parent.chunkSize() != repo.config().chunkSize() ? "the parent's chunk size differs: a full read"
          : parent.selection() != null && !Boolean.valueOf(options.includeSwap()).equals(parent.selection().get("includeSwap"))
              ? "the parent " + (options.includeSwap() ? "left swap out" : "holds swap") + ": a full read" : null;
      if (parentNote != null) {
        parent = null;
      }
    }
    long addedBefore = repo.written().newBytes;
    List<Snapshot.Volume> volumes = new ArrayList<>();
    if (options.mode() == Mode.FILES && options.volumes().isEmpty()) {
      guest = GuestMounts.find(tree).orElse(null);
      if (guest != null && live != null) {
        Map<String, String> fs = new LinkedHashMap<>();
        tree.volumes().forEach(v -> fs.put(v.id(), v.fs()));
        warnings.addAll(live.check(guest, fs::get, options.include().stream().map(Glob::new).toList()));
      }
    }
    List<Volume> chosen = selected();
    for (int i = 0; i < chosen.size(); i++) {
      Volume v = chosen.get(i);
      lastVolume = i == chosen.size() - 1 && options.mode() != Mode.DISK;
      Snapshot.Volume parentVolume = parent == null ? null
          : parent.volumes().stream().filter(p -> p.id().equals(v.id())).findFirst().orElse(null);
      mountpoint = guest == null ? null : guest.mountpoint(v.id()).orElseThrow();
      volumeId = v.id();
      volumes.add(options.mode() == Mode.FILES ? files(v, parentVolume) : image(v, parentVolume));
    }
    if (options.mode() == Mode.DISK) {
      for (int i = 0; i < disks.size(); i++) {
        lastVolume = i == disks.size() - 1;
        String id = layoutId(i);
        Snapshot.Volume parentVolume = parent == null ? null
            : parent.volumes().stream().filter(p -> p.id().equals(id)).findFirst().orElse(null);
        volumes.add(layout(i, parentVolume));
      }
    }
    Map<String, Object> selection = new LinkedHashMap<>();
    selection.put("mode", options.mode().name().toLowerCase(Locale.ROOT));
    selection.put("volumes", options.volumes());
    selection.put("include", options.include());
    selection.put("exclude", options.exclude());
    selection.put("excludeCaches", options.excludeCaches());
    selection.put("excludeIfPresent", options.excludeIfPresent());
    selection.put("includeSwap", options.includeSwap());
    if (guest != null) {
      Map<String, String> mounts = new LinkedHashMap<>();
      for (Volume v : tree.volumes()) {
        guest.mountpoint(v.id()).ifPresent(m -> mounts.put(v.id(), m));
      }
      selection.put("guestRoot", guest.root());
      selection.put("mounts", mounts);  // globs matched guest paths: volume paths under these mountpoints
    }
    if (failuresNotListed > 0) {
      failed.add(new Failure("...", failuresNotListed + " more paths could not be read (only the first " + MAX_FAILURES_LISTED
          + " are listed)"));
    }
    boolean complete = failed.isEmpty();
    Snapshot snapshot = new Snapshot(null, dev.pluck.engine.repo.Config.FORMAT, Instant.now().toString(), options.hostname(),
        options.source(), options.tags(), complete, failed.stream().map(f -> f.path() + ": " + f.reason()).toList(),
        parent == null ? null : parent.id(), options.chain(), options.checkpoint(), selection, repo.config().chunkSize(), volumes);
    String id = repo.commit(snapshot);
    long total = totalRead();
    Map<String, Long> read = new LinkedHashMap<>();
    read.put("data", dataRead.get());
    read.put("metadata", Math.max(0, total - dataRead.get()));
    Map<String, Long> files = new LinkedHashMap<>();
    files.put("new", filesNew);
    files.put("changed", filesChanged);
    files.put("unchanged", filesUnchanged);
    return new Result(id, complete, List.copyOf(failed), read, skipped, files, repo.written().newBytes - addedBefore,
        (System.nanoTime() - start) / 1e9, parent == null ? null : parent.id(), parentNote, List.copyOf(leftOut), List.copyOf(warnings));
  }

  /** The newest snapshot of {@code group} taken at checkpoint {@code at}, complete or not (its failed paths are read again). */
  private Snapshot atCheckpoint(String group, String at) throws IOException {
    Snapshot best = null;
    for (Snapshot s : repo.snapshots()) {
      if (s.group().equals(group) && at.equals(s.bitmap()) && (best == null || s.time().compareTo(best.time()) > 0)) {
        best = s;
      }
    }
    return best;
  }

  /**
   * The bytes of {@code v} written since the parent (merged volume ranges), or null when there is
   * no bitmap or no parent to compare with.
   */
  private List<VolumeRange> dirty(Volume v, Snapshot.Volume parentVolume) throws IOException {
    if (options.dirtyContext() == null || parentVolume == null) {
      return null;
    }
    return dirtyRanges(v.device());
  }

  /** {@code dirty} with what a journal replay replaced (null stays null). */
  private static List<VolumeRange> withReplayed(List<VolumeRange> dirty, List<VolumeRange> replayed) {
    if (dirty == null || replayed.isEmpty()) {
      return dirty;
    }
    List<VolumeRange> out = new ArrayList<>(dirty);
    out.addAll(replayed);
    out.sort(java.util.Comparator.comparingLong(VolumeRange::offset));
    return VolumeRange.coalesce(out);
  }

  /** The merged ranges of {@code device} its dirty bitmap marks. */
  private List<VolumeRange> dirtyRanges(BlockDevice device) throws IOException {
    List<VolumeRange> out = new ArrayList<>();
    for (dev.pluck.nbd.Extent e : device.blockStatus(options.dirtyContext(), 0, device.size())) {
      if ((e.flags() & dev.pluck.nbd.Extent.DIRTY) != 0) {
        out.add(new VolumeRange(e.offset(), e.length()));
      }
    }
    return VolumeRange.coalesce(out);
  }

  private List<Volume> selected() throws IOException {
    List<Volume> out = new ArrayList<>();
    if (guest != null) {
      return mountedVolumes();
    }
    if (options.mode() == Mode.DISK) {
      if (!options.volumes().isEmpty()) {
        throw new IOException("--mode disk takes every volume; --volume chooses volumes for --mode files or volumes");
      }
      for (Volume v : unreadable()) {
        leftOut.add(v.id() + " (" + v.note() + "; its bytes are kept in its disks' layout images)");
      }
      return imaged();
    }
    if (options.volumes().isEmpty()) {
      for (Volume v : unreadable()) {
        leftOut.add(v.id() + " (" + v.note() + (options.mode() == Mode.VOLUMES ? "; --mode disk keeps its bytes)" : ")"));
      }
      for (Volume v : tree.volumes()) {
        if (v.device() == null || v.fs().equals("lvm2-pv")) {
          continue;  // not readable (said above), or holds LVs listed on their own
        }
        if (options.mode() == Mode.FILES && !readable(v.fs())) {
          leftOut.add(v.id() + " (" + v.fs() + ": no files pluck can read; --mode volumes takes it as an image)");
          continue;
        }
        out.add(v);
      }
      return out;
    }
    for (String selector : options.volumes()) {
      Volume v = tree.find(selector).orElseThrow(() -> new IOException("no volume " + selector + " (there are: "
          + String.join(", ", tree.volumes().stream().map(Volume::id).toList()) + ")"));
      if (v.device() == null) {
        throw new IOException("volume " + v.id() + " cannot be read: " + v.note());
      }
      if (options.mode() == Mode.FILES && !readable(v.fs())) {
        throw new IOException("volume " + v.id() + " holds " + v.fs() + ", whose files pluck cannot read yet; back it up with --mode volumes");
      }
      out.add(v);
    }
    return out;
  }

  /**
   * The volumes the guest's fstab mounts where an include could match (all of them without
   * includes); every other volume is left out, and said why.
   */
  private List<Volume> mountedVolumes() {
    List<Glob> include = options.include().stream().map(Glob::new).toList();
    List<Volume> out = new ArrayList<>();
    for (Volume v : unreadable()) {
      leftOut.add(v.id() + " (" + v.note() + guest.mountpoint(v.id()).map(m -> ", mounted at " + m).orElse("") + ")");
    }
    for (Volume v : tree.volumes()) {
      if (v.device() == null || v.fs().equals("lvm2-pv")) {
        continue;  // not readable (said above), or holds LVs listed on their own
      }
      java.util.Optional<String> at = guest.mountpoint(v.id());
      if (at.isEmpty()) {
        boolean swap = guest.mounts().stream().anyMatch(m -> m.swap() && v.id().equals(m.volume()));
        if (!swap) {
          leftOut.add(v.id() + " (" + v.fs() + ": not mounted in the guest's /etc/fstab; --volume " + v.id() + " takes it)");
        }
        continue;
      }
      String m = at.get();
      if (!include.isEmpty() && !Glob.any(include, m) && include.stream().noneMatch(g -> g.couldMatchBelow(m))) {
        continue;  // nothing wanted there
      }
      if (!readable(v.fs())) {
        leftOut.add(v.id() + " (" + v.fs() + " at " + m + ": no files pluck can read; --mode volumes takes it as an image)");
        continue;
      }
      out.add(v);
    }
    return out;
  }

  static boolean readable(String fs) {
    return Set.of("ext2", "ext3", "ext4", "ntfs").contains(fs);
  }

  private void skip(String why, long bytes) {
    skipped.merge(why, bytes, Long::sum);
  }

  /** Records a path that could not be backed up; past {@link #MAX_FAILURES_LISTED}, only counts it. */
  private synchronized void fail(Failure f) {
    if (failed.size() < MAX_FAILURES_LISTED) {
      failed.add(f);
    } else {
      failuresNotListed++;
    }
  }

  // ---- files

  private Snapshot.Volume files(Volume v, Snapshot.Volume parentVolume) throws IOException {
    if (parentVolume != null && parentVolume.catalog() == null) {
      parentVolume = null;  // the parent took this volume as an image
    }
    ParentCatalog parentFiles = parentVolume == null ? new ParentCatalog() : ParentCatalog.read(repo, parentVolume.catalog());
    List<Glob> include = options.include().stream().map(Glob::new).toList();
    List<Glob> exclude = options.exclude().stream().map(Glob::new).toList();
    Catalog.Writer catalog = new Catalog.Writer(repo);
    long[] bytes = {0};
    List<VolumeRange> bitmap = dirty(v, parentVolume);
    volumeDevice = v.device();
    // Metadata is kept where a bitmap will tell the next backup what changed: a VM's chain.
    boolean keepMetadata = options.checkpoint() != null || options.dirtyContext() != null;
    metadataImage = keepMetadata ? MetadataImage.open(v.device(), repo, parentVolume, bitmap, w -> warnings.add("volume " + v.id() + ": " + w)) : null;
    Volume through = metadataImage == null ? v : new Volume(v.id(), v.parent(), v.kind(), v.type(), v.signature(), v.disk(),
        v.offset(), v.size(), v.segments(), v.note(), metadataImage, v.partition());
    Snapshot.Metadata metadata = null;
    try (FileSystem fs = openNamed(through, new OpenOptions(false, w -> warnings.add("volume " + v.id() + ": " + w)))) {
      List<VolumeRange> dirty = withReplayed(bitmap, fs.replayedRanges());
      foresee(filesEstimate(fs, dirty, parentVolume != null, include.isEmpty() && exclude.isEmpty()));
      FileBatch batch = new FileBatch(repo, v.device(), c -> {
        catalog.add(c);
        if (c.type().equals("file")) {
          bytes[0] += c.size();
        }
      }, dataRead::addAndGet);
      Entry root = fs.root();
      catalog.add(entry(root, null, streams(fs, root), null));
      java.util.Set<String> nested = new java.util.HashSet<>();
      if (guest != null) {
        guest.mounted().stream().map(GuestMounts.Mount::mountpoint).filter(m -> !m.equals(mountpoint)
            && (mountpoint.equals("/") || m.startsWith(mountpoint + "/"))).forEach(nested::add);
      }
      TreeWalk.walk(fs, root, e -> {
        String path = guestPath(e.path());
        if (Glob.any(exclude, path)) {
          skip("excluded", e.isDirectory() ? 0 : e.size());
          return false;
        }
        if (e.isDirectory()) {
          boolean wanted = include.isEmpty() || Glob.any(include, path) || include.stream().anyMatch(g -> g.couldMatchBelow(path));
          if (wanted && nested.contains(path)) {
            batch.add(entry(e, null, null, null));
            return false;  // another volume is mounted over it in the guest, and backed up on its own
          }
          if (wanted) {
            batch.add(entry(e, null, streams(fs, e), null));  // NTFS directories may have named streams too
            Entry tag = options.excludeCaches() ? cacheTag(fs, e.path()) : null;
            if (tag != null) {
              CatalogEntry t = file(fs, tag, parentFiles.get(tag.path()), parentFiles, dirty, null);  // the tag stays, the cache goes
              if (t != null) {
                batch.add(t);
              }
              return false;
            }
            for (String name : options.excludeIfPresent()) {
              if (fs.lookup(e.path() + "/" + name).isPresent()) {
                return false;
              }
            }
          }
          return wanted;
        }
        if (!include.isEmpty() && !Glob.any(include, path)) {
          skip("excluded", e.size());
          return false;
        }
        CatalogEntry c = file(fs, e, parentFiles.get(e.path()), parentFiles, dirty, batch);
        if (c != null) {
          batch.add(c);
        }
        return false;
      }, new TreeWalk.Failures() {
        @Override
        public void failed(String path, dev.pluck.fs.FileSystemException x) {
          fail(new Failure(where(path), "directory not read in full: " + x.getMessage()));
        }

        @Override
        public void unreadable(String path, dev.pluck.fs.FileSystemException x) {
          fail(new Failure(where(path), x.getMessage()));
        }
      });
      batch.flush();
      if (metadataImage != null) {
        metadata = metadataImage.finish(v.id(), v.fs());
        skip("unchanged", metadataImage.bytesFromParent());
      }
    } finally {
      if (metadataImage != null) {
        metadataImage.close();
        metadataImage = null;
      }
    }
    return new Snapshot.Volume(v.id(), v.fs(), "files", catalog.finish(), catalog.entries(), bytes[0], v.size(), 0, null, metadata);
  }

  /**
   * About how many bytes a files backup of a volume reads: with a bitmap, the bytes it marks (at
   * most the used ones); a full backup of everything, the used bytes as the superblock counts them
   * (ext2/3/4: NTFS would need its $Bitmap read); else (selected folders, a parent without a
   * bitmap) it cannot be foreseen: -1.
   */
  private static long filesEstimate(FileSystem fs, List<VolumeRange> dirty, boolean parent, boolean everything) {
    boolean superblockCounts = fs instanceof dev.pluck.fs.ext4.Ext4FileSystem;
    long used = superblockCounts ? fs.info().totalBytes() - fs.info().freeBytes() : -1;
    if (dirty != null) {
      return used >= 0 ? Math.min(used, total(dirty)) : total(dirty);
    }
    return everything && !parent ? used : -1;
  }

  /** A path of the volume being backed up as a failure names it: the guest path, else VOLUME:PATH. */
  private String where(String volumePath) {
    return mountpoint != null ? guestPath(volumePath) : volumeId + ":" + volumePath;
  }

  /** A path of the volume being backed up as the guest sees it (itself when the guest's mounts are unknown). */
  private String guestPath(String volumePath) {
    return mountpoint == null ? volumePath : GuestMounts.guestPath(mountpoint, volumePath);
  }

  /** The directory's CACHEDIR.TAG when it is one by the specification (its first bytes are the signature), else null. */
  private Entry cacheTag(FileSystem fs, String dir) throws IOException {
    java.util.Optional<Entry> tag = fs.lookup(dir + "/CACHEDIR.TAG");
    if (tag.isEmpty() || tag.get().type() != EntryType.FILE || tag.get().size() < CACHEDIR_SIGNATURE.length) {
      return null;
    }
    byte[] head = new byte[CACHEDIR_SIGNATURE.length];
    try (SeekableByteChannel ch = counted(fs.open(tag.get()))) {
      ByteBuffer b = ByteBuffer.wrap(head);
      while (b.hasRemaining() && ch.read(b) > 0) {
        // the signature only
      }
    }
    return java.util.Arrays.equals(head, CACHEDIR_SIGNATURE) ? tag.get() : null;
  }

  /**
   * A non-directory entry with its content stored (or carried over, or skipped as swap); null when
   * unreadable. With a dirty bitmap ({@code dirty} non-null) a file reads only what may have
   * changed since the parent ({@link Changes}); without one, a file whose metadata is the parent's
   * is carried over whole.
   */
  private CatalogEntry file(FileSystem fs, Entry e, CatalogEntry before, ParentCatalog parentFiles, List<VolumeRange> dirty,
      FileBatch batch) throws IOException {
    if (e.type() != EntryType.FILE) {
      return entry(e, null, null, null);
    }
    List<long[]> mapped;
    List<FileExtent> extents;
    try {
      if (!options.includeSwap() && isSwapFile(fs, e)) {
        skip("swap", e.size());
        List<String> attributes = new ArrayList<>(names(e));
        if (!attributes.contains("swap")) {
          attributes.add("swap");
        }
        return entry(e, List.of(), null, null).withAttributes(attributes);
      }
      if (e.has(Entry.Attribute.ENCRYPTED)) {
        // Without the keys the content cannot be read as the guest sees it: keep the entry, say so.
        skip("encrypted", e.size());
        warnings.add(where(e.path()) + ": encrypted (NTFS EFS or ext4 fscrypt): its metadata is kept, not its content");
        return entry(e, null, null, null);
      }
      extents = fs.extents(e);
      mapped = Changes.mapped(extents);
      if (dirty != null) {
        CatalogEntry base = base(e, before, parentFiles);
        if (base != null) {
          return changedOnly(fs, e, before, base, mapped, dirty);
        }
      } else if (unchanged(e, before)) {
        filesUnchanged++;
        skip("unchanged", e.size());
        return entry(e, before.chunks(), before.streams(), mapped);
      }
      if (batch != null && batchable(fs, e, extents)) {
        List<long[]> stretches = mapped;
        batch.read((int) e.size(), stretches, chunks -> {
          if (before == null) {
            filesNew++;
          } else {
            filesChanged++;
          }
          return entry(e, chunks, null, stretches);
        }, () -> whole(fs, e, before, stretches, null, null));
        return null;
      }
    } catch (dev.pluck.fs.FileSystemException | dev.pluck.nbd.BlockDeviceException x) {
      fail(new Failure(where(e.path()), x.getMessage()));
      return null;
    }
    return whole(fs, e, before, mapped, extents, batch);
  }

  /** Chunks of large files read but not yet stored, across files (each holds up to a chunk of memory). */
  private final java.util.concurrent.Semaphore chunksInFlight = new java.util.concurrent.Semaphore(
      2 * Math.max(1, Runtime.getRuntime().availableProcessors()));

  /**
   * Whether a file's content can be read with a batch of others: at most one chunk, every byte
   * stored as it is on the volume (no holes, inline, compressed or encrypted data, nothing a
   * journal replay replaced), and no named streams.
   */
  private boolean batchable(FileSystem fs, Entry e, List<FileExtent> extents) throws IOException {
    if (e.size() > repo.config().chunkSize() || e.has(Entry.Attribute.ENCRYPTED) || e.has(Entry.Attribute.COMPRESSED)
        || e.has(Entry.Attribute.REPARSE)) {
      return false;
    }
    List<VolumeRange> replayed = fs.replayedRanges();
    long covered = 0;
    for (FileExtent x : extents) {
      if (x.kind() != FileExtent.Kind.DATA || x.volumeOffset() < 0 || Changes.touches(replayed, x.volumeOffset(), x.length())) {
        return false;
      }
      covered += x.length();
    }
    return covered == e.size() && fs.streams(e).isEmpty();
  }

  /** Whether a file of more than a chunk can be read through the read planner, its bytes being on the volume as they are. */
  private boolean plannable(FileSystem fs, Entry e, List<FileExtent> extents) throws IOException {
    return extents != null && e.size() > repo.config().chunkSize() && !e.has(Entry.Attribute.ENCRYPTED)
        && !e.has(Entry.Attribute.COMPRESSED) && !e.has(Entry.Attribute.REPARSE)
        && PlannedFileChannel.usable(extents, e.size(), volumeDevice.size())
        && extents.stream().noneMatch(x -> x.kind() == FileExtent.Kind.DATA
            && Changes.touches(fs.replayedRanges(), x.volumeOffset(), x.length()));
  }

  /**
   * A file read whole; null (and a failure noted) when it cannot be. A file of more than one chunk
   * whose bytes lie on the volume as they are ({@code extents}, when known) is read through the
   * read planner a window at a time, many requests in flight; others through their channel. With
   * a {@code batch}, a file of more than a chunk returns null once read: its last chunks are
   * stored while the next files are read, and its entry comes out of the batch's queue in walk
   * order (a folder of files of a few MiB otherwise waits for every file's compression).
   */
  private CatalogEntry whole(FileSystem fs, Entry e, CatalogEntry before, List<long[]> mapped, List<FileExtent> extents,
      FileBatch batch) throws IOException {
    try {
      java.nio.channels.SeekableByteChannel in = plannable(fs, e, extents)
          ? new PlannedFileChannel(volumeDevice, extents, e.size(), dataRead::addAndGet) : counted(fs.open(e));
      if (batch != null && e.size() > repo.config().chunkSize()) {
        Map<String, CatalogEntry.Content> streams = streams(fs, e);
        batch.defer(Content.storeAsync(repo, in, chunksInFlight), c -> entry(e, c, streams, mapped));
        countStored(before);
        return null;
      }
      List<String> chunks = Content.store(repo, in);
      countStored(before);
      return entry(e, chunks, streams(fs, e), mapped);
    } catch (dev.pluck.fs.FileSystemException | dev.pluck.nbd.BlockDeviceException x) {
      fail(new Failure(where(e.path()), x.getMessage()));
      return null;
    }
  }

  private void countStored(CatalogEntry before) {
    if (before == null) {
      filesNew++;
    } else {
      filesChanged++;
    }
  }

  /**
   * The parent's entry to take unchanged bytes from: the same path when it is the same inode,
   * else the parent's entry of that inode (a rename), else the same path (a replaced file).
   */
  private static CatalogEntry base(Entry e, CatalogEntry before, ParentCatalog parentFiles) {
    boolean usable = before != null && before.chunks() != null && before.type().equals("file")
        && !(before.attributes() != null && before.attributes().contains("swap"));
    if (usable && before.inode() == e.inode()) {
      return before;
    }
    CatalogEntry sameInode = parentFiles.byInode(e.inode());
    return sameInode != null ? sameInode : usable ? before : null;
  }

  /** A file read only where it may differ from {@code base}, the rest taken from the parent's chunks. */
  private CatalogEntry changedOnly(FileSystem fs, Entry e, CatalogEntry before, CatalogEntry base, List<long[]> mapped,
      List<VolumeRange> dirty) throws IOException {
    List<long[]> changed = Changes.changed(e.size(), mapped, base.extents() == null ? List.of() : base.extents(), dirty);
    long changedBytes = changed.stream().mapToLong(r -> r[1]).sum();
    List<String> chunks = changed.isEmpty() && base.size() == e.size() ? base.chunks()
        : Content.update(repo, counted(fs.open(e)), e.size(), base.chunks(), base.size(), changed);
    skip("unchanged", e.size() - changedBytes);
    if (before != null && before == base && chunks.equals(base.chunks())) {
      filesUnchanged++;
    } else if (before == null) {
      filesNew++;
    } else {
      filesChanged++;
    }
    return entry(e, chunks, streams(fs, e), mapped);
  }

  /** A file's named streams, stored (null when it has none). */
  private Map<String, CatalogEntry.Content> streams(FileSystem fs, Entry e) throws IOException {
    Map<String, CatalogEntry.Content> streams = null;
    for (FileSystem.Stream s : fs.streams(e)) {
      if (streams == null) {
        streams = new LinkedHashMap<>();
      }
      streams.put(s.name(), new CatalogEntry.Content(s.size(), Content.store(repo, counted(fs.open(e, s.name())))));
    }
    return streams;
  }

  /** The same file as in the parent: type, size, times to the nanosecond and inode all equal. */
  private static boolean unchanged(Entry e, CatalogEntry before) {
    return before != null && before.chunks() != null && before.type().equals(e.type().label()) && before.size() == e.size()
        && before.mtimeNs() == nanos(e.mtime()) && before.ctimeNs() == nanos(e.ctime()) && before.inode() == e.inode()
        && !(before.attributes() != null && before.attributes().contains("swap"));
  }

  /**
   * NTFS's page, hibernation and swap files; on Linux filesystems a regular file at a usual swap
   * file path whose first page ends in the swap signature (only that page is read).
   */
  private boolean isSwapFile(FileSystem fs, Entry e) throws IOException {
    if (e.has(Entry.Attribute.SWAP)) {
      return true;
    }
    String path = guestPath(e.path());
    if (guest != null && guest.swapFiles().contains(path)) {
      return true;  // the guest's fstab says so: not a byte of it is read
    }
    boolean usualName = SWAP_FILE_NAMES.contains(path) || path.startsWith("/swap/");
    if (!usualName || e.size() < PAGE) {
      return false;
    }
    byte[] page = new byte[PAGE];
    try (SeekableByteChannel ch = counted(fs.open(e))) {
      ByteBuffer b = ByteBuffer.wrap(page);
      while (b.hasRemaining() && ch.read(b) > 0) {
        // the first page only
      }
    }
    for (byte[] magic : SWAP_MAGIC) {
      if (java.util.Arrays.equals(page, PAGE - magic.length, PAGE, magic, 0, magic.length)) {
        return true;
      }
    }
    return false;
  }

  /** A file's content channel that counts what the backup reads as data. */
  private SeekableByteChannel counted(SeekableByteChannel in) {
    return new dev.pluck.fs.ReadOnlyChannel() {
      @Override
      public int read(ByteBuffer dst) throws IOException {
        MetadataImage m = metadataImage;
        int n = m == null ? in.position(position).read(dst) : m.contentReads(() -> in.position(position).read(dst));
        if (n > 0) {
          position += n;
          dataRead.addAndGet(n);
        }
        return n;
      }

      @Override
      public long size() throws IOException {
        return in.size();
      }

      @Override
      public void close() {
        super.close();
        try {
          in.close();
        } catch (IOException ignored) {
          // read-only
        }
      }
    };
  }

  static CatalogEntry entry(Entry e, List<String> chunks, Map<String, CatalogEntry.Content> streams, List<long[]> extents) {
    Map<String, String> xattrs = null;
    if (!e.xattrs().isEmpty()) {
      xattrs = new LinkedHashMap<>();
      for (Map.Entry<String, byte[]> x : e.xattrs().entrySet()) {
        xattrs.put(x.getKey(), Base64.getEncoder().encodeToString(x.getValue()));
      }
    }
    List<Integer> rdev = e.type() == EntryType.CHAR_DEVICE || e.type() == EntryType.BLOCK_DEVICE ? List.of(e.rdevMajor(), e.rdevMinor()) : null;
    List<String> attributes = e.attributes().isEmpty() ? null : names(e);
    return new CatalogEntry(e.path(), e.type().label(), e.size(), e.mode(), e.uid(), e.gid(), e.nlink(), e.inode(), nanos(e.atime()),
        nanos(e.mtime()), nanos(e.ctime()), e.crtime() == null ? null : nanos(e.crtime()), e.target(), rdev, xattrs, e.flags(), attributes,
        chunks, streams, extents == null || extents.isEmpty() ? null : extents);
  }

  private static List<String> names(Entry e) {
    return e.attributes().stream().map(a -> a.name().toLowerCase(Locale.ROOT)).toList();
  }

  static long nanos(Instant t) {
    return t == null ? 0 : Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
  }

  // ---- images

  /** Volumes the tree found but cannot read (an LV of an unsupported segment type or with a PV missing). */
  private List<Volume> unreadable() {
    return tree.volumes().stream().filter(v -> v.device() == null && v.note() != null).toList();
  }

  /** The volumes a disk-mode backup images: every readable volume that is no container of others. */
  private List<Volume> imaged() {
    return tree.volumes().stream().filter(v -> v.device() != null && !v.fs().equals("lvm2-pv")
        && !(v.partition() != null && v.partition().extended())).toList();
  }

  private String layoutId(int disk) {
    return "layout:" + tree.disks().get(disk).name();
  }

  /**
   * Disk {@code index}'s bytes that no imaged volume holds: the partition table (and GPT's backup
   * at the end), boot code, gaps between partitions, extended-partition boot records, LVM's label,
   * metadata areas and unallocated extents; blocks of zeros are holes.
   */
  private Snapshot.Volume layout(int index, Snapshot.Volume parentVolume) throws IOException {
    BlockDevice disk = disks.get(index);
    List<VolumeRange> held = new ArrayList<>();
    for (Volume v : imaged()) {
      if (v.segments().isEmpty()) {
        if (v.disk() == index && v.offset() >= 0) {
          held.add(new VolumeRange(v.offset(), v.size()));
        }
      } else {
        for (Volume.Segment seg : v.segments()) {
          if (seg.disk() == index) {
            held.add(new VolumeRange(seg.offset(), seg.length()));
          }
        }
      }
    }
    held.sort(java.util.Comparator.comparingLong(VolumeRange::offset));
    List<VolumeRange> rest = minus(List.of(new VolumeRange(0, disk.size())), VolumeRange.coalesce(held));
    if (parentVolume != null && (parentVolume.blockMap() == null || parentVolume.size() != disk.size()
        || parentVolume.blockSize() != repo.config().chunkSize())) {
      parentVolume = null;
    }
    List<VolumeRange> dirty = options.dirtyContext() != null && parentVolume != null ? dirtyRanges(disk) : null;
    long wanted = total(rest);
    foresee(dirty == null ? wanted : total(VolumeRange.intersect(rest, dirty)));
    BlockMap.Written out = BlockMap.write(repo, layoutId(index), "layout", new CountingDevice(disk, dataRead), rest, dirty, parentVolume,
        zerosNotRead::addAndGet);
    skip("zero", out.zero() + out.holes());
    skip("unchanged", wanted - out.read() - out.holes());
    return out.volume();
  }

  private Snapshot.Volume image(Volume v, Snapshot.Volume parentVolume) throws IOException {
    List<VolumeRange> ranges;
    if (v.fs().equals("swap") && !options.includeSwap()) {
      // The header page only (size, UUID, label: what mkswap wrote), so a restore gets a valid, empty swap.
      ranges = List.of(new VolumeRange(0, Math.min(PAGE, v.size())));
      skip("swap", v.size() - ranges.get(0).length());
    } else if (readable(v.fs())) {
      List<VolumeRange> swapFiles = List.of();
      try (FileSystem fs = FileSystems.open(v, OpenOptions.DEFAULT)) {
        ranges = fs.allocatedRanges();
        if (!options.includeSwap()) {
          swapFiles = swapFileExtents(fs);
          ranges = minus(ranges, swapFiles);
        }
      } catch (dev.pluck.fs.FileSystemException unreadable) {
        // An image needs no files: a filesystem the reader refuses (a feature it lacks, damage) is imaged whole.
        warnings.add("volume " + v.id() + ": its " + v.fs() + " cannot be read (" + unreadable.getMessage()
            + "), so the whole volume is imaged, blocks of zeros left out");
        ranges = List.of(new VolumeRange(0, v.size()));
        swapFiles = List.of();
      }
      skip("swap", total(swapFiles));
    } else {
      ranges = List.of(new VolumeRange(0, v.size()));  // unknown: everything, zeros found as it is read
    }
    long used = ranges.stream().mapToLong(VolumeRange::length).sum();
    if (!v.fs().equals("swap") || options.includeSwap()) {
      skip("free", v.size() - used);
    }
    if (parentVolume != null && (parentVolume.blockMap() == null || parentVolume.size() != v.size()
        || parentVolume.blockSize() != repo.config().chunkSize())) {
      parentVolume = null;
    }
    List<VolumeRange> dirty = dirty(v, parentVolume);  // an image is the volume's raw bytes: no journal replay
    foresee(total(dirty == null ? ranges : VolumeRange.intersect(ranges, dirty)));
    BlockMap.Written out = BlockMap.write(repo, v.id(), v.fs(), new CountingDevice(v.device(), dataRead), ranges, dirty, parentVolume,
        zerosNotRead::addAndGet);
    skip("zero", out.zero() + out.holes());
    skip("unchanged", used - out.read() - out.holes());
    return out.volume();
  }

  /** {@code v}'s filesystem; a reader's refusal says which volume it is about. */
  private static FileSystem openNamed(Volume v, OpenOptions o) throws IOException {
    try {
      return FileSystems.open(v, o);
    } catch (dev.pluck.fs.FileSystemException e) {
      throw new dev.pluck.fs.FileSystemException("volume " + v.id() + ": " + e.getMessage());
    }
  }

  /** The extents of swap files (NTFS's page file, a Linux swap file) in volume bytes. */
  private List<VolumeRange> swapFileExtents(FileSystem fs) throws IOException {
    List<VolumeRange> out = new ArrayList<>();
    TreeWalk.walk(fs, fs.root(), e -> {
      if (e.type() == EntryType.FILE && (e.has(Entry.Attribute.SWAP) || SWAP_FILE_NAMES.contains(e.path())) && isSwapFile(fs, e)) {
        for (FileExtent x : fs.extents(e)) {
          if (x.volumeOffset() >= 0) {
            out.add(new VolumeRange(x.volumeOffset(), x.length()));
          }
        }
      }
      return e.path().equals("/swap");  // only the root and /swap hold swap files by name
    });
    out.sort(java.util.Comparator.comparingLong(VolumeRange::offset));
    return out;
  }

  /** {@code ranges} without the bytes of {@code holes} (both sorted). */
  static List<VolumeRange> minus(List<VolumeRange> ranges, List<VolumeRange> holes) {
    if (holes.isEmpty()) {
      return ranges;
    }
    List<VolumeRange> out = new ArrayList<>();
    for (VolumeRange r : ranges) {
      long at = r.offset();
      for (VolumeRange h : holes) {
        if (h.end() <= at || h.offset() >= r.end()) {
          continue;
        }
        if (h.offset() > at) {
          out.add(new VolumeRange(at, h.offset() - at));
        }
        at = Math.max(at, h.end());
      }
      if (at < r.end()) {
        out.add(new VolumeRange(at, r.end() - at));
      }
    }
    return out;
  }
}
