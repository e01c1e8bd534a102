package dev.pluck.restore;

import dev.pluck.engine.repo.Catalog;
import dev.pluck.engine.repo.CatalogEntry;
import dev.pluck.engine.repo.ChunkId;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Writes the selection of a snapshot as a POSIX.1-2001 (pax) tar stream that GNU tar and bsdtar
 * extract with everything the catalog holds: numeric owners, mode bits, nanosecond mtime and
 * atime, symlinks, hard links, devices and fifos, extended attributes as {@code SCHILY.xattr.*}
 * (GNU tar: {@code --xattrs --xattrs-include='*'}), POSIX ACLs as {@code SCHILY.acl.access} and
 * {@code SCHILY.acl.default} text ({@code --acls}), and sparse files in GNU's pax sparse format
 * 1.0, holes left out.
 *
 * <p>Commons Compress writes the ustar headers, the blocking and the padding. The extended
 * headers are built here because its own encode every value as a UTF-8 string, while an
 * extended attribute's value is bytes: {@code SCHILY.xattr.user.x} must carry them as they are.
 * Each entry's extended header holds the whole truth (path, link target, size, ids, times), and
 * the ustar header that follows gets only what fits it, so Commons never adds one of its own.
 *
 * <p>Directories come at the end of the stream, so that extracting gives them their times last.
 * Names are checked as a directory restore checks them: a name that is empty, "." or "..", or
 * holds a NUL, and anything below a symlink of the same stream, is left out and listed.
 */
public final class TarRestore {
  /** What was written, and what was not. */
  public record Result(long entries, long files, long bytes, List<DirectoryRestore.Failure> failed, List<String> notes) {}

  /** POSIX ACL xattr names and their pax keys (star's, which GNU tar --acls reads). */
  private static final Map<String, String> ACL_KEYS = Map.of("system.posix_acl_access", "SCHILY.acl.access",
      "system.posix_acl_default", "SCHILY.acl.default");

  private final Repository repo;
  private final int chunkSize;
  private final TarArchiveOutputStream tar;
  private final List<DirectoryRestore.Failure> failed = new ArrayList<>();
  private final List<String> notes = new ArrayList<>();
  private final Map<Long, String> linked = new HashMap<>();  // inode -> first name written, for hard links
  private final Set<String> refused = new HashSet<>();  // paths left out, with everything below
  private final Set<String> symlinks = new HashSet<>();  // nothing is written below these
  private final Set<String> names = new HashSet<>();  // every name in the archive: a guest may list one twice
  private final List<Map.Entry<String, CatalogEntry>> directories = new ArrayList<>();  // written last
  private long entries;
  private long files;
  private long bytes;
  private long streamsLeft;
  private long socketsLeft;

