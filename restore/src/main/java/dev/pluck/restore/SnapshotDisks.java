package dev.pluck.restore;

import dev.pluck.engine.repo.BlockMap;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.Volume;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.BlockSizes;
import dev.pluck.nbd.Extent;
import dev.pluck.nbd.SegmentedBlockDevice;
import dev.pluck.nbd.SliceBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The disks of a {@code disk}-mode snapshot as read-only devices, assembled without writing a
 * byte: each disk reads from its layout image, except where a volume lies, which reads from that
 * volume's image. Where volumes lie is what the layout says (its partition tables and LVM
 * metadata, probed like any disk), resolved down to disk bytes through the volume layer's views,
 * so striped logical volumes map as they do in the guest.
 */
public final class SnapshotDisks {
  /** At most this many runs of volume bytes per snapshot: LVM metadata is the guest's and may ask for absurdly many. */
  static final int MAX_RUNS = 1 << 22;

  private SnapshotDisks() {}

  /** The snapshot's disks by name, in its order. */
  public static Map<String, BlockDevice> open(Repository repo, Snapshot s) throws IOException {
    List<Snapshot.Volume> layouts = s.volumes().stream().filter(v -> "layout".equals(v.fs()) && v.id().startsWith("layout:")).toList();
    if (layouts.isEmpty()) {
      throw new IOException("snapshot " + s.id() + " holds no disk layout: only a --mode disk backup has whole disks");
    }
    List<VolumeTree.Disk> disks = new ArrayList<>();
    Map<BlockDevice, Integer> index = new IdentityHashMap<>();
    List<List<Run>> runs = new ArrayList<>();
    for (Snapshot.Volume l : layouts) {
      BlockDevice d = BlockMap.open(repo, l);
      index.put(d, disks.size());
      disks.add(new VolumeTree.Disk(l.id().substring("layout:".length()), d));
      runs.add(new ArrayList<>());
    }
    VolumeTree tree = VolumeTree.probe(disks);
    int total = 0;
    for (Snapshot.Volume v : s.volumes()) {
      if (layouts.contains(v) || v.blockMap() == null) {
        continue;
      }
      Volume at = tree.find(v.id()).orElseThrow(() -> new IOException("volume " + v.id() + " is not where the snapshot's disk layout "
          + "puts volumes (it has: " + String.join(", ", tree.volumes().stream().map(Volume::id).toList()) + ")"));
      if (at.device() == null || at.size() != v.size()) {
        throw new IOException("volume " + v.id() + " does not fit the snapshot's disk layout" + (at.device() == null ? ": " + at.note()
            : " (" + at.size() + " bytes there, " + v.size() + " in the snapshot)"));
      }
      BlockDevice image = BlockMap.open(repo, v);
      for (long pos = 0; pos < v.size(); ) {
        Run r = resolve(at.device(), pos, v.size() - pos, index);
        if (r == null) {
          throw new IOException("volume " + v.id() + ": byte " + pos + " lies on no disk of the snapshot");
        }
        if (++total > MAX_RUNS) {
          throw new IOException("volume " + v.id() + " maps to more than " + MAX_RUNS + " runs of disk bytes: refused");
        }
        runs.get(r.disk).add(new Run(r.disk, r.diskOffset, r.length, image, pos));
        pos += r.length;
      }
    }
    Map<String, BlockDevice> out = new LinkedHashMap<>();
    for (int i = 0; i < disks.size(); i++) {
      List<Run> mine = runs.get(i);
      mine.sort(Comparator.comparingLong(Run::diskOffset));
      for (int j = 1; j < mine.size(); j++) {
        if (mine.get(j).diskOffset < mine.get(j - 1).diskOffset + mine.get(j - 1).length) {
          throw new IOException("disk " + disks.get(i).name() + ": volumes overlap at byte " + mine.get(j).diskOffset);
        }
      }
      out.put(disks.get(i).name(), new DiskView(disks.get(i).name(), disks.get(i).device(), mine));
    }
    return out;
  }

