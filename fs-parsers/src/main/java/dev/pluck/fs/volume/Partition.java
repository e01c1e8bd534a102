package dev.pluck.fs.volume;

/**
 * A partition as a table describes it.
 *
 * @param number 1-4 primary, 5+ logical (MBR, as Linux numbers them); 1+ for GPT entries
 * @param type the GPT type GUID, or the MBR type byte as two hex digits
 * @param typeName a readable name of the type
 * @param offset bytes from the start of the disk
 * @param size bytes
 * @param name the GPT partition name ("" for MBR)
 * @param attributes the GPT attribute bits (bit 0 required, 1 no block IO, 2 legacy BIOS bootable,
 *     48-63 type-specific); for MBR, 0x80 when the entry is marked bootable
 * @param uuid the GPT partition's unique GUID ("" for MBR)
 */
public record Partition(int number, String type, String typeName, long offset, long size, String name, boolean bootable,
    boolean extended, String uuid, long attributes) {}
