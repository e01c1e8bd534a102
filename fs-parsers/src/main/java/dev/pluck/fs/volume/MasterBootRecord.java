package dev.pluck.fs.volume;

import java.util.ArrayList;
import java.util.List;

/** The MBR (and each EBR of an extended chain): four 16-byte partition entries and 55 AA. */
final class MasterBootRecord {
  /** Offset of the first partition entry. */
  static final int ENTRIES = 446;
  /** Size of one entry. */
  static final int ENTRY_SIZE = 16;
  /** Offset of the boot signature 0x55 0xAA. */
  static final int SIGNATURE = 510;
  /** Entry field: partition type byte. */
  static final int TYPE = 4;
  /** Entry field: first sector (LBA, u32). */
  static final int FIRST_LBA = 8;
  /** Entry field: number of sectors (u32). */
  static final int SECTORS = 12;
  /** Entry field: status (0x80 = bootable). */
  static final int STATUS = 0;

  /** Type bytes of extended partitions (DOS, Windows LBA, Linux). */
  static boolean isExtended(int type) {
    return type == 0x05 || type == 0x0f || type == 0x85;
  }

  /** A partition entry: type byte, first sector relative to its table's base, sectors. */
  record Entry(int index, int type, boolean bootable, long firstLba, long sectors) {
    boolean isEmpty() {
      return type == 0 || sectors == 0;
    }
  }

  static boolean hasSignature(byte[] sector) {
    return sector.length >= 512 && Bytes.u8(sector, SIGNATURE) == 0x55 && Bytes.u8(sector, SIGNATURE + 1) == 0xAA;
  }

  static List<Entry> entries(byte[] sector) {
    List<Entry> out = new ArrayList<>(4);
    for (int i = 0; i < 4; i++) {
      int at = ENTRIES + i * ENTRY_SIZE;
      out.add(new Entry(i, Bytes.u8(sector, at + TYPE), Bytes.u8(sector, at + STATUS) == 0x80,
          Bytes.u32(sector, at + FIRST_LBA), Bytes.u32(sector, at + SECTORS)));
    }
    return out;
  }

  /** The names Linux tools give MBR type bytes. */
  static String typeName(int type) {
    return switch (type) {
      case 0x01 -> "FAT12";
      case 0x04, 0x06, 0x0e -> "FAT16";
      case 0x05 -> "Extended";
      case 0x07 -> "HPFS/NTFS/exFAT";
      case 0x0b, 0x0c -> "W95 FAT32";
      case 0x0f -> "W95 Ext'd (LBA)";
      case 0x27 -> "Hidden NTFS WinRE";
      case 0x82 -> "Linux swap / Solaris";
      case 0x83 -> "Linux";
      case 0x85 -> "Linux extended";
      case 0x8e -> "Linux LVM";
      case 0xee -> "GPT";
      case 0xef -> "EFI (FAT-12/16/32)";
      case 0xfd -> "Linux raid autodetect";
      default -> String.format("type 0x%02x", type);
    };
  }
}
