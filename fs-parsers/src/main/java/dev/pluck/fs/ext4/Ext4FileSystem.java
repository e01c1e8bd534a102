package dev.pluck.fs.ext4;

import dev.pluck.fs.Crc32c;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * An ext2, ext3 or ext4 filesystem read from a volume, without mounting: superblock, group
 * descriptors (32/64-bit, meta_bg), inodes of any size, extent trees and block maps, inline data,
 * linear and htree directories (read by walking their blocks), symlinks, devices, xattrs.
 */
public final class Ext4FileSystem implements FileSystem {
  static final long ROOT_INODE = 2;
  /** The longest symlink target read (PATH_MAX). */
  static final int MAX_SYMLINK = 4096;
  /** The metadata cache in front of the volume. */
  static final long CACHE_BYTES = 8L << 20;
  /** A directory block's checksum lives in a fake last entry of this length, file type 0xDE. */
  static final int DIRENT_TAIL = 12;
  static final int MAX_CACHED_DESCRIPTORS = 1 << 16;

  private final BlockDevice device;
  /** File content is read around the metadata cache: bulk data would only evict metadata, and small reads would grow to cache blocks. */
  private final BlockDevice data;
  private final Superblock sb;
  private final int bs;
  private final OpenOptions options;
  private final JournalOverlay journal;
  /** Parsed descriptors of the first {@link #MAX_CACHED_DESCRIPTORS} groups (a 64 TiB filesystem of 4 KiB blocks has 524,288 groups). */
  private final GroupDescriptor[] descriptors;
  /** The inode table block read last: a directory's inodes are mostly neighbours. */
  private long inodeBlockNo = -1;
  private byte[] inodeBlock;

  private Ext4FileSystem(BlockDevice data, Superblock sb, OpenOptions options, JournalOverlay journal) {
    this.data = data;
    this.device = CachingBlockDevice.of(data, CACHE_BYTES);
    this.sb = sb;
    this.bs = sb.blockSize();
    this.options = options;
    this.journal = journal;
    this.descriptors = new GroupDescriptor[(int) Math.min(sb.groupCount(), MAX_CACHED_DESCRIPTORS)];
  }

  public static Ext4FileSystem open(BlockDevice volume) throws IOException {
    return open(volume, OpenOptions.DEFAULT);
  }

  /**
   * Opens the filesystem: the primary superblock, or the first backup when the primary is
   * unreadable or fails its checksum; then, when the superblock says the journal needs recovery,
   * the journal replayed into an in-memory overlay (see {@link #replayedRanges()}).
   */
  public static Ext4FileSystem open(BlockDevice volume, OpenOptions options) throws IOException {
    if (volume.size() < 2048) {
      throw new Ext4CorruptException("superblock", "at byte 1024", "volume of " + volume.size() + " bytes is too small");
    }
    Superblock sb = superblock(volume, options);
    Ext4FileSystem raw = new Ext4FileSystem(volume, sb, options, null);
    if (!sb.has(Superblock.INCOMPAT_RECOVER)) {
      return raw;
    }
    if (!sb.hasJournal() || sb.journalInode() == 0) {
      options.warnings().accept("ext4: needs recovery but has no internal journal; reading it as it is");
      return raw;
    }
    TreeMap<Long, JournalReplay.Replaced> replaced = raw.replayJournal();
    if (replaced.isEmpty()) {
      return raw;
    }
    JournalOverlay overlay = new JournalOverlay(volume, sb.blockSize(), replaced);
    Superblock replayed = Superblock.parse(overlay.read(Superblock.OFFSET, 1024));
    return new Ext4FileSystem(overlay, replayed, options, overlay);
  }

