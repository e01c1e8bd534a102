package dev.pluck.fs;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Walks a directory tree: each directory's entries in on-disk order, then its subdirectories one
 * after another, depth first, without recursion (a hostile tree may be 100,000 levels deep).
 *
 * <p>A directory has exactly one parent on every filesystem pluck reads, so meeting a directory a
 * second time is corruption (a cycle, or a directory linked from two places) and stops the walk
 * with a {@link FileSystemException} naming both paths.
 */
public final class TreeWalk {
  /** Receives every entry below the start; for a directory, returns whether to walk into it. */
  public interface Visitor {
    boolean visit(Entry entry) throws IOException;
  }

  private TreeWalk() {}

  public static void walk(FileSystem fs, Entry start, Visitor visitor) throws IOException {
    Map<Long, String> directories = new HashMap<>();
    directories.put(start.inode(), start.path());
    Deque<Entry> pending = new ArrayDeque<>();
    pending.push(start);
    IOException[] failure = {null};
    while (!pending.isEmpty()) {
      Entry dir = pending.pop();
      List<Entry> subdirs = new ArrayList<>();
      fs.list(dir, e -> {
        if (failure[0] != null) {
          return;
        }
        try {
          if (e.isDirectory()) {
            String earlier = directories.putIfAbsent(e.inode(), e.path());
            if (earlier != null) {
              throw new FileSystemException("directory " + e.path() + " (inode " + e.inode() + ") is also " + earlier
                  + ": a directory cycle or cross-link");
            }
          }
          if (visitor.visit(e) && e.isDirectory()) {
            subdirs.add(e);
          }
        } catch (IOException x) {
          failure[0] = x;
        }
      });
      if (failure[0] != null) {
        throw failure[0];
      }
      for (int i = subdirs.size() - 1; i >= 0; i--) {
        pending.push(subdirs.get(i));
      }
    }
  }
}
