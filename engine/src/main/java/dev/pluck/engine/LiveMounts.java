package dev.pluck.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What the running guest says is mounted (its agent's {@code guest-get-fsinfo}), to check the
 * mount tree pluck takes from the guest's {@code /etc/fstab} against: a filesystem mounted outside
 * the fstab, a different filesystem where the fstab puts a volume, or nothing where it puts one.
 * Guest paths are still resolved through the fstab alone (the agent cannot say which volume of the
 * view a mount is, and it is the guest's word); the differences become warnings of the backup.
 *
 * @param mounts the guest's mounted filesystems, or null when the agent could not list them
 * @param unavailable why the agent could not list them (null when it did)
 */
public record LiveMounts(List<Mount> mounts, String unavailable) {
  /** At most this many mounts are looked at: the list comes from the guest. */
  static final int MAX_MOUNTS = 4096;
  /** Mountpoints longer than this are not checked (Linux's PATH_MAX). */
  static final int MAX_PATH = 4096;
  /** Read-only image filesystems (snaps, ISO images) loop-mounted from files: their bytes are the files', backed up as files. */
  private static final Set<String> IMAGE_TYPES = Set.of("squashfs", "iso9660", "udf", "erofs", "cramfs");

  /**
   * One mounted filesystem.
   *
   * @param mountpoint where the guest has it
   * @param type its type as the guest's kernel names it ({@code ext4}, {@code xfs}, {@code fuseblk}, ...)
   * @param device the guest's name for its block device ({@code vda1}, {@code dm-0}, {@code loop3})
   */
  public record Mount(String mountpoint, String type, String device) {}

  public static LiveMounts of(List<Mount> mounts) {
    return new LiveMounts(List.copyOf(mounts.subList(0, Math.min(mounts.size(), MAX_MOUNTS))), null);
  }

  public static LiveMounts unavailable(String why) {
    return new LiveMounts(null, why);
  }

  /** What the fstab's tree needs to be compared: a volume's filesystem by its id. */
  interface Volumes {
    String fs(String volumeId);
  }

  /**
   * The differences between the fstab's mount tree and these mounts, where a guest-path
   * selection ({@code include}, empty: everything) could reach, as warnings.
   */
  List<String> check(GuestMounts fstab, Volumes volumes, List<Glob> include) {
    List<String> warnings = new ArrayList<>();
    if (mounts == null) {
      warnings.add("guest agent: it could not list the guest's filesystems (" + unavailable + "); guest paths follow /etc/fstab alone");
      return warnings;
    }
    List<Mount> live = mounts.stream().filter(m -> checked(m.mountpoint()) && !IMAGE_TYPES.contains(m.type())).toList();
    for (Mount m : live) {
      if (!reachable(include, m.mountpoint())) {
        continue;
      }
      GuestMounts.Mount line = fstab.mounts().stream().filter(f -> !f.swap() && f.mountpoint().equals(m.mountpoint()))
          .min(java.util.Comparator.comparingInt(f -> f.volume() == null ? 1 : 0)).orElse(null);
      String what = printable(m.type()) + " (" + printable(m.device()) + ") is mounted at " + printable(m.mountpoint());
      if (line == null || line.volume() == null) {
        warnings.add("guest agent: " + what + ", which /etc/fstab does not put on the drives backed up"
            + (line == null ? " (no line for it)" : " (its line names " + printable(line.spec()) + (line.note() == null ? "" : ": " + printable(line.note())) + ")")
            + "; guest paths under it were not backed up");
        continue;
      }
      String fs = volumes.fs(line.volume());
      if (fs != null && !sameKind(fs, m.type())) {
        warnings.add("guest agent: " + what + ", where /etc/fstab puts " + line.volume() + " (" + fs + "); the files backed up under "
            + line.mountpoint() + " are " + line.volume() + "'s");
      }
    }
    for (GuestMounts.Mount f : fstab.mounted()) {
      if (reachable(include, f.mountpoint()) && mounts.stream().noneMatch(m -> m.mountpoint().equals(f.mountpoint()))) {
        warnings.add("guest agent: nothing is mounted at " + f.mountpoint() + " in the guest now; " + f.volume()
            + " was backed up there as /etc/fstab says");
      }
    }
    return warnings;
  }

  private static boolean checked(String mountpoint) {
    return mountpoint.startsWith("/") && mountpoint.length() <= MAX_PATH;  // Windows guests say "C:\"
  }

  /** Whether a selection by guest paths could take something at or below {@code mountpoint}. */
  private static boolean reachable(List<Glob> include, String mountpoint) {
    return include.isEmpty() || Glob.any(include, mountpoint) || include.stream().anyMatch(g -> g.couldMatchBelow(mountpoint));
  }

  /** Whether pluck's name for a filesystem and the guest kernel's name for its driver are the same kind. */
  static boolean sameKind(String fs, String type) {
    return family(fs).equals(family(type));
  }

  private static String family(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    return switch (n) {
      case "ext2", "ext3", "ext4", "ext4dev" -> "ext";
      case "ntfs", "ntfs3", "fuseblk" -> "ntfs";  // the kernel's drivers, and ntfs-3g through FUSE
      case "vfat", "fat", "fat12", "fat16", "fat32", "msdos" -> "fat";
      default -> n;
    };
  }

  /** The guest's text, safe for a one-line message. */
  private static String printable(String s) {
    StringBuilder b = new StringBuilder();
    s.codePoints().limit(256).forEach(c -> b.appendCodePoint(Character.isISOControl(c) ? '?' : c));
    return b.toString();
  }
}