  private static Superblock superblock(BlockDevice volume, OpenOptions options) throws IOException {
    Superblock primary = null;
    String problem;
    try {
      primary = Superblock.parse(volume.read(Superblock.OFFSET, 1024));
      checkFits(primary, volume, Superblock.OFFSET);
      if (primary.checksumValid()) {
        return primary;
      }
      problem = "checksum mismatch";
    } catch (Ext4CorruptException e) {
      // (Ext4UnsupportedException passes: a backup superblock has the same features.)
      problem = e.getMessage().replaceFirst("^ext4 superblock at byte 1024: ", "");
    }
    // The first backup is at the start of group 1; its place depends on the unknown block size.
    for (int size = 1024; size <= 65536; size <<= 1) {
      long at = (size == 1024 ? 8193L : 8L * size) * size;
      if (at + 1024 > volume.size()) {
        break;
      }
      try {
        Superblock backup = Superblock.parse(volume.read(at, 1024), at);
        checkFits(backup, volume, at);
        if (backup.blockSize() == size && backup.groupNumber() == 1 && backup.checksumValid()) {
          options.warnings().accept("ext4 superblock at byte 1024: " + problem + "; using the backup at byte " + at);
          return backup;
        }
      } catch (Ext4CorruptException | Ext4UnsupportedException e) {
        // not a backup here: try the next block size
      }
    }
    if (primary != null && !options.strict()) {
      options.warnings().accept("ext4 superblock at byte 1024: checksum mismatch and no valid backup; using it anyway");
      return primary;
    }
    throw new Ext4CorruptException("superblock", "at byte 1024", problem + ", and no valid backup superblock in group 1");
  }

  private static void checkFits(Superblock sb, BlockDevice volume, long at) throws Ext4CorruptException {
    if (sb.blocksCount() * (long) sb.blockSize() > volume.size() + sb.blockSize()) {
      throw new Ext4CorruptException("superblock", "at byte " + at, sb.blocksCount() + " blocks of " + sb.blockSize()
          + " bytes do not fit a volume of " + volume.size() + " bytes");
    }
  }

  private TreeMap<Long, JournalReplay.Replaced> replayJournal() throws IOException {
    Inode inode = inode(sb.journalInode());
    List<ExtentTree.Run> runs = runs(inode);
    long journalBlocks = inode.size() / bs;
    JournalReplay.LogReader log = new JournalReplay.LogReader() {
      @Override
      public byte[] block(long n) throws IOException {
        return device.read(volumeOffset(n), bs);
      }

      @Override
      public long volumeOffset(long n) throws IOException {
        if (n < 0 || n >= journalBlocks) {
          throw new Ext4CorruptException("journal", "inode " + inode.number(), "log block " + n + " outside its " + journalBlocks + " blocks");
        }
        ExtentTree.Run r = ExtentTree.find(runs, n);
        if (r == null || r.unwritten()) {
          throw new Ext4CorruptException("journal", "inode " + inode.number(), "log block " + n + " is not mapped");
        }
        return (r.physical() + n - r.logical()) * bs;
      }
    };
    TreeMap<Long, JournalReplay.Replaced> out = JournalReplay.replay(log.block(0), log, sb.blocksCount(), options.strict(), options.warnings());
    options.warnings().accept("ext4: replayed the journal in memory (" + out.size() + " blocks), as a mount would");
    return out;
  }

  /**
   * The volume byte ranges the journal replay replaced (empty when nothing needed recovery): what
   * pluck read differs there from the volume's bytes, so a change-tracking caller counts them as
   * changed.
   */
  @Override
  public List<VolumeRange> replayedRanges() {
    if (journal == null) {
      return List.of();
    }
    List<VolumeRange> out = new ArrayList<>();
    for (long block : journal.replaced().keySet()) {
      out.add(new VolumeRange(block * bs, bs));
    }
    return VolumeRange.coalesce(out);
  }

  /** The volume as this reader sees it: after the journal replay, through the cache. */
  BlockDevice view() {
    return device;
  }

  Superblock superblock() {
    return sb;
  }

  @Override
  public VolumeInfo info() {
    String type = (sb.incompat() & ~(Superblock.INCOMPAT_FILETYPE | Superblock.INCOMPAT_RECOVER | Superblock.INCOMPAT_META_BG)) != 0
        ? "ext4" : (sb.compat() & 0x4) != 0 ? "ext3" : "ext2";
    return new VolumeInfo(type, sb.label(), sb.uuid(), bs, sb.blocksCount() * bs, sb.freeBlocks() * bs);
  }

  /** A checksum that does not match: an error in strict mode, else a warning and the data is used. */
  private void checksumMismatch(String structure, String where) throws Ext4CorruptException {
    if (options.strict()) {
      throw new Ext4CorruptException(structure, where, "checksum mismatch");
    }
    options.warnings().accept("ext4 " + structure + " " + where + ": checksum mismatch");
  }

