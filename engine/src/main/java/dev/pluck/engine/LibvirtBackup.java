package dev.pluck.engine;

import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.qmp.Libvirt;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;

/**
 * A backup of a domain libvirt owns, through libvirt's pull-mode backup API: libvirt does the
 * bitmap transaction (its checkpoint {@code pluck-CHAIN-N} on every selected disk) and exports
 * the frozen view over NBD, with {@code qemu:dirty-bitmap:backup-DISK} for an incremental; pluck
 * reads the export as it reads any. On success the job ends and the previous checkpoint goes (the
 * new one tracks every write from now on); on failure the new checkpoint is deleted, which makes
 * libvirt merge its bitmap back into the previous one, so the next backup still sees every change.
 */
public final class LibvirtBackup {
  /** What is backed up, and where libvirt may put its socket and scratch files (QEMU's user must reach them). */
  public record Options(String domain, String connect, List<String> drives, String chain, Path workDir) {}

  /**
   * What happened: the backup's result, the checkpoint the snapshot is at, the one changes were
   * read since (null: full), why it was full, and notices (a chain libvirt forgot).
   */
  public record Result(Backup.Result backup, String checkpoint, String since, String fullBecause, List<String> notices) {}

  private LibvirtBackup() {}

  /** Checkpoint names of a chain: pluck-CHAIN-N. */
  static String checkpointName(String chain, long n) {
    return "pluck-" + chain + "-" + n;
  }

  public static Result run(Repository repo, Options o, Backup.Options options, boolean full, Backup.Reading reading) throws IOException {
    List<String> notices = new ArrayList<>();
    try (Libvirt conn = Libvirt.open(o.connect()); Libvirt.Domain dom = conn.domain(o.domain())) {
      Document xml = parse(dom.xml());
      List<String> disks = disks(xml);
      List<String> drives = o.drives().isEmpty() ? disks : o.drives();
      for (String d : drives) {
        if (!disks.contains(d)) {
          throw new IOException("domain " + o.domain() + " has no disk " + d + " (it has: " + String.join(", ", disks) + ")");
        }
      }
      if (!dom.isActive()) {
        return offline(repo, o, options, full, reading, dom, xml, drives);
      }
      Begun begun = beginJob(dom, xml, disks, drives, o, known(repo, options.source(), o.chain()), full);
      Job job = begun.job();
      notices.addAll(begun.notices());
      String fullBecause = begun.fullBecause();
      String since = job.since();
      String next = job.next();
      AtomicBoolean ended = new AtomicBoolean();
      java.util.concurrent.atomic.AtomicReference<Job> current = new java.util.concurrent.atomic.AtomicReference<>(job);
      Thread hook = new Thread(() -> endQuietly(o.connect(), current.get(), o.workDir(), ended), "pluck-end-libvirt-job");
      Runtime.getRuntime().addShutdownHook(hook);
      boolean success = false;
      List<BlockDevice> opened = new ArrayList<>();
      try {
        List<VolumeTree.Disk> sources = new ArrayList<>();
        for (String d : drives) {
          sources.add(new VolumeTree.Disk(d, VmBackup.openExport(job.uri(d), job.context(d), opened)));
        }
        Backup.Result r = Backup.run(repo, sources, options.incremental(since == null ? null : "checkpoint:" + since,
            since == null ? null : VmBackup.DIRTY, next), reading);
        success = true;
        saveJob(o.workDir(), job.asCommitted());  // a crash from here on: vm cleanup ends the job as the success it was
        current.set(job.asCommitted());
        if (fullBecause == null && r.parent() == null) {
          fullBecause = r.parentNote();
        }
        return new Result(r, next, since, fullBecause, List.copyOf(notices));
      } finally {
        VmBackup.closeAll(opened);
        try {
          Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
          // the hook ends the job
        }
        if (ended.compareAndSet(false, true)) {
          IOException failure = end(dom, success ? job.asCommitted() : job, o.workDir());
          if (failure != null && success) {
            throw new IOException("the snapshot is committed, but ending libvirt's backup job failed (run pluck vm cleanup --libvirt "
                + o.domain() + "): " + failure.getMessage(), failure);
          }
        }
      }
    }
  }

