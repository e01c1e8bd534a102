package dev.pluck.fs;

import dev.pluck.fs.volume.Volume;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.TestDisk;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/** A test disk's images opened together as one machine, to find a volume by id; and content digests. */
public final class TestVolumes implements Closeable {
  private final List<BlockDevice> opened = new ArrayList<>();
  private final VolumeTree tree;

  public TestVolumes(TestDisk disk) throws IOException {
    List<VolumeTree.Disk> disks = new ArrayList<>();
    for (int i = 0; i < disk.disks().size(); i++) {
      BlockDevice d = FileBlockDevice.open(disk.disks().get(i));
      opened.add(d);
      disks.add(new VolumeTree.Disk(Integer.toString(i), d));
    }
    tree = VolumeTree.probe(disks);
  }

  /** A volume by id; a partition id ("p3") means the first disk's when there are several. */
  public Volume volume(String id) {
    String qualified = opened.size() > 1 && !id.contains("/") && !id.contains(":") ? "0:" + id : id;
    return tree.find(qualified).orElseThrow(() -> new IllegalArgumentException("no volume " + id));
  }

  /** SHA-256 (hex) of a file's content or one of its named streams ("" for the content). */
  public static String sha256(FileSystem fs, Entry e, String stream) throws Exception {
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    ByteBuffer buf = ByteBuffer.allocate(1 << 20);
    try (SeekableByteChannel ch = fs.open(e, stream)) {
      while (ch.read(buf.clear()) > 0) {
        sha.update(buf.flip());
      }
    }
    return HexFormat.of().formatHex(sha.digest());
  }

  @Override
  public void close() throws IOException {
    for (BlockDevice d : opened) {
      d.close();
    }
  }
}
