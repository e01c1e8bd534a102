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
 */
public record Partition(int number, String type, String typeName, long offset, long size, String name, boolean bootable,
    boolean extended, String uuid) {}