  /** A backup job begun: the job, why it reads everything (null: incremental), what to tell. */
  public record Begun(Job job, String fullBecause, List<String> notices) {}

  /**
   * Begins a pull-mode backup job of the running domain: the chain's next checkpoint on
   * {@code drives} ({@code known}: the highest checkpoint of the chain a snapshot is at, 0 when
   * none or unknown), incremental from the chain's latest checkpoint libvirt knows unless
   * {@code full}.
   */
  public static Begun beginJob(Libvirt.Domain dom, Document xml, List<String> disks, List<String> drives, Options o, long known,
      boolean full) throws IOException {
    List<String> notices = new ArrayList<>();
    // The chain's latest checkpoint libvirt knows, and the one the repository's latest snapshot is at.
    Pattern mine = Pattern.compile(Pattern.quote("pluck-" + o.chain() + "-") + "(\\d+)");
    long last = 0;
    for (String c : dom.checkpoints()) {
      Matcher m = mine.matcher(c);
      if (m.matches()) {
        last = Math.max(last, Long.parseLong(m.group(1)));
      }
    }
    String previous = last > 0 ? checkpointName(o.chain(), last) : null;
    String fullBecause = null;
    if (full) {
      fullBecause = "--full asked for it";
    } else if (previous == null && known > 0) {
      fullBecause = "libvirt no longer knows checkpoint " + checkpointName(o.chain(), known) + " of this chain (its checkpoint "
          + "metadata was lost): every change since is unknown";
      notices.add(fullBecause + "; a full backup is taken, and the chain starts again at " + checkpointName(o.chain(), known + 1));
    } else if (previous == null) {
      fullBecause = "the chain's first backup";
    }
    long n = Math.max(last, known) + 1;
    String next = checkpointName(o.chain(), n);
    String since = fullBecause == null ? previous : null;

    workDir(o.workDir());
    String tag = o.domain().replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + ProcessHandle.current().pid();
    Path socket = o.workDir().resolve("pluck-" + tag + ".sock");
    StringBuilder backup = new StringBuilder("<domainbackup mode='pull'>");
    if (since != null) {
      backup.append("<incremental>").append(since).append("</incremental>");
    }
    backup.append("<server transport='unix' socket='").append(socket).append("'/><disks>");
    StringBuilder checkpoint = new StringBuilder("<domaincheckpoint><name>").append(next).append("</name><disks>");
    for (String d : disks) {
      boolean take = drives.contains(d);
      backup.append("<disk name='").append(d).append("' backup='").append(take ? "yes" : "no").append("'");
      if (take) {
        backup.append(" type='file'><scratch file='").append(o.workDir().resolve("pluck-" + tag + "-" + d + ".scratch.qcow2"))
            .append("'/></disk>");
      } else {
        backup.append("/>");
      }
      checkpoint.append("<disk name='").append(d).append("' checkpoint='").append(take ? "bitmap" : "no").append("'/>");
    }
    backup.append("</disks></domainbackup>");
    checkpoint.append("</disks></domaincheckpoint>");

    Job job = new Job(o.connect(), o.domain(), o.chain(), previous, next, since, socket.toString(), List.copyOf(drives),
        ProcessHandle.current().pid(), false);
    begin(dom, job, xml, backup.toString(), checkpoint.toString(), o.workDir(), notices);
    return new Begun(job, fullBecause, List.copyOf(notices));
  }

  /** As {@link #beginJob(Libvirt.Domain, Document, List, List, Options, long, boolean)}, for a view no repository watches. */
  public static Begun beginJob(Libvirt.Domain dom, Options o, boolean full) throws IOException {
    if (!dom.isActive()) {
      throw new IOException("domain " + o.domain() + " is not running: libvirt exports running domains only");
    }
    Document xml = parse(dom.xml());
    List<String> disks = disks(xml);
    List<String> drives = o.drives().isEmpty() ? disks : o.drives();
    for (String d : drives) {
      if (!disks.contains(d)) {
        throw new IOException("domain " + o.domain() + " has no disk " + d + " (it has: " + String.join(", ", disks) + ")");
      }
    }
    return beginJob(dom, xml, disks, drives, o, 0, full);
  }

