package dev.pluck.engine;

import dev.pluck.fs.FileExtent;
import dev.pluck.fs.VolumeRange;
import java.util.ArrayList;
import java.util.List;

/**
 * What changed in a file since a parent snapshot, from a dirty bitmap: the parent's bytes at file
 * offset F were read from volume byte V; if the file still maps F to V and V was not written
 * since the parent's checkpoint, the byte is the parent's. Everything else (new mappings, dirty
 * bytes, holes, inline and compressed data, bytes past the parent's size) counts as changed.
 * This holds whatever happened to names: a renamed file, a file whose inode number was reused, a
 * file collapsed or shifted in place.
 */
final class Changes {
  private Changes() {}

  /**
   * The extents of {@code extents} stored byte for byte on the volume, as
   * {@code [fileOffset, volumeOffset, length]} (what a catalog entry records).
   */
  static List<long[]> mapped(List<FileExtent> extents) {
    List<long[]> out = new ArrayList<>();
    for (FileExtent x : extents) {
      if (x.kind() == FileExtent.Kind.DATA && x.volumeOffset() >= 0 && x.length() > 0) {
        long[] last = out.isEmpty() ? null : out.get(out.size() - 1);
        if (last != null && last[0] + last[2] == x.fileOffset() && last[1] + last[2] == x.volumeOffset()) {
          last[2] += x.length();  // contiguous on both sides: one stretch
        } else {
          out.add(new long[] {x.fileOffset(), x.volumeOffset(), x.length()});
        }
      }
    }
    return out;
  }

  /**
   * The byte ranges of a file of {@code size} bytes (as {@code [offset, length]}, sorted) that may
   * differ from the parent's content: all of it but the stretches {@code now} and {@code before}
   * map identically and {@code dirty} (sorted, merged volume ranges) does not touch.
   */
  static List<long[]> changed(long size, List<long[]> now, List<long[]> before, List<VolumeRange> dirty) {
    List<long[]> same = new ArrayList<>();
    int j = 0;
    for (long[] n : now) {
      while (j < before.size() && before.get(j)[0] + before.get(j)[2] <= n[0]) {
        j++;
      }
      for (int k = j; k < before.size() && before.get(k)[0] < n[0] + n[2]; k++) {
        long[] b = before.get(k);
        if (b[1] - b[0] != n[1] - n[0]) {
          continue;  // the same file bytes now live elsewhere on the volume
        }
        long from = Math.max(n[0], b[0]);
        long to = Math.min(n[0] + n[2], b[0] + b[2]);
        long shift = n[1] - n[0];
        clean(from + shift, to + shift, dirty, shift, same);
      }
    }
    List<long[]> out = new ArrayList<>();
    long at = 0;
    for (long[] s : same) {
      if (s[0] > at) {
        out.add(new long[] {at, s[0] - at});
      }
      at = Math.max(at, s[0] + s[1]);
    }
    if (at < size) {
      out.add(new long[] {at, size - at});
    }
    return out;
  }

  /** Adds the parts of volume bytes [from, to) no dirty range touches, as file ranges (volume - shift). */
  private static void clean(long from, long to, List<VolumeRange> dirty, long shift, List<long[]> out) {
    int i = firstEndingAfter(dirty, from);
    long at = from;
    for (; i < dirty.size() && dirty.get(i).offset() < to; i++) {
      VolumeRange d = dirty.get(i);
      if (d.offset() > at) {
        out.add(new long[] {at - shift, d.offset() - at});
      }
      at = Math.max(at, d.end());
    }
    if (at < to) {
      out.add(new long[] {at - shift, to - at});
    }
  }

  /** The index of the first range of {@code sorted} ending after {@code offset}. */
  static int firstEndingAfter(List<VolumeRange> sorted, long offset) {
    int lo = 0;
    int hi = sorted.size();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (sorted.get(mid).end() <= offset) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /** True when some range of {@code sorted} overlaps [offset, offset + length). */
  static boolean touches(List<VolumeRange> sorted, long offset, long length) {
    int i = firstEndingAfter(sorted, offset);
    return i < sorted.size() && sorted.get(i).offset() < offset + length;
  }
}
