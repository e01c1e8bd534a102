package dev.pluck.qmp;

import java.util.List;

/**
 * A drive as pluck addresses it: the format node that holds its dirty bitmaps, with what QEMU
 * says of it.
 *
 * @param nodeName the format node (bitmaps live here)
 * @param driver qcow2, raw, ...
 * @param qdev the guest device's id or QOM path, when a guest device uses it ("" on
 *     qemu-storage-daemon)
 * @param device the BlockBackend name ("" for -blockdev drives)
 * @param virtualSize bytes
 * @param bitmaps the node's dirty bitmaps
 */
public record BlockNode(String nodeName, String driver, String qdev, String device, long virtualSize, List<Bitmap> bitmaps) {
  /** A dirty bitmap as query-named-block-nodes reports it. */
  public record Bitmap(String name, boolean recording, boolean persistent, boolean busy, boolean inconsistent,
      long granularity, long dirtyBytes) {}

  public BlockNode {
    bitmaps = List.copyOf(bitmaps);
  }

  /** Whether bitmaps added here can be persistent (stored in the image): qcow2 only. */
  public boolean canPersistBitmaps() {
    return driver.equals("qcow2");
  }
}
