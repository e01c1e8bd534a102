package dev.pluck.fs.ntfs;

import dev.pluck.fs.Entry;
import dev.pluck.fs.EntryListing;
import dev.pluck.fs.EntryType;
import dev.pluck.fs.FileExtent;
import dev.pluck.fs.FileSystem;
import dev.pluck.fs.FileSystemException;
import dev.pluck.fs.LittleEndian;
import dev.pluck.fs.OpenOptions;
import dev.pluck.fs.ReadOnlyChannel;
import dev.pluck.fs.VolumeRange;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.CachingBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * An NTFS volume read without mounting: the boot sector (or its copy at the volume's end), the
 * MFT through its own runlist, records with their fixups, attributes spread over extension
 * records by {@code $ATTRIBUTE_LIST}, directory B+-trees walked node by node, resident,
 * non-resident, sparse and LZNT1-compressed data, alternate data streams and reparse points.
 *
 * <p>NTFS keeps no POSIX mode or owner: entries carry null there. System files (MFT records
 * below 16) are not listed, as ntfs-3g does not list them.
 */
public final class NtfsFileSystem implements FileSystem {
  static final long MFT = 0;
  static final long MFT_MIRR = 1;
  static final long LOG_FILE = 2;
  static final long VOLUME = 3;
  static final long ROOT = 5;
  static final long BITMAP = 6;
  static final long SECURE = 9;
  /** The xattr name ntfs-3g gives a file's security descriptor (self-relative, as stored). */
  static final String ACL_XATTR = "system.ntfs_acl";
  /** The raw $EA value, as ntfs-3g gives and takes it. */
  static final String EA_XATTR = "system.ntfs_ea";
  static final long FIRST_USER_RECORD = 16;
  static final int VOLUME_NAME = 0x60;
  static final int VOLUME_INFORMATION = 0x70;
  static final int VOLUME_DIRTY = 0x1;
  /** Runs of one attribute pluck follows at most. */
  static final int MAX_RUNS = 2_000_000;
  /** Extension records one file may spread over. */
  static final int MAX_EXTENSIONS = 4096;
  /** Depth of a directory B+-tree (a real one is a handful of levels). */
  static final int MAX_INDEX_DEPTH = 32;
  /** The longest link target read from an Interix symlink. */
  static final int MAX_INTERIX = 8192;
  static final byte[] INTERIX_SYMLINK = {'I', 'n', 't', 'x', 'L', 'N', 'K', 1};
  static final Set<String> SWAP_FILES = Set.of("pagefile.sys", "hiberfil.sys", "swapfile.sys");

  static final long FILE_ATTRIBUTE_READONLY = 0x1;
  static final long FILE_ATTRIBUTE_HIDDEN = 0x2;
  static final long FILE_ATTRIBUTE_SYSTEM = 0x4;
  static final long FILE_ATTRIBUTE_DIRECTORY = 0x10;
  static final long FILE_ATTRIBUTE_ARCHIVE = 0x20;
  static final long FILE_ATTRIBUTE_SPARSE = 0x200;
  static final long FILE_ATTRIBUTE_REPARSE = 0x400;
  static final long FILE_ATTRIBUTE_COMPRESSED = 0x800;
  static final long FILE_ATTRIBUTE_ENCRYPTED = 0x4000;

  private final BlockDevice device;
  /** File content is read around the metadata cache (see Ext4FileSystem). */
  private final BlockDevice data;
  private final BootSector boot;
  private final OpenOptions options;
  private final long clusters;
  private final List<DataRun> mftRuns;
  private final long mftRecords;
  private SecureDescriptors descriptors;
  /** Bytes of the MFT read at once, and the window read last. */
  static final int MFT_WINDOW = 4096;
  private long mftWindowIndex = -1;
  private byte[] mftWindow;

  private NtfsFileSystem(BlockDevice data, BlockDevice device, BootSector boot, OpenOptions options, List<DataRun> mftRuns, long mftSize) {
    this.data = data;
    this.device = device;
    this.boot = boot;
    this.options = options;
    this.clusters = boot.volumeBytes() / boot.clusterSize();
    this.mftRuns = mftRuns;
    this.mftRecords = mftSize / boot.mftRecordSize();
  }

  public static NtfsFileSystem open(BlockDevice volume) throws IOException {
    return open(volume, OpenOptions.DEFAULT);
  }

  public static NtfsFileSystem open(BlockDevice volume, OpenOptions options) throws IOException {
    if (volume.size() < 8192) {
      throw new NtfsCorruptException("boot sector", "at byte 0", "volume of " + volume.size() + " bytes is too small");
    }
    BootSector boot = bootSector(volume, options);
    if (boot.volumeBytes() / boot.clusterSize() * boot.clusterSize() > volume.size()) {
      throw new NtfsCorruptException("boot sector", "at byte 0", "a volume of " + boot.volumeBytes() + " bytes on a device of "
          + volume.size());
    }
    BlockDevice cached = CachingBlockDevice.of(volume, 8L << 20);
    long clusters = boot.volumeBytes() / boot.clusterSize();
    // Record 0 describes the MFT itself; its first piece of runlist locates the rest.
    byte[] raw = cached.read(boot.mftCluster() * boot.clusterSize(), boot.mftRecordSize());
    MftRecord zero;
    try {
      zero = MftRecord.parse(MFT, raw, clusters);
    } catch (NtfsCorruptException e) {
      options.warnings().accept(e.getMessage() + "; using $MFTMirr's copy");
      zero = MftRecord.parse(MFT, cached.read(boot.mftMirrCluster() * boot.clusterSize(), boot.mftRecordSize()), clusters);
    }
    NtfsFileSystem bootstrap = new NtfsFileSystem(volume, cached, boot, options, List.of(), 0);
    List<AttributeRecord> data = new ArrayList<>();
    for (AttributeRecord a : zero.attributes()) {
      if (a.type() == AttributeRecord.DATA && a.name().isEmpty()) {
        data.add(a);
      }
    }
    if (data.isEmpty() || data.get(0).resident()) {
      throw new NtfsCorruptException("$MFT", "record 0", "no non-resident $DATA");
    }
    List<DataRun> runs = new ArrayList<>(data.get(0).runs());
    long size = data.get(0).dataSize();
    NtfsFileSystem fs = new NtfsFileSystem(volume, cached, boot, options, runs, size);
    AttributeRecord list = zero.attributes().stream().filter(a -> a.type() == AttributeRecord.ATTRIBUTE_LIST).findFirst().orElse(null);
    if (list != null) {
      // The MFT's own runlist continues in extension records, which the runs known so far reach.
      for (AttributeListEntry e : AttributeListEntry.parse(bootstrap.value(list, "$MFT"), "of $MFT")) {
        if (e.type() == AttributeRecord.DATA && e.record() != MFT && e.startVcn() > 0) {
          MftRecord ext = fs.record(e.record());
          for (AttributeRecord a : ext.attributes()) {
            if (a.type() == AttributeRecord.DATA && a.name().isEmpty() && !a.resident()) {
              runs.addAll(a.runs());
            }
          }
        }
      }
      runs.sort(java.util.Comparator.comparingLong(DataRun::vcn));
    }
    fs.checkVolumeFlags();
    return fs;
  }

  private static BootSector bootSector(BlockDevice volume, OpenOptions options) throws IOException {
    try {
      return BootSector.parse(volume.read(0, 512), "at byte 0");
    } catch (NtfsCorruptException primary) {
      for (long at : new long[] {volume.size() - 512, volume.size() - 4096}) {
        try {
          BootSector copy = BootSector.parse(volume.read(at, 512), "at byte " + at);
          options.warnings().accept(primary.getMessage() + "; using the copy at byte " + at);
          return copy;
        } catch (NtfsCorruptException e) {
          // not here
        }
      }
      throw primary;
    }
  }

  private void checkVolumeFlags() throws IOException {
    NtfsFile volume = file(VOLUME);
    AttributeRecord info = volume.first(VOLUME_INFORMATION, "");
    if (info != null && info.resident() && info.value().length >= 12 && (LittleEndian.u16(info.value(), 10) & VOLUME_DIRTY) != 0) {
      options.warnings().accept("NTFS volume is marked dirty (not cleanly unmounted); $LogFile is not replayed");
    }
  }

  // ---- records and attributes

  /** Reads and parses MFT record {@code n}. */
  MftRecord record(long n) throws IOException {
    if (n < 0 || (mftRecords > 0 && n >= mftRecords)) {
      throw new NtfsCorruptException("MFT reference", Long.toString(n), "beyond the " + mftRecords + " records of the MFT");
    }
    int size = boot.mftRecordSize();
    byte[] b = new byte[size];
    long offset = n * size;
    synchronized (this) {
      // Directories list their files roughly in MFT order: read the MFT a window at a time.
      long window = offset / MFT_WINDOW;
      if (window != mftWindowIndex) {
        long start = window * MFT_WINDOW;
        long mapped = mftRuns.isEmpty() ? 0 : mftRuns.get(mftRuns.size() - 1).endVcn() * boot.clusterSize();
        int length = (int) Math.min(MFT_WINDOW, mapped - start);
        if (length < size) {
          throw new NtfsCorruptException("MFT reference", Long.toString(n), "beyond the MFT's mapped " + mapped + " bytes");
        }
        byte[] w = new byte[length];
        readRuns(mftRuns, start, w, 0, length, Long.MAX_VALUE, "$MFT");
        mftWindow = w;
        mftWindowIndex = window;
      }
      int within = (int) (offset - mftWindowIndex * MFT_WINDOW);
      if (within + size > mftWindow.length) {
        throw new NtfsCorruptException("MFT reference", Long.toString(n), "beyond the MFT's mapped bytes");
      }
      System.arraycopy(mftWindow, within, b, 0, size);
    }
    return MftRecord.parse(n, b, clusters);
  }

  BootSector bootSector() {
    return boot;
  }

  /** The volume byte where record {@code n} starts (its first part, should it span runs). */
  long recordOffset(long n) throws NtfsCorruptException {
    long offset = n * boot.mftRecordSize();
    DataRun r = find(mftRuns, offset / boot.clusterSize());
    if (r == null || r.sparse()) {
      throw new NtfsCorruptException("MFT reference", Long.toString(n), "not mapped by $MFT's runlist");
    }
    return (r.lcn() + offset / boot.clusterSize() - r.vcn()) * boot.clusterSize() + offset % boot.clusterSize();
  }

  /** A file: its base record and the attributes of its extension records. */
  record NtfsFile(MftRecord base, List<AttributeRecord> attributes) {
    long number() {
      return base.number();
    }

    /** Every piece of the attribute of this type and name, in VCN order. */
    List<AttributeRecord> pieces(int type, String name) {
      List<AttributeRecord> out = null;
      for (AttributeRecord a : attributes) {
        if (a.type() == type && a.name().equals(name)) {
          if (out == null) {
            out = new ArrayList<>(2);
          }
          out.add(a);
        }
      }
      if (out == null) {
        return List.of();
      }
      if (out.size() > 1) {
        out.sort(java.util.Comparator.comparingLong(AttributeRecord::startVcn));
      }
      return out;
    }

    /** The piece at the lowest VCN (the only one, for most attributes), or null. */
    AttributeRecord first(int type, String name) {
      AttributeRecord best = null;
      for (AttributeRecord a : attributes) {
        if (a.type() == type && a.name().equals(name) && (best == null || a.startVcn() < best.startVcn())) {
          best = a;
        }
      }
      return best;
    }
  }

  NtfsFile file(long n) throws IOException {
    MftRecord base = record(n);
    if (!base.inUse()) {
      throw new NtfsCorruptException("MFT record", Long.toString(n), "is not in use");
    }
    if (base.baseRecord() != 0) {
      throw new NtfsCorruptException("MFT record", Long.toString(n), "is an extension of record " + base.baseRecord());
    }
    List<AttributeRecord> attributes = new ArrayList<>(base.attributes());
    AttributeRecord list = null;
    for (AttributeRecord a : base.attributes()) {
      if (a.type() == AttributeRecord.ATTRIBUTE_LIST) {
        list = a;
      }
    }
    if (list != null) {
      Set<Long> extensions = new java.util.TreeSet<>();
      for (AttributeListEntry e : AttributeListEntry.parse(value(list, "record " + n), "of record " + n)) {
        if (e.record() != n) {
          extensions.add(e.record());
        }
      }
      if (extensions.size() > MAX_EXTENSIONS) {
        throw new NtfsCorruptException("$ATTRIBUTE_LIST", "of record " + n, extensions.size() + " extension records");
      }
      for (long x : extensions) {
        MftRecord ext = record(x);
        if (ext.baseRecord() != n) {
          throw new NtfsCorruptException("$ATTRIBUTE_LIST", "of record " + n, "names record " + x + ", which belongs to "
              + (ext.baseRecord() == 0 ? "no base" : "record " + ext.baseRecord()));
        }
        attributes.addAll(ext.attributes());
      }
    }
    return new NtfsFile(base, attributes);
  }

  /** The whole value of an attribute (resident, or non-resident and small: lists, reparse data, symlinks). */
  byte[] value(AttributeRecord a, String where) throws IOException {
    if (a.resident()) {
      return a.value();
    }
    if (a.dataSize() > (16 << 20)) {
      throw new NtfsCorruptException("attribute", where, "value of " + a.dataSize() + " bytes read whole");
    }
    byte[] out = new byte[(int) a.dataSize()];
    readRuns(a.runs(), 0, out, 0, out.length, a.initializedSize(), where);
    return out;
  }

  /** Reads {@code length} bytes at {@code offset} of a non-resident stream's clusters; holes and bytes past {@code initialized} are zeros. */
  private void readRuns(List<DataRun> runs, long offset, byte[] dst, int at, int length, long initialized, String where) throws IOException {
    int cluster = boot.clusterSize();
    while (length > 0) {
      long vcn = offset / cluster;
      DataRun r = find(runs, vcn);
      int n;
      if (r == null) {
        throw new NtfsCorruptException("runlist", where, "does not map VCN " + vcn);
      }
      long runEnd = r.endVcn() * cluster;
      n = (int) Math.min(length, runEnd - offset);
      if (r.sparse() || offset >= initialized) {
        java.util.Arrays.fill(dst, at, at + n, (byte) 0);
      } else {
        n = (int) Math.min(n, initialized - offset);
        device.read((r.lcn() + (vcn - r.vcn())) * cluster + offset % cluster, ByteBuffer.wrap(dst, at, n));
      }
      offset += n;
      at += n;
      length -= n;
    }
  }

  static DataRun find(List<DataRun> runs, long vcn) {
    int lo = 0;
    int hi = runs.size() - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      DataRun r = runs.get(mid);
      if (vcn < r.vcn()) {
        hi = mid - 1;
      } else if (vcn >= r.endVcn()) {
        lo = mid + 1;
      } else {
        return r;
      }
    }
    return null;
  }

  /** A stream: an attribute's pieces joined (runs in VCN order, sizes from the first piece). */
  record DataStream(AttributeRecord first, List<DataRun> runs, byte[] resident) {
    long size() {
      return first.dataSize();
    }

    boolean compressed() {
      return resident == null && (first.flags() & AttributeRecord.FLAG_COMPRESSED) != 0 && first.compressionUnit() > 0;
    }
  }

  DataStream stream(NtfsFile f, int type, String name) throws IOException {
    List<AttributeRecord> pieces = f.pieces(type, name);
    if (pieces.isEmpty()) {
      return null;
    }
    AttributeRecord first = pieces.get(0);
    if (first.resident()) {
      return new DataStream(first, null, first.value());
    }
    if (first.startVcn() != 0) {
      throw new NtfsCorruptException("attribute", "0x" + Integer.toHexString(type) + " of record " + f.number(), "has no piece at VCN 0");
    }
    List<DataRun> runs = new ArrayList<>();
    long next = 0;
    for (AttributeRecord p : pieces) {
      if (p.resident() || p.startVcn() != next) {
        throw new NtfsCorruptException("attribute", "0x" + Integer.toHexString(type) + " of record " + f.number(),
            "pieces do not follow each other at VCN " + p.startVcn() + " (expected " + next + ")");
      }
      runs.addAll(p.runs());
      next = p.runs().isEmpty() ? p.endVcn() + 1 : runs.get(runs.size() - 1).endVcn();
      if (runs.size() > MAX_RUNS) {
        throw new NtfsCorruptException("runlist", "of record " + f.number(), "more than " + MAX_RUNS + " runs");
      }
    }
    long mapped = runs.isEmpty() ? 0 : runs.get(runs.size() - 1).endVcn() * boot.clusterSize();
    if (first.dataSize() > mapped && !(first.dataSize() == 0)) {
      throw new NtfsCorruptException("attribute", "0x" + Integer.toHexString(type) + " of record " + f.number(),
          "size " + first.dataSize() + " beyond its " + mapped + " mapped bytes");
    }
    return new DataStream(first, runs, null);
  }

  // ---- directories

  @Override
  public Entry root() throws IOException {
    return entry("/", file(ROOT), null);
  }

  @Override
  public Optional<Entry> lookup(String path) throws IOException {
    Entry current = root();
    for (String part : path.split("/")) {
      if (part.isEmpty()) {
        continue;
      }
      if (!current.isDirectory()) {
        return Optional.empty();
      }
      Entry[] exact = {null};
      Entry[] folded = {null};
      list(current, e -> {
        if (e.name().equals(part)) {
          exact[0] = e;
        } else if (folded[0] == null && e.name().equalsIgnoreCase(part)) {
          folded[0] = e;  // Windows looks names up without case
        }
      });
      current = exact[0] != null ? exact[0] : folded[0];
      if (current == null) {
        return Optional.empty();
      }
    }
    return Optional.of(current);
  }

  @Override
  public void list(Entry directory, Consumer<Entry> each) throws IOException {
    list(directory, each, (path, e) -> {
      throw e;
    });
  }

  @Override
  public void list(Entry directory, Consumer<Entry> each, EntryFailures failures) throws IOException {
    NtfsFile dir = file(directory.inode());
    String base = directory.path().equals("/") ? "" : directory.path();
    EntryListing listing = new EntryListing(each, failures);
    entries(dir, (name, record) -> listing.add(base + "/" + name,
        path -> entry(path, file(record), directory.inode() == ROOT ? name : null)));
    listing.finish();
  }

  interface IndexConsumer {
    void accept(String name, long record);
  }

  /** A directory's names in index order: the $I30 root, then its buffers in $INDEX_ALLOCATION, in order. */
  void entries(NtfsFile dir, IndexConsumer each) throws IOException {
    String where = "directory record " + dir.number();
    AttributeRecord root = dir.first(AttributeRecord.INDEX_ROOT, "$I30");
    if (root == null || !root.resident()) {
      throw new NtfsCorruptException("$INDEX_ROOT", where, root == null ? "missing" : "not resident");
    }
    byte[] r = root.value();
    if (r.length < 0x20) {
      throw new NtfsCorruptException("$INDEX_ROOT", where, r.length + " bytes");
    }
    int blockSize = (int) LittleEndian.u32(r, 0x08);  // index buffer size
    DataStream allocation = stream(dir, AttributeRecord.INDEX_ALLOCATION, "$I30");
    int vcnSize = blockSize >= boot.clusterSize() ? boot.clusterSize() : 512;
    Set<Long> visited = new HashSet<>();
    walk(IndexEntry.node(r, 0x10, r.length, where + " $INDEX_ROOT"), dir, allocation, blockSize, vcnSize, visited, 0, each, where);
  }

  private void walk(List<IndexEntry> node, NtfsFile dir, DataStream allocation, int blockSize, int vcnSize, Set<Long> visited, int depth,
      IndexConsumer each, String where) throws IOException {
    if (depth > MAX_INDEX_DEPTH) {
      throw new NtfsCorruptException("index", where, "deeper than " + MAX_INDEX_DEPTH + " levels");
    }
    for (IndexEntry e : node) {
      if (e.subnodeVcn() >= 0) {
        if (allocation == null || allocation.runs() == null) {
          throw new NtfsCorruptException("index entry", where, "points to buffer VCN " + e.subnodeVcn() + " without $INDEX_ALLOCATION");
        }
        if (!visited.add(e.subnodeVcn())) {
          throw new NtfsCorruptException("index", where, "buffer VCN " + e.subnodeVcn() + " reached twice (a cycle)");
        }
        walk(buffer(allocation, e.subnodeVcn(), blockSize, vcnSize, where), dir, allocation, blockSize, vcnSize, visited, depth + 1,
            each, where);
      }
      if (!e.last() && !e.key().dosOnly() && e.record() >= FIRST_USER_RECORD) {
        each.accept(e.key().name(), e.record());
      }
    }
  }

  private List<IndexEntry> buffer(DataStream allocation, long vcn, int blockSize, int vcnSize, String where) throws IOException {
    long offset = vcn * vcnSize;
    if (vcn < 0 || offset + blockSize > allocation.size() || blockSize < 512 || blockSize > 65536) {
      throw new NtfsCorruptException("index buffer", where, "VCN " + vcn + " outside $INDEX_ALLOCATION of " + allocation.size() + " bytes");
    }
    byte[] b = new byte[blockSize];
    readRuns(allocation.runs(), offset, b, 0, blockSize, allocation.first().initializedSize(), where + " $INDEX_ALLOCATION");
    String self = "VCN " + vcn + " of " + where;
    if (b[0] != 'I' || b[1] != 'N' || b[2] != 'D' || b[3] != 'X') {
      throw new NtfsCorruptException("index buffer", self, "no INDX signature");
    }
    Fixup.apply(b, "index buffer", self);
    return IndexEntry.node(b, 0x18, b.length, self);
  }

  // ---- entries

  /** The metadata of a file; {@code rootName} is its name when it lies in the root directory (for the swap files). */
  Entry entry(String path, NtfsFile f, String rootName) throws IOException {
    String where = "record " + f.number();
    AttributeRecord siAttr = f.first(AttributeRecord.STANDARD_INFORMATION, "");
    if (siAttr == null || !siAttr.resident()) {
      throw new NtfsCorruptException("$STANDARD_INFORMATION", where, "missing");
    }
    StandardInformation si = StandardInformation.parse(siAttr.value(), where);
    boolean directory = f.base().isDirectory();
    long flags = si.fileAttributes() | (directory ? FILE_ATTRIBUTE_DIRECTORY : 0);
    Set<Entry.Attribute> attributes = EnumSet.noneOf(Entry.Attribute.class);
    if ((flags & FILE_ATTRIBUTE_READONLY) != 0) {
      attributes.add(Entry.Attribute.READONLY);
    }
    if ((flags & FILE_ATTRIBUTE_HIDDEN) != 0) {
      attributes.add(Entry.Attribute.HIDDEN);
    }
    if ((flags & FILE_ATTRIBUTE_SYSTEM) != 0) {
      attributes.add(Entry.Attribute.SYSTEM);
    }
    if ((flags & FILE_ATTRIBUTE_ARCHIVE) != 0) {
      attributes.add(Entry.Attribute.ARCHIVE);
    }
    if ((flags & FILE_ATTRIBUTE_COMPRESSED) != 0) {
      attributes.add(Entry.Attribute.COMPRESSED);
    }
    if ((flags & FILE_ATTRIBUTE_SPARSE) != 0) {
      attributes.add(Entry.Attribute.SPARSE);
    }
    if ((flags & FILE_ATTRIBUTE_ENCRYPTED) != 0) {
      attributes.add(Entry.Attribute.ENCRYPTED);
    }
    if (rootName != null && SWAP_FILES.contains(rootName.toLowerCase(Locale.ROOT))) {
      attributes.add(Entry.Attribute.SWAP);
    }
    EntryType type = directory ? EntryType.DIRECTORY : EntryType.FILE;
    String target = null;
    AttributeRecord reparseAttr = f.first(AttributeRecord.REPARSE_POINT, "");
    if (reparseAttr != null) {
      ReparsePoint rp = ReparsePoint.parse(value(reparseAttr, where + " $REPARSE_POINT"), where);
      if (rp.isLink()) {
        type = EntryType.SYMLINK;
        target = rp.target();
      } else {
        attributes.add(Entry.Attribute.REPARSE);
      }
    }
    DataStream data = directory ? null : stream(f, AttributeRecord.DATA, "");
    long size = data == null ? 0 : data.size();
    if (type == EntryType.FILE && (flags & FILE_ATTRIBUTE_SYSTEM) != 0 && data != null && size >= INTERIX_SYMLINK.length
        && size <= MAX_INTERIX) {
      byte[] head = read(data, 0, (int) size, where);
      if (java.util.Arrays.equals(head, 0, INTERIX_SYMLINK.length, INTERIX_SYMLINK, 0, INTERIX_SYMLINK.length)) {
        type = EntryType.SYMLINK;  // ntfs-3g's symlinks: "IntxLNK\1" and the target in UTF-16
        target = new String(head, INTERIX_SYMLINK.length, (head.length - INTERIX_SYMLINK.length) & ~1, StandardCharsets.UTF_16LE);
      }
    }
    if (type == EntryType.SYMLINK) {
      size = target.getBytes(StandardCharsets.UTF_8).length;
    }
    long links = 0;
    for (AttributeRecord a : f.attributes()) {
      if (a.type() == AttributeRecord.FILE_NAME && a.resident() && !FileName.dosOnly(a.value())) {
        links++;
      }
    }
    Map<String, byte[]> xattrs = new java.util.LinkedHashMap<>();
    byte[] acl = securityDescriptor(f, si, where);
    if (acl != null) {
      xattrs.put(ACL_XATTR, acl);
    }
    byte[] ea = extendedAttributes(f, where);
    if (ea != null) {
      xattrs.put(EA_XATTR, ea);
    }
    return new Entry(path, f.number(), type, size, null, null, null, directory ? 1 : Math.max(1, links), si.accessed(), si.modified(),
        si.changed(), si.created(), target, 0, 0, xattrs, flags, attributes);
  }

  /**
   * The file's $EA value whole, if it has one that reads as a chain of entries; a damaged one is
   * a warning (an error with --strict), and the file is listed without it.
   */
  private byte[] extendedAttributes(NtfsFile f, String where) throws IOException {
    AttributeRecord a = f.first(AttributeRecord.EA, "");
    if (a == null) {
      return null;
    }
    try {
      if (!a.resident() && a.dataSize() > FullEaInformation.MAX_SIZE) {
        throw new NtfsCorruptException("$EA", where, a.dataSize() + " bytes, more than NTFS's " + FullEaInformation.MAX_SIZE);
      }
      byte[] value = value(a, where + " $EA");
      FullEaInformation.parse(value, where);
      return value;
    } catch (NtfsCorruptException e) {
      if (options.strict()) {
        throw e;
      }
      options.warnings().accept(e.getMessage());
      return null;
    }
  }

  /** The file's own $SECURITY_DESCRIPTOR (NTFS 1.x), else the one its security id names in $Secure:$SDS. */
  private byte[] securityDescriptor(NtfsFile f, StandardInformation si, String where) throws IOException {
    AttributeRecord own = f.first(AttributeRecord.SECURITY_DESCRIPTOR, "");
    if (own != null) {
      return value(own, where + " $SECURITY_DESCRIPTOR");
    }
    if (si.securityId() == 0) {
      return null;
    }
    synchronized (this) {
      if (descriptors == null) {
        DataStream sds = stream(file(SECURE), AttributeRecord.DATA, "$SDS");
        descriptors = sds == null ? SecureDescriptors.NONE : SecureDescriptors.scan(sds.size(), (at, n) -> read(sds, at, n, "$Secure:$SDS"));
      }
    }
    return descriptors.get(si.securityId());
  }

  // ---- content

  @Override
  public List<FileSystem.Stream> streams(Entry entry) throws IOException {
    NtfsFile f = file(entry.inode());
    Map<String, DataStream> named = new LinkedHashMap<>();
    for (AttributeRecord a : f.attributes()) {
      if (a.type() == AttributeRecord.DATA && !a.name().isEmpty() && !named.containsKey(a.name())) {
        named.put(a.name(), stream(f, AttributeRecord.DATA, a.name()));
      }
    }
    List<FileSystem.Stream> out = new ArrayList<>();
    named.forEach((name, s) -> out.add(new FileSystem.Stream(name, s.size())));
    return out;
  }

  @Override
  public SeekableByteChannel open(Entry file) throws IOException {
    if (file.type() != EntryType.FILE) {
      throw new FileSystemException("NTFS record " + file.inode() + " (" + file.path() + ") is not a regular file");
    }
    return open(file, "");
  }

  @Override
  public SeekableByteChannel open(Entry entry, String name) throws IOException {
    NtfsFile f = file(entry.inode());
    DataStream s = stream(f, AttributeRecord.DATA, name);
    if (s == null) {
      if (name.isEmpty() && entry.isDirectory()) {
        throw new FileSystemException("NTFS record " + entry.inode() + " (" + entry.path() + ") is a directory");
      }
      throw new FileSystemException("NTFS record " + entry.inode() + " (" + entry.path() + ") has no stream named \"" + name + "\"");
    }
    if ((s.first().flags() & AttributeRecord.FLAG_ENCRYPTED) != 0) {
      throw new FileSystemException("NTFS record " + entry.inode() + " (" + entry.path() + ") is EFS-encrypted; pluck does not decrypt");
    }
    AttributeRecord reparse = f.first(AttributeRecord.REPARSE_POINT, "");
    if (name.isEmpty() && reparse != null) {
      byte[] data = value(reparse, "record " + f.number());
      if (ReparsePoint.parse(data, "record " + f.number()).tag() == ReparsePoint.IO_REPARSE_TAG_WOF) {
        String where = "NTFS record " + entry.inode() + " (" + entry.path() + ")";
        WofCompressedData.Info info = WofCompressedData.parse(data, where);
        DataStream wof = stream(f, AttributeRecord.DATA, WofCompressedData.STREAM);
        if (wof == null && info.provider() == WofCompressedData.PROVIDER_FILE) {
          throw new NtfsCorruptException("WOF-compressed file", "record " + f.number(), "no " + WofCompressedData.STREAM + " stream");
        }
        String streamWhere = "record " + f.number() + " stream " + WofCompressedData.STREAM;
        return WofCompressedData.open(info, s.size(), new WofCompressedData.Source() {
          @Override
          public long size() {
            return wof.size();
          }

          @Override
          public byte[] read(long offset, int length) throws IOException {
            return NtfsFileSystem.this.read(wof, offset, length, streamWhere);
          }
        }, where);
      }
    }
    return new StreamChannel(s, "record " + f.number() + (name.isEmpty() ? "" : " stream " + name));
  }

  /** Reads {@code length} bytes at {@code offset} of a stream, whatever its storage. */
  byte[] read(DataStream s, long offset, int length, String where) throws IOException {
    byte[] out = new byte[length];
    try (StreamChannel ch = new StreamChannel(s, where)) {
      ch.position(offset);
      ByteBuffer b = ByteBuffer.wrap(out);
      while (b.hasRemaining() && ch.read(b) > 0) {
        // fill
      }
    }
    return out;
  }

  @Override
  public List<FileExtent> extents(Entry entry) throws IOException {
    if (entry.type() != EntryType.FILE) {
      throw new FileSystemException("NTFS record " + entry.inode() + " (" + entry.path() + ") is not a regular file");
    }
    DataStream s = stream(file(entry.inode()), AttributeRecord.DATA, "");
    List<FileExtent> out = new ArrayList<>();
    if (s == null || s.size() == 0) {
      return out;
    }
    if (s.resident() != null) {
      out.add(new FileExtent(0, -1, s.size(), FileExtent.Kind.INLINE));
      return out;
    }
    int cluster = boot.clusterSize();
    boolean compressed = s.compressed();
    for (DataRun r : s.runs()) {
      long start = r.vcn() * cluster;
      if (start >= s.size()) {
        break;
      }
      long length = Math.min(r.length() * cluster, s.size() - start);
      FileExtent.Kind kind = r.sparse() ? FileExtent.Kind.HOLE : compressed ? FileExtent.Kind.COMPRESSED : FileExtent.Kind.DATA;
      out.add(new FileExtent(start, r.sparse() ? -1 : r.lcn() * cluster, length, kind));
    }
    return out;
  }

  /** From $Bitmap (one bit per cluster), and the boot sector's copy at the end. */
  @Override
  public List<VolumeRange> allocatedRanges() throws IOException {
    DataStream bitmap = stream(file(BITMAP), AttributeRecord.DATA, "");
    if (bitmap == null) {
      throw new NtfsCorruptException("$Bitmap", "record 6", "has no $DATA");
    }
    int cluster = boot.clusterSize();
    List<VolumeRange> out = new ArrayList<>();
    long runStart = -1;
    long chunk = 1 << 16;
    for (long byteAt = 0; byteAt * 8 < clusters; byteAt += chunk) {
      int n = (int) Math.min(chunk, Math.min(bitmap.size() - byteAt, (clusters + 7) / 8 - byteAt));
      if (n <= 0) {
        break;
      }
      byte[] b = read(bitmap, byteAt, n, "$Bitmap");
      for (int i = 0; i < n * 8; i++) {
        long c = byteAt * 8 + i;
        if (c >= clusters) {
          break;
        }
        boolean used = (b[i >>> 3] & (1 << (i & 7))) != 0;
        if (used && runStart < 0) {
          runStart = c;
        } else if (!used && runStart >= 0) {
          out.add(new VolumeRange(runStart * cluster, (c - runStart) * cluster));
          runStart = -1;
        }
      }
    }
    if (runStart >= 0) {
      out.add(new VolumeRange(runStart * cluster, (clusters - runStart) * cluster));
    }
    // The boot sector's copy lies past the last cluster, where $Bitmap does not reach; chkdsk and
    // ntfsfix want it on a restored volume.
    long bps = boot.bytesPerSector();
    long copy = Math.min(boot.volumeBytes(), device.size() - bps);
    if (copy >= clusters * cluster) {
      out.add(new VolumeRange(copy, bps));
    }
    return VolumeRange.coalesce(out);
  }

  /** The boot sector and its copy, $MFT, $MFTMirr, $LogFile and $Bitmap. */
  @Override
  public List<VolumeRange> metadataRanges() throws IOException {
    List<VolumeRange> out = new ArrayList<>();
    out.add(new VolumeRange(0, boot.bytesPerSector()));
    out.add(new VolumeRange(Math.min(boot.volumeBytes(), device.size() - boot.bytesPerSector()), boot.bytesPerSector()));
    int cluster = boot.clusterSize();
    for (long record : new long[] {MFT, MFT_MIRR, LOG_FILE, BITMAP}) {
      DataStream s = stream(file(record), AttributeRecord.DATA, "");
      if (s != null && s.runs() != null) {
        for (DataRun r : s.runs()) {
          if (!r.sparse()) {
            out.add(new VolumeRange(r.lcn() * cluster, r.length() * cluster));
          }
        }
      }
    }
    out.sort(java.util.Comparator.comparingLong(VolumeRange::offset));
    return VolumeRange.coalesce(out);
  }

  @Override
  public VolumeInfo info() {
    String label = "";
    long free = 0;
    try {
      AttributeRecord name = file(VOLUME).first(VOLUME_NAME, "");
      if (name != null && name.resident()) {
        label = new String(name.value(), StandardCharsets.UTF_16LE);
      }
      long used = 0;
      for (VolumeRange r : allocatedRanges()) {
        used += Math.max(0, Math.min(r.end(), boot.volumeBytes()) - r.offset());  // not the boot sector's copy past the end
      }
      free = boot.volumeBytes() - used;
    } catch (IOException e) {
      options.warnings().accept("NTFS volume information: " + e.getMessage());
    }
    return new VolumeInfo("ntfs", label, String.format("%016X", boot.serial()), boot.clusterSize(), boot.volumeBytes(), free);
  }

  /** A stream's bytes: resident, non-resident with holes, or LZNT1-compressed by compression unit. */
  private final class StreamChannel extends ReadOnlyChannel {
    private final DataStream stream;
    private final String where;
    private long unitIndex = -1;
    private byte[] unit;

    StreamChannel(DataStream stream, String where) {
      this.stream = stream;
      this.where = where;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      long size = stream.size();
      if (position >= size) {
        return -1;
      }
      int want = (int) Math.min(dst.remaining(), size - position);
      if (want == 0) {
        return 0;
      }
      if (stream.resident() != null) {
        int n = (int) Math.min(want, stream.resident().length - position);
        dst.put(stream.resident(), (int) position, n);
        position += n;
        return n;
      }
      int n;
      if (stream.compressed()) {
        int unitBytes = boot.clusterSize() << stream.first().compressionUnit();
        long index = position / unitBytes;
        int within = (int) (position % unitBytes);
        byte[] u = unit(index, unitBytes);
        n = Math.min(want, unitBytes - within);
        dst.put(u, within, n);
      } else {
        int cluster = boot.clusterSize();
        long vcn = position / cluster;
        DataRun r = find(stream.runs(), vcn);
        if (r == null) {
          throw new NtfsCorruptException("runlist", where, "does not map VCN " + vcn);
        }
        n = (int) Math.min(want, r.endVcn() * cluster - position);
        long initialized = stream.first().initializedSize();
        if (r.sparse() || position >= initialized) {
          for (int i = 0; i < n; i++) {
            dst.put((byte) 0);
          }
        } else {
          n = (int) Math.min(n, initialized - position);
          ByteBuffer part = dst.duplicate();
          part.limit(part.position() + n);
          data.read((r.lcn() + (vcn - r.vcn())) * cluster + position % cluster, part);
          dst.position(dst.position() + n);
        }
      }
      position += n;
      return n;
    }

    /**
     * One compression unit decoded: all sparse reads as zeros, fully allocated is stored as is,
     * partly allocated is LZNT1 data in its allocated clusters.
     */
    private byte[] unit(long index, int unitBytes) throws IOException {
      if (index == unitIndex) {
        return unit;
      }
      int cluster = boot.clusterSize();
      long perUnit = unitBytes / cluster;
      long firstVcn = index * perUnit;
      byte[] stored = new byte[unitBytes];
      int storedBytes = 0;
      boolean holes = false;
      for (long vcn = firstVcn; vcn < firstVcn + perUnit; ) {
        DataRun r = find(stream.runs(), vcn);
        if (r == null) {
          holes = true;  // past the last run: the unit's tail is not stored
          break;
        }
        long n = Math.min(r.endVcn(), firstVcn + perUnit) - vcn;
        if (r.sparse()) {
          holes = true;
        } else {
          data.read((r.lcn() + vcn - r.vcn()) * cluster, ByteBuffer.wrap(stored, storedBytes, (int) n * cluster));
          storedBytes += (int) n * cluster;
        }
        vcn += n;
      }
      byte[] out;
      if (storedBytes == 0) {
        out = new byte[unitBytes];
      } else if (!holes) {
        out = stored;
      } else {
        out = new byte[unitBytes];
        Lznt1.decompress(stored, storedBytes, out, where + " compression unit " + index);
      }
      unitIndex = index;
      unit = out;
      return out;
    }




    @Override
    public long size() {
      return stream.size();
    }



  }

  @Override
  public void close() {
    // the volume belongs to whoever opened it
  }
}
