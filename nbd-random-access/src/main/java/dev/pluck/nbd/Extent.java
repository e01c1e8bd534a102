package dev.pluck.nbd;

/**
 * A run of bytes with the same status in one metadata context.
 *
 * <p>In {@code base:allocation}: {@link #HOLE} (unallocated) and {@link #ZERO} (reads as zeros).
 * In {@code qemu:dirty-bitmap:NAME}: {@link #DIRTY} (written since the bitmap was created).
 */
public record Extent(long offset, long length, int flags) {
  /** base:allocation: the range is not allocated (NBD_STATE_HOLE). */
  public static final int HOLE = 1;
  /** base:allocation: the range reads as zeros (NBD_STATE_ZERO). */
  public static final int ZERO = 2;
  /** qemu:dirty-bitmap:*: the range changed (NBD_STATE_DIRTY). */
  public static final int DIRTY = 1;

  public Extent {
    if (offset < 0 || length < 0) {
      throw new IllegalArgumentException("negative extent " + offset + "+" + length);
    }
  }

  public long end() {
    return offset + length;
  }

  /**
   * Adds {@code [offset, offset + length)} with {@code flags} to {@code out}, extending the last
   * extent instead when it ends there with the same flags (block status answers merged runs).
   */
  public static void append(java.util.List<Extent> out, long offset, long length, int flags) {
    if (!out.isEmpty()) {
      Extent last = out.get(out.size() - 1);
      if (last.flags() == flags && last.end() == offset) {
        out.set(out.size() - 1, new Extent(last.offset(), last.length() + length, flags));
        return;
      }
    }
    out.add(new Extent(offset, length, flags));
  }

  /** True when this is base:allocation data that reads as zeros (a hole or a zero range). */
  public boolean readsAsZeros() {
    return (flags & ZERO) != 0;
  }
}
