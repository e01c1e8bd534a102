package dev.pluck.fs.ext4;

import dev.pluck.fs.Crc32c;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Recovery of a JBD2 journal as the kernel does it at mount, without writing anything: walks the
 * log from its start, keeps the transactions that reached their commit block, drops blocks that a
 * later revoke record cancels, and answers which filesystem block now lives where in the journal.
 *
 * <p>The log ends at the first block that is not the next expected one: no magic, another
 * sequence, or a descriptor, revoke or commit block whose checksum (v2/v3) fails. A data block
 * whose tag checksum fails is skipped, as the kernel skips it.
 */
final class JournalReplay {
  static final int FLAG_ESCAPE = 0x1;     // the block's first 4 bytes were the magic, stored as zero
  static final int FLAG_SAME_UUID = 0x2;  // no 16-byte UUID follows the tag
  static final int FLAG_LAST_TAG = 0x8;
  /** Fast-commit blocks the journal keeps at its end when s_num_fc_blks is 0. */
  static final int DEFAULT_FAST_COMMIT_BLOCKS = 256;
  static final int S_NUM_FC_BLKS = 0x54;

  /** Reads block {@code n} of the journal (its superblock is block 0). */
  interface LogReader {
    byte[] block(long n) throws IOException;

    /** The volume byte where journal block {@code n} is stored. */
    long volumeOffset(long n) throws IOException;
  }

  /** One filesystem block and where its replayed content is. */
  record Replaced(long volumeOffset, byte[] unescaped) {}

  private final JournalSuperblock jsb;
  private final LogReader log;
  private final long fsBlocks;
  private final Consumer<String> warnings;
  private final int seed;
  private final long lastLogBlock;

  private JournalReplay(JournalSuperblock jsb, byte[] raw, LogReader log, long fsBlocks, Consumer<String> warnings) {
    this.jsb = jsb;
    this.log = log;
    this.fsBlocks = fsBlocks;
    this.warnings = warnings;
    this.seed = Crc32c.update(Crc32c.INITIAL, jsb.uuid());
    long fc = 0;
    if (jsb.has(JournalSuperblock.INCOMPAT_FAST_COMMIT)) {
      fc = JournalBlockHeader.be32(raw, S_NUM_FC_BLKS);
      fc = fc == 0 ? DEFAULT_FAST_COMMIT_BLOCKS : fc;
    }
    this.lastLogBlock = Math.max(jsb.first() + 1, jsb.maxLen() - fc);
  }

  /**
   * The replayed blocks, filesystem block number to content, or an empty map when the journal has
   * nothing to replay.
   */
  static TreeMap<Long, Replaced> replay(byte[] superblock, LogReader log, long fsBlocks, boolean strict, Consumer<String> warnings)
      throws IOException {
    JournalSuperblock jsb = JournalSuperblock.parse(superblock, "in journal block 0");
    if (!jsb.checksumValid()) {
      String msg = "ext4 journal superblock: checksum mismatch";
      if (strict) {
        throw new Ext4CorruptException("journal superblock", "in journal block 0", "checksum mismatch");
      }
      warnings.accept(msg + "; replaying it anyway");
    }
    if (jsb.start() == 0) {
      return new TreeMap<>();
    }
    if (jsb.has(JournalSuperblock.INCOMPAT_FAST_COMMIT)) {
      warnings.accept("ext4 journal: fast-commit blocks are not replayed; the view ends at the last full commit");
    }
    return new JournalReplay(jsb, superblock, log, fsBlocks, warnings).run();
  }

  private record Tag(long fsBlock, long logBlock, int flags, long checksum, long sequence) {}

  private TreeMap<Long, Replaced> run() throws IOException {
    List<Tag> committed = new ArrayList<>();
    Map<Long, Long> revoked = new HashMap<>();  // fs block -> highest revoking transaction
    List<Tag> pending = new ArrayList<>();
    Map<Long, Long> pendingRevokes = new HashMap<>();
    long sequence = jsb.sequence();
    long next = jsb.start();
    long steps = 0;
    long limit = 2 * jsb.maxLen();
    while (steps++ < limit) {
      byte[] b = log.block(next);
      JournalBlockHeader h = JournalBlockHeader.parse(b);
      if (h == null || h.sequence() != sequence) {
        break;
      }
      if (h.type() == JournalBlockHeader.DESCRIPTOR) {
        if (!tailValid(b)) {
          warnings.accept("ext4 journal: descriptor block " + next + " of transaction " + sequence + " fails its checksum; the log ends there");
          break;
        }
        List<Tag> tags = tags(b, next, sequence);
        pending.addAll(tags);
        next = wrap(next + 1 + tags.size());
      } else if (h.type() == JournalBlockHeader.REVOKE) {
        if (!tailValid(b)) {
          warnings.accept("ext4 journal: revoke block " + next + " of transaction " + sequence + " fails its checksum; the log ends there");
          break;
        }
        revokes(b, next, sequence, pendingRevokes);
        next = wrap(next + 1);
      } else if (h.type() == JournalBlockHeader.COMMIT) {
        if (!commitValid(b)) {
          warnings.accept("ext4 journal: commit block " + next + " of transaction " + sequence + " fails its checksum; the log ends there");
          break;
        }
        committed.addAll(pending);
        pendingRevokes.forEach((block, seq) -> revoked.merge(block, seq, Math::max));
        pending.clear();
        pendingRevokes.clear();
        sequence++;
        next = wrap(next + 1);
      } else {
        break;
      }
    }
    TreeMap<Long, Replaced> out = new TreeMap<>();
    for (Tag t : committed) {
      Long revokedAt = revoked.get(t.fsBlock());
      if (revokedAt != null && revokedAt >= t.sequence()) {
        continue;
      }
      if (t.fsBlock() >= fsBlocks) {
        throw new Ext4CorruptException("journal tag", "in transaction " + t.sequence(), "names block " + t.fsBlock()
            + " outside the filesystem of " + fsBlocks + " blocks");
      }
      byte[] data = null;
      if (jsb.checksums() || (t.flags() & FLAG_ESCAPE) != 0) {
        data = log.block(t.logBlock());
        if (jsb.checksums() && !dataValid(t, data)) {
          warnings.accept("ext4 journal: block " + t.fsBlock() + " in transaction " + t.sequence() + " fails its checksum; not replayed");
          continue;
        }
      }
      byte[] unescaped = null;
      if ((t.flags() & FLAG_ESCAPE) != 0) {
        unescaped = data;
        unescaped[0] = (byte) 0xC0;
        unescaped[1] = (byte) 0x3B;
        unescaped[2] = (byte) 0x39;
        unescaped[3] = (byte) 0x98;
      }
      out.put(t.fsBlock(), new Replaced(log.volumeOffset(t.logBlock()), unescaped));
    }
    return out;
  }

