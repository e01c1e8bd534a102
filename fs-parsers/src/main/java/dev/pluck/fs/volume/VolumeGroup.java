package dev.pluck.fs.volume;

import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.SegmentedBlockDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A volume group as its newest metadata describes it, with its PVs found among the probed
 * volumes: logical volumes become views that map logical bytes to PV bytes, linear and striped.
 */
final class VolumeGroup {
  /** Segment types pluck maps; the others are listed but not read. */
  static final java.util.Set<String> SUPPORTED = java.util.Set.of("striped", "linear");

  /** A PV of the group: its name in the metadata and, when present, where it is. */
  record Pv(String name, String uuid, long peStartBytes, Volume volume) {}

  /** One stripe area of a segment: a PV and the first extent on it. */
  record Area(String pv, long startExtent) {}

  /** One segment of an LV. */
  record LvSegment(long startExtent, long extentCount, String type, long stripeSizeBytes, List<Area> areas) {}

  final String name;
  final long extentBytes;
  final Map<String, Pv> pvs;

  VolumeGroup(String name, long extentBytes, Map<String, Pv> pvs) {
    this.name = name;
    this.extentBytes = extentBytes;
    this.pvs = pvs;
  }

  /**
   * The view of an LV made of these segments: logical offset to (PV device, offset). Striped
   * segments follow LVM's rule: chunk i of the segment is on stripe i mod n, in row i div n.
   */
  BlockDevice view(String lvName, List<LvSegment> segments) {
    long size = 0;
    for (LvSegment s : segments) {
      size = Math.max(size, Math.multiplyExact(s.startExtent() + s.extentCount(), extentBytes));
    }
    long total = size;
    boolean readOnly = pvs.values().stream().anyMatch(pv -> pv.volume() == null || pv.volume().device().isReadOnly());
    return new SegmentedBlockDevice(name + "/" + lvName, new SegmentedBlockDevice.Layout() {
      @Override
      public long size() {
        return total;
      }

      @Override
      public SegmentedBlockDevice.Piece pieceAt(long logical) {
        for (LvSegment s : segments) {
          long start = s.startExtent() * extentBytes;
          long length = s.extentCount() * extentBytes;
          if (logical < start || logical >= start + length) {
            continue;
          }
          long into = logical - start;
          int n = s.areas().size();
          if (n == 1) {
            Area a = s.areas().get(0);
            Pv pv = pvs.get(a.pv());
            long at = pv.peStartBytes() + a.startExtent() * extentBytes + into;
            return new SegmentedBlockDevice.Piece(pv.volume().device(), at, length - into);
          }
          long chunk = into / s.stripeSizeBytes();
          long within = into % s.stripeSizeBytes();
          Area a = s.areas().get((int) (chunk % n));
          Pv pv = pvs.get(a.pv());
          long at = pv.peStartBytes() + a.startExtent() * extentBytes + (chunk / n) * s.stripeSizeBytes() + within;
          return new SegmentedBlockDevice.Piece(pv.volume().device(), at, s.stripeSizeBytes() - within);
        }
        throw new IllegalArgumentException("offset " + logical + " is in no segment of " + name + "/" + lvName);
      }
    }, readOnly);
  }
}
