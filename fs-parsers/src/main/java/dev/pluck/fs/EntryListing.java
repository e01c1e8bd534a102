package dev.pluck.fs;

import java.io.IOException;
import java.util.function.Consumer;

/**
 * One directory listing's entries, built one at a time as a reader walks its directory format:
 * an entry whose own inode or record is damaged goes to the listing's {@link
 * FileSystem.EntryFailures} and the listing goes on; any other failure (or one the handler
 * rethrows) ends it, and {@link #finish} throws it.
 */
public final class EntryListing {
  /** Makes the entry at a path from what the directory said of it. */
  public interface Builder {
    Entry build(String path) throws IOException;
  }

  private final Consumer<Entry> each;
  private final FileSystem.EntryFailures failures;
  private IOException failure;

  public EntryListing(Consumer<Entry> each, FileSystem.EntryFailures failures) {
    this.each = each;
    this.failures = failures;
  }

  /** Builds the entry at {@code path} and hands it on, unless the listing has ended. */
  public void add(String path, Builder builder) {
    if (failure != null) {
      return;
    }
    Entry e;
    try {
      e = builder.build(path);
    } catch (FileSystemException damaged) {
      try {
        failures.failed(path, damaged);
      } catch (IOException rethrown) {
        failure = rethrown;
      }
      return;
    } catch (IOException other) {
      failure = other;
      return;
    }
    each.accept(e);
  }

  /** Throws what ended the listing, if anything did. */
  public void finish() throws IOException {
    if (failure != null) {
      throw failure;
    }
  }
}
