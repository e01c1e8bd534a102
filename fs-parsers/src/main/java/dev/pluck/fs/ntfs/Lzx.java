package dev.pluck.fs.ntfs;

/**
 * The LZX decompressor as WIM resources and WOF's LZX algorithm use it: each chunk of at most the
 * 32 KiB window compressed on its own, blocks with a 3-bit type (verbatim, aligned offset,
 * uncompressed) and a size (one bit set: 32 KiB, else 16 bits), Huffman code lengths sent through
 * a pretree as differences from the previous block's, three recent offsets, and the x86 call
 * translation (E8) undone over the chunk at the end. Bits come in 16-bit little-endian words,
 * most significant first; past the input's end they read as zeros.
 */
final class Lzx {
  static final int WINDOW = 32768;
  static final int OFFSET_SLOTS = 30;  // for a 32 KiB window
  static final int MAIN_SYMBOLS = 256 + 8 * OFFSET_SLOTS;
  static final int LENGTH_SYMBOLS = 249;
  static final int ALIGNED_SYMBOLS = 8;
  static final int PRETREE_SYMBOLS = 20;
  static final int MAX_CODE_LENGTH = 16;
  static final int MAX_PRETREE_LENGTH = 15;
  static final int MAX_ALIGNED_LENGTH = 7;

  static final int BLOCKTYPE_VERBATIM = 1;
  static final int BLOCKTYPE_ALIGNED = 2;
  static final int BLOCKTYPE_UNCOMPRESSED = 3;
  static final int DEFAULT_BLOCK_SIZE = 32768;

  static final int MIN_MATCH = 2;
  static final int RECENT_OFFSETS = 3;
  static final int E8_FILE_SIZE = 12_000_000;  // the translation size WIM and WOF fix

  private static final int[] EXTRA_BITS = new int[OFFSET_SLOTS];
  private static final int[] SLOT_BASE = new int[OFFSET_SLOTS];

  static {
    for (int s = 0; s < OFFSET_SLOTS; s++) {
      EXTRA_BITS[s] = s < 4 ? 0 : Math.min(17, s / 2 - 1);
      SLOT_BASE[s] = s == 0 ? 0 : SLOT_BASE[s - 1] + (1 << EXTRA_BITS[s - 1]);
    }
  }

  private Lzx() {}

  /** Decompresses one chunk, {@code in[from, from + length)}, into {@code out[0, outLength)}, exactly. */
  static void decompress(byte[] in, int from, int length, byte[] out, int outLength, String where) throws NtfsCorruptException {
    if (outLength > WINDOW) {
      throw corrupt(where, "a chunk of " + outLength + " bytes, over the " + WINDOW + "-byte window");
    }
    Bits bits = new Bits(in, from, from + length);
    byte[] mainLengths = new byte[MAIN_SYMBOLS];
    byte[] lengthLengths = new byte[LENGTH_SYMBOLS];
    int[] recent = {1, 1, 1};
    int done = 0;
    while (done < outLength) {
      int type = bits.read(3);
      int size = bits.read(1) == 1 ? DEFAULT_BLOCK_SIZE : bits.read(16);
      if (size == 0) {
        throw corrupt(where, "a block of 0 bytes at output byte " + done);
      }
      int blockEnd = Math.min(outLength, done + size);
      switch (type) {
        case BLOCKTYPE_VERBATIM, BLOCKTYPE_ALIGNED -> {
          CanonicalCode aligned = null;
          if (type == BLOCKTYPE_ALIGNED) {
            byte[] alignedLengths = new byte[ALIGNED_SYMBOLS];
            for (int i = 0; i < ALIGNED_SYMBOLS; i++) {
              alignedLengths[i] = (byte) bits.read(3);
            }
            aligned = new CanonicalCode(alignedLengths, MAX_ALIGNED_LENGTH, "LZX aligned offset code", where);
          }
          readLengths(bits, mainLengths, 0, 256, where);
          readLengths(bits, mainLengths, 256, MAIN_SYMBOLS, where);
          CanonicalCode main = new CanonicalCode(mainLengths, MAX_CODE_LENGTH, "LZX main code", where);
          readLengths(bits, lengthLengths, 0, LENGTH_SYMBOLS, where);
          CanonicalCode lengths = new CanonicalCode(lengthLengths, MAX_CODE_LENGTH, "LZX length code", where);
          done = block(bits, main, lengths, aligned, recent, out, done, blockEnd, outLength, where);
        }
        case BLOCKTYPE_UNCOMPRESSED -> {
          bits.alignForBytes();
          for (int i = 0; i < RECENT_OFFSETS; i++) {
            recent[i] = bits.rawU32(where);
          }
          int n = blockEnd - done;
          bits.rawBytes(out, done, n, where);
          done += n;
          if ((size & 1) != 0) {
            bits.skipRawByte();  // an odd-sized uncompressed block is padded to a whole word
          }
        }
        default -> throw corrupt(where, "block type " + type + " at output byte " + done);
      }
    }
    undoE8(out, outLength);
  }

