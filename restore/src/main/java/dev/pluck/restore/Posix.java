package dev.pluck.restore;

import jnr.ffi.LibraryLoader;

/**
 * The few libc calls the JDK has no counterpart for, bound with jnr-ffi: extended attributes in
 * every namespace (the JDK writes only "user."), and special files.
 */
final class Posix {
  /** libc, as jnr-ffi binds it. */
  public interface LibC {
    int lsetxattr(String path, String name, byte[] value, long size, int flags);

    int mknod(String path, int mode, long dev);

    int mkfifo(String path, int mode);

    int lchown(String path, int uid, int gid);

    int chmod(String path, int mode);

    /** {@code times}: {atime seconds, atime nanoseconds, mtime seconds, mtime nanoseconds}. */
    int utimensat(int dirfd, String path, long[] times, int flags);
  }

  static final int AT_FDCWD = -100;
  static final int AT_SYMLINK_NOFOLLOW = 0x100;

  static final int S_IFIFO = 0010000;
  static final int S_IFCHR = 0020000;
  static final int S_IFBLK = 0060000;
  static final int S_IFSOCK = 0140000;

  private static volatile LibC libc;

  private Posix() {}

  static LibC libc() {
    LibC l = libc;
    if (l == null) {
      l = LibraryLoader.create(LibC.class).load("c");
      libc = l;
    }
    return l;
  }

  /** Linux's dev_t from a major and minor number (glibc's gnu_dev_makedev). */
  static long makedev(long major, long minor) {
    return ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8) | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
  }

  static final int EOPNOTSUPP = 95;

  /** The errno of the last failed call. */
  static int errno() {
    return jnr.ffi.LastError.getLastError(jnr.ffi.Runtime.getSystemRuntime());
  }

  /** The errno of the last failed call, as text. */
  static String error() {
    int errno = jnr.ffi.LastError.getLastError(jnr.ffi.Runtime.getSystemRuntime());
    return "errno " + errno + (errno == 1 ? " (EPERM)" : errno == 13 ? " (EACCES)" : errno == 95 ? " (EOPNOTSUPP)"
        : errno == 17 ? " (EEXIST)" : errno == 22 ? " (EINVAL)" : "");
  }
}