  byte[] block(long number) throws IOException {
    if (number < 0 || number >= sb.blocksCount()) {
      throw new Ext4CorruptException("block", Long.toString(number), "outside the filesystem of " + sb.blocksCount() + " blocks");
    }
    return device.read(number * bs, bs);
  }

  /** Group {@code g}'s descriptor, checked against its checksum when first read. */
  synchronized GroupDescriptor descriptor(long g) throws IOException {
    if (g < 0 || g >= sb.groupCount()) {
      throw new Ext4CorruptException("group descriptor", Long.toString(g), "beyond the " + sb.groupCount() + " groups");
    }
    GroupDescriptor d = g < descriptors.length ? descriptors[(int) g] : null;
    if (d != null) {
      return d;
    }
    int perBlock = bs / sb.descSize();
    long blockNo = descriptorBlock(g / perBlock);
    d = GroupDescriptor.parse(g, block(blockNo), (int) (g % perBlock) * sb.descSize(), sb);
    if (!d.checksumValid()) {
      checksumMismatch("group descriptor", Long.toString(g) + " in block " + blockNo);
    }
    if (g < descriptors.length) {
      descriptors[(int) g] = d;
    }
    return d;
  }

  /**
   * The block holding the descriptors of meta group {@code m} (one block's worth of groups): right
   * after the superblock copy of the group that holds the superblock in use, or with meta_bg in
   * the first group of the meta group itself.
   */
  private long descriptorBlock(long m) {
    int perBlock = bs / sb.descSize();
    if (sb.has(Superblock.INCOMPAT_META_BG) && m >= sb.firstMetaBg()) {
      long first = m * perBlock;
      return groupStart(first) + (sb.hasBackup(first) ? 1 : 0);
    }
    return groupStart(sb.groupNumber()) + 1 + m;
  }

  private long groupStart(long g) {
    return sb.firstDataBlock() + g * sb.blocksPerGroup();
  }

  /** Reads inode {@code n} (1-based), checked against its checksum. */
  Inode inode(long n) throws IOException {
    if (n < 1 || n > sb.inodesCount()) {
      throw new Ext4CorruptException("inode", Long.toString(n), "outside 1.." + sb.inodesCount());
    }
    long group = (n - 1) / sb.inodesPerGroup();
    long index = (n - 1) % sb.inodesPerGroup();
    long table = descriptor(group).inodeTable();
    if (table == 0 || table >= sb.blocksCount() || (table * bs + (index + 1) * sb.inodeSize()) > sb.blocksCount() * bs) {
      throw new Ext4CorruptException("group descriptor", Long.toString(group), "inode table at block " + table + " outside the filesystem");
    }
    long at = table * bs + index * sb.inodeSize();
    long blockNo = at / bs;
    int within = (int) (at % bs);
    byte[] block;
    synchronized (this) {
      if (blockNo != inodeBlockNo) {
        inodeBlock = device.read(blockNo * bs, bs);
        inodeBlockNo = blockNo;
      }
      block = inodeBlock;
    }
    Inode inode = Inode.parse(n, java.util.Arrays.copyOfRange(block, within, within + sb.inodeSize()));
    if (sb.metadataCsum() && !inode.checksumValid(sb.checksumSeed())) {
      checksumMismatch("inode", n + " at byte " + at);
    }
    return inode;
  }

  List<ExtentTree.Run> runs(Inode inode) throws IOException {
    if (inode.has(Inode.EXT4_EXTENTS_FL)) {
      return ExtentTree.extents(inode, n -> extentBlock(inode, n), sb.blocksCount());
    }
    long fileBlocks = (inode.size() + bs - 1) / bs;
    return ExtentTree.blockMap(inode, this::block, sb.blocksCount(), bs, fileBlocks);
  }

  /** A non-root node of an inode's extent tree; its tail after eh_max entries is a checksum. */
  private byte[] extentBlock(Inode inode, long n) throws IOException {
    byte[] b = block(n);
    if (sb.metadataCsum()) {
      int tail = 12 + 12 * LittleEndian.u16(b, 4);
      if (tail + 4 <= b.length && Crc32c.update(inode.checksumSeed(sb.checksumSeed()), b, 0, tail) != (int) LittleEndian.u32(b, tail)) {
        checksumMismatch("extent block", n + " of inode " + inode.number());
      }
    }
    return b;
  }

