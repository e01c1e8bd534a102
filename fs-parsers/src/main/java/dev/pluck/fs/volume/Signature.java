package dev.pluck.fs.volume;

/**
 * What a volume holds, recognised by its on-disk signature (never by partition type).
 *
 * @param fs ext2, ext3, ext4, ntfs, vfat, exfat, xfs, btrfs, swap, lvm2-pv, luks, iso9660 or
 *     unknown (blkid's names)
 * @param version the format's version where it has one ("FAT32", "1" for swap, "2" for LUKS2)
 * @param detail what else matters: "hibernation image" for swap holding one
 */
public record Signature(String fs, String label, String uuid, String version, String detail) {
  static final Signature UNKNOWN = new Signature("unknown", "", "", "", "");

  static Signature of(String fs, String label, String uuid) {
    return new Signature(fs, label, uuid, "", "");
  }
}
