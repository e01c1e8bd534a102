package dev.pluck.engine.repo;

/**
 * The repository's "config" object.
 *
 * @param format the format version (docs/FORMAT.md); a reader refuses versions it does not know
 * @param chunkSize bytes per chunk of file content and per block of a volume image
 * @param compression codec and level of new chunks ("zstd:3", "lz4", "xz:6", "none")
 * @param packSize a pack is closed once it holds this many bytes
 * @param encryption reserved: null (no encryption); an encrypted repository will name its scheme and key file here
 */
public record Config(int format, String id, String created, int chunkSize, String compression, long packSize, String encryption) {
  public static final int FORMAT = 1;
  public static final int DEFAULT_CHUNK = 1 << 20;
  public static final long DEFAULT_PACK = 64L << 20;
  /** Chunks larger than this do not fit the index's 24-bit stored length. */
  public static final int MAX_CHUNK = 8 << 20;
  /**
   * New repositories' compression: zstd level 1, as Proxmox Backup Server stores its chunks. On
   * 1 GiB tars of /usr and of system directories it is 1.2-1.3 times as fast as level 2 for 3-5%
   * more stored bytes; the hashing and compressing of every chunk are most of a volume backup's
   * CPU, taken on the hypervisor host beside the guests (docs/PERFORMANCE.md).
   */
  public static final String DEFAULT_COMPRESSION = "zstd:1";

  public static Config defaults(String compression) {
    Codec.Choice.parse(compression);
    return new Config(FORMAT, java.util.UUID.randomUUID().toString(), java.time.Instant.now().toString(), DEFAULT_CHUNK, compression,
        DEFAULT_PACK, null);
  }

  Config checked() {
    if (format != FORMAT) {
      throw new IllegalArgumentException("repository format " + format + " (this pluck reads format " + FORMAT + ")");
    }
    if (encryption != null) {
      throw new IllegalArgumentException("repository is encrypted (" + encryption + "), which this pluck does not support");
    }
    if (chunkSize < 4096 || chunkSize > MAX_CHUNK || Integer.bitCount(chunkSize) != 1) {
      throw new IllegalArgumentException("chunk size " + chunkSize + " (a power of two, 4 KiB to 8 MiB)");
    }
    if (packSize < chunkSize || packSize > (4L << 30)) {
      throw new IllegalArgumentException("pack size " + packSize);
    }
    Codec.Choice.parse(compression);
    return this;
  }
}
