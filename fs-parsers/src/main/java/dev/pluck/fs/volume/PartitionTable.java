package dev.pluck.fs.volume;

import dev.pluck.nbd.BlockDevice;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.zip.CRC32;

/**
 * A disk's partition table: GPT (found at LBA 1 with 512- or 4096-byte sectors, the backup header
 * used when the primary is damaged), MBR with its chain of logical partitions, or none. Problems
 * that still leave a usable table are {@link #warnings()}; the rest are exceptions.
 *
 * @param scheme "gpt", "mbr" or "none"
 * @param id the GPT disk GUID, or the MBR disk identifier as 0x........
 */
public record PartitionTable(String scheme, int sectorSize, String id, List<Partition> partitions, List<String> warnings) {
  /** At most this many logical partitions are followed in an extended chain. */
  static final int MAX_LOGICAL = 256;

  public PartitionTable {
    partitions = List.copyOf(partitions);
    warnings = List.copyOf(warnings);
  }

  public static PartitionTable read(BlockDevice disk) throws IOException {
    long size = disk.size();
    if (size < 512) {
      return new PartitionTable("none", 512, "", List.of(), List.of());
    }
    byte[] head = disk.read(0, (int) Math.min(size, 8192));
    List<String> warnings = new ArrayList<>();
    boolean protective = MasterBootRecord.hasSignature(head)
        && MasterBootRecord.entries(head).stream().anyMatch(e -> e.type() == 0xee);
    for (int sector : new int[] {512, 4096}) {
      if (head.length >= sector + 512 && Bytes.ascii(head, sector, GptHeader.SIGNATURE) || protective && size >= 2L * sector) {
        PartitionTable gpt = readGpt(disk, sector, head, warnings);
        if (gpt != null) {
          return gpt;
        }
      }
    }
    if (protective) {
      throw new CorruptStructureException("GPT", 512, "protective MBR but no valid GPT header (primary or backup) "
          + "for 512- or 4096-byte sectors" + (warnings.isEmpty() ? "" : ": " + String.join("; ", warnings)));
    }
    if (MasterBootRecord.hasSignature(head) && looksLikeMbr(head)) {
      return readMbr(disk, head, warnings);
    }
    return new PartitionTable("none", 512, "", List.of(), warnings);
  }

  /** A boot sector of a filesystem (FAT, NTFS) also ends in 55 AA; an MBR's entries are sane. */
  private static boolean looksLikeMbr(byte[] head) {
    if (Bytes.ascii(head, 3, "NTFS    ") || Bytes.ascii(head, 0x36, "FAT") || Bytes.ascii(head, 0x52, "FAT32")
        || Bytes.ascii(head, 3, "EXFAT   ")) {
      return false;
    }
    boolean any = false;
    for (MasterBootRecord.Entry e : MasterBootRecord.entries(head)) {
      int status = Bytes.u8(head, MasterBootRecord.ENTRIES + e.index() * MasterBootRecord.ENTRY_SIZE);
      if (status != 0 && status != 0x80) {
        return false;
      }
      any |= !e.isEmpty();
    }
    return any;
  }

  private static PartitionTable readGpt(BlockDevice disk, int sector, byte[] head, List<String> warnings) throws IOException {
    long lastLba = disk.size() / sector - 1;
    GptHeader header = null;
    byte[] entries = null;
    String primaryProblem = null;
    try {
      header = GptHeader.parse(java.util.Arrays.copyOfRange(head, sector, Math.min(head.length, sector + 512)), sector);
      entries = entries(disk, header, sector);
    } catch (CorruptStructureException e) {
      primaryProblem = e.getMessage();
      header = null;
    }
    if (header == null) {
      long at = lastLba * sector;
      try {
        byte[] backup = disk.read(at, 512);
        header = GptHeader.parse(backup, at);
        entries = entries(disk, header, sector);
        warnings.add("primary GPT damaged (" + primaryProblem + "); using the backup header at LBA " + lastLba);
      } catch (CorruptStructureException e) {
        if (primaryProblem != null && Bytes.ascii(head, sector, GptHeader.SIGNATURE)) {
          warnings.add(primaryProblem);
          warnings.add(e.getMessage());
        }
        return null;
      }
    }
    List<Partition> parts = new ArrayList<>();
    for (int i = 0; i < header.entryCount(); i++) {
      GptPartitionEntry e = GptPartitionEntry.parse(entries, (int) (i * header.entrySize()), i + 1);
      if (e.isUnused()) {
        continue;
      }
      if (e.lastLba() < e.firstLba() || e.lastLba() > lastLba) {
        warnings.add("GPT entry " + (i + 1) + " spans LBA " + e.firstLba() + "-" + e.lastLba()
            + (e.lastLba() > lastLba ? ", past the disk end (LBA " + lastLba + ")" : ", which is empty") + "; ignored");
        continue;
      }
      parts.add(new Partition(i + 1, e.typeGuid(), e.typeName(), Math.multiplyExact(e.firstLba(), sector),
          Math.multiplyExact(e.lastLba() - e.firstLba() + 1, sector), e.name(), (e.attributes() & 4) != 0, false, e.uniqueGuid(),
          e.attributes()));
    }
    checkOverlaps(parts, warnings);
    return new PartitionTable("gpt", sector, header.diskGuid(), parts, warnings);
  }