  /** Decodes a verbatim or aligned-offset block's symbols up to {@code blockEnd}; returns the new output position. */
  private static int block(Bits bits, CanonicalCode main, CanonicalCode lengths, CanonicalCode aligned, int[] recent, byte[] out,
      int done, int blockEnd, int outLength, String where) throws NtfsCorruptException {
    while (done < blockEnd) {
      int symbol = bits.decode(main, where);
      if (symbol < 256) {
        out[done++] = (byte) symbol;
        continue;
      }
      int matchSymbol = symbol - 256;
      int slot = matchSymbol >>> 3;
      int header = matchSymbol & 7;
      int length = header + MIN_MATCH;
      if (header == 7) {
        length += bits.decode(lengths, where);
      }
      int offset;
      if (slot < RECENT_OFFSETS) {
        offset = recent[slot];
        recent[slot] = recent[0];
      } else {
        int extra = EXTRA_BITS[slot];
        int formatted = SLOT_BASE[slot];
        if (aligned != null && extra >= 3) {
          formatted += bits.read(extra - 3) << 3;
          formatted += bits.decode(aligned, where);
        } else {
          formatted += bits.read(extra);
        }
        offset = formatted - (RECENT_OFFSETS - 1);
        recent[2] = recent[1];
        recent[1] = recent[0];
      }
      recent[0] = offset;
      if (offset <= 0 || offset > done) {
        throw corrupt(where, "match " + offset + " bytes back at output byte " + done);
      }
      if (length > outLength - done) {
        throw corrupt(where, "match of " + length + " bytes at output byte " + done + " runs past the chunk's " + outLength);
      }
      for (int i = 0; i < length; i++, done++) {
        out[done] = out[done - offset];  // byte by byte: a match may overlap what it writes
      }
    }
    return done;
  }

  /**
   * Reads code lengths {@code [from, to)} through a pretree: symbols 0-16 give the length as a
   * difference (mod 17) from the previous block's, 17 and 18 runs of zeros, 19 a short run of one
   * difference.
   */
  private static void readLengths(Bits bits, byte[] lengths, int from, int to, String where) throws NtfsCorruptException {
    byte[] pre = new byte[PRETREE_SYMBOLS];
    for (int i = 0; i < PRETREE_SYMBOLS; i++) {
      pre[i] = (byte) bits.read(4);
    }
    CanonicalCode pretree = new CanonicalCode(pre, MAX_PRETREE_LENGTH, "LZX pretree", where);
    int i = from;
    while (i < to) {
      int symbol = bits.decode(pretree, where);
      if (symbol < 17) {
        lengths[i] = (byte) ((lengths[i] - symbol + 17) % 17);
        i++;
        continue;
      }
      int run;
      byte value;
      if (symbol == 17) {
        run = 4 + bits.read(4);
        value = 0;
      } else if (symbol == 18) {
        run = 20 + bits.read(5);
        value = 0;
      } else {
        run = 4 + bits.read(1);
        int difference = bits.decode(pretree, where);
        if (difference > 16) {
          throw corrupt(where, "pretree symbol " + difference + " after a run of differences");
        }
        value = (byte) ((lengths[i] - difference + 17) % 17);
      }
      for (int end = Math.min(to, i + run); i < end; i++) {
        lengths[i] = value;
      }
    }
  }

