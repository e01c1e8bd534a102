package dev.pluck.fs.ext4;

import dev.pluck.fs.LittleEndian;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Maps a file's logical blocks to disk blocks: extent trees of any depth (ext4), or the classic
 * direct/indirect/double/triple indirect block map (ext2/ext3). Cycles and absurd depths are
 * corruption, reported with the inode and block.
 */
final class ExtentTree {
  /** A run of the file: logical block, physical block (-1: hole), length, unwritten. */
  record Run(long logical, long physical, long length, boolean unwritten) {}

  static final int EH_MAGIC = 0xF30A;
  static final int MAX_DEPTH = 5;
  /**
   * A file maps at most this many runs: 2,000,000 runs already means a file in pieces of a few
   * blocks; the cap keeps a hostile block map from filling the heap.
   */
  static final int MAX_RUNS = 2_000_000;

  private ExtentTree() {}

  interface BlockReader {
    byte[] block(long number) throws IOException;
  }

  static List<Run> extents(Inode inode, BlockReader reader, long blocksCount) throws IOException {
    List<Run> out = new ArrayList<>();
    walk(inode.block(), inode, reader, blocksCount, out, -1, new HashSet<>(), "inode");
    out.sort(java.util.Comparator.comparingLong(Run::logical));
    return out;
  }

  private static void walk(byte[] node, Inode inode, BlockReader reader, long blocksCount, List<Run> out, int expectDepth,
      Set<Long> seen, String where) throws IOException {
    if (LittleEndian.u16(node, 0) != EH_MAGIC) {
      throw new Ext4CorruptException("extent header", "of inode " + inode.number() + " in " + where, "bad magic");
    }
    int entries = LittleEndian.u16(node, 2);
    int max = LittleEndian.u16(node, 4);
    int depth = LittleEndian.u16(node, 6);
    if (depth > MAX_DEPTH || (expectDepth >= 0 && depth != expectDepth) || entries > max || 12 + entries * 12 > node.length) {
      throw new Ext4CorruptException("extent header", "of inode " + inode.number() + " in " + where,
          "depth " + depth + (expectDepth >= 0 ? " (parent said " + expectDepth + ")" : "") + ", " + entries + " of " + max + " entries");
    }
    for (int i = 0; i < entries; i++) {
      int e = 12 + i * 12;
      long logical = LittleEndian.u32(node, e);
      if (depth == 0) {
        int len = LittleEndian.u16(node, e + 4);
        boolean unwritten = len > 32768;
        if (unwritten) {
          len -= 32768;
        }
        long start = LittleEndian.u16(node, e + 6) << 32 | LittleEndian.u32(node, e + 8);
        if (len == 0 || start + len > blocksCount) {
          throw new Ext4CorruptException("extent", "of inode " + inode.number() + " in " + where,
              "blocks " + start + "+" + len + " outside the filesystem");
        }
        if (out.size() >= MAX_RUNS) {
          throw new Ext4CorruptException("extent tree", "of inode " + inode.number(), "more than " + MAX_RUNS + " extents");
        }
        out.add(new Run(logical, start, len, unwritten));
      } else {
        long leaf = LittleEndian.u32(node, e + 4) | (long) LittleEndian.u16(node, e + 8) << 32;
        if (leaf >= blocksCount || !seen.add(leaf)) {
          throw new Ext4CorruptException("extent index", "of inode " + inode.number() + " in " + where,
              leaf >= blocksCount ? "points to block " + leaf + " outside the filesystem" : "block " + leaf + " visited twice (a cycle)");
        }
        walk(reader.block(leaf), inode, reader, blocksCount, out, depth - 1, seen, "block " + leaf);
      }
    }
  }

  /** The run holding logical block {@code block} of runs sorted by logical block, or null (a hole). */
  static Run find(List<Run> runs, long block) {
    int lo = 0;
    int hi = runs.size() - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      Run r = runs.get(mid);
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

  /** The ext2/ext3 block map: 12 direct pointers, then single, double and triple indirect blocks. */
  static List<Run> blockMap(Inode inode, BlockReader reader, long blocksCount, int blockSize, long fileBlocks) throws IOException {
    List<Run> out = new ArrayList<>();
    long[] logical = {0};
    int perBlock = blockSize / 4;
    Set<Long> seen = new HashSet<>();
    for (int i = 0; i < 12 && logical[0] < fileBlocks; i++) {
      add(out, logical[0]++, LittleEndian.u32(inode.block(), i * 4), inode, blocksCount);
    }
    for (int level = 1; level <= 3 && logical[0] < fileBlocks; level++) {
      long ptr = LittleEndian.u32(inode.block(), (11 + level) * 4);
      indirect(ptr, level, inode, reader, blocksCount, perBlock, fileBlocks, logical, out, seen);
    }
    return out;
  }

  private static void indirect(long ptr, int level, Inode inode, BlockReader reader, long blocksCount, int perBlock, long fileBlocks,
      long[] logical, List<Run> out, Set<Long> seen) throws IOException {
    long span = 1;
    for (int i = 0; i < level; i++) {
      span *= perBlock;
    }
    if (ptr == 0) {
      logical[0] += span;  // a hole as large as everything below this pointer
      return;
    }
    if (ptr >= blocksCount || !seen.add(ptr)) {
      throw new Ext4CorruptException("indirect block", "of inode " + inode.number(), ptr >= blocksCount
          ? "pointer " + ptr + " outside the filesystem" : "block " + ptr + " used twice");
    }
    byte[] b = reader.block(ptr);
    for (int i = 0; i < perBlock && logical[0] < fileBlocks; i++) {
      long p = LittleEndian.u32(b, i * 4);
      if (level == 1) {
        add(out, logical[0]++, p, inode, blocksCount);
      } else {
        indirect(p, level - 1, inode, reader, blocksCount, perBlock, fileBlocks, logical, out, seen);
      }
    }
  }

  private static void add(List<Run> out, long logical, long physical, Inode inode, long blocksCount) throws Ext4CorruptException {
    if (physical == 0) {
      return;  // a hole
    }
    if (physical >= blocksCount) {
      throw new Ext4CorruptException("block map", "of inode " + inode.number(), "block " + physical + " outside the filesystem");
    }
    if (!out.isEmpty()) {
      Run last = out.get(out.size() - 1);
      if (last.logical() + last.length() == logical && last.physical() + last.length() == physical) {
        out.set(out.size() - 1, new Run(last.logical(), last.physical(), last.length() + 1, false));
        return;
      }
    }
    if (out.size() >= MAX_RUNS) {
      throw new Ext4CorruptException("block map", "of inode " + inode.number(), "more than " + MAX_RUNS + " runs");
    }
    out.add(new Run(logical, physical, 1, false));
  }
}
