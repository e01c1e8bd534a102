package dev.pluck.fs.volume;

import dev.pluck.nbd.BlockDevice;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * An LVM2 physical volume's label and PV header (lvm2's format_text/layout.h): "LABELONE" in one
 * of the first four sectors, the PV's UUID, its data area and its metadata areas.
 *
 * @param labelSector which of sectors 0-3 holds the label
 * @param uuid the PV UUID, 32 characters without dashes
 * @param dataAreas (offset, size) of the data areas; pe_start counts from the PV start
 * @param metadataAreas (offset, size) of the metadata areas, each starting with an mda header
 */
record LvmLabel(int labelSector, String uuid, long deviceSize, List<long[]> dataAreas, List<long[]> metadataAreas) {
  static final String LABEL_ID = "LABELONE";
  static final int LABEL_CRC = 16;        // u32: over bytes 20..511 of the label sector
  static final int LABEL_OFFSET = 20;     // u32: offset of the PV header from the label sector start
  static final int LABEL_TYPE = 24;       // "LVM2 001"
  static final int PV_UUID = 0;           // 32 bytes in the PV header
  static final int PV_DEVICE_SIZE = 32;   // u64
  static final int PV_DISK_LOCNS = 40;    // {u64 offset, u64 size} lists, each ended by zeros
  /** At most this many areas are read from each list (lvm2 writes one or two). */
  static final int MAX_AREAS = 16;

  /** The label, if one of the first four sectors of {@code head} holds one; errors are exceptions. */
  static LvmLabel find(byte[] head) throws CorruptStructureException {
    for (int s = 0; s < 4 && (s + 1) * 512 <= head.length; s++) {
      int at = s * 512;
      if (!Bytes.ascii(head, at, LABEL_ID)) {
        continue;
      }
      if (!Bytes.ascii(head, at + LABEL_TYPE, "LVM2 001")) {
        throw new CorruptStructureException("LVM label", at, "type is not \"LVM2 001\"");
      }
      long crc = LvmCrc.of(head, at + LABEL_OFFSET, 512 - LABEL_OFFSET);
      if (crc != Bytes.u32(head, at + LABEL_CRC)) {
        throw new CorruptStructureException("LVM label", at, "checksum mismatch");
      }
      int pv = at + (int) Bytes.u32(head, at + LABEL_OFFSET);
      if (pv < at || pv + PV_DISK_LOCNS + 16 > head.length) {
        throw new CorruptStructureException("LVM PV header", pv, "lies outside the label's sectors");
      }
      String uuid = new String(head, pv + PV_UUID, 32, java.nio.charset.StandardCharsets.US_ASCII);
      int p = pv + PV_DISK_LOCNS;
      List<long[]> data = new ArrayList<>();
      p = areas(head, p, data);
      List<long[]> meta = new ArrayList<>();
      areas(head, p, meta);
      return new LvmLabel(s, uuid, Bytes.u64(head, pv + PV_DEVICE_SIZE), data, meta);
    }
    return null;
  }

  private static int areas(byte[] head, int p, List<long[]> out) throws CorruptStructureException {
    for (int i = 0; i <= MAX_AREAS; i++) {
      if (p + 16 > head.length) {
        throw new CorruptStructureException("LVM PV header", p, "area list runs past the label sectors");
      }
      long offset = Bytes.u64(head, p);
      long size = Bytes.u64(head, p + 8);
      p += 16;
      if (offset == 0 && size == 0) {
        return p;
      }
      out.add(new long[] {offset, size});
    }
    throw new CorruptStructureException("LVM PV header", p, "more than " + MAX_AREAS + " areas");
  }

  /** The UUID as LVM prints it: 6-4-4-4-4-4-6. */
  String formattedUuid() {
    return format(uuid);
  }

  static String format(String u) {
    if (u.length() != 32) {
      return u;
    }
    return u.substring(0, 6) + "-" + u.substring(6, 10) + "-" + u.substring(10, 14) + "-" + u.substring(14, 18) + "-"
        + u.substring(18, 22) + "-" + u.substring(22, 26) + "-" + u.substring(26);
  }

  /** Where the PV's extents begin (the first data area's offset). */
  long peStart() {
    return dataAreas.isEmpty() ? 0 : dataAreas.get(0)[0];
  }

  static Signature signature(byte[] head) {
    try {
      LvmLabel l = find(head);
      return l == null ? null : new Signature("lvm2-pv", "", l.formattedUuid(), "LVM2 001", "");
    } catch (CorruptStructureException e) {
      return new Signature("lvm2-pv", "", "", "", e.getMessage());
    }
  }

  static LvmLabel read(BlockDevice pv) throws IOException {
    return find(pv.read(0, (int) Math.min(pv.size(), 4096)));
  }
}
