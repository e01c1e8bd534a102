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
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CatalogEntry(String path, String type, long size, Integer mode, Long uid, Long gid, long nlink, long inode,
    long atimeNs, long mtimeNs, long ctimeNs, Long crtimeNs, String target, List<Integer> rdev, Map<String, String> xattrs,
    long flags, List<String> attributes, List<String> chunks, Map<String, Content> streams) {

  /** A named stream's content. */
  public record Content(long size, List<String> chunks) {}
}
