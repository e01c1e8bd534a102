package dev.pluck.fs;

/**
 * Where a stretch of a file's bytes lives on the volume.
 *
 * @param fileOffset first byte of the file it covers
 * @param volumeOffset first byte on the volume, or -1 where nothing is stored (holes, inline data)
 * @param length bytes of the file it covers (the last extent ends at the file's size)
 */
public record FileExtent(long fileOffset, long volumeOffset, long length, Kind kind) {
  public enum Kind {
    /** Bytes stored as they are at {@code volumeOffset}. */
    DATA,
    /** Allocated but never written: reads as zeros. */
    UNWRITTEN,
    /** Nothing allocated: reads as zeros. */
    HOLE,
    /** Stored inside the filesystem's metadata (an inode, an MFT record). */
    INLINE,
    /** Stored compressed from {@code volumeOffset}: not a byte-for-byte copy. */
    COMPRESSED
  }

  public long end() {
    return fileOffset + length;
  }
}
