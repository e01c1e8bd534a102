package dev.pluck.cli;

import dev.pluck.fs.volume.Volume;
import dev.pluck.fs.volume.VolumeTree;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pluck probe}: what the disks of a machine hold. */
@Command(name = "probe", mixinStandardHelpOptions = true,
    description = {"List the partitions, LVM volumes and filesystems of one machine's disks.",
        "Give several sources for a machine with several disks (a volume group may span them);",
        "NAME=SOURCE names a disk (its volumes become NAME:p1, ...), else disks are 0, 1, ...",
        "",
        "Example: pluck probe /var/lib/libvirt/images/web1.qcow2",
        "Example: pluck probe --mounts vda=nbd+unix:///vda?socket=/run/vda.sock vdb=/srv/vm/web1-data.raw --json"})
final class ProbeCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(paramLabel = "SOURCE", arity = "1..*", description = "NBD URI or image path, optionally NAME=SOURCE.")
  List<String> sources;

  @Option(names = "--json", description = "One JSON object.")
  boolean json;

  @Option(names = "--mounts", description = {"The guest's mount tree instead: which volume its /etc/fstab mounts where, "
      + "and its swap (what guest paths such as /home/alice mean to backup)."})
  boolean mounts;

  @Override
  public Integer call() throws IOException {
    try (Sources sources = new Sources(this.sources)) {
      VolumeTree tree = sources.tree;
      PrintWriter out = spec.commandLine().getOut();
      if (mounts) {
        printMounts(out, tree);
      } else if (json) {
        Output.json(out, toJson(tree));
      } else {
        print(out, tree);
      }
      tree.warnings().forEach(w -> spec.commandLine().getErr().println("pluck: warning: " + w));
      return 0;
    }
  }

  private void printMounts(PrintWriter out, VolumeTree tree) throws IOException {
    java.util.Optional<dev.pluck.engine.GuestMounts> found = dev.pluck.engine.GuestMounts.find(tree);
    if (found.isEmpty()) {
      throw new IOException("no Linux root filesystem with an /etc/fstab among the volumes ("
          + String.join(", ", tree.volumes().stream().map(v -> v.id() + " " + v.fs()).toList()) + ")");
    }
    dev.pluck.engine.GuestMounts g = found.get();
    if (json) {
      Output.json(out, Map.of("root", g.root(), "mounts", g.mounts()));
      return;
    }
    out.printf("%-12s %-10s %-9s %-30s %s%n", "MOUNTPOINT", "VOLUME", "TYPE", "FSTAB DEVICE", "NOTE");
    for (dev.pluck.engine.GuestMounts.Mount m : g.mounts()) {
      out.printf("%-12s %-10s %-9s %-30s %s%n", m.mountpoint(), m.volume() == null ? "-" : m.volume(), m.type(), m.spec(), m.note());
    }
  }

  static Map<String, Object> toJson(VolumeTree tree) {
    Map<String, Object> root = new LinkedHashMap<>();
    VolumeTree.DiskInfo first = tree.disks().get(0);
    root.put("size", first.size());
    root.put("sectorSize", first.sectorSize());
    root.put("table", first.table());
    List<Map<String, Object>> disks = new ArrayList<>();
    for (VolumeTree.DiskInfo d : tree.disks()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", d.name());
      m.put("size", d.size());
      m.put("sectorSize", d.sectorSize());
      m.put("table", d.table());
      m.put("id", d.tableId());
      disks.add(m);
    }
    root.put("disks", disks);
    List<Map<String, Object>> volumes = new ArrayList<>();
    for (Volume v : tree.volumes()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("id", v.id());
      m.put("parent", v.parent());
      m.put("kind", v.kind());
      m.put("type", v.type());
      m.put("fs", v.fs());
      m.put("label", v.signature().label());
      m.put("uuid", v.signature().uuid());
      if (v.offset() >= 0) {
        m.put("offset", v.offset());
      }
      m.put("size", v.size());
      if (v.partition() != null) {
        m.put("partition", Map.of("number", v.partition().number(), "typeCode", v.partition().type(), "name", v.partition().name(),
            "uuid", v.partition().uuid(), "attributes", v.partition().attributes(), "bootable", v.partition().bootable()));
      }
      if (v.kind().equals("lv")) {
        m.put("segments", v.segments().stream().map(s -> Map.of("pv", s.pv(), "offset", s.offset(), "length", s.length())).toList());
      }
      String note = (v.note() + " " + v.signature().detail()).strip();
      if (!note.isEmpty()) {
        m.put("note", note);
      }
      volumes.add(m);
    }
    root.put("volumes", volumes);
    root.put("warnings", tree.warnings());
    return root;
  }

  private static void print(PrintWriter out, VolumeTree tree) {
    for (VolumeTree.DiskInfo d : tree.disks()) {
      out.printf("disk %s: %s, %s, %d-byte sectors%n", d.name(), human(d.size()), d.table(), d.sectorSize());
    }
    out.printf("%-14s %-9s %-22s %-11s %-12s %-38s %9s%n", "ID", "KIND", "TYPE", "FS", "LABEL", "UUID", "SIZE");
    for (Volume v : tree.volumes()) {
      String note = (v.note() + " " + v.signature().detail()).strip();
      out.printf("%-14s %-9s %-22s %-11s %-12s %-38s %9s%s%n", v.id(), v.kind(), trim(v.type(), 22), v.fs().isEmpty() ? "-" : v.fs(),
          v.signature().label(), v.signature().uuid(), human(v.size()), note.isEmpty() ? "" : "  (" + note + ")");
    }
  }

  private static String trim(String s, int n) {
    return s.length() <= n ? s : s.substring(0, n - 1) + "~";
  }

  static String human(long bytes) {
    return Output.bytes(bytes, true);
  }

}
