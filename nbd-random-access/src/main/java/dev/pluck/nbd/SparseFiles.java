package dev.pluck.nbd;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import jnr.ffi.LibraryLoader;

/**
 * Where a sparse file keeps data, from the kernel's {@code lseek(SEEK_DATA / SEEK_HOLE)}: the
 * allocation map of a raw image file without reading it.
 */
final class SparseFiles {
  /** The few libc calls needed; bound with jnr-ffi. */
  public interface LibC {
    int open(String path, int flags);

    long lseek(int fd, long offset, int whence);

    int close(int fd);

    int fallocate(int fd, int mode, long offset, long len);
  }

  private static final int O_RDONLY = 0;
  private static final int O_WRONLY = 1;
  /** fallocate(2): deallocate the range; with KEEP_SIZE, as the call requires. */
  private static final int FALLOC_FL_KEEP_SIZE = 1;
  private static final int FALLOC_FL_PUNCH_HOLE = 2;
  private static final int SEEK_DATA = 3;
  private static final int SEEK_HOLE = 4;
  private static final LibC LIBC = load();

  private SparseFiles() {}

  private static LibC load() {
    try {
      return LibraryLoader.create(LibC.class).load("c");
    } catch (Throwable t) {
      return null;  // no libc binding: every byte is reported as data
    }
  }

  /**
   * The extents of {@code [offset, offset + length)}: data (flags 0) or holes ({@link
   * Extent#HOLE} | {@link Extent#ZERO}). Without SEEK_DATA support the whole range is data.
   */
  static List<Extent> allocation(Path file, long fileSize, long offset, long length) throws IOException {
    List<Extent> out = new ArrayList<>();
    long end = offset + length;
    if (LIBC == null || length == 0) {
      if (length > 0) {
        out.add(new Extent(offset, length, 0));
      }
      return out;
    }
    int fd = LIBC.open(file.toString(), O_RDONLY);
    if (fd < 0) {
      throw new IOException("cannot open " + file + " to map its holes");
    }
    try {
      long pos = offset;
      while (pos < end) {
        long data = LIBC.lseek(fd, pos, SEEK_DATA);
        if (data < 0 || data >= end) {  // ENXIO: only a hole up to the end of the file
          out.add(new Extent(pos, end - pos, Extent.HOLE | Extent.ZERO));
          break;
        }
        if (data > pos) {
          out.add(new Extent(pos, data - pos, Extent.HOLE | Extent.ZERO));
        }
        long hole = LIBC.lseek(fd, data, SEEK_HOLE);
        long dataEnd = hole < 0 ? fileSize : Math.min(hole, end);
        if (dataEnd <= data) {  // cannot make progress: report the rest as data
          out.add(new Extent(data, end - data, 0));
          break;
        }
        out.add(new Extent(data, dataEnd - data, 0));
        pos = dataEnd;
      }
    } finally {
      LIBC.close(fd);
    }
    return out;
  }

  /**
   * Deallocates {@code [offset, offset + length)} of a regular file (it then reads as zeros);
   * false when the file or its filesystem cannot punch holes, so the caller writes zeros instead.
   */
  static boolean punchHole(Path file, long offset, long length) {
    if (LIBC == null || !java.nio.file.Files.isRegularFile(file)) {
      return false;
    }
    int fd = LIBC.open(file.toString(), O_WRONLY);
    if (fd < 0) {
      return false;
    }
    try {
      return LIBC.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) == 0;
    } finally {
      LIBC.close(fd);
    }
  }
}
