package dev.pluck.fs.volume;

import dev.pluck.nbd.BlockDevice;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Recognises what a volume holds from its first bytes, the way blkid does: ext2/3/4, NTFS, FAT,
 * exFAT, XFS, btrfs, LUKS, swap (and hibernation images), LVM2 PVs, ISO 9660. Reads at most the
 * first 68 KiB (of swap, the first 64 KiB) plus, for an NTFS label, one MFT record.
 */
public final class SignatureProbe {
  private static final int HEAD = 68 * 1024;
  /** Swap's signature ends its first page, pages of up to 64 KiB. */
  private static final int SWAP_HEAD = 64 * 1024;

  // ext2/3/4 superblock at byte 1024 (ext4 disk layout, "The Super Block").
  private static final int EXT_SB = 1024;
  private static final int EXT_MAGIC = EXT_SB + 0x38;           // u16 0xEF53
  private static final int EXT_FEATURE_COMPAT = EXT_SB + 0x5C;
  private static final int EXT_FEATURE_INCOMPAT = EXT_SB + 0x60;
  private static final int EXT_FEATURE_RO_COMPAT = EXT_SB + 0x64;
  private static final int EXT_UUID = EXT_SB + 0x68;
  private static final int EXT_VOLUME_NAME = EXT_SB + 0x78;     // 16 bytes
  private static final long EXT_COMPAT_HAS_JOURNAL = 0x4;
  private static final long EXT_INCOMPAT_JOURNAL_DEV = 0x8;
  /** What ext3 understands; anything more makes it ext4 (blkid's rule). */
  private static final long EXT3_INCOMPAT_SUPP = 0x2 | 0x4 | 0x10;  // filetype, recover, meta_bg
  private static final long EXT3_RO_COMPAT_SUPP = 0x1 | 0x2 | 0x4;  // sparse_super, large_file, btree_dir

  private SignatureProbe() {}

  public static Signature probe(BlockDevice volume) throws IOException {
    if (volume.size() < 512) {
      return Signature.UNKNOWN;
    }
    // Swap first, from the first 64 KiB only: a backup must not read further into swap.
    byte[] b = volume.read(0, (int) Math.min(volume.size(), SWAP_HEAD));
    Signature swap = swap(b);
    if (swap != null) {
      return swap;
    }
    if (volume.size() > SWAP_HEAD) {
      byte[] more = volume.read(SWAP_HEAD, (int) Math.min(volume.size() - SWAP_HEAD, HEAD - SWAP_HEAD));
      byte[] all = java.util.Arrays.copyOf(b, SWAP_HEAD + more.length);
      System.arraycopy(more, 0, all, SWAP_HEAD, more.length);
      b = all;
    }
    if (b.length > EXT_MAGIC + 2 && Bytes.u16(b, EXT_MAGIC) == 0xEF53) {
      return ext(b);
    }
    if (Bytes.ascii(b, 3, "NTFS    ")) {
      return ntfs(volume, b);
    }
    if (Bytes.ascii(b, 3, "EXFAT   ")) {
      String label = "";
      try {
        label = exfatLabel(volume, b);
      } catch (IOException | RuntimeException e) {
        // the label is optional; the filesystem is still exFAT
      }
      return new Signature("exfat", label, serial(Bytes.u32(b, 0x64)), "", "");
    }
    if (MasterBootRecord.hasSignature(b) && (Bytes.ascii(b, 0x52, "FAT32   ") || Bytes.ascii(b, 0x36, "FAT1"))) {
      boolean fat32 = Bytes.ascii(b, 0x52, "FAT32   ");
      int labelAt = fat32 ? 0x47 : 0x2B;
      String label = Bytes.string(b, labelAt, 11);
      return new Signature("vfat", label.equals("NO NAME") ? "" : label, serial(Bytes.u32(b, fat32 ? 0x43 : 0x27)),
          fat32 ? "FAT32" : Bytes.ascii(b, 0x36, "FAT16") ? "FAT16" : "FAT12", "");
    }
    if (Bytes.ascii(b, 0, "XFSB")) {
      return Signature.of("xfs", Bytes.string(b, 108, 12), Bytes.uuid(b, 32));
    }
    if (b.length >= 0x10140 && Bytes.ascii(b, 0x10040, "_BHRfS_M")) {
      return Signature.of("btrfs", Bytes.string(b, 0x1012B, 256), Bytes.uuid(b, 0x10020));
    }
    if (Bytes.u8(b, 0) == 'L' && Bytes.ascii(b, 0, "LUKS") && Bytes.u8(b, 4) == 0xBA && Bytes.u8(b, 5) == 0xBE) {
      int version = Bytes.u16(b, 6) >> 8 | (Bytes.u16(b, 6) & 0xff) << 8;  // big-endian
      return new Signature("luks", version == 2 ? Bytes.string(b, 24, 48) : "", Bytes.string(b, 168, 40), Integer.toString(version), "");
    }
    Signature pv = LvmLabel.signature(b);
    if (pv != null) {
      return pv;
    }
    if (b.length >= 0x8030 && Bytes.ascii(b, 0x8001, "CD001")) {
      return Signature.of("iso9660", Bytes.string(b, 0x8028, 32), "");
    }
    return Signature.UNKNOWN;
  }