  private long wrap(long n) {
    return n >= lastLogBlock ? jsb.first() + (n - lastLogBlock) : n;
  }

  private List<Tag> tags(byte[] b, long at, long sequence) throws Ext4CorruptException {
    List<Tag> out = new ArrayList<>();
    int size = jsb.tagBytes();
    int end = b.length - (jsb.checksums() ? 4 : 0);
    boolean v3 = jsb.has(JournalSuperblock.INCOMPAT_CSUM_V3);
    boolean wide = jsb.has(JournalSuperblock.INCOMPAT_64BIT);
    int p = JournalBlockHeader.SIZE;
    while (p + size <= end) {
      long block = JournalBlockHeader.be32(b, p);
      int flags = v3 ? (int) JournalBlockHeader.be32(b, p + 4) : JournalBlockHeader.be16(b, p + 6);
      if (wide) {
        block |= JournalBlockHeader.be32(b, p + 8) << 32;
      }
      long checksum = v3 ? JournalBlockHeader.be32(b, p + 12) : JournalBlockHeader.be16(b, p + 4);
      out.add(new Tag(block, wrap(at + 1 + out.size()), flags, checksum, sequence));
      p += size + ((flags & FLAG_SAME_UUID) == 0 ? 16 : 0);
      if ((flags & FLAG_LAST_TAG) != 0) {
        return out;
      }
    }
    if (out.isEmpty()) {
      throw new Ext4CorruptException("journal descriptor", "in journal block " + at, "no block tags");
    }
    return out;
  }

  private void revokes(byte[] b, long at, long sequence, Map<Long, Long> out) throws Ext4CorruptException {
    int count = (int) JournalBlockHeader.be32(b, JournalBlockHeader.SIZE);  // r_count: bytes used, header included
    int end = b.length - (jsb.checksums() ? 4 : 0);
    if (count < 16 || count > end) {
      throw new Ext4CorruptException("journal revoke block", "in journal block " + at, "claims " + count + " bytes");
    }
    int record = jsb.has(JournalSuperblock.INCOMPAT_64BIT) ? 8 : 4;
    for (int p = 16; p + record <= count; p += record) {
      long block = record == 8 ? JournalBlockHeader.be32(b, p) << 32 | JournalBlockHeader.be32(b, p + 4) : JournalBlockHeader.be32(b, p);
      out.merge(block, sequence, Math::max);
    }
  }

  /** Descriptor and revoke blocks end in a checksum of the whole block (v2/v3). */
  private boolean tailValid(byte[] b) {
    if (!jsb.checksums()) {
      return true;
    }
    int at = b.length - 4;
    long provided = JournalBlockHeader.be32(b, at);
    byte[] copy = b.clone();
    java.util.Arrays.fill(copy, at, at + 4, (byte) 0);
    return (Crc32c.update(seed, copy) & 0xFFFFFFFFL) == provided;
  }

  /** The commit block's h_chksum[0] covers the whole block (v2/v3). */
  private boolean commitValid(byte[] b) {
    if (!jsb.checksums()) {
      return true;
    }
    int at = 16;
    long provided = JournalBlockHeader.be32(b, at);
    byte[] copy = b.clone();
    java.util.Arrays.fill(copy, at, at + 4, (byte) 0);
    return (Crc32c.update(seed, copy) & 0xFFFFFFFFL) == provided;
  }

  /** A data block's checksum: crc32c(seed, sequence, block), all 32 bits (v3) or the low 16 (v2). */
  private boolean dataValid(Tag t, byte[] data) {
    int crc = Crc32c.update(Crc32c.updateBe32(seed, t.sequence()), data);
    return jsb.has(JournalSuperblock.INCOMPAT_CSUM_V3) ? (crc & 0xFFFFFFFFL) == t.checksum() : (crc & 0xFFFF) == t.checksum();
  }
}
