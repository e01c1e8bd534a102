package dev.pluck.fs.volume;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/** One GPT partition entry (UEFI spec, table "GPT Partition Entry"). */
record GptPartitionEntry(int number, String typeGuid, String uniqueGuid, long firstLba, long lastLba, long attributes, String name) {
  static final int TYPE_GUID = 0;     // 16 bytes
  static final int UNIQUE_GUID = 16;  // 16 bytes
  static final int FIRST_LBA = 32;    // u64
  static final int LAST_LBA = 40;     // u64, inclusive
  static final int ATTRIBUTES = 48;   // u64
  static final int NAME = 56;         // 72 bytes, UTF-16LE
  static final String UNUSED = "00000000-0000-0000-0000-000000000000";

  static GptPartitionEntry parse(byte[] array, int at, int number) {
    int end = at + NAME;
    while (end + 1 < at + NAME + 72 && (array[end] != 0 || array[end + 1] != 0)) {
      end += 2;
    }
    return new GptPartitionEntry(number, Bytes.guid(array, at + TYPE_GUID), Bytes.guid(array, at + UNIQUE_GUID),
        Bytes.u64(array, at + FIRST_LBA), Bytes.u64(array, at + LAST_LBA), Bytes.u64(array, at + ATTRIBUTES),
        new String(array, at + NAME, end - (at + NAME), StandardCharsets.UTF_16LE));
  }

  boolean isUnused() {
    return typeGuid.equals(UNUSED);
  }

  /** Well-known partition type GUIDs, named as sfdisk names them. */
  static final Map<String, String> TYPE_NAMES = Map.ofEntries(
      Map.entry("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EFI System"),
      Map.entry("21686148-6449-6E6F-744E-656564454649", "BIOS boot"),
      Map.entry("0FC63DAF-8483-4772-8E79-3D69D8477DE4", "Linux filesystem"),
      Map.entry("0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "Linux swap"),
      Map.entry("E6D6D379-F507-44C2-A23C-238F2A3DF928", "Linux LVM"),
      Map.entry("A19D880F-05FC-4D3B-A006-743F0F84911E", "Linux RAID"),
      Map.entry("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "Linux root (x86-64)"),
      Map.entry("933AC7E1-2EB4-4F13-B844-0E14E2AEF915", "Linux home"),
      Map.entry("BC13C2FF-59E6-4262-A352-B275FD6F7172", "Linux extended boot"),
      Map.entry("CA7D7CCB-63ED-4C53-861C-1742536059CC", "Linux LUKS"),
      Map.entry("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "Microsoft basic data"),
      Map.entry("E3C9E316-0B5C-4DB8-817D-F92DF00215AE", "Microsoft reserved"),
      Map.entry("DE94BBA4-06D1-4D40-A16A-BFD50179D6AC", "Windows recovery environment"),
      Map.entry("5808C8AA-7E8F-42E0-85D2-E1E90434CFB3", "Microsoft LDM metadata"),
      Map.entry("AF9B60A0-1431-4F62-BC68-3311714A69AD", "Microsoft LDM data"),
      Map.entry("024DEE41-33E7-11D3-9D69-0008C781F39F", "MBR partition scheme"),
      Map.entry("516E7CB4-6ECF-11D6-8FF8-00022D09712B", "FreeBSD data"),
      Map.entry("48465300-0000-11AA-AA11-00306543ECAC", "Apple HFS/HFS+"));

  String typeName() {
    return TYPE_NAMES.getOrDefault(typeGuid, typeGuid);
  }
}
