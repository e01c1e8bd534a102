package dev.pluck.engine;

import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.NbdBlockDevice;
import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdUri;
import dev.pluck.qmp.Libvirt;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
      if (!dom.isActive()) {
        throw new IOException("domain " + o.domain() + " is not running: back up its disks offline (pluck vm backup --offline-image)");
      }
      Document xml = parse(dom.xml());
      List<String> disks = disks(xml);
      List<String> drives = o.drives().isEmpty() ? disks : o.drives();
      for (String d : drives) {
        if (!disks.contains(d)) {
          throw new IOException("domain " + o.domain() + " has no disk " + d + " (it has: " + String.join(", ", disks) + ")");
        }
      }
      // The chain's latest checkpoint libvirt knows, and the one the repository's latest snapshot is at.
      Pattern mine = Pattern.compile(Pattern.quote("pluck-" + o.chain() + "-") + "(\\d+)");
      long last = 0;
      for (String c : dom.checkpoints()) {
        Matcher m = mine.matcher(c);
        if (m.matches()) {
          last = Math.max(last, Long.parseLong(m.group(1)));
        }
      }
      String group = Snapshot.group(options.source(), options.chain());
      long known = 0;
      for (Snapshot s : repo.snapshots()) {
        Matcher m = s.bitmap() == null ? null : mine.matcher(s.bitmap());
        if (s.group().equals(group) && m != null && m.matches()) {
          known = Math.max(known, Long.parseLong(m.group(1)));
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

      boolean agent = hasAgent(xml);
      boolean frozen = false;
      try {
        if (agent) {
          try {
            dom.fsFreeze();
            frozen = true;
          } catch (IOException e) {
            notices.add("the guest agent did not freeze the filesystems (" + e.getMessage() + "): the view is crash-consistent");
          }
        }
        dom.backupBegin(backup.toString(), checkpoint.toString());
      } finally {
        if (frozen) {
          dom.fsThaw();
        }
      }
      boolean success = false;
      List<BlockDevice> opened = new ArrayList<>();
      try {
        List<VolumeTree.Disk> sources = new ArrayList<>();
        for (String d : drives) {
          String context = since == null ? null : "qemu:dirty-bitmap:backup-" + d;
          List<String> contexts = new ArrayList<>(List.of(BlockDevice.BASE_ALLOCATION));
          if (context != null) {
            contexts.add(context);
          }
          NbdBlockDevice device = NbdBlockDevice.open(NbdUri.parse("nbd+unix:///" + d + "?socket=" + socket),
              NbdOptions.defaults().withMetaContexts(contexts));
          opened.add(device);
          if (context != null && !device.metaContexts().contains(context)) {
            throw new IOException("libvirt's export of " + d + " has no " + context + " for the incremental since " + since);
          }
          sources.add(new VolumeTree.Disk(d, context == null ? device : new VmBackup.Alias(device, context)));
        }
        Backup.Result r = Backup.run(repo, sources, options.incremental(since == null ? null : "checkpoint:" + since,
            since == null ? null : VmBackup.DIRTY, next), reading);
        success = true;
        if (fullBecause == null && r.parent() == null) {
          fullBecause = r.parentNote();
        }
        return new Result(r, next, since, fullBecause, List.copyOf(notices));
      } finally {
        for (BlockDevice d : opened) {
          try {
            d.close();
          } catch (IOException ignored) {
            // the job ends next
          }
        }
        IOException ending = null;
        try {
          dom.abortJob();
        } catch (IOException e) {
          ending = e;
        }
        if (success) {
          if (previous != null) {
            dom.deleteCheckpoint(previous, false);  // the new checkpoint tracks every write from now on
          }
        } else {
          try {
            dom.deleteCheckpoint(next, false);  // its bitmap merges back into the previous checkpoint's
          } catch (IOException e) {
            System.err.println("pluck: " + e.getMessage() + " (delete checkpoint " + next + " with virsh checkpoint-delete)");
          }
        }
        if (ending != null && success) {
          throw new IOException("the snapshot is committed, but ending libvirt's backup job failed: " + ending.getMessage(), ending);
        }
      }
    }
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
