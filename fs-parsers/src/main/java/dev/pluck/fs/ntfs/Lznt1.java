package dev.pluck.fs.ntfs;

import dev.pluck.fs.LittleEndian;

/**
 * LZNT1, NTFS's compression: a compression unit is a sequence of chunks of up to 4 KiB of
 * output, each with a 16-bit header (bit 15: compressed; bits 0-11: stored size - 3). A
 * compressed chunk is groups of a flag byte and eight tokens: a literal byte, or a 16-bit back
 * reference whose split between offset and length grows with the position in the chunk.
 */
final class Lznt1 {
  static final int CHUNK = 4096;

  private Lznt1() {}

  /** Decompresses {@code in[0, inLength)} into {@code out} (all zeros on entry); returns the bytes produced. */
  static int decompress(byte[] in, int inLength, byte[] out, String where) throws NtfsCorruptException {
    int ip = 0;
    int op = 0;
    while (ip + 2 <= inLength && op < out.length) {
      int header = LittleEndian.u16(in, ip);
      if (header == 0) {
        break;
      }
      int size = (header & 0xFFF) + 3;  // with the header
      int end = ip + size;
      if (end > inLength) {
        throw new NtfsCorruptException("LZNT1 chunk", where, "of " + size + " bytes at " + ip + " runs past " + inLength);
      }
      int chunkStart = op;
      int chunkEnd = Math.min(out.length, op + CHUNK);
      ip += 2;
      if ((header & 0x8000) == 0) {
        int n = Math.min(size - 2, chunkEnd - op);
        System.arraycopy(in, ip, out, op, n);
        op += n;
        ip = end;
        continue;
      }
      while (ip < end && op < chunkEnd) {
        int flags = in[ip++] & 0xff;
        for (int bit = 0; bit < 8 && ip < end && op < chunkEnd; bit++) {
          if ((flags & (1 << bit)) == 0) {
            out[op++] = in[ip++];
            continue;
          }
          if (ip + 2 > end) {
            throw new NtfsCorruptException("LZNT1 chunk", where, "back reference cut off at " + ip);
          }
          int token = LittleEndian.u16(in, ip);
          ip += 2;
          int lengthBits = 12;
          for (int i = op - chunkStart - 1; i >= 0x10; i >>= 1) {
            lengthBits--;
          }
          int offset = (token >>> lengthBits) + 1;
          int length = (token & ((1 << lengthBits) - 1)) + 3;
          if (offset > op - chunkStart) {
            throw new NtfsCorruptException("LZNT1 chunk", where, "back reference " + offset + " before the chunk at " + (op - chunkStart));
          }
          for (int k = 0; k < length && op < chunkEnd; k++, op++) {
            out[op] = out[op - offset];
          }
        }
      }
      ip = end;
      if (op < chunkEnd && ip + 2 <= inLength && LittleEndian.u16(in, ip) != 0) {
        op = chunkEnd;  // a short chunk before another: the rest of its 4 KiB are zeros
      }
    }
    return op;
  }
}
