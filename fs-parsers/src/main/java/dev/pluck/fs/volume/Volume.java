package dev.pluck.fs.volume;

import dev.pluck.nbd.BlockDevice;
import java.util.List;

/**
 * One volume of a machine's disks: a partition, a whole disk without a table, or an LVM logical
 * volume; with what its signature says it holds and a view that reads it.
 *
 * @param id what the user types: p1, disk, VG/LV (with several disks: NAME:p1, NAME:disk)
 * @param parent the id of the disk ("" for a disk volume) or, for an LV, its VG's name
 * @param kind partition, disk or lv
 * @param type the partition type's name, or the LV's segment type
 * @param disk index of the disk (partitions and disk volumes), -1 for LVs
 * @param offset bytes from the disk's start (partitions and disk volumes), -1 for LVs
 * @param segments where an LV's extents lie, in disk bytes
 * @param note a problem worth saying ("unsupported segment type thin", "PV missing")
 * @param device reads the volume (null when it cannot be read: unsupported or incomplete LVs)
 * @param partition the table entry of a partition (its GPT name, GUID and attributes), else null
 */
public record Volume(String id, String parent, String kind, String type, Signature signature, int disk, long offset,
    long size, List<Segment> segments, String note, BlockDevice device, Partition partition) {
  /** An LV's run of extents on one PV: the PV's volume id, and bytes on its disk. */
  public record Segment(String pv, int disk, long offset, long length) {}

  public Volume {
    segments = List.copyOf(segments);
  }

  public String fs() {
    return signature.fs();
  }
}