  private TarRestore(Repository repo, int chunkSize, OutputStream out) {
    this.repo = repo;
    this.chunkSize = chunkSize;
    this.tar = new TarArchiveOutputStream(out, 10240, StandardCharsets.UTF_8.name());
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_STAR);  // base-256 numbers: the pax header holds the exact ones
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_ERROR);  // names are made to fit; the pax header holds the real one
    tar.setAddPaxHeadersForNonAsciiNames(false);
  }

  /** One volume's part of a tar stream: which volume, which of its paths, and where its root lands in the archive. */
  public record Part(Snapshot.Volume volume, List<String> paths, String under) {}

  /**
   * Writes {@code parts} of {@code snapshot} to {@code out} as one tar stream, closed at the end
   * (names relative, as tar stores them: "home/alice/notes.txt").
   */
  public static Result write(Repository repo, Snapshot snapshot, List<Part> parts, OutputStream out) throws IOException {
    TarRestore t = new TarRestore(repo, snapshot.chunkSize(), out);
    for (Part p : parts) {
      if (p.volume().catalog() == null) {
        throw new IOException("volume " + p.volume().id() + " of the snapshot is an image, not files: restore it with --image");
      }
      List<String> wanted = p.paths().stream().map(DirectoryRestore::normalize).toList();
      Set<String> found = new HashSet<>();
      String under = p.under();
      Catalog.read(repo, p.volume().catalog(), e -> {
        String match = DirectoryRestore.selected(wanted, e.path());
        if (match == null) {
          return;
        }
        found.add(match);
        String path = under.isEmpty() || under.equals("/") ? e.path() : e.path().equals("/") ? under : under + e.path();
        t.entry(e, path);
      });
      for (String w : wanted) {
        if (!found.contains(w)) {
          t.failed.add(new DirectoryRestore.Failure(under + w, "not in the snapshot"));
        }
      }
    }
    // Directories go last: tar makes the missing ones as it extracts their contents, then gives
    // each its mode, owner and times, which nothing extracted later changes. (A catalog lists a
    // directory's children before its grandchildren; GNU tar sets a directory's times as soon as
    // a member outside it comes, so in walk order it would leave most directories with today's.)
    for (Map.Entry<String, CatalogEntry> d : t.directories) {
      t.header(d.getValue(), d.getKey(), TarConstants.LF_DIR, 0, null, null);
    }
    t.tar.finish();
    t.tar.close();
    if (t.streamsLeft > 0) {
      t.notes.add(t.streamsLeft + " named NTFS stream(s) not in the tar: it holds main contents only");
    }
    if (t.socketsLeft > 0) {
      t.notes.add(t.socketsLeft + " socket(s) left out: tar has no type for them");
    }
    return new Result(t.entries, t.files, t.bytes, List.copyOf(t.failed), List.copyOf(t.notes));
  }

  private void entry(CatalogEntry e, String path) throws IOException {
    if (path.equals("/") || path.isEmpty()) {
      return;  // the archive's root is where it is extracted
    }
    for (String r : refused) {
      if (path.startsWith(r + "/")) {
        return;
      }
    }
    String name = path.substring(1);
    for (String n : name.split("/", -1)) {
      if (n.isEmpty() || n.equals(".") || n.equals("..") || n.indexOf('\0') >= 0) {
        failed.add(new DirectoryRestore.Failure(path.replace("\0", "\\0"), "refused: the name \"" + n.replace("\0", "\\0")
            + "\" could leave the target"));
        refused.add(path);
        return;
      }
    }
    for (int slash = name.indexOf('/'); slash > 0; slash = name.indexOf('/', slash + 1)) {
      if (symlinks.contains(name.substring(0, slash))) {
        failed.add(new DirectoryRestore.Failure(path, "refused: " + name.substring(0, slash) + " is a symlink, which the restore "
            + "does not follow"));
        refused.add(path);
        return;
      }
    }
    if (!names.add(name)) {
      failed.add(new DirectoryRestore.Failure(path, "refused: a second entry of that name in its directory"));
      refused.add(path);
      return;
    }
    switch (e.type()) {
      case "dir" -> {
        directories.add(Map.entry(name + "/", e));
        streamsLeft += e.streams() == null ? 0 : e.streams().size();
      }
      case "file" -> file(e, name, path);
      case "symlink" -> {
        header(e, name, TarConstants.LF_SYMLINK, 0, e.target(), null);
        symlinks.add(name);
      }
      case "fifo" -> header(e, name, TarConstants.LF_FIFO, 0, null, null);
      case "chardev" -> header(e, name, TarConstants.LF_CHR, 0, null, null);
      case "blockdev" -> header(e, name, TarConstants.LF_BLK, 0, null, null);
      case "socket" -> socketsLeft++;
      default -> failed.add(new DirectoryRestore.Failure(path, "unknown type " + e.type()));
    }
  }

  private void file(CatalogEntry e, String name, String path) throws IOException {
    if (e.chunks() == null) {
      boolean encrypted = e.attributes() != null && e.attributes().contains("encrypted");
      failed.add(new DirectoryRestore.Failure(path, encrypted ? "encrypted in the guest: the snapshot holds no content"
          : "the snapshot holds no content"));
      return;
    }
    if (e.attributes() != null && e.attributes().contains("swap")) {
      notes.add(path + ": a swap file, not backed up: recreate it with mkswap");
      return;
    }
    if (e.streams() != null) {
      streamsLeft += e.streams().size();
    }
    if (e.nlink() > 1) {
      String first = linked.get(e.inode());
      if (first != null) {
        header(e, name, TarConstants.LF_LINK, 0, first, null);
        return;
      }
      linked.put(e.inode(), name);
    }
    // Chunks that are holes are left out as GNU's sparse format 1.0 says: a map of the data
    // (count, then offset and length per run, in decimal lines) padded to a block, then the data.
    List<long[]> runs = new ArrayList<>();
    long stored = 0;
    for (int i = 0; i < e.chunks().size(); i++) {
      if (e.chunks().get(i) == null) {
        continue;
      }
      long offset = (long) i * chunkSize;
      long n = Math.min(chunkSize, e.size() - offset);
      if (!runs.isEmpty() && runs.get(runs.size() - 1)[0] + runs.get(runs.size() - 1)[1] == offset) {
        runs.get(runs.size() - 1)[1] += n;
      } else {
        runs.add(new long[] {offset, n});
      }
      stored += n;
    }
    boolean sparse = stored < e.size();
    byte[] map = null;
    if (sparse) {
      runs.add(new long[] {e.size(), 0});  // the last run ends the file: its trailing hole
      StringBuilder m = new StringBuilder().append(runs.size()).append('\n');
      for (long[] r : runs) {
        m.append(r[0]).append('\n').append(r[1]).append('\n');
      }
      byte[] text = m.toString().getBytes(StandardCharsets.US_ASCII);
      map = java.util.Arrays.copyOf(text, (text.length + 511) / 512 * 512);
    }
    long size = sparse ? map.length + stored : e.size();
    header(e, name, TarConstants.LF_NORMAL, size, null, sparse ? e.size() : null);
    if (sparse) {
      tar.write(map);
    }
    for (int i = 0; i < e.chunks().size(); i++) {
      String id = e.chunks().get(i);
      long offset = (long) i * chunkSize;
      long expected = Math.min(chunkSize, e.size() - offset);
      if (id == null) {
        if (!sparse) {
          tar.write(new byte[(int) expected]);
        }
        continue;
      }
      byte[] data = repo.get(ChunkId.parse(id));
      if (data.length != expected) {
        throw new IOException(path + ": chunk " + i + " holds " + data.length + " bytes, not " + expected);
      }
      tar.write(data);
      bytes += data.length;
    }
    if (!sparse && (long) e.chunks().size() * chunkSize < e.size()) {
      for (long left = e.size() - (long) e.chunks().size() * chunkSize; left > 0; ) {  // a trailing hole not in the chunk list
        int n = (int) Math.min(left, chunkSize);
        tar.write(new byte[n]);
        left -= n;
      }
    }
    tar.closeArchiveEntry();
    files++;
  }

  /**
   * The entry's pax extended header, then its ustar header ({@code size} bytes of data follow);
   * {@code realSize} non-null makes it a GNU sparse 1.0 file of that size.
   */
  private void header(CatalogEntry e, String name, byte type, long size, String link, Long realSize) throws IOException {
    Pax pax = new Pax();
    String real = name.endsWith("/") ? name.substring(0, name.length() - 1) : name;
    if (realSize != null) {
      pax.put("GNU.sparse.major", "1");
      pax.put("GNU.sparse.minor", "0");
      pax.put("GNU.sparse.name", real);
      pax.put("GNU.sparse.realsize", Long.toString(realSize));
    } else {
      pax.put("path", name);
    }
    if (link != null) {
      pax.put("linkpath", link);
    }
    pax.put("size", Long.toString(size));
    pax.put("uid", Long.toString(e.uid() == null ? 0 : e.uid()));
    pax.put("gid", Long.toString(e.gid() == null ? 0 : e.gid()));
    pax.put("mtime", seconds(e.mtimeNs()));
    pax.put("atime", seconds(e.atimeNs()));
    if (e.xattrs() != null) {
      for (Map.Entry<String, String> x : e.xattrs().entrySet()) {
        byte[] value = Base64.getDecoder().decode(x.getValue());
        String acl = ACL_KEYS.get(x.getKey());
        if (acl != null) {
          pax.put(acl, PosixAcl.toText(value, x.getKey()));
        } else {
          pax.put("SCHILY.xattr." + x.getKey(), value);
        }
      }
    }
    byte[] records = pax.bytes();
    TarArchiveEntry x = new TarArchiveEntry(ustarName("PaxHeaders/" + lastName(real)), TarConstants.LF_PAX_EXTENDED_HEADER_LC);
    x.setSize(records.length);
    x.setModTime(e.mtimeNs() / 1_000_000_000L * 1000);
    tar.putArchiveEntry(x);
    tar.write(records);
    tar.closeArchiveEntry();

    boolean directory = type == TarConstants.LF_DIR;
    TarArchiveEntry t = new TarArchiveEntry(ustarName(realSize != null ? "GNUSparseFile/" + lastName(real) : real) + (directory ? "/" : ""),
        type);
    int defaultMode = directory ? 0755 : type == TarConstants.LF_SYMLINK ? 0777 : 0644;
    t.setMode(e.mode() == null ? defaultMode : e.mode() & 07777);
    t.setUserId(e.uid() == null ? 0L : e.uid());
    t.setGroupId(e.gid() == null ? 0L : e.gid());
    t.setModTime(Math.floorDiv(e.mtimeNs(), 1_000_000L));
    if (link != null) {
      t.setLinkName(ustarName(link));
    }
    if (type == TarConstants.LF_CHR || type == TarConstants.LF_BLK) {
      if (e.rdev() != null && e.rdev().size() == 2) {
        t.setDevMajor(e.rdev().get(0));
        t.setDevMinor(e.rdev().get(1));
      }
    }
    if (type == TarConstants.LF_NORMAL) {
      t.setSize(size);
    }
    tar.putArchiveEntry(t);
    if (type != TarConstants.LF_NORMAL) {
      tar.closeArchiveEntry();
    }
    entries++;
  }

  private static String lastName(String path) {
    return path.substring(path.lastIndexOf('/') + 1);
  }

  /** A name the ustar header can hold (ASCII, under 99 bytes with a directory's slash): the pax header has the real one. */
  private static String ustarName(String name) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < name.length() && b.length() < 98; i++) {
      char c = name.charAt(i);
      b.append(c >= 0x20 && c < 0x7f ? c : '_');
    }
    return b.toString();
  }

  /** Seconds since the epoch with nine decimals, as pax times are written. */
  static String seconds(long ns) {
    long s = Math.floorDiv(ns, 1_000_000_000L);
    long frac = Math.floorMod(ns, 1_000_000_000L);
    if (s < 0 && frac != 0) {  // pax writes -1.5 as "-1.5": the integer part rounds toward zero
      return "-" + (-(s + 1)) + "." + String.format("%09d", 1_000_000_000L - frac);
    }
    return s + "." + String.format("%09d", frac);
  }

  /** Pax extended header records: "LENGTH KEY=VALUE\n", LENGTH counting the whole record in bytes. */
  static final class Pax {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    void put(String key, String value) {
      put(key, value.getBytes(StandardCharsets.UTF_8));
    }

    void put(String key, byte[] value) {
      byte[] k = key.getBytes(StandardCharsets.UTF_8);
      int body = 1 + k.length + 1 + value.length + 1;  // " KEY=VALUE\n"
      int length = body + Integer.toString(body).length();
      if (Integer.toString(length).length() != Integer.toString(body).length()) {
        length++;  // the length's own digits pushed it over a power of ten
      }
      out.writeBytes(Integer.toString(length).getBytes(StandardCharsets.US_ASCII));
      out.write(' ');
      out.writeBytes(k);
      out.write('=');
      out.writeBytes(value);
      out.write('\n');
    }

    byte[] bytes() {
      return out.toByteArray();
    }
  }
}
