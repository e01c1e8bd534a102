package dev.pluck.testdata;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * What independent tools say is on a test disk: the partition table ({@code sfdisk --json}), the
 * volumes ({@code blkid -p}, LVM's reports) and, per filesystem, every path with its metadata and
 * content digest (a walk of a read-only kernel or ntfs-3g mount). Never made with pluck code.
 *
 * <p>Files in the image directory: {@code partitions.json}, {@code volumes.jsonl}, {@code
 * files-ID.jsonl} (ID with "/" as "-"), {@code facts.json} (what the builder made, e.g. tree
 * counts).
 */
public final class Oracle {
  private static final ObjectMapper JSON =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true);

  private final Path dir;
  private final Map<String, List<OracleEntry>> files = new ConcurrentHashMap<>();

  public Oracle(Path dir) {
    this.dir = dir;
  }

  /** The parsed {@code sfdisk --json} table, or empty for a disk without one. */
  public Optional<JsonNode> partitionTable() {
    Path p = dir.resolve("partitions.json");
    if (!Files.exists(p)) {
      return Optional.empty();
    }
    return Optional.of(read(p).path("partitiontable"));
  }

  /** Every volume: partitions, whole-disk volumes and LVs, in the builder's order. */
  public List<OracleVolume> volumes() {
    List<OracleVolume> out = new ArrayList<>();
    for (JsonNode n : lines(dir.resolve("volumes.jsonl"))) {
      out.add(JSON.convertValue(n, OracleVolume.class));
    }
    return out;
  }

  public OracleVolume volume(String id) {
    return volumes().stream()
        .filter(v -> v.id().equals(id))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no volume " + id + " in " + dir));
  }

  /** Ids of the volumes whose files the oracle lists. */
  public List<String> filesystemVolumes() {
    return volumes().stream()
        .map(OracleVolume::id)
        .filter(id -> Files.exists(filesPath(id)))
        .collect(Collectors.toList());
  }

  /** Every path of a volume's filesystem, sorted by path bytes. */
  public List<OracleEntry> files(String volumeId) {
    return files.computeIfAbsent(volumeId, this::loadFiles);
  }

  /** One path of a volume's filesystem. */
  public OracleEntry file(String volumeId, String path) {
    return files(volumeId).stream()
        .filter(e -> e.path().equals(path))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no " + path + " on " + volumeId));
  }

  /** Paths by path string, for lookups. */
  public Map<String, OracleEntry> filesByPath(String volumeId) {
    Map<String, OracleEntry> out = new LinkedHashMap<>();
    for (OracleEntry e : files(volumeId)) {
      out.put(e.path(), e);
    }
    return out;
  }

  /** What the builder recorded about what it made ({@code facts.json}), or an empty object. */
  public JsonNode facts() {
    Path p = dir.resolve("facts.json");
    return Files.exists(p) ? read(p) : JSON.createObjectNode();
  }

  private Path filesPath(String volumeId) {
    return dir.resolve("files-" + volumeId.replace('/', '-') + ".jsonl");
  }

  private List<OracleEntry> loadFiles(String volumeId) {
    Path p = filesPath(volumeId);
    if (!Files.exists(p)) {
      throw new IllegalArgumentException("no filesystem listing for volume " + volumeId + " in " + dir);
    }
    List<OracleEntry> out = new ArrayList<>();
    for (JsonNode n : lines(p)) {
      out.add(entry(n));
    }
    return List.copyOf(out);
  }

  private static OracleEntry entry(JsonNode n) {
    Map<String, byte[]> xattrs = new HashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = n.path("xattrs").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> x = it.next();
      xattrs.put(x.getKey(), Base64.getDecoder().decode(x.getValue().asText()));
    }
    Map<String, OracleEntry.Stream> streams = new HashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = n.path("streams").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> s = it.next();
      streams.put(
          s.getKey(),
          new OracleEntry.Stream(s.getValue().path("size").asLong(), s.getValue().path("sha256").asText()));
    }
    List<Integer> rdev = null;
    if (n.has("rdev")) {
      rdev = List.of(n.get("rdev").get(0).asInt(), n.get("rdev").get(1).asInt());
    }
    return new OracleEntry(
        n.get("path").asText(),
        n.get("type").asText(),
        n.get("size").asLong(),
        n.get("mode").asInt(),
        n.get("uid").asLong(),
        n.get("gid").asLong(),
        n.get("nlink").asLong(),
        n.get("inode").asLong(),
        n.get("mtimeNs").asLong(),
        n.get("atimeNs").asLong(),
        n.get("ctimeNs").asLong(),
        n.hasNonNull("target") ? n.get("target").asText() : null,
        rdev,
        n.hasNonNull("sha256") ? n.get("sha256").asText() : null,
        xattrs,
        streams,
        n.hasNonNull("ntfsAttributes") ? n.get("ntfsAttributes").asInt() : null,
        n.hasNonNull("reparse") ? n.get("reparse").asText() : null,
        n.path("encrypted").asBoolean(false));
  }

  private static JsonNode read(Path p) {
    try {
      return JSON.readTree(p.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read oracle file " + p, e);
    }
  }

  private static List<JsonNode> lines(Path p) {
    List<JsonNode> out = new ArrayList<>();
    try (BufferedReader r = Files.newBufferedReader(p, StandardCharsets.UTF_8)) {
      String line;
      int number = 0;
      while ((line = r.readLine()) != null) {
        number++;
        if (!line.isBlank()) {
          try {
            out.add(JSON.readTree(line));
          } catch (IOException e) {
            throw new UncheckedIOException("bad JSON at " + p + ":" + number, e);
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read oracle file " + p, e);
    }
    return out;
  }
}
