package dev.pluck.restore;

import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.ChunkId;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Restores files and folders of a snapshot's volume into a directory, with what the filesystem
 * recorded: contents (holes stay holes), mode bits with setuid, setgid and sticky, numeric
 * owners, nanosecond times, symlinks (never followed), hard links, device nodes and fifos (as
 * root), and extended attributes of every namespace (POSIX ACLs, SELinux labels).
 *
 * <p>The catalog comes from a guest and is not trusted: a name that is empty, "." or "..", or
 * holds a NUL, is refused; nothing is created through a symlink, whether this restore made it or
 * it was there before; existing files are kept unless {@link Overwrite} says otherwise. What
 * cannot be restored is listed, and the rest is restored.
 */
public final class DirectoryRestore {
  /** What to do with a path that exists in the target already. */
  public enum Overwrite { NEVER, IF_NEWER, ALWAYS }

  /** Whose files: the snapshot's numeric owners, or the user restoring. */
  public enum Owner { KEEP, CURRENT }

  /** Where NTFS named streams go: user. xattrs (as ntfs-3g shows them), "file:stream" files beside, or nowhere. */
  public enum NtfsStreams { XATTR, FILES, SKIP }

  /** Hears how far a restore got: entries and content bytes done so far. */
  public interface Progress {
    void done(long entries, long bytes);
  }

  public record Options(Path target, Overwrite overwrite, Owner owner, NtfsStreams streams, Progress progress) {
    public Options(Path target, Overwrite overwrite, Owner owner) {
      this(target, overwrite, owner, NtfsStreams.XATTR);
    }

    public Options(Path target, Overwrite overwrite, Owner owner, NtfsStreams streams) {
      this(target, overwrite, owner, streams, (entries, bytes) -> { });
    }
  }

  /** ntfs-3g's extended attributes: the security descriptor, the DOS attributes, the creation time. */
  static final String NTFS_ACL = "system.ntfs_acl";
  static final String NTFS_ATTRIB = "system.ntfs_attrib";
  static final String NTFS_CRTIME = "system.ntfs_crtime";
  /** DOS attributes ntfs-3g lets one set: read-only, hidden, system, archive, temporary, offline, not indexed. */
  static final int SETTABLE_ATTRIBUTES = 0x1 | 0x2 | 0x4 | 0x20 | 0x100 | 0x1000 | 0x2000;
  /** Linux's largest extended attribute value (XATTR_SIZE_MAX). */
  static final int XATTR_SIZE_MAX = 65536;
  /** 100 ns intervals from 1601-01-01 to 1970-01-01: NTFS times. */
  private static final long NTFS_EPOCH_OFFSET = 116_444_736_000_000_000L;

  /** A path that was not restored, or not with everything it had. */
  public record Failure(String path, String reason) {}

  public record Result(long files, long directories, long symlinks, long hardlinks, long special, long bytes, long kept, long streams,
      List<Failure> failed, List<String> notes) {}

  private final Repository repo;
  private final Options options;
  private final Path target;
  private final int chunkSize;
  private final List<Failure> failed = new ArrayList<>();
  private final List<String> notes = new ArrayList<>();
  private final Map<Long, Path> linked = new HashMap<>();  // inode -> first path restored, for hard links
  private final List<Object[]> directories = new ArrayList<>();  // {Path, CatalogEntry}: their times last
  private final Set<String> refused = new HashSet<>();  // paths not restored: nothing under them is
  private long files;
  private long dirs;
  private long symlinks;
  private long hardlinks;
  private long special;
  private long bytes;
  private long kept;
  private long streamsLeft;
  private long streamsRestored;
  private long entries;
  private long ntfsMetadataLeft;  // files whose system.ntfs_* the target could not take
  private final boolean ntfs;

  private DirectoryRestore(Repository repo, Options options, int chunkSize, boolean ntfs) throws IOException {
    this.repo = repo;
    this.ntfs = ntfs;
    this.options = options;
    Files.createDirectories(options.target());
    this.target = options.target().toRealPath();
    this.chunkSize = chunkSize;
  }

