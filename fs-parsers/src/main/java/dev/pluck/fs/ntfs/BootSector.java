package dev.pluck.fs.ntfs;

import dev.pluck.fs.LittleEndian;

/** The NTFS boot sector (the first sector of the volume; a copy in its last sector). */
record BootSector(int bytesPerSector, int clusterSize, long totalSectors, long mftCluster, long mftMirrCluster,
    int mftRecordSize, int indexBufferSize, long serial) {
  static final int OEM_ID = 0x03;                 // "NTFS    "
  static final int BYTES_PER_SECTOR = 0x0B;
  static final int SECTORS_PER_CLUSTER = 0x0D;    // above 0x80: 2^(256 - value)
  static final int TOTAL_SECTORS = 0x28;
  static final int MFT_CLUSTER = 0x30;
  static final int MFT_MIRR_CLUSTER = 0x38;
  static final int CLUSTERS_PER_MFT_RECORD = 0x40;  // negative: 2^-value bytes
  static final int CLUSTERS_PER_INDEX_BUFFER = 0x44;
  static final int SERIAL = 0x48;
  static final int SIGNATURE = 0x1FE;             // 0x55 0xAA
  static final long MAX_CLUSTER = 2L << 20;

  static BootSector parse(byte[] b, String where) throws NtfsCorruptException {
    if (b.length < 512 || !new String(b, OEM_ID, 8, java.nio.charset.StandardCharsets.US_ASCII).equals("NTFS    ")) {
      throw new NtfsCorruptException("boot sector", where, "no \"NTFS    \" signature");
    }
    if (LittleEndian.u16(b, SIGNATURE) != 0xAA55) {
      throw new NtfsCorruptException("boot sector", where, "no 0x55AA end marker");
    }
    int bps = LittleEndian.u16(b, BYTES_PER_SECTOR);
    if (bps < 256 || bps > 4096 || Integer.bitCount(bps) != 1) {
      throw new NtfsCorruptException("boot sector", where, bps + " bytes per sector");
    }
    int spcRaw = LittleEndian.u8(b, SECTORS_PER_CLUSTER);
    long cluster = (long) bps * spcRaw;
    if (spcRaw > 0x80) {  // sectors per cluster as a power of two, for clusters of 128 KiB and more
      int shift = 256 - spcRaw;
      cluster = shift > 20 ? -1 : (1L << shift) * bps;
    }
    if (cluster < bps || cluster > MAX_CLUSTER || Long.bitCount(cluster) != 1) {
      throw new NtfsCorruptException("boot sector", where, "cluster size " + cluster);
    }
    int record = sizeOf(b[CLUSTERS_PER_MFT_RECORD], (int) cluster, "MFT record", where);
    int index = sizeOf(b[CLUSTERS_PER_INDEX_BUFFER], (int) cluster, "index buffer", where);
    long total = LittleEndian.u64(b, TOTAL_SECTORS);
    long mft = LittleEndian.u64(b, MFT_CLUSTER);
    long mirr = LittleEndian.u64(b, MFT_MIRR_CLUSTER);
    long clusters = total <= 0 || total > (1L << 48) ? 0 : total * bps / cluster;
    if (clusters == 0 || mft <= 0 || mft >= clusters || mirr <= 0 || mirr >= clusters) {
      throw new NtfsCorruptException("boot sector", where, total + " sectors with the MFT at cluster " + mft + " and its mirror at " + mirr);
    }
    return new BootSector(bps, (int) cluster, total, mft, mirr, record, index, LittleEndian.u64(b, SERIAL));
  }

  /** A size field: clusters when positive, else 2^-value bytes. */
  private static int sizeOf(byte raw, int cluster, String what, String where) throws NtfsCorruptException {
    long size = raw > 0 ? (long) raw * cluster : raw < 0 && raw >= -31 ? 1L << -raw : -1;
    if (size < 256 || size > 65536 || Long.bitCount(size) != 1) {
      throw new NtfsCorruptException("boot sector", where, what + " size " + size + " (field " + raw + ")");
    }
    return (int) size;
  }

  long volumeBytes() {
    return totalSectors * bytesPerSector;
  }
}