  /** Undoes the x86 call translation: a 32-bit operand after each E8 byte made absolute again relative. */
  static void undoE8(byte[] out, int length) {
    if (length <= 10) {
      return;
    }
    for (int i = 0; i < length - 10; i++) {
      if (out[i] != (byte) 0xE8) {
        continue;
      }
      int absolute = (out[i + 1] & 0xFF) | (out[i + 2] & 0xFF) << 8 | (out[i + 3] & 0xFF) << 16 | out[i + 4] << 24;
      int value;
      if (absolute >= 0) {
        if (absolute >= E8_FILE_SIZE) {
          i += 4;
          continue;
        }
        value = absolute - i;
      } else {
        if (absolute < -i) {
          i += 4;
          continue;
        }
        value = absolute + E8_FILE_SIZE;
      }
      out[i + 1] = (byte) value;
      out[i + 2] = (byte) (value >>> 8);
      out[i + 3] = (byte) (value >>> 16);
      out[i + 4] = (byte) (value >>> 24);
      i += 4;
    }
  }

  private static NtfsCorruptException corrupt(String where, String why) {
    return new NtfsCorruptException("LZX data", where, why);
  }

  /** 16-bit little-endian words read most significant bit first, with raw bytes for uncompressed blocks. */
  private static final class Bits {
    private final byte[] in;
    private int pos;
    private final int end;
    private long buffer;
    private int count;  // valid bits at the low end of buffer

    Bits(byte[] in, int from, int end) {
      this.in = in;
      this.pos = from;
      this.end = end;
    }

    /** Makes at least {@code n} bits valid, a word at a time (zeros past the end). */
    private void ensure(int n) {
      while (count < n) {
        int word = 0;
        if (end - pos >= 2) {
          word = (in[pos] & 0xFF) | (in[pos + 1] & 0xFF) << 8;
          pos += 2;
        }
        buffer = (buffer << 16) | word;
        count += 16;
      }
    }

    int read(int n) {
      if (n == 0) {
        return 0;
      }
      ensure(n);
      count -= n;
      return (int) (buffer >>> count) & ((1 << n) - 1);
    }

    int decode(CanonicalCode code, String where) throws NtfsCorruptException {
      int max = code.maxLength();
      ensure(max);
      int peek = (int) (buffer >>> (count - max)) & ((1 << max) - 1);
      int symbol = code.decode(peek);
      if (symbol < 0) {
        throw corrupt(where, "no Huffman code matches the bits before input byte " + pos);
      }
      count -= code.length(symbol);
      return symbol;
    }

    /** Drops the bits held (all of them; a whole word when none are) so raw bytes follow. */
    void alignForBytes() {
      ensure(1);
      count = 0;
      buffer = 0;
    }

    int rawU32(String where) throws NtfsCorruptException {
      if (end - pos < 4) {
        throw corrupt(where, "input ends in an uncompressed block's header at byte " + pos);
      }
      int v = (in[pos] & 0xFF) | (in[pos + 1] & 0xFF) << 8 | (in[pos + 2] & 0xFF) << 16 | in[pos + 3] << 24;
      pos += 4;
      return v;
    }

    void rawBytes(byte[] out, int at, int n, String where) throws NtfsCorruptException {
      if (end - pos < n) {
        throw corrupt(where, "input ends in an uncompressed block of " + n + " bytes at byte " + pos);
      }
      System.arraycopy(in, pos, out, at, n);
      pos += n;
    }

    void skipRawByte() {
      if (pos < end) {
        pos++;
      }
    }
  }
}
