package dev.pluck.engine;

import dev.pluck.fs.Entry;
import dev.pluck.fs.EntryType;
import dev.pluck.fs.FileSystem;
import dev.pluck.fs.FileSystems;
import dev.pluck.fs.OpenOptions;
import dev.pluck.fs.volume.Volume;
import dev.pluck.fs.volume.VolumeTree;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The guest's mount tree as its own {@code /etc/fstab} describes it: which volume is mounted at
 * which guest path, and which files are swap. Found by reading the fstab of the Linux root
 * filesystem among the volumes; the guest is not asked.
 *
 * @param root the volume mounted at {@code /}
 * @param mounts every fstab line, in mountpoint order (swap lines last)
 */
public record GuestMounts(String root, List<Mount> mounts) {
  /** fstab files larger than this are not a guest's fstab. */
  static final int MAX_FSTAB = 1 << 20;

  /**
   * One line of the fstab.
   *
   * @param volume the volume it names, or null when none matches (a note says why)
   * @param swap a swap line: {@code volume} is a swap volume, or {@code spec} a swap file's guest path
   */
  public record Mount(String mountpoint, String spec, String type, String options, String volume, boolean swap, String note) {}

  /** The mountpoint {@code volumeId} is mounted at, if any (its first, when mounted twice). */
  public Optional<String> mountpoint(String volumeId) {
    return mounts.stream().filter(m -> !m.swap() && volumeId.equals(m.volume())).map(Mount::mountpoint).findFirst();
  }

  /** Guest paths of swap files the fstab lists. */
  public List<String> swapFiles() {
    return mounts.stream().filter(m -> m.swap() && m.volume() == null && m.spec().startsWith("/") && !m.spec().startsWith("/dev/"))
        .map(Mount::spec).toList();
  }

  /** Mountpoints of volumes, most specific first. */
  public List<Mount> mounted() {
    return mounts.stream().filter(m -> !m.swap() && m.volume() != null).sorted(Comparator.comparingInt((Mount m) -> m.mountpoint().length())
        .reversed()).toList();
  }

  /** The guest path of {@code path} inside a volume mounted at {@code mountpoint}. */
  public static String guestPath(String mountpoint, String path) {
    if (mountpoint.equals("/")) {
      return path;
    }
    return path.equals("/") ? mountpoint : mountpoint + path;
  }

  /**
   * The mount tree of the Linux root among {@code tree}'s volumes: the first ext2/3/4 volume
   * holding a regular {@code /etc/fstab} whose {@code /} line names it (or names nothing pluck can
   * find). Empty when there is none (a Windows guest, a data disk).
   */
  public static Optional<GuestMounts> find(VolumeTree tree) throws IOException {
    for (Volume v : tree.volumes()) {
      if (v.device() == null || !v.fs().startsWith("ext")) {
        continue;
      }
      String fstab;
      try (FileSystem fs = FileSystems.open(v, OpenOptions.DEFAULT)) {
        Optional<Entry> e = fs.lookup("/etc/fstab");
        if (e.isEmpty() || e.get().type() != EntryType.FILE) {
          continue;
        }
        if (e.get().size() > MAX_FSTAB) {
          throw new IOException("volume " + v.id() + ": /etc/fstab is " + e.get().size() + " bytes, more than an fstab's " + MAX_FSTAB);
        }
        fstab = read(fs, e.get());
      } catch (dev.pluck.fs.FileSystemException unreadable) {
        continue;  // not a root pluck can read; the backup reports the volume itself
      }
      List<Mount> mounts = parse(fstab, tree);
      Optional<Mount> slash = mounts.stream().filter(m -> m.mountpoint().equals("/")).findFirst();
      if (slash.isPresent() && slash.get().volume() != null && !slash.get().volume().equals(v.id())) {
        continue;  // a copy of another system's fstab
      }
      List<Mount> resolved = new ArrayList<>();
      for (Mount m : mounts) {
        resolved.add(m.mountpoint().equals("/") && m.volume() == null
            ? new Mount("/", m.spec(), m.type(), m.options(), v.id(), false, "the volume holding this fstab") : m);
      }
      if (slash.isEmpty()) {
        resolved.add(new Mount("/", "", "", "", v.id(), false, "no / line: the volume holding this fstab"));
      }
      resolved.sort(Comparator.comparing(Mount::swap).thenComparing(Mount::mountpoint));
      return Optional.of(new GuestMounts(v.id(), List.copyOf(resolved)));
    }
    return Optional.empty();
  }

  private static String read(FileSystem fs, Entry e) throws IOException {
    ByteBuffer b = ByteBuffer.allocate((int) e.size());
    try (SeekableByteChannel ch = fs.open(e)) {
      while (b.hasRemaining() && ch.read(b) > 0) {
        // the whole file, bounded above
      }
    }
    return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
  }

  /** The lines of an fstab, each resolved to a volume of {@code tree} where one matches. */
  static List<Mount> parse(String fstab, VolumeTree tree) {
    List<Mount> out = new ArrayList<>();
    for (String line : fstab.split("\n")) {
      String t = line.strip();
      if (t.isEmpty() || t.startsWith("#")) {
        continue;
      }
      String[] f = t.split("\\s+");
      if (f.length < 2) {
        continue;  // not a mount line
      }
      String spec = unescape(f[0]);
      String mountpoint = unescape(f[1]);
      String type = f.length > 2 ? f[2] : "";
      String options = f.length > 3 ? f[3] : "";
      boolean swap = type.equals("swap");
      if (!swap && (!mountpoint.startsWith("/") || mountpoint.contains("/../") || mountpoint.endsWith("/..") || mountpoint.contains("\0"))) {
        continue;  // not a path a volume can be mounted at
      }
      if (!swap && mountpoint.length() > 1 && mountpoint.endsWith("/")) {
        mountpoint = mountpoint.replaceAll("/+$", "");
      }
      Optional<Volume> v = resolve(spec, tree);
      String note = v.isPresent() ? "" : swap && spec.startsWith("/") && !spec.startsWith("/dev/") ? "a swap file"
          : VIRTUAL_TYPES.contains(type) ? "not a disk filesystem" : "no volume matches " + spec;
      out.add(new Mount(swap ? "swap" : mountpoint, spec, type, options, v.map(Volume::id).orElse(null), swap, note));
    }
    return out;
  }

