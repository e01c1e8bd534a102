package dev.pluck.restore;

import dev.pluck.engine.repo.BlockMap;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.Volume;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;

/**
 * Writes volume images and whole disks of a snapshot onto block devices: a raw file, a block
 * device or a writable NBD export. Stored blocks are written as they were read; holes (free space,
 * swap beyond its header, zeros) are made to read as zeros without sending zeros where the target
 * can (hole punching, NBD_CMD_WRITE_ZEROES), and not touched at all on a target known to be empty.
 * Chunks are fetched and decompressed on several threads and written as they come.
 */
public final class ImageRestore {
  /** What was written: {@code data} bytes of stored blocks, {@code zeroed} bytes made zero. */
  public record Result(long data, long zeroed, long size) {
    Result plus(Result o) {
      return new Result(data + o.data, zeroed + o.zeroed, size + o.size);
    }
  }

  /**
   * Threads fetching, checking and writing stored blocks: one more than the cores, as each also
   * waits on its write.
   */
  private static final int THREADS = Math.max(3, Math.min(9, Runtime.getRuntime().availableProcessors() + 1));

  private ImageRestore() {}

  /**
   * Writes volume {@code v} (a volume image of the snapshot) onto {@code target}, which must be at
   * least as large; bytes of the target past the volume's size are left alone. With {@code
   * targetIsZero} (a fresh sparse file, a new export) holes are not written at all. {@code
   * progress} hears of every byte done (data or hole).
   */
  public static Result volume(Repository repo, Snapshot.Volume v, BlockDevice target, boolean targetIsZero, LongConsumer progress)
      throws IOException {
    if (v.blockMap() == null) {
      throw new IOException("volume " + v.id() + " of the snapshot holds files, not an image: restore its files, or back it up "
          + "with --mode volumes or disk");
    }
    if (target.size() < v.size()) {
      throw new IOException("the target (" + target.size() + " bytes) is smaller than volume " + v.id() + " (" + v.size() + " bytes)");
    }
    if (target.isReadOnly()) {
      throw new IOException("the target " + target + " is read-only");
    }
    BlockMap.Blocks blocks = BlockMap.blocks(repo, v);
    long zeroed = 0;
    long data = 0;
    // Holes first, merged into runs: one call each (a punched hole, one NBD_CMD_WRITE_ZEROES).
    for (long b = 0; b < blocks.count(); ) {
      if (blocks.id(b) != null) {
        b++;
        continue;
      }
      long first = b;
      while (b < blocks.count() && blocks.id(b) == null) {
        b++;
      }
      long offset = first * v.blockSize();
      long length = Math.min(v.size(), b * v.blockSize()) - offset;
      if (!targetIsZero) {
        target.writeZeroes(offset, length);
        zeroed += length;
      }
      progress.accept(length);
    }
    ExecutorService pool = Executors.newFixedThreadPool(THREADS, r -> {
      Thread t = new Thread(r, "pluck-restore-write");
      t.setDaemon(true);
      return t;
    });
    try {
      List<Future<?>> window = new ArrayList<>();
      for (long b = 0; b < blocks.count(); b++) {
        dev.pluck.engine.repo.ChunkId id = blocks.id(b);
        if (id == null) {
          continue;
        }
        long offset = b * v.blockSize();
        int n = (int) Math.min(v.blockSize(), v.size() - offset);
        if (window.size() >= 2 * THREADS) {
          await(window.remove(0));
        }
        window.add(pool.submit(() -> {
          byte[] chunk = repo.get(id);  // decompressed and checked against its id
          if (chunk.length < n) {
            throw new IOException("volume " + v.id() + ": the chunk of block at byte " + offset + " holds " + chunk.length + " bytes, not "
                + n);
          }
          target.write(offset, ByteBuffer.wrap(chunk, 0, n));
          progress.accept(n);
          return null;
        }));
        data += n;
      }
      for (Future<?> f : window) {
        await(f);
      }
    } finally {
      pool.shutdownNow();
    }
    target.flush();
    return new Result(data, zeroed, v.size());
  }

  /**
   * Rebuilds the disks of a {@code disk}-mode snapshot onto {@code targets} (one per disk, in the
   * snapshot's order, each at least as large): every disk's layout image (partition table, boot
   * code, gaps, LVM metadata), then every volume through the volume layer probed on the rebuilt
   * disks, so partitions and logical volumes land where the rebuilt tables say.
   */
  public static Result wholeDisk(Repository repo, Snapshot s, List<BlockDevice> targets, boolean targetsAreZero, LongConsumer progress)
      throws IOException {
    List<Snapshot.Volume> layouts = s.volumes().stream().filter(v -> "layout".equals(v.fs()) && v.id().startsWith("layout:")).toList();
    if (layouts.isEmpty()) {
      throw new IOException("snapshot " + s.id() + " holds no disk layout: only a --mode disk backup can rebuild whole disks");
    }
    if (layouts.size() != targets.size()) {
      throw new IOException("snapshot " + s.id() + " holds " + layouts.size() + " disk(s) (" + String.join(", ",
          layouts.stream().map(v -> v.id().substring("layout:".length())).toList()) + "): give as many targets, not " + targets.size());
    }
    Result total = new Result(0, 0, 0);
    List<VolumeTree.Disk> disks = new ArrayList<>();
    for (int i = 0; i < layouts.size(); i++) {
      total = total.plus(volume(repo, layouts.get(i), targets.get(i), targetsAreZero, progress));
      disks.add(new VolumeTree.Disk(layouts.get(i).id().substring("layout:".length()), targets.get(i)));
    }
    VolumeTree tree = VolumeTree.probe(disks);
    for (Snapshot.Volume v : s.volumes()) {
      if (layouts.contains(v) || v.blockMap() == null) {
        continue;
      }
      Volume at = tree.find(v.id()).orElseThrow(() -> new IOException("volume " + v.id() + " is not on the rebuilt disks (they hold: "
          + String.join(", ", tree.volumes().stream().map(Volume::id).toList()) + ")"));
      if (at.device() == null) {
        throw new IOException("volume " + v.id() + " on the rebuilt disks cannot be written: " + at.note());
      }
      if (at.size() != v.size()) {
        throw new IOException("volume " + v.id() + " is " + at.size() + " bytes on the rebuilt disks, " + v.size() + " in the snapshot");
      }
      // Volumes lie where the layout image has holes: already zero on a fresh target.
      Result r = volume(repo, v, at.device(), targetsAreZero, progress);
      total = new Result(total.data + r.data, total.zeroed + r.zeroed, total.size);
    }
    return total;
  }

  private static void await(Future<?> f) throws IOException {
    try {
      f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while restoring");
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof IOException io) {
        throw io;
      }
      throw new IOException(c.getMessage(), c);
    }
  }
}