  /** Swap: the magic in the last 10 bytes of the first page (4 KiB pages; also 8 and 16 KiB, 64 KiB). */
  private static Signature swap(byte[] b) {
    for (int page : new int[] {4096, 8192, 16384, 65536}) {
      if (b.length < page) {
        break;
      }
      int at = page - 10;
      if (Bytes.ascii(b, at, "SWAPSPACE2") || Bytes.ascii(b, at, "SWAP-SPACE")) {
        // swap header v1: version (u32 @1024), last_page, nr_badpages, uuid @1036, label @1052
        return new Signature("swap", Bytes.string(b, 1052, 16), Bytes.uuid(b, 1036), Long.toString(Bytes.u32(b, 1024)), "");
      }
      for (String hib : new String[] {"S1SUSPEND", "S2SUSPEND", "ULSUSPEND", "LINHIB0001"}) {
        if (Bytes.ascii(b, at, hib)) {
          return new Signature("swap", Bytes.string(b, 1052, 16), Bytes.uuid(b, 1036), Long.toString(Bytes.u32(b, 1024)),
              "hibernation image (" + hib + ")");
        }
      }
    }
    return null;
  }

  private static Signature ext(byte[] b) {
    long compat = Bytes.u32(b, EXT_FEATURE_COMPAT);
    long incompat = Bytes.u32(b, EXT_FEATURE_INCOMPAT);
    long roCompat = Bytes.u32(b, EXT_FEATURE_RO_COMPAT);
    String fs;
    if ((incompat & EXT_INCOMPAT_JOURNAL_DEV) != 0) {
      fs = "jbd";
    } else if ((incompat & ~EXT3_INCOMPAT_SUPP) != 0 || (roCompat & ~EXT3_RO_COMPAT_SUPP) != 0) {
      fs = "ext4";
    } else if ((compat & EXT_COMPAT_HAS_JOURNAL) != 0) {
      fs = "ext3";
    } else {
      fs = "ext2";
    }
    return Signature.of(fs, Bytes.string(b, EXT_VOLUME_NAME, 16), Bytes.uuid(b, EXT_UUID));
  }

  /** exFAT keeps its label in a root-directory entry (type 0x83), not in the boot sector. */
  private static String exfatLabel(BlockDevice volume, byte[] boot) throws IOException {
    long heapOffset = Bytes.u32(boot, 0x58);      // ClusterHeapOffset, in sectors
    long rootCluster = Bytes.u32(boot, 0x60);     // FirstClusterOfRootDirectory
    int sectorShift = Bytes.u8(boot, 0x6C);       // BytesPerSectorShift
    int clusterShift = Bytes.u8(boot, 0x6D);      // SectorsPerClusterShift
    if (sectorShift < 9 || sectorShift > 12 || clusterShift > 25 - sectorShift || rootCluster < 2) {
      return "";
    }
    long clusterBytes = 1L << (sectorShift + clusterShift);
    long at = (heapOffset << sectorShift) + (rootCluster - 2) * clusterBytes;
    int length = (int) Math.min(clusterBytes, 64 * 1024);
    if (at < 0 || at + length > volume.size()) {
      return "";
    }
    byte[] dir = volume.read(at, length);
    for (int e = 0; e + 32 <= dir.length; e += 32) {
      int type = Bytes.u8(dir, e);
      if (type == 0) {
        break;
      }
      if (type == 0x83) {
        int chars = Math.min(Bytes.u8(dir, e + 1), 11);
        return new String(dir, e + 2, chars * 2, StandardCharsets.UTF_16LE);
      }
    }
    return "";
  }

