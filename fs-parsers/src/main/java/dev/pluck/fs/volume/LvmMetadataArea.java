package dev.pluck.fs.volume;

import dev.pluck.nbd.BlockDevice;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * An LVM2 metadata area: the mda header (magic, start, size, raw locations) and the committed
 * metadata text it points to, which may wrap around the end of the circular buffer and continue
 * right after the header.
 */
final class LvmMetadataArea {
  static final int MDA_HEADER_SIZE = 512;
  static final int MDA_CHECKSUM = 0;       // u32 over bytes 4..511
  static final int MDA_MAGIC = 4;          // 16 bytes
  static final int MDA_VERSION = 20;       // u32
  static final int MDA_START = 24;         // u64, absolute on the PV
  static final int MDA_SIZE = 32;          // u64
  static final int RAW_LOCNS = 40;         // {u64 offset, u64 size, u32 checksum, u32 flags}...
  static final String MAGIC = " LVM2 x[5A%r0N*>";
  /** Metadata text larger than this is refused (lvm2's own default limit is far below). */
  static final long MAX_TEXT = 16L << 20;

  private LvmMetadataArea() {}

  static long u64(byte[] b, int at) {
    return Bytes.u64(b, at);
  }

  static void put64(byte[] b, int at, long v) {
    for (int i = 0; i < 8; i++) {
      b[at + i] = (byte) (v >>> (8 * i));
    }
  }

  /** The committed metadata text of the area at {@code offset}/{@code size} on the PV. */
  static String read(BlockDevice pv, long offset, long size) throws IOException {
    if (offset < 0 || size < MDA_HEADER_SIZE || offset + size > pv.size()) {
      throw new CorruptStructureException("LVM metadata area", offset, "of " + size + " bytes lies outside the PV");
    }
    byte[] h = pv.read(offset, MDA_HEADER_SIZE);
    if (!Bytes.ascii(h, MDA_MAGIC, MAGIC)) {
      throw new CorruptStructureException("LVM mda header", offset, "bad magic");
    }
    if (LvmCrc.of(h, 4, MDA_HEADER_SIZE - 4) != Bytes.u32(h, MDA_CHECKSUM)) {
      throw new CorruptStructureException("LVM mda header", offset, "checksum mismatch");
    }
    long mdaSize = Bytes.u64(h, MDA_SIZE);
    if (Bytes.u64(h, MDA_START) != offset || mdaSize != size) {
      throw new CorruptStructureException("LVM mda header", offset, "says it starts at " + Bytes.u64(h, MDA_START)
          + " with " + mdaSize + " bytes, but the PV header says " + offset + " with " + size);
    }
    long textOffset = Bytes.u64(h, RAW_LOCNS);
    long textSize = Bytes.u64(h, RAW_LOCNS + 8);
    long checksum = Bytes.u32(h, RAW_LOCNS + 16);
    if (textSize == 0) {
      return null;  // an empty area: no VG yet
    }
    long buffer = mdaSize - MDA_HEADER_SIZE;
    if (textOffset < MDA_HEADER_SIZE || textOffset >= mdaSize || textSize > Math.min(buffer, MAX_TEXT)) {
      throw new CorruptStructureException("LVM raw location", offset + RAW_LOCNS, "text at " + textOffset + " of "
          + textSize + " bytes does not fit a " + mdaSize + "-byte area");
    }
    byte[] text = new byte[(int) textSize];
    long first = Math.min(textSize, mdaSize - textOffset);
    byte[] a = pv.read(offset + textOffset, (int) first);
    System.arraycopy(a, 0, text, 0, (int) first);
    if (first < textSize) {  // wrapped: the rest follows the header
      byte[] rest = pv.read(offset + MDA_HEADER_SIZE, (int) (textSize - first));
      System.arraycopy(rest, 0, text, (int) first, rest.length);
    }
    if (LvmCrc.of(text, 0, text.length) != checksum) {
      throw new CorruptStructureException("LVM metadata text", offset + textOffset, "checksum mismatch");
    }
    int end = text.length;
    while (end > 0 && text[end - 1] == 0) {
      end--;
    }
    return new String(text, 0, end, StandardCharsets.UTF_8);
  }
}