  /** Filesystem types that live on no disk. */
  private static final java.util.Set<String> VIRTUAL_TYPES = java.util.Set.of("proc", "sysfs", "tmpfs", "devpts", "devtmpfs", "nfs", "nfs4", "cifs",
        "none", "bind", "overlay", "securityfs", "cgroup", "cgroup2", "debugfs", "efivarfs", "fuse", "9p", "virtiofs");

  /**
   * The volume an fstab device names: UUID=, LABEL=, PARTUUID=, PARTLABEL= (a GPT partition's
   * name), /dev/disk/by-* (udev's links, their \xHH escapes undone), /dev/mapper/VG-LV, /dev/VG/LV, and
   * LVs as /dev/disk/by-id/dm-name-VG-LV or dm-uuid-LVM-VGIDLVID (Ubuntu's installer writes the latter).
   */
  static Optional<Volume> resolve(String spec, VolumeTree tree) {
    String s = spec;
    for (String[] alias : new String[][] {{"/dev/disk/by-uuid/", "UUID="}, {"/dev/disk/by-label/", "LABEL="},
        {"/dev/disk/by-partuuid/", "PARTUUID="}, {"/dev/disk/by-partlabel/", "PARTLABEL="}}) {
      if (s.startsWith(alias[0])) {
        s = alias[1] + udevUnescape(s.substring(alias[0].length()));
      }
    }
    String upper = s.toUpperCase(Locale.ROOT);
    if (upper.startsWith("UUID=")) {
      return tree.find("uuid=" + unquote(s.substring(5)));
    }
    if (upper.startsWith("LABEL=")) {
      return tree.find("label=" + unquote(s.substring(6)));
    }
    if (upper.startsWith("PARTLABEL=")) {
      String name = unquote(s.substring(10));
      return tree.volumes().stream().filter(v -> v.partition() != null && name.equals(v.partition().name())).findFirst();
    }
    if (upper.startsWith("PARTUUID=")) {
      String id = unquote(s.substring(9));
      return tree.volumes().stream().filter(v -> v.partition() != null && v.partition().uuid() != null
          && v.partition().uuid().equalsIgnoreCase(id)).findFirst();
    }
    if (s.startsWith("/dev/mapper/")) {
      return mapperName(s.substring("/dev/mapper/".length())).flatMap(tree::find);
    }
    if (s.startsWith("/dev/disk/by-id/dm-name-")) {
      return mapperName(udevUnescape(s.substring("/dev/disk/by-id/dm-name-".length()))).flatMap(tree::find);
    }
    if (s.startsWith("/dev/disk/by-id/dm-uuid-")) {
      return tree.findByDmUuid(s.substring("/dev/disk/by-id/dm-uuid-".length()));
    }
    if (s.startsWith("/dev/")) {
      String[] parts = s.substring(5).split("/");
      if (parts.length == 2) {
        return tree.find(parts[0] + "/" + parts[1]);
      }
    }
    return Optional.empty();  // /dev/sda1, /dev/vda2: kernel names depend on the guest's hardware
  }

  /**
   * "VG/LV" of a device-mapper name, which doubles the dashes inside VG and LV names and joins them
   * with a single one: {@code vg--a-lv--b} is vg-a/lv-b, {@code data---x} is data-/x (names may
   * end in a dash, never begin with one). Read left to right, "--" is always a dash of a name.
   */
  static Optional<String> mapperName(String name) {
    StringBuilder vg = new StringBuilder();
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c != '-') {
        vg.append(c);
      } else if (i + 1 < name.length() && name.charAt(i + 1) == '-') {
        vg.append('-');
        i++;
      } else {
        String lv = name.substring(i + 1);
        return vg.length() == 0 || lv.isEmpty() || lv.startsWith("-") || lv.replace("--", "").contains("-")
            ? Optional.empty() : Optional.of(vg + "/" + lv.replace("--", "-"));
      }
    }
    return Optional.empty();
  }

  /** udev's names of /dev/disk/by-* links: bytes it will not put in a name are written \xHH (a space is \x20). */
  static String udevUnescape(String s) {
    if (!s.contains("\\x")) {
      return s;
    }
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    byte[] in = s.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < in.length; i++) {
      if (in[i] == '\\' && i + 3 < in.length && in[i + 1] == 'x' && hex(in[i + 2]) >= 0 && hex(in[i + 3]) >= 0) {
        b.write(hex(in[i + 2]) * 16 + hex(in[i + 3]));
        i += 3;
      } else {
        b.write(in[i]);
      }
    }
    return b.toString(StandardCharsets.UTF_8);
  }

  private static int hex(byte c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  }

  private static String unquote(String s) {
    return s.length() >= 2 && (s.startsWith("\"") && s.endsWith("\"") || s.startsWith("'") && s.endsWith("'")) ? s.substring(1, s.length() - 1) : s;
  }

  /** fstab's octal escapes (\040 for a space). */
  static String unescape(String s) {
    if (s.indexOf('\\') < 0) {
      return s;
    }
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
        out.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }
}
