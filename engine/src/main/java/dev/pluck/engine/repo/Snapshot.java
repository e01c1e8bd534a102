package dev.pluck.engine.repo;

import java.util.List;
import java.util.Map;

/**
 * A snapshot manifest ("snapshots/ID", JSON): what was backed up, from where, when, and per
 * volume either a file catalog or a block map, both stored as chunks. Immutable; it stands alone
 * (restoring it reads only chunks it names).
 *
 * @param id the SHA-256 of the manifest's bytes (filled in when read)
 * @param complete false when some paths could not be read; they are listed in {@code unreadable}
 * @param group what "latest", parents and forget policies are per: vm, drives and chain by default
 */
public record Snapshot(String id, int format, String time, String hostname, Source source, List<String> tags, boolean complete,
    List<String> unreadable, String parent, String chain, String bitmap, Map<String, Object> selection, int chunkSize,
    List<Volume> volumes) {

  /** Where the data came from. */
  public record Source(String vm, List<String> drives, List<String> uris) {}

  /**
   * One volume: {@code mode} "files" (catalog: chunks of JSON lines, one per entry) or "blocks"
   * (blockMap: chunks of 32-byte chunk ids, one per block of {@code blockSize}, zeros for a hole).
   */
  public record Volume(String id, String fs, String mode, List<String> catalog, long entries, long bytes, long size, int blockSize,
      List<String> blockMap, Metadata metadata) {
    public Volume(String id, String fs, String mode, List<String> catalog, long entries, long bytes, long size, int blockSize,
        List<String> blockMap) {
      this(id, fs, mode, catalog, entries, bytes, size, blockSize, blockMap, null);
    }

    public Volume withMetadata(Metadata m) {
      return new Volume(id, fs, mode, catalog, entries, bytes, size, blockSize, blockMap, m);
    }
  }

  /**
   * The filesystem metadata a files backup read, kept so that the next incremental reads only
   * what its dirty bitmap says changed: {@code image} is a sparse block image of the volume
   * (mode "blocks") whose bytes are valid only inside {@code ranges} (chunks of big-endian
   * offset/length pairs, sorted, merged), which add up to {@code bytes}.
   */
  public record Metadata(Volume image, List<String> ranges, long bytes) {}

  public Snapshot withId(String newId) {
    return new Snapshot(newId, format, time, hostname, source, tags, complete, unreadable, parent, chain, bitmap, selection, chunkSize,
        volumes);
  }

  /** The group this snapshot belongs to: "vm|drive,drive|chain". */
  public String group() {
    return group(source, chain);
  }

  /** The group of snapshots from {@code source} in {@code chain}. */
  public static String group(Source source, String chain) {
    String vm = source == null || source.vm() == null ? "" : source.vm();
    String drives = source == null || source.drives() == null ? "" : String.join(",", source.drives());
    return vm + "|" + drives + "|" + (chain == null ? "" : chain);
  }
}
