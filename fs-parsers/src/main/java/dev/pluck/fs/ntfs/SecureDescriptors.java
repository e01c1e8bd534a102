package dev.pluck.fs.ntfs;

import dev.pluck.fs.LittleEndian;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * The security descriptors of $Secure's $SDS stream by security id. $SDS is a sequence of 256 KiB
 * blocks, each followed by its mirror copy; a block holds 16-byte aligned entries (hash, id,
 * offset of the entry itself, length with the 20-byte header, then the self-relative
 * descriptor) until one that does not describe itself.
 */
final class SecureDescriptors {
  static final int HASH = 0x00;
  static final int SECURITY_ID = 0x04;
  static final int OFFSET = 0x08;
  static final int LENGTH = 0x10;
  static final int HEADER = 0x14;
  static final long BLOCK = 0x40000;
  /** Descriptors kept at most; a volume with more than this many distinct ACLs reports the rest as absent. */
  static final int MAX_DESCRIPTORS = 1 << 20;
  static final SecureDescriptors NONE = new SecureDescriptors(Map.of());

  interface Reader {
    byte[] read(long offset, int length) throws IOException;
  }

  private final Map<Long, byte[]> byId;

  private SecureDescriptors(Map<Long, byte[]> byId) {
    this.byId = byId;
  }

  byte[] get(long securityId) {
    byte[] d = byId.get(securityId);
    return d == null ? null : d.clone();
  }

  static SecureDescriptors scan(long size, Reader reader) throws IOException {
    Map<Long, byte[]> out = new HashMap<>();
    for (long block = 0; block < size; block += 2 * BLOCK) {  // every other block: the rest are mirrors
      int n = (int) Math.min(BLOCK, size - block);
      byte[] b = reader.read(block, n);
      int p = 0;
      while (p + HEADER <= n && out.size() < MAX_DESCRIPTORS) {
        long offset = LittleEndian.u64(b, p + OFFSET);
        long length = LittleEndian.u32(b, p + LENGTH);
        if (offset != block + p || length < HEADER || p + length > n) {
          break;  // the block's entries end here
        }
        out.putIfAbsent(LittleEndian.u32(b, p + SECURITY_ID), java.util.Arrays.copyOfRange(b, p + HEADER, (int) (p + length)));
        p = (int) ((p + length + 15) & ~15L);
      }
    }
    return new SecureDescriptors(out);
  }
}