  Map<String, byte[]> xattrs(Inode inode) throws IOException {
    byte[] external = null;
    if (inode.fileAcl() != 0) {
      external = block(inode.fileAcl());
      if (sb.metadataCsum() && LittleEndian.u32(external, 0) == Xattrs.MAGIC) {
        byte[] copy = external.clone();
        java.util.Arrays.fill(copy, Xattrs.H_CHECKSUM, Xattrs.H_CHECKSUM + 4, (byte) 0);
        int seed = Crc32c.updateLe32(Crc32c.updateLe32(sb.checksumSeed(), inode.fileAcl()), inode.fileAcl() >>> 32);
        if (Crc32c.update(seed, copy) != (int) LittleEndian.u32(external, Xattrs.H_CHECKSUM)) {
          checksumMismatch("xattr block", inode.fileAcl() + " of inode " + inode.number());
        }
      }
    }
    long[] left = {MAX_VALUE_INODE_BYTES};
    return Xattrs.of(inode, external, (inum, size, where) -> {
      left[0] -= size;
      if (left[0] < 0) {
        throw new Ext4CorruptException("xattrs", where, "values kept in inodes of their own add up to more than "
            + MAX_VALUE_INODE_BYTES + " bytes");
      }
      return xattrValueInode(inum, size, where);
    });
  }

  /**
   * The most bytes of one inode's xattr values read from value inodes: a 4 KiB-block filesystem
   * holds at most ~200 values of 64 KiB (~13 MiB); a hostile one could name thousands.
   */
  static final long MAX_VALUE_INODE_BYTES = 16L << 20;

  /**
   * An xattr value kept in an inode of its own (ea_inode): the inode must say so (EXT4_EA_INODE_FL),
   * be a regular file of exactly the value's size and keep it in blocks, not inline (so reading it
   * can never lead back to an xattr).
   */
  private byte[] xattrValueInode(long inum, int size, String where) throws IOException {
    if (!sb.has(Superblock.INCOMPAT_EA_INODE)) {
      throw new Ext4CorruptException("xattr entry", where, "value in inode " + inum + ", but the filesystem has no ea_inode feature");
    }
    Inode value = inode(inum);
    if (!value.has(Inode.EXT4_EA_INODE_FL) || value.fileType() != Inode.S_IFREG || value.has(Inode.EXT4_INLINE_DATA_FL)) {
      throw new Ext4CorruptException("xattr entry", where, "value in inode " + inum + ", which is no xattr value inode (flags 0x"
          + Long.toHexString(value.flags()) + ")");
    }
    if (value.size() != size) {
      throw new Ext4CorruptException("xattr entry", where, "value of " + size + " bytes in inode " + inum + " of " + value.size() + " bytes");
    }
    ByteBuffer buf = ByteBuffer.allocate(size);
    try (SeekableByteChannel ch = new FileChannel(value.size(), runs(value), null)) {
      while (buf.hasRemaining() && ch.read(buf) > 0) {
        // until the value is whole, or the channel gives nothing more (then it is short: an error below)
      }
    }
    if (buf.hasRemaining()) {
      throw new Ext4CorruptException("xattr value inode", Long.toString(inum), "ended after " + buf.position() + " of " + size + " bytes");
    }
    return buf.array();
  }

  /** Inline data: the 60 bytes of i_block, then the system.data xattr; i_size long. */
  byte[] inlineData(Inode inode) throws IOException {
    byte[] extra = xattrs(inode).getOrDefault(Xattrs.INLINE_DATA, new byte[0]);
    byte[] all = new byte[60 + extra.length];
    System.arraycopy(inode.block(), 0, all, 0, 60);
    System.arraycopy(extra, 0, all, 60, extra.length);
    return all;
  }

  @Override
  public Entry root() throws IOException {
    return entry("/", inode(ROOT_INODE));
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
      long[] found = {0};
      Inode dir = inode(current.inode());
      entries(dir, (name, ino, type) -> {
        if (found[0] == 0 && name.equals(part)) {
          found[0] = ino;
        }
      });
      if (found[0] == 0) {
        return Optional.empty();
      }
      current = entry((current.path().equals("/") ? "" : current.path()) + "/" + part, inode(found[0]));
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
    Inode dir = inode(directory.inode());
    String base = directory.path().equals("/") ? "" : directory.path();
    EntryListing listing = new EntryListing(each, failures);
    entries(dir, (name, ino, type) -> listing.add(base + "/" + name, path -> entry(path, inode(ino))));
    listing.finish();
  }

