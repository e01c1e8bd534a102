package dev.pluck.fs.ext4;

import dev.pluck.fs.LittleEndian;

import dev.pluck.fs.Entry;
import dev.pluck.fs.EntryType;
import dev.pluck.fs.FileSystem;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.CachingBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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

  private final BlockDevice device;
  private final Superblock sb;
  private final int bs;
  private final Map<Long, byte[]> descriptorBlocks = new java.util.HashMap<>();

  private Ext4FileSystem(BlockDevice device, Superblock sb) {
    this.device = device;
    this.sb = sb;
    this.bs = sb.blockSize();
  }

  public static Ext4FileSystem open(BlockDevice volume) throws IOException {
    if (volume.size() < 2048) {
      throw new Ext4CorruptException("superblock", "at byte 1024", "volume of " + volume.size() + " bytes is too small");
    }
    Superblock sb = Superblock.parse(volume.read(Superblock.OFFSET, 1024));
    if (sb.blocksCount() * (long) sb.blockSize() > volume.size() + sb.blockSize()) {
      throw new Ext4CorruptException("superblock", "at byte 1024", sb.blocksCount() + " blocks of " + sb.blockSize()
          + " bytes do not fit a volume of " + volume.size() + " bytes");
    }
    return new Ext4FileSystem(CachingBlockDevice.of(volume, 8L << 20), sb);
  }

  @Override
  public VolumeInfo info() {
    String type = (sb.incompat() & ~(Superblock.INCOMPAT_FILETYPE | Superblock.INCOMPAT_RECOVER | Superblock.INCOMPAT_META_BG)) != 0
        ? "ext4" : (sb.compat() & 0x4) != 0 ? "ext3" : "ext2";
    return new VolumeInfo(type, sb.label(), sb.uuid(), bs, sb.blocksCount() * bs, sb.freeBlocks() * bs);
  }

  byte[] block(long number) throws IOException {
    if (number < 0 || number >= sb.blocksCount()) {
      throw new Ext4CorruptException("block", Long.toString(number), "outside the filesystem of " + sb.blocksCount() + " blocks");
    }
    return device.read(number * bs, bs);
  }

  private boolean hasSuperblockBackup(long group) {
    if (group <= 1 || (sb.roCompat() & 0x1) == 0) {  // without sparse_super every group has one
      return true;
    }
    for (long base : new long[] {3, 5, 7}) {
      long p = base;
      while (p < group) {
        p *= base;
      }
      if (p == group) {
        return true;
      }
    }
    return false;
  }

  /** Where group {@code g}'s descriptor lies: the block, and the byte within it. */
  private byte[] descriptor(long g) throws IOException {
    if (g < 0 || g >= sb.groupCount()) {
      throw new Ext4CorruptException("group descriptor", Long.toString(g), "beyond the " + sb.groupCount() + " groups");
    }
    int perBlock = bs / sb.descSize();
    long metaGroup = g / perBlock;
    long blockNo;
    if (sb.has(Superblock.INCOMPAT_META_BG) && metaGroup >= sb.firstMetaBg()) {
      long first = metaGroup * perBlock;
      blockNo = sb.firstDataBlock() + first * sb.blocksPerGroup() + (hasSuperblockBackup(first) ? 1 : 0);
    } else {
      blockNo = sb.firstDataBlock() + 1 + metaGroup;
    }
    byte[] block = descriptorBlocks.get(blockNo);
    if (block == null) {
      block = block(blockNo);
      if (descriptorBlocks.size() < 4096) {
        descriptorBlocks.put(blockNo, block);
      }
    }
    int at = (int) (g % perBlock) * sb.descSize();
    return java.util.Arrays.copyOfRange(block, at, at + sb.descSize());
  }

  /** Reads inode {@code n} (1-based). */
  Inode inode(long n) throws IOException {
    if (n < 1 || n > sb.inodesCount()) {
      throw new Ext4CorruptException("inode", Long.toString(n), "outside 1.." + sb.inodesCount());
    }
    long group = (n - 1) / sb.inodesPerGroup();
    long index = (n - 1) % sb.inodesPerGroup();
    byte[] d = descriptor(group);
    long table = LittleEndian.u32(d, 0x8) | (sb.descSize() >= 64 ? LittleEndian.u32(d, 0x28) << 32 : 0);  // bg_inode_table_lo/hi
    long at = Math.addExact(Math.multiplyExact(table, (long) bs), index * sb.inodeSize());
    if (table == 0 || at + sb.inodeSize() > sb.blocksCount() * bs) {
      throw new Ext4CorruptException("group descriptor", Long.toString(group), "inode table at block " + table + " outside the filesystem");
    }
    return Inode.parse(n, device.read(at, sb.inodeSize()));
  }

  List<ExtentTree.Run> runs(Inode inode) throws IOException {
    if (inode.has(Inode.EXT4_EXTENTS_FL)) {
      return ExtentTree.extents(inode, this::block, sb.blocksCount());
    }
    long fileBlocks = (inode.size() + bs - 1) / bs;
    return ExtentTree.blockMap(inode, this::block, sb.blocksCount(), bs, fileBlocks);
  }

  Map<String, byte[]> xattrs(Inode inode) throws IOException {
    byte[] external = inode.fileAcl() != 0 ? block(inode.fileAcl()) : null;
    return Xattrs.of(inode, external);
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
    Inode dir = inode(directory.inode());
    String base = directory.path().equals("/") ? "" : directory.path();
    IOException[] failure = {null};
    entries(dir, (name, ino, type) -> {
      if (failure[0] != null) {
        return;
      }
      try {
        each.accept(entry(base + "/" + name, inode(ino)));
      } catch (IOException e) {
        failure[0] = e;
      }
    });
    if (failure[0] != null) {
      throw failure[0];
    }
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
        byte[] b = block(r.physical() + i);
        parseBlock(b, 0, b.length, dir, r.physical() + i, each);
      }
    }
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
      if (ino != 0) {
        String name = new String(b, p + 8, nameLen, StandardCharsets.UTF_8);
        if (!name.equals(".") && !name.equals("..")) {
          if (ino > sb.inodesCount()) {
            throw new Ext4CorruptException("directory entry", "of inode " + dir.number() + " at byte " + p,
                "names inode " + ino + " beyond " + sb.inodesCount());
          }
          each.accept(name, ino, type);
        }
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
    Map<String, byte[]> xattrs = new LinkedHashMap<>(xattrs(inode));
    xattrs.remove(Xattrs.INLINE_DATA);
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
    return new Entry(path, inode.number(), type, inode.size(), inode.mode() & 07777, inode.uid(), inode.gid(), inode.linksCount(),
        inode.atime(), inode.mtime(), inode.ctime(), inode.crtime(), target, major, minor, xattrs, inode.flags());
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
    return new String(bytes, StandardCharsets.UTF_8);
  }

  @Override
  public SeekableByteChannel open(Entry file) throws IOException {
    return channel(inode(file.inode()));
  }

  private SeekableByteChannel channel(Inode inode) throws IOException {
    if (inode.has(Inode.EXT4_INLINE_DATA_FL)) {
      byte[] data = inlineData(inode);
      return new FileChannel(inode.size(), List.of(), data);
    }
    return new FileChannel(inode.size(), runs(inode), null);
  }

  /** A file's bytes through its runs: holes and unwritten extents read as zeros. */
  private final class FileChannel implements SeekableByteChannel {
    private final long size;
    private final List<ExtentTree.Run> runs;
    private final byte[] inline;
    private long position;
    private boolean open = true;

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
        device.read((run.physical() + (block - run.logical())) * bs + within, part);
        dst.position(dst.position() + n);
      }
      position += n;
      return n;
    }

    private ExtentTree.Run find(long block) {
      int lo = 0;
      int hi = runs.size() - 1;
      while (lo <= hi) {
        int mid = (lo + hi) >>> 1;
        ExtentTree.Run r = runs.get(mid);
        if (block < r.logical()) {
          hi = mid - 1;
        } else if (block >= r.logical() + r.length()) {
          lo = mid + 1;
        } else {
          return r;
        }
      }
      return null;
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
    public int write(ByteBuffer src) {
      throw new NonWritableChannelException();
    }

    @Override
    public long position() {
      return position;
    }

    @Override
    public SeekableByteChannel position(long newPosition) {
      if (newPosition < 0) {
        throw new IllegalArgumentException("negative position");
      }
      position = newPosition;
      return this;
    }

    @Override
    public long size() {
      return size;
    }

    @Override
    public SeekableByteChannel truncate(long s) {
      throw new NonWritableChannelException();
    }

    @Override
    public boolean isOpen() {
      return open;
    }

    @Override
    public void close() {
      open = false;
    }
  }

  @Override
  public void close() throws IOException {
    // the volume belongs to whoever opened it
  }
}
