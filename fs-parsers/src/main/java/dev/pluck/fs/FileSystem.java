package dev.pluck.fs;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.SeekableByteChannel;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A read-only filesystem on a volume: the one way the engine and restore see files, whatever the
 * format (ext4, NTFS, ...). Everything read from disk is checked; corruption is an {@link
 * IOException} naming the structure and where. Implementations are safe for use by several
 * threads at once (a listing walks on one thread while another formats).
 */
public interface FileSystem extends Closeable {
  /** The root directory. */
  Entry root() throws IOException;

  /** The entry at an absolute path ("/etc/hosts"), following no symlinks. */
  Optional<Entry> lookup(String path) throws IOException;

  /** Streams a directory's entries (without "." and ".."), in on-disk order. */
  void list(Entry directory, Consumer<Entry> each) throws IOException;

  /** Hears of a directory entry whose file cannot be read (its inode or record is damaged); may rethrow. */
  interface EntryFailures {
    void failed(String path, FileSystemException e) throws IOException;
  }

  /**
   * As {@link #list(Entry, Consumer)}, but an entry whose file cannot be read goes to {@code
   * failures} and the listing goes on with its siblings; damage to the directory itself still
   * throws. By default a reader lists all or nothing.
   */
  default void list(Entry directory, Consumer<Entry> each, EntryFailures failures) throws IOException {
    list(directory, each);
  }

  /** A regular file's bytes (holes and unwritten extents read as zeros). */
  SeekableByteChannel open(Entry file) throws IOException;

  /**
   * Where a regular file's bytes are, in file order, covering [0, size): data, unwritten and
   * compressed stretches on the volume, holes, inline data.
   */
  List<FileExtent> extents(Entry file) throws IOException;

  /** The volume bytes the filesystem uses (files, directories, metadata), in order, merged. */
  List<VolumeRange> allocatedRanges() throws IOException;

  /**
   * The volume bytes that are filesystem metadata as far as the format fixes them (superblocks,
   * descriptor tables, bitmaps, inode tables, the journal), in order, merged. Directories are not
   * included: finding them needs a walk of the whole tree.
   */
  List<VolumeRange> metadataRanges() throws IOException;

  /**
   * Volume byte ranges whose content as this reader presents it differs from the volume's bytes
   * (blocks a journal replay replaced), in order, merged: a change-tracking caller counts them as
   * changed. Empty for most volumes.
   */
  default List<VolumeRange> replayedRanges() {
    return List.of();
  }

  /** A named data stream of a file (an NTFS alternate data stream). */
  record Stream(String name, long size) {}

  /** A file's or directory's named streams, besides its main content; none on most filesystems. */
  default List<Stream> streams(Entry entry) throws IOException {
    return List.of();
  }

  /** A named stream's bytes ({@code stream} empty: the main content, as {@link #open(Entry)}). */
  default SeekableByteChannel open(Entry entry, String stream) throws IOException {
    if (stream.isEmpty()) {
      return open(entry);
    }
    throw new FileSystemException(entry.path() + " has no stream named " + stream);
  }

  /** What the volume says of itself. */
  VolumeInfo info();

  /** Label, UUID, block size and space of a filesystem. */
  record VolumeInfo(String type, String label, String uuid, int blockSize, long totalBytes, long freeBytes) {}
}