  interface DirentConsumer {
    void accept(String name, long inode, int fileType);
  }

  /** Every live entry of a directory but "." and "..", in on-disk order. */
  void entries(Inode dir, DirentConsumer each) throws IOException {
    if (dir.fileType() != Inode.S_IFDIR) {
      throw new Ext4CorruptException("directory", "inode " + dir.number(), "is not a directory");
    }
    if (dir.has(Inode.EXT4_INLINE_DATA_FL)) {
      byte[] data = inlineData(dir);
      // i_block: the parent's inode number (4 bytes), then dirents; system.data continues them.
      parseBlock(data, 4, 60, dir, -1, each);
      if (data.length > 60) {
        parseBlock(data, 60, data.length, dir, -1, each);
      }
      return;
    }
    long blocks = (dir.size() + bs - 1) / bs;
    for (ExtentTree.Run r : runs(dir)) {
      for (long i = 0; i < r.length() && r.logical() + i < blocks; i++) {
        if (r.unwritten()) {
          continue;
        }
        long n = r.physical() + i;
        byte[] b = block(n);
        int end = b.length;
        if (sb.metadataCsum() && hasDirentTail(b)) {
          end -= DIRENT_TAIL;
          if (Crc32c.update(dir.checksumSeed(sb.checksumSeed()), b, 0, end) != (int) LittleEndian.u32(b, end + 8)) {
            checksumMismatch("directory block", n + " of inode " + dir.number());
          }
        }
        parseBlock(b, 0, end, dir, n, each);
      }
    }
  }

  /**
   * Whether a leaf block ends in the fake entry holding its checksum (inode 0, length 12, no
   * name, type 0xDE) that the chain of record lengths reaches. An htree node block has none; its
   * last bytes may still hold an old leaf's tail, which the chain then does not reach.
   */
  private static boolean hasDirentTail(byte[] b) {
    int t = b.length - DIRENT_TAIL;
    if (LittleEndian.u32(b, t) != 0 || LittleEndian.u16(b, t + 4) != DIRENT_TAIL || LittleEndian.u8(b, t + 6) != 0
        || LittleEndian.u8(b, t + 7) != 0xDE) {
      return false;
    }
    int p = 0;
    while (p < t) {
      int len = LittleEndian.u16(b, p + 4);
      if (len < 8) {
        return false;
      }
      p += len;
    }
    return p == t;
  }

  private void parseBlock(byte[] b, int from, int to, Inode dir, long blockNo, DirentConsumer each) throws Ext4CorruptException {
    int p = from;
    boolean fileTypes = sb.has(Superblock.INCOMPAT_FILETYPE);
    while (p + 8 <= to) {
      long ino = LittleEndian.u32(b, p);
      int recLen = LittleEndian.u16(b, p + 4);
      if (recLen == 0 && bs == 65536 && p == from) {
        recLen = 65536;
      }
      int nameLen = fileTypes ? LittleEndian.u8(b, p + 6) : LittleEndian.u16(b, p + 6);
      int type = fileTypes ? LittleEndian.u8(b, p + 7) : 0;
      if (recLen < 8 || (recLen & 3) != 0 || p + recLen > to || 8 + nameLen > recLen) {
        throw new Ext4CorruptException("directory entry", "of inode " + dir.number()
            + (blockNo >= 0 ? " in block " + blockNo : " (inline)") + " at byte " + p,
            "record length " + recLen + " with a name of " + nameLen + " bytes");
      }
      boolean dots = (nameLen == 1 || nameLen == 2) && b[p + 8] == '.' && (nameLen == 1 || b[p + 9] == '.');
      if (ino != 0 && !dots) {
        if (ino > sb.inodesCount()) {
          throw new Ext4CorruptException("directory entry", "of inode " + dir.number() + " at byte " + p,
              "names inode " + ino + " beyond " + sb.inodesCount());
        }
        String name = dir.has(Inode.EXT4_ENCRYPT_FL) ? EncryptedName.of(b, p + 8, nameLen) : new String(b, p + 8, nameLen, StandardCharsets.UTF_8);
        each.accept(name, ino, type);
      }
      p += recLen;
    }
  }