  private static byte[] entries(BlockDevice disk, GptHeader h, int sector) throws IOException {
    long bytes = h.entryCount() * h.entrySize();
    long at = Math.multiplyExact(h.entriesLba(), sector);
    if (at < 0 || at + bytes > disk.size()) {
      throw new CorruptStructureException("GPT entry array", at, "lies outside the disk");
    }
    byte[] b = disk.read(at, (int) bytes);
    CRC32 crc = new CRC32();
    crc.update(b);
    if (crc.getValue() != h.entriesCrc()) {
      throw new CorruptStructureException("GPT entry array", at, "CRC32 mismatch");
    }
    return b;
  }

  private static PartitionTable readMbr(BlockDevice disk, byte[] head, List<String> warnings) throws IOException {
    long sectors = disk.size() / 512;
    List<Partition> parts = new ArrayList<>();
    for (MasterBootRecord.Entry e : MasterBootRecord.entries(head)) {
      if (e.isEmpty()) {
        continue;
      }
      boolean extended = MasterBootRecord.isExtended(e.type());
      if (!add(parts, warnings, e.index() + 1, e, e.firstLba(), sectors, extended)) {
        continue;
      }
      if (extended) {
        readLogical(disk, e.firstLba(), e.firstLba() + e.sectors(), parts, warnings);
      }
    }
    checkOverlaps(parts, warnings);
    return new PartitionTable("mbr", 512, String.format("0x%08x", Bytes.u32(head, 440)), parts, warnings);
  }

  /** Follows the chain of EBRs inside an extended partition: logical partitions 5, 6, ... */
  private static void readLogical(BlockDevice disk, long extStart, long extEnd, List<Partition> parts, List<String> warnings)
      throws IOException {
    Set<Long> seen = new HashSet<>();
    long ebr = extStart;
    int number = 5;
    while (true) {
      if (!seen.add(ebr)) {
        warnings.add("extended partition chain loops back to the EBR at sector " + ebr + "; stopped");
        return;
      }
      if (number - 5 >= MAX_LOGICAL) {
        warnings.add("more than " + MAX_LOGICAL + " logical partitions; stopped");
        return;
      }
      if (ebr < extStart || ebr >= extEnd || (ebr + 1) * 512 > disk.size()) {
        warnings.add("EBR at sector " + ebr + " lies outside the extended partition; chain stopped");
        return;
      }
      byte[] sector = disk.read(ebr * 512, 512);
      if (!MasterBootRecord.hasSignature(sector)) {
        warnings.add("EBR at sector " + ebr + " has no 55 AA signature; chain stopped");
        return;
      }
      List<MasterBootRecord.Entry> e = MasterBootRecord.entries(sector);
      if (!e.get(0).isEmpty()) {
        MasterBootRecord.Entry logical = e.get(0);
        long start = ebr + logical.firstLba();
        if (start + logical.sectors() > extEnd) {
          warnings.add("logical partition " + number + " runs past the end of its extended partition");
        }
        add(parts, warnings, number, logical, start, disk.size() / 512, false);
        number++;
      }
      if (e.get(1).isEmpty()) {
        return;
      }
      ebr = extStart + e.get(1).firstLba();
    }
  }

  private static boolean add(List<Partition> parts, List<String> warnings, int number, MasterBootRecord.Entry e, long start,
      long diskSectors, boolean extended) {
    if (start + e.sectors() > diskSectors) {
      warnings.add("partition " + number + " (sectors " + start + "-" + (start + e.sectors() - 1) + ") runs past the disk end (sector "
          + (diskSectors - 1) + "); ignored");
      return false;
    }
    parts.add(new Partition(number, String.format("%x", e.type()), MasterBootRecord.typeName(e.type()), start * 512,
        e.sectors() * 512, "", e.bootable(), extended, "", e.bootable() ? 0x80 : 0));
    return true;
  }

  private static void checkOverlaps(List<Partition> parts, List<String> warnings) {
    List<Partition> sorted = new ArrayList<>(parts.stream().filter(p -> !p.extended()).toList());
    sorted.sort(Comparator.comparingLong(Partition::offset));
    for (int i = 1; i < sorted.size(); i++) {
      Partition a = sorted.get(i - 1);
      Partition b = sorted.get(i);
      if (b.offset() < a.offset() + a.size()) {
        warnings.add("partitions " + a.number() + " and " + b.number() + " overlap at byte " + b.offset());
      }
    }
  }
}
