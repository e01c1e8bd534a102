package dev.pluck.testdata;

import java.nio.file.Path;
import java.util.List;

/**
 * A built test disk: its image files (one per disk; raw, sparse) and the oracle of what is on
 * them. Treat the images as read-only: they are shared by every test through the cache.
 */
public record TestDisk(String name, Path dir, List<Path> disks, Oracle oracle) {
  public TestDisk {
    disks = List.copyOf(disks);
  }

  /** The first (usually only) disk image. */
  public Path image() {
    return disks.get(0);
  }
}