  /** Builds an entry (metadata, symlink target, device numbers, xattrs) from an inode. */
  Entry entry(String path, Inode inode) throws IOException {
    EntryType type = switch (inode.fileType()) {
      case Inode.S_IFREG -> EntryType.FILE;
      case Inode.S_IFDIR -> EntryType.DIRECTORY;
      case Inode.S_IFLNK -> EntryType.SYMLINK;
      case Inode.S_IFCHR -> EntryType.CHAR_DEVICE;
      case Inode.S_IFBLK -> EntryType.BLOCK_DEVICE;
      case Inode.S_IFIFO -> EntryType.FIFO;
      case Inode.S_IFSOCK -> EntryType.SOCKET;
      default -> throw new Ext4CorruptException("inode", Long.toString(inode.number()),
          String.format("file type 0%o is none of the seven", inode.fileType() >> 12));
    };
    Map<String, byte[]> xattrs = xattrs(inode);
    if (xattrs.containsKey(Xattrs.INLINE_DATA)) {
      xattrs = new LinkedHashMap<>(xattrs);
      xattrs.remove(Xattrs.INLINE_DATA);
    }
    String target = null;
    int major = 0;
    int minor = 0;
    if (type == EntryType.SYMLINK) {
      target = symlink(inode);
    } else if (type == EntryType.CHAR_DEVICE || type == EntryType.BLOCK_DEVICE) {
      long old = LittleEndian.u16(inode.block(), 0);
      if (old != 0) {
        major = (int) (old >> 8);
        minor = (int) (old & 0xff);
      } else {
        long nw = LittleEndian.u32(inode.block(), 4);
        major = (int) ((nw & 0xfff00) >> 8);
        minor = (int) ((nw & 0xff) | ((nw >> 12) & 0xfff00));
      }
    }
    long size = type == EntryType.SYMLINK && inode.has(Inode.EXT4_ENCRYPT_FL) ? target.length() : inode.size();
    return new Entry(path, inode.number(), type, size, inode.mode() & 07777, inode.uid(), inode.gid(), inode.linksCount(),
        inode.atime(), inode.mtime(), inode.ctime(), inode.crtime(), target, major, minor, xattrs, inode.flags(),
        inode.has(Inode.EXT4_ENCRYPT_FL) ? java.util.Set.of(Entry.Attribute.ENCRYPTED) : java.util.Set.of());
  }

  private String symlink(Inode inode) throws IOException {
    if (inode.size() > MAX_SYMLINK) {
      throw new Ext4CorruptException("symlink", "inode " + inode.number(), "target of " + inode.size() + " bytes");
    }
    int n = (int) inode.size();
    byte[] bytes;
    if (inode.has(Inode.EXT4_INLINE_DATA_FL)) {
      bytes = java.util.Arrays.copyOf(inlineData(inode), n);
    } else if (!inode.has(Inode.EXT4_EXTENTS_FL) && n < 60) {
      bytes = java.util.Arrays.copyOf(inode.block(), n);  // a fast symlink: the target is in i_block
    } else {
      bytes = new byte[n];
      try (SeekableByteChannel ch = channel(inode)) {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        while (buf.hasRemaining() && ch.read(buf) > 0) {
          // read the whole target
        }
      }
    }
    if (inode.has(Inode.EXT4_ENCRYPT_FL)) {
      // struct fscrypt_symlink_data: a 16-bit length, then the ciphertext
      int len = n >= 2 ? LittleEndian.u16(bytes, 0) : -1;
      if (len < 0 || 2 + len > n) {
        throw new Ext4CorruptException("encrypted symlink", "inode " + inode.number(), "ciphertext of " + len + " bytes in " + n);
      }
      return EncryptedName.of(bytes, 2, len);
    }
    return new String(bytes, StandardCharsets.UTF_8);
  }

  @Override
  public SeekableByteChannel open(Entry file) throws IOException {
    Inode inode = inode(file.inode());
    if (inode.has(Inode.EXT4_ENCRYPT_FL)) {
      throw new FileSystemException("ext4 inode " + inode.number() + " (" + file.path() + ") is encrypted (fscrypt); pluck does not decrypt");
    }
    return channel(inode);
  }

