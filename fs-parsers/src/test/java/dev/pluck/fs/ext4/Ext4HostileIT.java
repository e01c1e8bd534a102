package dev.pluck.fs.ext4;

import dev.pluck.fs.Entry;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.BlockSizes;
import dev.pluck.nbd.Extent;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

/**
 * Random damage to the metadata of real ext images (superblock, group descriptors, inode tables,
 * directory and extent blocks: the first MiBs, where mkfs puts them): every case ends within 2 s
 * with a listing or with an IOException naming what is wrong; nothing else may escape.
 */
class Ext4HostileIT {

  /** An image whose first bytes are replaced by a mutated copy. */
  private static BlockDevice mutated(BlockDevice inner, byte[] head) {
    return new BlockDevice() {
      @Override public long size() { return inner.size(); }
      @Override public BlockSizes blockSizes() { return inner.blockSizes(); }
      @Override public boolean isReadOnly() { return true; }
      @Override public java.util.Set<String> metaContexts() { return inner.metaContexts(); }
      @Override public List<Extent> blockStatus(String c, long o, long l) throws IOException { return inner.blockStatus(c, o, l); }
      @Override public void close() {}

      @Override
      public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        int len = dst.remaining();
        ByteBuffer view = dst.duplicate();
        return inner.readAsync(offset, dst).thenRun(() -> {
          for (long p = offset; p < Math.min(offset + len, head.length); p++) {
            view.put(view.position() + (int) (p - offset), head[(int) p]);
          }
        });
      }
    };
  }

  private static void walkAll(Ext4FileSystem fs) throws IOException {
    List<Entry> stack = new ArrayList<>(List.of(fs.root()));
    Set<Long> seen = new HashSet<>();
    ByteBuffer buf = ByteBuffer.allocate(64 << 10);
    int budget = 5000;
    while (!stack.isEmpty() && budget-- > 0) {
      Entry d = stack.remove(stack.size() - 1);
      if (!seen.add(d.inode())) {
        continue;  // the walk itself guards against directory cycles
      }
      List<Entry> children = new ArrayList<>();
      fs.list(d, children::add);
      for (Entry c : children) {
        if (c.isDirectory()) {
          stack.add(c);
        } else if (c.type() == dev.pluck.fs.EntryType.FILE && c.size() < (4 << 20)) {
          try (SeekableByteChannel ch = fs.open(c)) {
            while (ch.read(buf.clear()) > 0) {
              // read it all
            }
          }
        }
      }
    }
  }

  @Test
  void damagedMetadataEndsInANamedErrorOrAListingWithinTwoSeconds() throws Exception {
    int cases = Boolean.getBoolean("pluck.slow") ? 3000 : 150;
    Random r = new Random(6);
    for (String name : new String[] {"ext4-features", "ext2", "ext3"}) {
      TestDisk disk = TestDisks.get(name);
      try (BlockDevice img = FileBlockDevice.open(disk.image())) {
        int span = (int) Math.min(img.size(), 4 << 20);
        byte[] head = img.read(0, span);
        for (int c = 0; c < cases; c++) {
          byte[] m = head.clone();
          int flips = 1 + r.nextInt(32);
          for (int i = 0; i < flips; i++) {
            int at = r.nextInt(10) < 3 ? 1024 + r.nextInt(1024) : r.nextInt(span);  // the superblock often
            m[at] = (byte) (r.nextInt(4) == 0 ? 0xff : r.nextInt(256));
          }
          BlockDevice dev = mutated(img, m);
          int number = c;
          Assertions.assertTimeoutPreemptively(Duration.ofSeconds(2), () -> {
            try {
              walkAll(Ext4FileSystem.open(dev));
            } catch (IOException named) {
              if (named.getMessage() == null || named.getMessage().isBlank()) {
                throw new AssertionError("an error without a message", named);
              }
            }
          }, () -> name + " case " + number);
        }
      }
    }
  }
}
