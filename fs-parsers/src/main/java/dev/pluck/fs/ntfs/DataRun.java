package dev.pluck.fs.ntfs;

import java.util.ArrayList;
import java.util.List;

/**
 * One run of a non-resident attribute: {@code length} clusters from virtual cluster {@code vcn}
 * stored at logical cluster {@code lcn}, or nowhere ({@code lcn} -1: sparse).
 */
record DataRun(long vcn, long lcn, long length) {
  static final long SPARSE = -1;

  boolean sparse() {
    return lcn == SPARSE;
  }

  long endVcn() {
    return vcn + length;
  }

  /**
   * Decodes a runlist ("mapping pairs"): a header byte whose low nibble is the size of the length
   * and high nibble the size of the LCN delta (signed, from the previous run; size 0: sparse),
   * until a zero byte. Runs must stay inside the volume's {@code clusters}.
   */
  static List<DataRun> decode(byte[] b, int from, int to, long startVcn, long clusters, String where) throws NtfsCorruptException {
    List<DataRun> out = new ArrayList<>();
    long vcn = startVcn;
    long lcn = 0;
    int p = from;
    while (p < to && b[p] != 0) {
      int header = b[p] & 0xff;
      int lengthSize = header & 0xf;
      int offsetSize = header >>> 4;
      if (lengthSize == 0 || lengthSize > 8 || offsetSize > 8 || p + 1 + lengthSize + offsetSize > to) {
        throw new NtfsCorruptException("runlist", where, "bad run header 0x" + Integer.toHexString(header) + " at byte " + (p - from));
      }
      long length = unsigned(b, p + 1, lengthSize);
      if (length <= 0 || length > clusters) {
        throw new NtfsCorruptException("runlist", where, "run of " + length + " clusters at byte " + (p - from));
      }
      if (offsetSize == 0) {
        out.add(new DataRun(vcn, SPARSE, length));
      } else {
        lcn += signed(b, p + 1 + lengthSize, offsetSize);
        if (lcn < 0 || lcn + length > clusters) {
          throw new NtfsCorruptException("runlist", where, "clusters " + lcn + "+" + length + " outside the volume of " + clusters);
        }
        out.add(new DataRun(vcn, lcn, length));
      }
      vcn += length;
      if (out.size() > NtfsFileSystem.MAX_RUNS) {
        throw new NtfsCorruptException("runlist", where, "more than " + NtfsFileSystem.MAX_RUNS + " runs");
      }
      p += 1 + lengthSize + offsetSize;
    }
    return out;
  }

  private static long unsigned(byte[] b, int at, int n) {
    long v = 0;
    for (int i = n - 1; i >= 0; i--) {
      v = v << 8 | (b[at + i] & 0xff);
    }
    return n == 8 && v < 0 ? Long.MAX_VALUE : v;
  }

  private static long signed(byte[] b, int at, int n) {
    long v = b[at + n - 1];  // sign-extended top byte
    for (int i = n - 2; i >= 0; i--) {
      v = v << 8 | (b[at + i] & 0xff);
    }
    return v;
  }
}