  /** The highest N of the chain's checkpoints pluck-CHAIN-N that snapshots of {@code source} are at (0: none). */
  static long known(Repository repo, Snapshot.Source source, String chain) throws IOException {
    Pattern mine = Pattern.compile(Pattern.quote("pluck-" + chain + "-") + "(\\d+)");
    String group = Snapshot.group(source, chain);
    long known = 0;
    for (Snapshot s : repo.snapshots()) {
      Matcher m = s.bitmap() == null ? null : mine.matcher(s.bitmap());
      if (s.group().equals(group) && m != null && m.matches()) {
        known = Math.max(known, Long.parseLong(m.group(1)));
      }
    }
    return known;
  }

  /**
   * A backup job pluck began in libvirt, saved (JSON, in the work directory) from its begin to
   * its end, so that {@code vm cleanup --libvirt} can end it as it should after a crash: a
   * committed job drops {@code previous}, an uncommitted one deletes {@code next}, merging its
   * bitmap back.
   */
  public record Job(String connect, String domain, String chain, String previous, String next, String since, String socket,
      List<String> drives, long pid, boolean committed) {
    /** The job as it ends after its snapshot was committed. */
    public Job asCommitted() {
      return new Job(connect, domain, chain, previous, next, since, socket, drives, pid, true);
    }

    /** The NBD URI of disk {@code drive}'s export. */
    public String uri(String drive) {
      return "nbd+unix:///" + drive + "?socket=" + socket;
    }

    /** The metadata context of the changes since {@code since}, or null for a full view. */
    public String context(String drive) {
      return since == null ? null : "qemu:dirty-bitmap:backup-" + drive;
    }

    String file() {
      return "pluck-" + domain.replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + pid + ".job.json";
    }
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

  private static void saveJob(Path workDir, Job job) throws IOException {
    Path f = workDir.resolve(job.file());
    Path tmp = workDir.resolve(job.file() + ".tmp");
    Files.write(tmp, JSON.writeValueAsBytes(job));
    Files.move(tmp, f, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  /**
   * Asks libvirt for the job: the guest's filesystems frozen around it when the domain has
   * an agent, the job saved before libvirt is asked (a crash in between leaves a job cleanup
   * can look for).
   */
  private static void begin(Libvirt.Domain dom, Job job, Document xml, String backupXml, String checkpointXml, Path workDir,
      List<String> notices) throws IOException {
    saveJob(workDir, job);
    boolean frozen = false;
    try {
      if (hasAgent(xml)) {
        try {
          dom.fsFreeze();
          frozen = true;
        } catch (IOException e) {
          notices.add("the guest agent did not freeze the filesystems (" + e.getMessage() + "): the view is crash-consistent");
        }
      }
      dom.backupBegin(backupXml, checkpointXml);
    } catch (IOException e) {
      Files.deleteIfExists(workDir.resolve(job.file()));
      throw e;
    } finally {
      if (frozen) {
        dom.fsThaw();
      }
    }
  }

  /**
   * Ends a job: libvirt stops the export and removes the scratch files; then, committed, the
   * previous checkpoint goes (the new one tracks every write from now on), or, not, the new one
   * goes and libvirt merges its bitmap back into the previous. The saved job goes last. Returns
   * what failed, or null.
   */
  public static IOException end(Libvirt.Domain dom, Job job, Path workDir) {
    IOException failure = null;
    try {
      dom.abortJob();
    } catch (IOException e) {
      failure = e;
    }
    try {
      List<String> known = dom.checkpoints();
      if (job.committed()) {
        if (job.previous() != null && known.contains(job.previous())) {
          dom.deleteCheckpoint(job.previous(), false);
        }
      } else if (known.contains(job.next())) {
        dom.deleteCheckpoint(job.next(), false);
      }
      Files.deleteIfExists(workDir.resolve(job.file()));
      Files.deleteIfExists(Path.of(job.socket()));
    } catch (IOException e) {
      failure = failure == null ? e : failure;
    }
    return failure;
  }

  private static void endQuietly(String connect, Job job, Path workDir, AtomicBoolean ended) {
    if (!ended.compareAndSet(false, true)) {
      return;
    }
    try (Libvirt conn = Libvirt.open(connect); Libvirt.Domain dom = conn.domain(job.domain())) {
      IOException e = end(dom, job, workDir);
      if (e != null) {
        System.err.println("pluck: ending libvirt's backup job failed: " + e.getMessage() + " (run pluck vm cleanup --libvirt "
            + job.domain() + ")");
      }
    } catch (IOException e) {
      System.err.println("pluck: " + e.getMessage() + " (run pluck vm cleanup --libvirt " + job.domain() + ")");
    }
  }

  /**
   * Ends the jobs of pluck processes that died (their saved jobs in {@code workDir}, for
   * {@code domain} or every domain when null) as each should end; what was done, one line each.
   */
  public static List<String> cleanup(String connect, String domain, Path workDir) throws IOException {
    List<String> actions = new ArrayList<>();
    if (!Files.isDirectory(workDir)) {
      return actions;
    }
    List<Path> saved;
    try (var files = Files.list(workDir)) {
      saved = files.filter(f -> f.getFileName().toString().endsWith(".job.json")).sorted().toList();
    }
    for (Path f : saved) {
      Job job = JSON.readValue(f.toFile(), Job.class);
      if ((domain != null && !job.domain().equals(domain)) || ProcessHandle.of(job.pid()).map(ProcessHandle::isAlive).orElse(false)) {
        continue;  // another domain's, or its pluck still runs
      }
      try (Libvirt conn = Libvirt.open(connect != null ? connect : job.connect()); Libvirt.Domain dom = conn.domain(job.domain())) {
        IOException e = end(dom, job, workDir);
        actions.add("ended the backup job of domain " + job.domain() + " left by pid " + job.pid() + ": " + (job.committed()
            ? "its snapshot was committed, checkpoint " + job.previous() + " dropped" : "not committed, checkpoint " + job.next()
            + " merged back into " + job.previous()) + (e == null ? "" : " (" + e.getMessage() + ")"));
      }
    }
    return actions;
  }

  /**
   * A domain that is shut off: its disks opened in pluck's own qemu-storage-daemon and backed up
   * as a running VM's drives (the chain's bitmaps are libvirt's checkpoints' own, named alike and
   * kept in the images), then the new checkpoint redefined in libvirt and the previous one's
   * metadata dropped, so the next online backup's {@code <incremental>} names a checkpoint
   * libvirt knows and a bitmap the image holds.
   */
  private static Result offline(Repository repo, Options o, Backup.Options options, boolean full, Backup.Reading reading,
      Libvirt.Domain dom, Document xml, List<String> drives) throws IOException {
    java.util.Map<String, Path> images = new java.util.LinkedHashMap<>();
    for (String d : drives) {
      images.put(d, source(xml, d));
    }
    List<String> before = dom.checkpoints();
    workDir(o.workDir());
    Path scratch = o.workDir().resolve("offline-scratch-" + ProcessHandle.current().pid());
    VmBackup.Result r;
    try (OfflineImage off = OfflineImage.open(images, o.workDir())) {
      r = VmBackup.run(repo, off.monitor(), drives, dev.pluck.qmp.PullView.Options.defaults(o.chain(), scratch), options, full, reading);
    } finally {
      try {
        Files.deleteIfExists(scratch);
      } catch (IOException notEmpty) {
        // vm cleanup removes what is left
      }
    }
    String next = r.view().drives().get(0).newBitmap();
    StringBuilder cp = new StringBuilder("<domaincheckpoint><name>").append(next).append("</name><creationTime>")
        .append(java.time.Instant.now().getEpochSecond()).append("</creationTime><disks>");
    for (String d : disks(xml)) {
      cp.append("<disk name='").append(d).append("' checkpoint='").append(drives.contains(d) ? "bitmap' bitmap='" + next + "'" : "no'")
          .append("/>");
    }
    cp.append("</disks>").append(dom.xml()).append("</domaincheckpoint>");
    List<String> notices = new ArrayList<>();
    notices.add("domain " + o.domain() + " is shut off: its disks were read through pluck's own qemu-storage-daemon");
    Pattern mine = Pattern.compile(Pattern.quote("pluck-" + o.chain() + "-") + "\\d+");
    for (String c : before) {
      if (mine.matcher(c).matches() && !c.equals(next)) {
        dom.deleteCheckpoint(c, true);  // its bitmap went with the view: only libvirt's record of it is left
      }
    }
    dom.createCheckpoint(cp.toString(), Libvirt.CHECKPOINT_CREATE_REDEFINE);
    return new Result(r.backup(), next, r.since(), r.fullBecause(), List.copyOf(notices));
  }

  /** The image file behind disk {@code target} of the domain. */
  static Path source(Document xml, String target) throws IOException {
    NodeList nodes = xml.getElementsByTagName("disk");
    for (int i = 0; i < nodes.getLength(); i++) {
      Element disk = (Element) nodes.item(i);
      NodeList targets = disk.getElementsByTagName("target");
      if (targets.getLength() == 0 || !target.equals(((Element) targets.item(0)).getAttribute("dev"))) {
        continue;
      }
      NodeList sources = disk.getElementsByTagName("source");
      String file = sources.getLength() == 0 ? "" : ((Element) sources.item(0)).getAttribute("file");
      if (!"file".equals(disk.getAttribute("type")) || file.isEmpty()) {
        throw new IOException("disk " + target + " is not a file (type " + disk.getAttribute("type") + "): pluck backs up shut-off "
            + "domains' qcow2 files only");
      }
      return Path.of(file);
    }
    throw new IOException("no disk " + target);
  }

  /**
   * Creates the directory for libvirt's socket and scratch files, owned like its parent (under
   * /var/lib/libvirt/qemu: QEMU's user, who must create the socket there).
   */
  static void workDir(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      return;
    }
    Files.createDirectories(dir);
    Path parent = dir.toAbsolutePath().getParent();
    if (parent != null) {
      try {
        Files.setOwner(dir, Files.getOwner(parent));
        Object group = Files.getAttribute(parent, "posix:group");
        Files.setAttribute(dir, "posix:group", group);
      } catch (IOException | UnsupportedOperationException e) {
        // not root: libvirt's own directories are out of reach anyway, and the begin says so
      }
    }
  }

  /** The domain's disks (target names: vda, sdb) that hold data: device='disk', not CD-ROMs or floppies. */
  static List<String> disks(Document xml) {
    List<String> out = new ArrayList<>();
    NodeList nodes = xml.getElementsByTagName("disk");
    for (int i = 0; i < nodes.getLength(); i++) {
      Element disk = (Element) nodes.item(i);
      if (!"disk".equals(disk.getAttribute("device")) || !(disk.getParentNode() instanceof Element p && p.getTagName().equals("devices"))) {
        continue;
      }
      NodeList targets = disk.getElementsByTagName("target");
      if (targets.getLength() > 0) {
        out.add(((Element) targets.item(0)).getAttribute("dev"));
      }
    }
    return out;
  }

  /** Whether the domain has a guest agent channel. */
  static boolean hasAgent(Document xml) {
    NodeList channels = xml.getElementsByTagName("channel");
    for (int i = 0; i < channels.getLength(); i++) {
      NodeList targets = ((Element) channels.item(i)).getElementsByTagName("target");
      for (int j = 0; j < targets.getLength(); j++) {
        if ("org.qemu.guest_agent.0".equals(((Element) targets.item(j)).getAttribute("name"))) {
          return true;
        }
      }
    }
    return false;
  }

  static Document parse(String xml) throws IOException {
    try {
      DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
      f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      f.setExpandEntityReferences(false);
      return f.newDocumentBuilder().parse(new InputSource(new StringReader(xml)));
    } catch (javax.xml.parsers.ParserConfigurationException | org.xml.sax.SAXException e) {
      throw new IOException("libvirt's domain XML does not parse: " + e.getMessage(), e);
    }
  }
}