  /** A run of a volume's bytes on disk {@code disk}: disk bytes from {@code diskOffset}, volume bytes from {@code volumeOffset}. */
  record Run(int disk, long diskOffset, long length, BlockDevice image, long volumeOffset) {}

  /** Where byte {@code pos} of {@code dev} lies on one of the disks, and for how many bytes at most {@code max}; null: on none. */
  private static Run resolve(BlockDevice dev, long pos, long max, Map<BlockDevice, Integer> disks) {
    long length = max;
    for (int depth = 0; depth < 16; depth++) {
      Integer disk = disks.get(dev);
      if (disk != null) {
        return new Run(disk, pos, length, null, 0);
      }
      if (dev instanceof SliceBlockDevice slice) {
        pos += slice.start();
        dev = slice.parent();
      } else if (dev instanceof SegmentedBlockDevice segmented) {
        SegmentedBlockDevice.Piece p = segmented.pieceAt(pos);
        length = Math.min(length, p.length());
        pos = p.offset();
        dev = p.device();
      } else {
        return null;
      }
    }
    return null;
  }

  /** One disk: the layout image with volume images over it. */
  static final class DiskView implements BlockDevice {
    private final String name;
    private final BlockDevice layout;
    private final List<Run> runs;  // sorted by disk offset, disjoint
    private final long[] starts;

    DiskView(String name, BlockDevice layout, List<Run> runs) {
      this.name = name;
      this.layout = layout;
      this.runs = List.copyOf(runs);
      this.starts = runs.stream().mapToLong(Run::diskOffset).toArray();
    }

    @Override
    public long size() {
      return layout.size();
    }

    @Override
    public BlockSizes blockSizes() {
      return layout.blockSizes();
    }

    @Override
    public boolean isReadOnly() {
      return true;
    }

    /** Calls {@code part} for each stretch of {@code [offset, offset + length)}: the device and offset it reads from. */
    private interface Part {
      void accept(BlockDevice device, long deviceOffset, long diskOffset, long length) throws IOException;
    }

    private void parts(long offset, long length, Part part) throws IOException {
      long end = offset + length;
      int i = java.util.Arrays.binarySearch(starts, offset);
      i = i >= 0 ? i : Math.max(0, -i - 2);
      long pos = offset;
      while (pos < end) {
        while (i < runs.size() && runs.get(i).diskOffset + runs.get(i).length <= pos) {
          i++;
        }
        if (i < runs.size() && runs.get(i).diskOffset <= pos) {
          Run r = runs.get(i);
          long n = Math.min(end, r.diskOffset + r.length) - pos;
          part.accept(r.image, r.volumeOffset + (pos - r.diskOffset), pos, n);
          pos += n;
        } else {
          long next = i < runs.size() ? Math.min(end, runs.get(i).diskOffset) : end;
          part.accept(layout, pos, pos, next - pos);
          pos = next;
        }
      }
    }

    @Override
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
      try {
        BlockDevice.checkRequest(size(), offset, dst.remaining());
        int base = dst.position();
        parts(offset, dst.remaining(), (device, at, diskAt, n) -> {
          ByteBuffer slice = dst.slice((int) (base + diskAt - offset), (int) n);
          device.read(at, slice);
        });
        dst.position(dst.limit());
        return CompletableFuture.completedFuture(null);
      } catch (IOException e) {
        return CompletableFuture.failedFuture(e);
      }
    }

    @Override
    public Set<String> metaContexts() {
      return Set.of(BASE_ALLOCATION);
    }

    @Override
    public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
      if (!BASE_ALLOCATION.equals(context)) {
        throw new IOException("disk " + name + " of a snapshot has no metadata context " + context);
      }
      BlockDevice.checkRange(size(), offset, length);
      List<Extent> out = new ArrayList<>();
      parts(offset, length, (device, at, diskAt, n) -> {
        for (Extent e : device.blockStatus(BASE_ALLOCATION, at, n)) {
          Extent.append(out, diskAt + (e.offset() - at), e.length(), e.flags());
        }
      });
      return out;
    }

    @Override
    public void close() {
      // images belong to the repository
    }

    @Override
    public String toString() {
      return "disk " + name + " of a snapshot";
    }
  }
}