  /** A FAT or exFAT volume serial as blkid prints it: 1A2B-3C4D. */
  private static String serial(long v) {
    return String.format("%04X-%04X", v >> 16, v & 0xffff);
  }

  /** NTFS: serial from the boot sector; the label from $Volume's $VOLUME_NAME (MFT record 3). */
  private static Signature ntfs(BlockDevice volume, byte[] b) {
    String uuid = String.format("%016X", Bytes.u64(b, 0x48));
    String label = "";
    try {
      label = NtfsVolumeName.read(volume, b);
    } catch (IOException | RuntimeException e) {
      // a damaged $Volume leaves the label unknown, not the filesystem
    }
    return Signature.of("ntfs", label, uuid);
  }

  /** Minimal NTFS reading for the label; the full reader lives with the NTFS filesystem. */
  static final class NtfsVolumeName {
    private NtfsVolumeName() {}

    static String read(BlockDevice volume, byte[] boot) throws IOException {
      int bytesPerSector = Bytes.u16(boot, 0x0B);
      int sectorsPerCluster = Bytes.u8(boot, 0x0D);
      if (sectorsPerCluster > 0x80) {
        sectorsPerCluster = 1 << (256 - sectorsPerCluster);
      }
      long cluster = (long) bytesPerSector * sectorsPerCluster;
      long mftLcn = Bytes.u64(boot, 0x30);
      int raw = (byte) Bytes.u8(boot, 0x40);
      long recordSize = raw > 0 ? raw * cluster : 1L << -raw;
      if (bytesPerSector < 256 || cluster <= 0 || recordSize < 512 || recordSize > 65536) {
        return "";
      }
      long at = Math.addExact(Math.multiplyExact(mftLcn, cluster), 3 * recordSize);  // $Volume is record 3
      if (at + recordSize > volume.size()) {
        return "";
      }
      byte[] rec = volume.read(at, (int) recordSize);
      if (!Bytes.ascii(rec, 0, "FILE")) {
        return "";
      }
      applyFixups(rec, bytesPerSector);
      int attr = Bytes.u16(rec, 0x14);
      for (int guard = 0; guard < 64 && attr + 16 <= rec.length; guard++) {
        long type = Bytes.u32(rec, attr);
        long length = Bytes.u32(rec, attr + 4);
        if (type == 0xFFFFFFFFL || length < 16 || attr + length > rec.length) {
          break;
        }
        if (type == 0x60 && Bytes.u8(rec, attr + 8) == 0) {  // $VOLUME_NAME, resident
          long valueLength = Bytes.u32(rec, attr + 0x10);
          int valueOffset = Bytes.u16(rec, attr + 0x14);
          if (attr + valueOffset + valueLength <= rec.length) {
            return new String(rec, attr + valueOffset, (int) valueLength, StandardCharsets.UTF_16LE);
          }
        }
        attr += (int) length;
      }
      return "";
    }

    private static void applyFixups(byte[] rec, int sector) {
      int usaOffset = Bytes.u16(rec, 4);
      int usaCount = Bytes.u16(rec, 6);
      for (int i = 1; i < usaCount && usaOffset + 2 * i + 1 < rec.length && i * sector <= rec.length; i++) {
        rec[i * sector - 2] = rec[usaOffset + 2 * i];
        rec[i * sector - 1] = rec[usaOffset + 2 * i + 1];
      }
    }
  }
}