  /**
   * Restores from {@code volume} (a files volume of a snapshot whose chunk size is {@code
   * chunkSize}) the entries at {@code paths} (volume paths, with everything under them; empty: all)
   * under {@code under} (where the volume's root lands below the target: "" for volume paths, the
   * mountpoint for guest paths).
   */
  public static Result restore(Repository repo, Snapshot snapshot, Snapshot.Volume volume, List<String> paths, String under,
      Options options) throws IOException {
    if (volume.catalog() == null) {
      throw new IOException("volume " + volume.id() + " of the snapshot is an image, not files: restore it as a volume");
    }
    DirectoryRestore r = new DirectoryRestore(repo, options, snapshot.chunkSize(), "ntfs".equals(volume.fs()));
    List<String> wanted = paths.stream().map(DirectoryRestore::normalize).toList();
    Set<String> found = new HashSet<>();
    Catalog.read(repo, volume.catalog(), e -> {
      String path = e.path();
      String match = selected(wanted, path);
      if (match == null) {
        return;
      }
      found.add(match);
      // The volume's root lands at its mountpoint (under), or is the target itself.
      r.restore(e, under.isEmpty() || under.equals("/") ? path : path.equals("/") ? under : under + path);
      options.progress().done(++r.entries, r.bytes);
    });
    for (String w : wanted) {
      if (!found.contains(w)) {
        r.failed.add(new Failure(under + w, "not in the snapshot"));
      }
    }
    r.finishDirectories();
    if (r.streamsLeft > 0) {
      r.notes.add(r.streamsLeft + " named NTFS stream(s) not restored (--ntfs-streams skip)");
    }
    if (r.ntfsMetadataLeft > 0) {
      r.notes.add(r.ntfsMetadataLeft + " path(s) without their NTFS security descriptor, DOS attributes and creation time: the target "
          + "is not an ntfs-3g mount, which alone takes system.ntfs_* attributes");
    }
    return new Result(r.files, r.dirs, r.symlinks, r.hardlinks, r.special, r.bytes, r.kept, r.streamsRestored, List.copyOf(r.failed),
        List.copyOf(r.notes));
  }

  static String normalize(String p) {
    String n = p.startsWith("/") ? p : "/" + p;
    while (n.length() > 1 && n.endsWith("/")) {
      n = n.substring(0, n.length() - 1);
    }
    return n;
  }

  /** The wanted path {@code path} is, or lies under; null when none ("" wants everything). */
  static String selected(List<String> wanted, String path) {
    if (wanted.isEmpty()) {
      return "";
    }
    for (String w : wanted) {
      if (w.equals("/") || path.equals(w) || path.startsWith(w + "/")) {
        return w;
      }
    }
    return null;
  }

  private void restore(CatalogEntry e, String path) {
    if (path.equals("/") || path.isEmpty()) {
      return;  // the volume's root is the target, which keeps its own owner, mode and times
    }
    for (String r : refused) {
      if (path.startsWith(r + "/")) {
        return;
      }
    }
    Path dest;
    try {
      dest = resolve(path);
    } catch (IOException x) {
      refuse(path, x.getMessage());
      return;
    }
    try {
      Path parent = dest.getParent();
      if (!Files.isDirectory(parent, LinkOption.NOFOLLOW_LINKS)) {
        Files.createDirectories(parent);
      }
      switch (e.type()) {
        case "dir" -> directory(e, dest);
        case "file" -> file(e, dest, path);
        case "symlink" -> symlink(e, dest);
        case "fifo", "chardev", "blockdev", "socket" -> special(e, dest);
        default -> failed.add(new Failure(path, "unknown type " + e.type()));
      }
    } catch (IOException | RuntimeException x) {
      failed.add(new Failure(path, x.getMessage() == null ? x.toString() : x.getMessage()));
      if (e.type().equals("dir")) {
        refused.add(path);
      }
    }
  }

  private void refuse(String path, String why) {
    failed.add(new Failure(path.replace("\0", "\\0"), why));
    refused.add(path);
  }

