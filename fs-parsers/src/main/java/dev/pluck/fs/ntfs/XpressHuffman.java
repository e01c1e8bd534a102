package dev.pluck.fs.ntfs;

/**
 * The LZ77+Huffman ("XPRESS Huffman") decompressor of [MS-XCA] section 2.2, as WOF uses it for
 * its XPRESS4K, XPRESS8K and XPRESS16K algorithms: the output in blocks of 64 KiB, each preceded
 * by a table of 512 four-bit code lengths (literals 0-255, then matches: length class in the low
 * four bits, the distance's bit count in the high four), then a bit stream read in 16-bit
 * little-endian words, most significant bit first, with the long-length escape bytes taken from
 * the same input between the words.
 */
final class XpressHuffman {
  static final int SYMBOLS = 512;
  static final int TABLE_BYTES = SYMBOLS / 2;  // two code lengths per byte, the even symbol in the low nibble
  static final int MAX_CODE_LENGTH = 15;
  static final int BLOCK = 65536;  // output bytes per Huffman table
  static final int MIN_MATCH = 3;

  private XpressHuffman() {}

  /**
   * Decompresses {@code in[from, from + length)} into {@code out[0, outLength)}, exactly.
   *
   * @param where names the data in errors ("WofCompressedData chunk 3 of record 41")
   */
  static void decompress(byte[] in, int from, int length, byte[] out, int outLength, String where) throws NtfsCorruptException {
    int end = from + length;
    int pos = from;
    int done = 0;
    while (done < outLength) {
      if (end - pos < TABLE_BYTES) {
        throw corrupt(where, "input ends at byte " + (pos - from) + " before the Huffman table of output byte " + done);
      }
      CanonicalCode code = code(in, pos, where);
      pos += TABLE_BYTES;
      int blockEnd = Math.min(outLength, done + BLOCK);
      // The bit reader: up to 32 bits in 'bits', 'count' of them valid at the top.
      if (end - pos < 4) {
        throw corrupt(where, "input ends in the first bits of the block at output byte " + done);
      }
      long bits = ((long) u16(in, pos) << 16 | u16(in, pos + 2)) & 0xFFFFFFFFL;
      int count = 32;
      pos += 4;
      while (done < blockEnd) {
        int peek = (int) (bits >>> 17) & 0x7FFF;  // the next 15 bits
        int symbol = code.decode(peek);
        if (symbol < 0) {
          throw corrupt(where, "no Huffman code matches the bits at input byte " + (pos - from) + " (output byte " + done + ")");
        }
        int used = code.length(symbol);
        bits = (bits << used) & 0xFFFFFFFFL;
        count -= used;
        if (count < 16) {
          if (end - pos >= 2) {
            bits |= (long) u16(in, pos) << (16 - count);
            pos += 2;
          }
          count += 16;  // past the input's end the bits read as zeros: an encoder need not pad its last word
        }
        if (symbol < 256) {
          out[done++] = (byte) symbol;
          continue;
        }
        symbol -= 256;
        int matchLength = symbol & 15;
        int offsetBits = symbol >>> 4;
        if (matchLength == 15) {
          if (pos >= end) {
            throw corrupt(where, "input ends in a match length at byte " + (pos - from));
          }
          matchLength = in[pos++] & 0xFF;
          if (matchLength == 255) {
            if (end - pos < 2) {
              throw corrupt(where, "input ends in a match length at byte " + (pos - from));
            }
            matchLength = u16(in, pos);
            pos += 2;
            if (matchLength == 0) {
              if (end - pos < 4) {
                throw corrupt(where, "input ends in a match length at byte " + (pos - from));
              }
              long wide = u16(in, pos) | (long) u16(in, pos + 2) << 16;
              pos += 4;
              if (wide > Integer.MAX_VALUE - MIN_MATCH) {
                throw corrupt(where, "match length " + wide + " at input byte " + (pos - from));
              }
              matchLength = (int) wide;
            }
            if (matchLength < 15) {
              throw corrupt(where, "match length " + matchLength + " after the 255 escape at input byte " + (pos - from));
            }
            matchLength -= 15;
          }
          matchLength += 15;
        }
        matchLength += MIN_MATCH;
        int distance = (int) (offsetBits == 0 ? 0 : bits >>> (32 - offsetBits)) | 1 << offsetBits;
        bits = (bits << offsetBits) & 0xFFFFFFFFL;
        count -= offsetBits;
        if (count < 16) {
          if (end - pos >= 2) {
            bits |= (long) u16(in, pos) << (16 - count);
            pos += 2;
          }
          count += 16;
        }
        if (distance > done) {
          throw corrupt(where, "match " + distance + " bytes back at output byte " + done);
        }
        if (matchLength > outLength - done) {
          throw corrupt(where, "match of " + matchLength + " bytes at output byte " + done + " runs past the " + outLength);
        }
        for (int i = 0; i < matchLength; i++, done++) {
          out[done] = out[done - distance];  // byte by byte: a match may overlap what it writes
        }
      }
      // The next block's table starts after the last word read; the bits left in the reader are dropped.
    }
  }

  private static int u16(byte[] b, int at) {
    return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8;
  }

  private static NtfsCorruptException corrupt(String where, String why) {
    return new NtfsCorruptException("XPRESS Huffman data", where, why);
  }

  /** The block's code from its table of four-bit lengths, the even symbol in the low nibble. */
  private static CanonicalCode code(byte[] in, int at, String where) throws NtfsCorruptException {
    byte[] lengths = new byte[SYMBOLS];
    for (int i = 0; i < TABLE_BYTES; i++) {
      lengths[2 * i] = (byte) (in[at + i] & 0x0F);
      lengths[2 * i + 1] = (byte) ((in[at + i] >>> 4) & 0x0F);
    }
    return new CanonicalCode(lengths, MAX_CODE_LENGTH, "XPRESS Huffman data", where);
  }
}
