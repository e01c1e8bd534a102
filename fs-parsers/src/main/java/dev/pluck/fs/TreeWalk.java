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
 * second time is corruption (a cycle, or a directory linked from two places): a {@link
 * FileSystemException} naming both paths, which stops the walk unless a {@link Failures} handler
 * takes it (the directory is then not entered a second time).
 */
public final class TreeWalk {
  /** Receives every entry below the start; for a directory, returns whether to walk into it. */
  public interface Visitor {
    boolean visit(Entry entry) throws IOException;
  }

  /** Hears of a directory that could not be listed (whole or in part), or that closes a cycle; may rethrow. */
  public interface Failures {
    void failed(String path, FileSystemException e) throws IOException;

    /** An entry of a directory whose own file cannot be read; its siblings are still walked. */
    default void unreadable(String path, FileSystemException e) throws IOException {
      failed(path, e);
    }
  }

  private TreeWalk() {}

  /** Walks the tree; the first unreadable directory ends the walk with its exception. */
  public static void walk(FileSystem fs, Entry start, Visitor visitor) throws IOException {
    walk(fs, start, visitor, (path, e) -> {
      throw e;
    });
  }

  /**
   * Walks the tree; a directory that cannot be listed, or is met twice, goes to {@code failures}
   * and the walk goes on with the rest (what the directory listed before it failed was visited).
   */
  public static void walk(FileSystem fs, Entry start, Visitor visitor, Failures failures) throws IOException {
    Map<Long, String> directories = new HashMap<>();
    directories.put(start.inode(), start.path());
    Deque<Entry> pending = new ArrayDeque<>();
    pending.push(start);
    IOException[] failure = {null};
    while (!pending.isEmpty()) {
      Entry dir = pending.pop();
      List<Entry> subdirs = new ArrayList<>();
      try {
        fs.list(dir, e -> {
          if (failure[0] != null) {
            return;
          }
          try {
            if (e.isDirectory()) {
              String earlier = directories.putIfAbsent(e.inode(), e.path());
              if (earlier != null) {
                failures.failed(e.path(), new FileSystemException("directory " + e.path() + " (inode " + e.inode() + ") is also " + earlier
                    + ": a directory cycle or cross-link"));
                return;
              }
            }
            if (visitor.visit(e) && e.isDirectory()) {
              subdirs.add(e);
            }
          } catch (IOException x) {
            failure[0] = x;
          }
        }, failures::unreadable);
      } catch (FileSystemException unreadable) {
        if (failure[0] == null) {
          failures.failed(dir.path(), unreadable);
        }
      }
      if (failure[0] != null) {
        throw failure[0];
      }
      for (int i = subdirs.size() - 1; i >= 0; i--) {
        pending.push(subdirs.get(i));
      }
    }
  }
}
