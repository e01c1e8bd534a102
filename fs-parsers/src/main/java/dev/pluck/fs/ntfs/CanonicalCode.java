package dev.pluck.fs.ntfs;

/**
 * A canonical Huffman code given by its code lengths (0: symbol unused), as XPRESS and LZX send
 * them: codes assigned in order of length, then of symbol. Decoding takes the next
 * {@code maxLength} bits of the stream, most significant first.
 */
final class CanonicalCode {
  private final int maxLength;
  private final byte[] lengths;
  private final int[] firstCode;
  private final int[] firstIndex;
  private final int[] count;
  private final short[] sorted;

  /**
   * @param what names the code in errors ("LZX main code of chunk 3")
   * @throws NtfsCorruptException when the lengths over-subscribe the code space
   */
  CanonicalCode(byte[] lengths, int maxLength, String structure, String where) throws NtfsCorruptException {
    this.maxLength = maxLength;
    this.lengths = lengths.clone();
    this.firstCode = new int[maxLength + 1];
    this.firstIndex = new int[maxLength + 1];
    this.count = new int[maxLength + 1];
    this.sorted = new short[lengths.length];
    for (byte len : lengths) {
      if (len < 0 || len > maxLength) {
        throw new NtfsCorruptException(structure, where, "code length " + len + " over " + maxLength);
      }
      count[len]++;
    }
    count[0] = 0;
    long left = 1;  // codes of the current length still free (Kraft)
    int code = 0;
    int index = 0;
    for (int len = 1; len <= maxLength; len++) {
      left = (left << 1) - count[len];
      if (left < 0) {
        throw new NtfsCorruptException(structure, where, "the Huffman code lengths are over-subscribed at length " + len);
      }
      if (len > 1) {
        code = (code + count[len - 1]) << 1;
      }
      firstCode[len] = code;
      firstIndex[len] = index;
      index += count[len];
    }
    int[] next = firstIndex.clone();
    for (int s = 0; s < lengths.length; s++) {
      if (lengths[s] > 0) {
        sorted[next[lengths[s]]++] = (short) s;
      }
    }
  }

  int maxLength() {
    return maxLength;
  }

  int length(int symbol) {
    return lengths[symbol];
  }

  /** The symbol whose code begins {@code peek} (the next {@link #maxLength} bits), or -1. */
  int decode(int peek) {
    for (int len = 1; len <= maxLength; len++) {
      int i = (peek >>> (maxLength - len)) - firstCode[len];
      if (i >= 0 && i < count[len]) {
        return sorted[firstIndex[len] + i];
      }
    }
    return -1;
  }
}