  private SeekableByteChannel channel(Inode inode) throws IOException {
    if (inode.has(Inode.EXT4_INLINE_DATA_FL)) {
      byte[] data = inlineData(inode);
      return new FileChannel(inode.size(), List.of(), data);
    }
    return new FileChannel(inode.size(), runs(inode), null);
  }

  @Override
  public List<FileExtent> extents(Entry file) throws IOException {
    Inode inode = inode(file.inode());
    if (inode.fileType() != Inode.S_IFREG) {
      throw new FileSystemException("ext4 inode " + inode.number() + " (" + file.path() + ") is not a regular file");
    }
    long size = inode.size();
    List<FileExtent> out = new ArrayList<>();
    if (inode.has(Inode.EXT4_INLINE_DATA_FL)) {
      if (size > 0) {
        out.add(new FileExtent(0, -1, size, FileExtent.Kind.INLINE));
      }
      return out;
    }
    long pos = 0;
    for (ExtentTree.Run r : runs(inode)) {
      long start = r.logical() * bs;
      if (start >= size) {
        break;
      }
      if (start > pos) {
        out.add(new FileExtent(pos, -1, start - pos, FileExtent.Kind.HOLE));
      }
      long length = Math.min(r.length() * bs, size - start);
      out.add(new FileExtent(start, r.physical() * bs, length, r.unwritten() ? FileExtent.Kind.UNWRITTEN : FileExtent.Kind.DATA));
      pos = start + length;
    }
    if (pos < size) {
      out.add(new FileExtent(pos, -1, size - pos, FileExtent.Kind.HOLE));
    }
    return out;
  }

  /**
   * From the block bitmaps, in clusters with bigalloc; a group whose bitmap was never initialised
   * (BLOCK_UNINIT) uses only its metadata. Bytes before the first group (the boot block of 1 KiB
   * block filesystems) count as used.
   */
  @Override
  public List<VolumeRange> allocatedRanges() throws IOException {
    List<long[]> meta = metadataBlocks();
    List<VolumeRange> out = new ArrayList<>();
    if (sb.firstDataBlock() > 0) {
      out.add(new VolumeRange(0, sb.firstDataBlock() * bs));
    }
    int ratio = sb.clusterSize() / bs;
    long clustersPerGroup = sb.blocksPerGroup() / ratio;
    for (long g = 0; g < sb.groupCount(); g++) {
      GroupDescriptor d = descriptor(g);
      long start = groupStart(g);
      long end = Math.min(sb.blocksCount(), start + sb.blocksPerGroup());
      if ((d.flags() & GroupDescriptor.BLOCK_UNINIT) != 0) {
        for (long[] m : meta) {
          long from = Math.max(m[0], start);
          long to = Math.min(m[0] + m[1], end);
          if (from < to) {
            out.add(new VolumeRange(from * bs, (to - from) * bs));
          }
        }
        continue;
      }
      byte[] bitmap = block(d.blockBitmap());
      if (sb.metadataCsum()) {
        int crc = Crc32c.update(sb.checksumSeed(), bitmap, 0, (int) (clustersPerGroup / 8));
        long stored = d.blockBitmapChecksum();
        if ((sb.descSize() >= 64 ? crc & 0xFFFFFFFFL : crc & 0xFFFF) != stored) {
          checksumMismatch("block bitmap", "of group " + g + " in block " + d.blockBitmap());
        }
      }
      long runStart = -1;
      long clusters = Math.min(clustersPerGroup, ((end - start) + ratio - 1) / ratio);
      for (long c = 0; c <= clusters; c++) {
        boolean used = c < clusters && (bitmap[(int) (c >>> 3)] & (1 << (c & 7))) != 0;
        if (used && runStart < 0) {
          runStart = c;
        } else if (!used && runStart >= 0) {
          long from = start + runStart * ratio;
          long to = Math.min(end, start + c * ratio);
          out.add(new VolumeRange(from * bs, (to - from) * bs));
          runStart = -1;
        }
      }
    }
    out.sort(java.util.Comparator.comparingLong(VolumeRange::offset));
    return VolumeRange.coalesce(out);
  }

  @Override
  public List<VolumeRange> metadataRanges() throws IOException {
    List<VolumeRange> out = new ArrayList<>();
    for (long[] m : metadataBlocks()) {
      out.add(new VolumeRange(m[0] * bs, m[1] * bs));
    }
    return VolumeRange.coalesce(out);
  }

