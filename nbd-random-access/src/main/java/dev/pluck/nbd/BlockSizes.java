package dev.pluck.nbd;

/**
 * Block-size constraints of a device, as NBD's {@code NBD_INFO_BLOCK_SIZE} states them.
 *
 * @param minimum smallest addressable unit (requests should be aligned to it)
 * @param preferred size and alignment that performs best
 * @param maximum largest payload of one request
 */
public record BlockSizes(int minimum, int preferred, int maximum) {
  /** What a device says when it says nothing: 1-byte access, 4 KiB preferred, 32 MiB payloads. */
  public static final BlockSizes DEFAULT = new BlockSizes(1, 4096, 32 << 20);

  public BlockSizes {
    if (minimum < 1 || preferred < minimum || maximum < preferred) {
      throw new IllegalArgumentException(
          "block sizes must satisfy 1 <= minimum <= preferred <= maximum: " + minimum + "/" + preferred + "/" + maximum);
    }
  }
}