  /**
   * The target path of a catalog path: every name checked, and every directory on the way an
   * existing directory (not a symlink) below the target, or one that does not exist yet.
   */
  private Path resolve(String path) throws IOException {
    Path at = target;
    String[] names = path.substring(1).split("/", -1);
    for (int i = 0; i < names.length; i++) {
      String name = names[i];
      if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('\0') >= 0) {
        throw new IOException("refused: the name \"" + name.replace("\0", "\\0") + "\" could leave the target");
      }
      at = at.resolve(name);
      if (i < names.length - 1 && Files.isSymbolicLink(at)) {
        throw new IOException("refused: " + target.relativize(at) + " is a symlink, which the restore does not follow");
      }
    }
    if (!at.normalize().startsWith(target)) {
      throw new IOException("refused: outside the target");
    }
    return at;
  }

  /** Whether to write {@code dest}: it does not exist, or the overwrite policy lets it go (then it is removed). */
  private boolean replace(Path dest, CatalogEntry e, boolean isDirectory) throws IOException {
    if (!Files.exists(dest, LinkOption.NOFOLLOW_LINKS)) {
      return true;
    }
    if (isDirectory && Files.isDirectory(dest, LinkOption.NOFOLLOW_LINKS)) {
      return true;  // merge into it
    }
    boolean go = switch (options.overwrite()) {
      case NEVER -> false;
      case ALWAYS -> true;
      case IF_NEWER -> Files.getLastModifiedTime(dest, LinkOption.NOFOLLOW_LINKS).toInstant().isBefore(CatalogEntry.instant(e.mtimeNs()));
    };
    if (!go) {
      kept++;
      return false;
    }
    if (Files.isDirectory(dest, LinkOption.NOFOLLOW_LINKS)) {
      throw new IOException("a directory is in the way of this " + e.type() + " (not removed)");
    }
    Files.delete(dest);
    return true;
  }

  private void directory(CatalogEntry e, Path dest) throws IOException {
    if (!replace(dest, e, true)) {
      return;
    }
    if (!Files.isDirectory(dest, LinkOption.NOFOLLOW_LINKS)) {
      Files.createDirectory(dest);
    }
    dirs++;
    directories.add(new Object[] {dest, e});
  }

  private void file(CatalogEntry e, Path dest, String path) throws IOException {
    if (e.chunks() == null) {
      boolean encrypted = e.attributes() != null && e.attributes().contains("encrypted");
      failed.add(new Failure(path, encrypted ? "encrypted in the guest: the snapshot holds no content" : "the snapshot holds no content"));
      return;
    }
    if (e.attributes() != null && e.attributes().contains("swap")) {
      notes.add(path + ": a swap file, not backed up: recreate it with mkswap");
      return;
    }
    if (!replace(dest, e, false)) {
      return;
    }
    if (e.nlink() > 1) {
      Path first = linked.get(e.inode());
      if (first != null) {
        Files.createLink(dest, first);
        hardlinks++;
        return;
      }
    }
    long written = 0;
    List<java.util.concurrent.Future<Long>> window = new ArrayList<>();
    try (FileChannel ch = FileChannel.open(dest, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
      boolean parallel = e.chunks().size() > 2;  // a large file: chunks fetched and decompressed on several threads
      for (int i = 0; i < e.chunks().size(); i++) {
        String id = e.chunks().get(i);
        if (id == null) {
          continue;  // a hole stays a hole
        }
        if (!parallel) {
          written += writeChunk(ch, e, i, id);
          continue;
        }
        if (window.size() >= 2 * CHUNK_THREADS) {
          written += await(window.remove(0));
        }
        int index = i;
        window.add(CHUNK_POOL.submit(() -> writeChunk(ch, e, index, id)));
      }
      for (java.util.concurrent.Future<Long> f : window) {
        written += await(f);
      }
    } catch (IOException | RuntimeException x) {
      window.forEach(f -> f.cancel(true));
      throw x;
    }
    if (Files.size(dest) < e.size()) {
      try (RandomAccessFile f = new RandomAccessFile(dest.toFile(), "rw")) {
        f.setLength(e.size());  // a trailing hole
      }
    }
    bytes += written;
    files++;
    if (e.nlink() > 1) {
      linked.put(e.inode(), dest);
    }
    metadata(e, dest, false);
  }

  /** Threads fetching a large file's chunks; shared by all restores of the process. */
  private static final int CHUNK_THREADS = Math.max(2, Math.min(8, Runtime.getRuntime().availableProcessors()));
  private static final java.util.concurrent.ExecutorService CHUNK_POOL = java.util.concurrent.Executors.newFixedThreadPool(CHUNK_THREADS,
      r -> {
        Thread t = new Thread(r, "pluck-restore-chunks");
        t.setDaemon(true);
        return t;
      });

  /** Chunk {@code i} of {@code e}, fetched, checked and written at its offset; its length. */
  private long writeChunk(FileChannel ch, CatalogEntry e, int i, String id) throws IOException {
    long offset = (long) i * chunkSize;
    byte[] data = repo.get(ChunkId.parse(id));
    long expected = Math.min(chunkSize, e.size() - offset);
    if (data.length != expected) {
      throw new IOException("chunk " + i + " holds " + data.length + " bytes, not " + expected);
    }
    ByteBuffer b = ByteBuffer.wrap(data);
    while (b.hasRemaining()) {
      ch.write(b, offset + b.position());
    }
    return data.length;
  }

  private static long await(java.util.concurrent.Future<Long> f) throws IOException {
    try {
      return f.get();
    } catch (InterruptedException x) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while restoring");
    } catch (java.util.concurrent.ExecutionException x) {
      if (x.getCause() instanceof IOException io) {
        throw io;
      }
      throw new IOException(x.getCause());
    }
  }

  private void symlink(CatalogEntry e, Path dest) throws IOException {
    if (!replace(dest, e, false)) {
      return;
    }
    Files.createSymbolicLink(dest, Path.of(e.target()));
    symlinks++;
    metadata(e, dest, true);
  }

  private void special(CatalogEntry e, Path dest) throws IOException {
    if (!replace(dest, e, false)) {
      return;
    }
    int perm = e.mode() == null ? 0644 : e.mode() & 07777;
    int rc;
    if (e.type().equals("fifo")) {
      rc = Posix.libc().mkfifo(dest.toString(), perm);
    } else {
      int kind = switch (e.type()) {
        case "chardev" -> Posix.S_IFCHR;
        case "blockdev" -> Posix.S_IFBLK;
        default -> Posix.S_IFSOCK;
      };
      long dev = e.rdev() == null || e.rdev().size() < 2 ? 0 : Posix.makedev(e.rdev().get(0), e.rdev().get(1));
      rc = Posix.libc().mknod(dest.toString(), kind | perm, dev);
    }
    if (rc != 0) {
      throw new IOException("cannot create the " + e.type() + ": " + Posix.error() + (e.type().endsWith("dev") ? " (needs root)" : ""));
    }
    special++;
    metadata(e, dest, false);
  }

  /**
   * Owner, extended attributes, mode, then times (directories' times wait until their contents
   * are in), through libc on the path itself: the JDK opens a file to change it, which blocks on
   * a fifo and follows nothing it should not, but cannot set a symlink's times to the nanosecond.
   */
  private void metadata(CatalogEntry e, Path dest, boolean link) {
    String where = "/" + target.relativize(dest);
    String path = dest.toString();
    Posix.LibC libc = Posix.libc();
    if (options.owner() == Owner.KEEP && e.uid() != null && e.gid() != null) {
      if (libc.lchown(path, e.uid().intValue(), e.gid().intValue()) != 0) {
        failed.add(new Failure(where, "owner " + e.uid() + ":" + e.gid() + " not set (" + Posix.error()
            + "); --owner current keeps yours"));
      }
    }
    boolean ntfsLeft = false;
    if (e.xattrs() != null) {
      for (Map.Entry<String, String> x : e.xattrs().entrySet()) {
        byte[] value = Base64.getDecoder().decode(x.getValue());
        if (libc.lsetxattr(path, x.getKey(), value, value.length, 0) != 0) {
          if (x.getKey().startsWith("system.ntfs_") && Posix.errno() == Posix.EOPNOTSUPP) {
            ntfsLeft = true;  // not an ntfs-3g target: said once, at the end
          } else {
            failed.add(new Failure(where, "extended attribute " + x.getKey() + " not set: " + Posix.error()));
          }
        }
      }
    }
    if (!link && e.streams() != null && !e.streams().isEmpty()) {
      streams(e, dest, where);
    }
    if (ntfs && !link && ntfsAttributes(e, path)) {
      ntfsLeft = true;
    }
    if (ntfsLeft) {
      ntfsMetadataLeft++;
    }
    if (!link && e.mode() != null && libc.chmod(path, e.mode() & 07777) != 0) {
      failed.add(new Failure(where, "mode not set: " + Posix.error()));
    }
    if (!e.type().equals("dir")) {
      times(e, dest);
    }
  }

  /**
   * Named streams per {@link NtfsStreams}: as "user.NAME" extended attributes, which is how
   * ntfs-3g shows them (each at most 64 KiB, Linux's limit), or as "NAME:STREAM" files beside.
   */
  private void streams(CatalogEntry e, Path dest, String where) {
    for (Map.Entry<String, CatalogEntry.Content> st : e.streams().entrySet()) {
      String name = st.getKey();
      CatalogEntry.Content c = st.getValue();
      try {
        switch (options.streams()) {
          case SKIP -> streamsLeft++;
          case XATTR -> {
            if (c.size() > XATTR_SIZE_MAX) {
              failed.add(new Failure(where + ":" + name, "stream of " + c.size() + " bytes is larger than an extended attribute can be; "
                  + "--ntfs-streams files restores it as a file"));
              continue;
            }
            byte[] value = new byte[(int) c.size()];
            for (int i = 0; i < c.chunks().size(); i++) {
              if (c.chunks().get(i) != null) {
                byte[] data = repo.get(ChunkId.parse(c.chunks().get(i)));
                System.arraycopy(data, 0, value, i * chunkSize, Math.min(data.length, value.length - i * chunkSize));
              }
            }
            if (Posix.libc().lsetxattr(dest.toString(), "user." + name, value, value.length, 0) != 0) {
              failed.add(new Failure(where + ":" + name, "stream not set as user." + name + ": " + Posix.error()));
              continue;
            }
            streamsRestored++;
          }
          case FILES -> {
            if (name.isEmpty() || name.contains("/") || name.indexOf('\0') >= 0) {
              failed.add(new Failure(where + ":" + name.replace("\0", "\\0"), "refused: the stream's name could leave the target"));
              continue;
            }
            Path file = dest.resolveSibling(dest.getFileName() + ":" + name);
            if (!replace(file, e, false)) {
              continue;
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
              for (int i = 0; i < c.chunks().size(); i++) {
                if (c.chunks().get(i) != null) {
                  ByteBuffer b = ByteBuffer.wrap(repo.get(ChunkId.parse(c.chunks().get(i))));
                  while (b.hasRemaining()) {
                    ch.write(b, (long) i * chunkSize + b.position());
                  }
                }
              }
            }
            if (Files.size(file) < c.size()) {
              try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
                f.setLength(c.size());
              }
            }
            streamsRestored++;
          }
        }
      } catch (IOException x) {
        failed.add(new Failure(where + ":" + name, x.getMessage()));
      }
    }
  }

  /**
   * DOS attributes and creation time as ntfs-3g takes them; true when the target could not take
   * them (not an ntfs-3g mount).
   */
  private boolean ntfsAttributes(CatalogEntry e, String path) {
    Posix.LibC libc = Posix.libc();
    boolean left = false;
    if (e.crtimeNs() != null) {
      long ntfsTime = Math.floorDiv(e.crtimeNs(), 100) + NTFS_EPOCH_OFFSET;
      byte[] v = ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(ntfsTime).array();
      if (libc.lsetxattr(path, NTFS_CRTIME, v, v.length, 0) != 0) {
        left |= Posix.errno() == Posix.EOPNOTSUPP;
      }
    }
    int attributes = (int) e.flags() & SETTABLE_ATTRIBUTES;
    if (attributes != 0) {
      byte[] v = ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(attributes).array();
      if (libc.lsetxattr(path, NTFS_ATTRIB, v, v.length, 0) != 0) {
        if (Posix.errno() == Posix.EOPNOTSUPP) {
          left = true;
        } else {
          failed.add(new Failure("/" + target.relativize(Path.of(path)), "DOS attributes not set: " + Posix.error()));
        }
      }
    }
    return left;
  }

  private void times(CatalogEntry e, Path dest) {
    long[] t = {Math.floorDiv(e.atimeNs(), 1_000_000_000L), Math.floorMod(e.atimeNs(), 1_000_000_000L),
        Math.floorDiv(e.mtimeNs(), 1_000_000_000L), Math.floorMod(e.mtimeNs(), 1_000_000_000L)};
    if (Posix.libc().utimensat(Posix.AT_FDCWD, dest.toString(), t, Posix.AT_SYMLINK_NOFOLLOW) != 0) {
      failed.add(new Failure("/" + target.relativize(dest), "times not set: " + Posix.error()));
    }
  }

  /** Directories' metadata, deepest first, once nothing more is written into them. */
  private void finishDirectories() {
    for (int i = directories.size() - 1; i >= 0; i--) {
      Path dest = (Path) directories.get(i)[0];
      CatalogEntry e = (CatalogEntry) directories.get(i)[1];
      metadata(e, dest, false);
      times(e, dest);
    }
  }

}
