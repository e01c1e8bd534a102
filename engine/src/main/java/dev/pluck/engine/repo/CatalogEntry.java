package dev.pluck.engine.repo;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * One line of a volume's file catalog: an entry's metadata as the filesystem API gives it, and
 * its content as chunk ids at fixed offsets ({@code null}: a chunk of zeros, a hole).
 *
 * @param xattrs name to value in base64
 * @param streams named streams (NTFS): name to their size and chunks
 * @param extents where the content was read from: {@code [fileOffset, volumeOffset, length]} per
 *     stretch stored byte for byte on the volume; an incremental backup takes the parent's bytes
 *     where a file still maps to the same volume bytes and those bytes are not dirty
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CatalogEntry(String path, String type, long size, Integer mode, Long uid, Long gid, long nlink, long inode,
    long atimeNs, long mtimeNs, long ctimeNs, Long crtimeNs, String target, List<Integer> rdev, Map<String, String> xattrs,
    long flags, List<String> attributes, List<String> chunks, Map<String, Content> streams, List<long[]> extents) {

  /** A named stream's content. */
  public record Content(long size, List<String> chunks) {}

  /** A time as the catalog stores it (nanoseconds since the epoch, before it negative) as an instant. */
  public static java.time.Instant instant(long ns) {
    return java.time.Instant.ofEpochSecond(Math.floorDiv(ns, 1_000_000_000L), Math.floorMod(ns, 1_000_000_000L));
  }

  /** This entry with its content recorded as {@code newChunks}, {@code newStreams} and {@code newExtents}. */
  public CatalogEntry withContent(List<String> newChunks, Map<String, Content> newStreams, List<long[]> newExtents) {
    return new CatalogEntry(path, type, size, mode, uid, gid, nlink, inode, atimeNs, mtimeNs, ctimeNs, crtimeNs, target, rdev, xattrs, flags,
        attributes, newChunks, newStreams, newExtents);
  }

  /** This entry with {@code newAttributes}. */
  public CatalogEntry withAttributes(List<String> newAttributes) {
    return new CatalogEntry(path, type, size, mode, uid, gid, nlink, inode, atimeNs, mtimeNs, ctimeNs, crtimeNs, target, rdev, xattrs, flags,
        newAttributes, chunks, streams, extents);
  }
}
