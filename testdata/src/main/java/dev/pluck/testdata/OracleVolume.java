package dev.pluck.testdata;

import java.util.List;
import java.util.Map;

/**
 * One volume of a test disk: a partition, a whole disk or an LVM logical volume, with what {@code
 * blkid -p} found on it.
 *
 * @param id pluck's volume id: {@code p1}, {@code disk}, or {@code VG/LV}
 * @param kind partition, disk or lv
 * @param disk index of the disk image that holds it (partitions and disks)
 * @param offset byte offset on that disk (partitions and disks)
 * @param size bytes
 * @param blkid blkid's export fields (TYPE, LABEL, UUID, ...)
 * @param segments where an LV's bytes lie, as LVM reports it (LVs only)
 */
public record OracleVolume(
    String id,
    String kind,
    int disk,
    long offset,
    long size,
    Map<String, String> blkid,
    List<Segment> segments) {

  /** A run of an LV's extents: linear (one stripe) or striped. */
  public record Segment(
      long start, long length, String type, long stripeSize, List<Stripe> stripes) {}

  /** Where one stripe of a segment starts: disk index and byte offset on it. */
  public record Stripe(int disk, long offset) {}

  public OracleVolume {
    blkid = blkid == null ? Map.of() : Map.copyOf(blkid);
    segments = segments == null ? List.of() : List.copyOf(segments);
  }

  /** blkid's TYPE (ext4, ntfs, swap, vfat, LVM2_member, ...), or "" when it found nothing. */
  public String fsType() {
    return blkid.getOrDefault("TYPE", "");
  }

  public String label() {
    return blkid.getOrDefault("LABEL", "");
  }
}
