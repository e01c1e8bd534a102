package dev.pluck.fs;

import java.util.ArrayList;
import java.util.List;

/** A byte range of a volume. */
public record VolumeRange(long offset, long length) {
  public long end() {
    return offset + length;
  }

  /** Sorts nothing: merges touching or overlapping neighbours of an offset-ordered list. */
  public static List<VolumeRange> coalesce(List<VolumeRange> sorted) {
    List<VolumeRange> out = new ArrayList<>();
    for (VolumeRange r : sorted) {
      if (r.length() <= 0) {
        continue;
      }
      if (!out.isEmpty() && out.get(out.size() - 1).end() >= r.offset()) {
        VolumeRange last = out.remove(out.size() - 1);
        out.add(new VolumeRange(last.offset(), Math.max(last.end(), r.end()) - last.offset()));
      } else {
        out.add(r);
      }
    }
    return out;
  }

  /** The intersection of two offset-ordered, merged lists, in order. */
  public static List<VolumeRange> intersect(List<VolumeRange> x, List<VolumeRange> y) {
    List<VolumeRange> out = new ArrayList<>();
    int i = 0;
    int j = 0;
    while (i < x.size() && j < y.size()) {
      long lo = Math.max(x.get(i).offset(), y.get(j).offset());
      long hi = Math.min(x.get(i).end(), y.get(j).end());
      if (lo < hi) {
        out.add(new VolumeRange(lo, hi - lo));
      }
      if (x.get(i).end() < y.get(j).end()) {
        i++;
      } else {
        j++;
      }
    }
    return out;
  }
}
