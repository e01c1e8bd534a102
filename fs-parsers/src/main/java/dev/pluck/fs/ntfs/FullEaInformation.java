package dev.pluck.fs.ntfs;

import dev.pluck.fs.LittleEndian;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The value of a {@code $EA} attribute: extended attributes (OS/2 style, used by WSL and by
 * ntfs-3g's {@code system.ntfs_ea}) as a chain of FILE_FULL_EA_INFORMATION entries, each aligned
 * to 4 bytes. pluck keeps the value whole (restore hands it back to ntfs-3g); this checks that
 * it is one, and names its entries.
 */
final class FullEaInformation {
  static final int NEXT_ENTRY_OFFSET = 0x00;  // u32: this entry's length with padding (on disk, the last's too); 0 also ends
  static final int FLAGS = 0x04;               // u8: 0x80 = the file needs EA knowledge
  static final int NAME_LENGTH = 0x05;         // u8, without its terminating NUL
  static final int VALUE_LENGTH = 0x06;        // u16
  static final int NAME = 0x08;                // name, NUL, then the value
  /** NTFS keeps at most 64 KiB of extended attributes a file. */
  static final int MAX_SIZE = 65536;

  /** One extended attribute. */
  record Entry(String name, int flags, int valueOffset, int valueLength) {}

  private FullEaInformation() {}

  /** The entries of {@code value}; a chain that leaves the value or does not advance is corruption. */
  static List<Entry> parse(byte[] value, String where) throws NtfsCorruptException {
    if (value.length > MAX_SIZE) {
      throw new NtfsCorruptException("$EA", where, value.length + " bytes, more than NTFS's " + MAX_SIZE);
    }
    List<Entry> out = new ArrayList<>();
    int at = 0;
    while (at < value.length) {
      if (at + NAME > value.length) {
        throw new NtfsCorruptException("$EA", where, "entry at byte " + at + " runs past the value's " + value.length + " bytes");
      }
      long next = LittleEndian.u32(value, at + NEXT_ENTRY_OFFSET);
      int nameLength = LittleEndian.u8(value, at + NAME_LENGTH);
      int valueLength = LittleEndian.u16(value, at + VALUE_LENGTH);
      int end = at + NAME + nameLength + 1 + valueLength;
      if (end > value.length) {
        throw new NtfsCorruptException("$EA", where, "entry at byte " + at + " (name " + nameLength + ", value " + valueLength
            + " bytes) runs past the value's " + value.length + " bytes");
      }
      if (value[at + NAME + nameLength] != 0) {
        throw new NtfsCorruptException("$EA", where, "name of the entry at byte " + at + " is not NUL-terminated");
      }
      out.add(new Entry(new String(value, at + NAME, nameLength, StandardCharsets.ISO_8859_1), value[at + FLAGS] & 0xff,
          at + NAME + nameLength + 1, valueLength));
      if (next == 0) {
        return out;
      }
      if (next < end - at || at + next > value.length) {
        throw new NtfsCorruptException("$EA", where, "entry at byte " + at + " points " + next + " bytes on, outside the chain");
      }
      at += (int) next;
    }
    return out;
  }
}