  /**
   * Metadata as block runs {start, count}, sorted: superblock and descriptor copies (with the
   * reserved descriptor blocks of resize_inode), bitmaps and inode tables of every group, and the
   * journal.
   */
  private List<long[]> metadataBlocks() throws IOException {
    List<long[]> out = new ArrayList<>();
    int perBlock = bs / sb.descSize();
    long descriptorBlocks = (sb.groupCount() + perBlock - 1) / perBlock;
    long classic = sb.has(Superblock.INCOMPAT_META_BG) ? Math.min(sb.firstMetaBg(), descriptorBlocks) : descriptorBlocks;
    long inodeTableBlocks = (sb.inodesPerGroup() * sb.inodeSize() + bs - 1) / bs;
    for (long g = 0; g < sb.groupCount(); g++) {
      if (sb.hasBackup(g)) {
        out.add(new long[] {groupStart(g), 1 + classic + sb.reservedGdtBlocks()});
      }
      if (sb.has(Superblock.INCOMPAT_META_BG)) {
        long m = g / perBlock;
        long inMeta = g % perBlock;
        if (m >= sb.firstMetaBg() && (inMeta == 0 || inMeta == 1 || inMeta == perBlock - 1)) {
          out.add(new long[] {groupStart(g) + (sb.hasBackup(g) ? 1 : 0), 1});
        }
      }
      GroupDescriptor d = descriptor(g);
      for (long b : new long[] {d.blockBitmap(), d.inodeBitmap(), d.inodeTable() + inodeTableBlocks - 1}) {
        if (b <= 0 || b >= sb.blocksCount()) {
          throw new Ext4CorruptException("group descriptor", Long.toString(g), "bitmap or inode table block " + b + " outside the filesystem");
        }
      }
      out.add(new long[] {d.blockBitmap(), 1});
      out.add(new long[] {d.inodeBitmap(), 1});
      out.add(new long[] {d.inodeTable(), inodeTableBlocks});
    }
    if (sb.hasJournal() && sb.journalInode() != 0) {
      for (ExtentTree.Run r : runs(inode(sb.journalInode()))) {
        out.add(new long[] {r.physical(), r.length()});
      }
    }
    out.sort(java.util.Comparator.comparingLong(r -> r[0]));
    return out;
  }

  /** A file's bytes through its runs: holes and unwritten extents read as zeros. */
  private final class FileChannel extends ReadOnlyChannel {
    private final long size;
    private final List<ExtentTree.Run> runs;
    private final byte[] inline;

    FileChannel(long size, List<ExtentTree.Run> runs, byte[] inline) {
      this.size = size;
      this.runs = runs;
      this.inline = inline;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      if (position >= size) {
        return -1;
      }
      int want = (int) Math.min(dst.remaining(), size - position);
      if (want == 0) {
        return 0;
      }
      if (inline != null) {
        int n = (int) Math.min(want, Math.max(0, inline.length - position));
        dst.put(inline, (int) position, n);
        for (int i = n; i < want; i++) {
          dst.put((byte) 0);
        }
        position += want;
        return want;
      }
      long block = position / bs;
      int within = (int) (position % bs);
      ExtentTree.Run run = find(block);
      int n;
      if (run == null || run.unwritten()) {
        long nextData = next(block);
        long end = Math.min(size, nextData * bs);
        n = (int) Math.min(want, end - position);
        for (int i = 0; i < n; i++) {
          dst.put((byte) 0);
        }
      } else {
        long runEnd = (run.logical() + run.length()) * bs;
        n = (int) Math.min(want, runEnd - position);
        ByteBuffer part = dst.duplicate();
        part.limit(part.position() + n);
        data.read((run.physical() + (block - run.logical())) * bs + within, part);
        dst.position(dst.position() + n);
      }
      position += n;
      return n;
    }

    private ExtentTree.Run find(long block) {
      return ExtentTree.find(runs, block);
    }

    private long next(long block) {
      long best = Long.MAX_VALUE / bs;
      for (ExtentTree.Run r : runs) {
        if (r.logical() > block && !r.unwritten()) {
          best = Math.min(best, r.logical());
          break;
        }
      }
      return best;
    }




    @Override
    public long size() {
      return size;
    }



  }

  @Override
  public void close() throws IOException {
    // the volume belongs to whoever opened it
  }
}
