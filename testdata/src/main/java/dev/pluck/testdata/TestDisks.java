package dev.pluck.testdata;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The library of real test disks. Each is built by a script in {@code testdata/scripts} with the
 * real tools on first use, then cached by a hash of its recipe (the scripts' text, the arguments
 * and any input file), so a changed recipe rebuilds and an unchanged one is reused.
 *
 * <p>Cache: {@code $PLUCK_TESTDATA_CACHE}, else {@code ~/.cache/pluck-testdata}. Building needs
 * root (loop devices, kernel and FUSE mounts); one build runs at a time across processes.
 */
public final class TestDisks {
  /** Bumped when the layout of a built image directory changes. */
  private static final int FORMAT = 1;

  private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(10);

  /** Every file of {@code testdata/scripts}; a test checks this list against the folder. */
  static final List<String> SCRIPTS =
      List.of(
          "lib.sh",
          "gen-tree.py",
          "oracle-walk.py",
          "lvmap.py",
          "volinfo.py",
          "ntfs-fragment.py",
          "build-gpt-mixed.sh",
          "build-mbr-logical.sh",
          "build-ext4-features.sh",
          "build-ext-legacy.sh",
          "build-ntfs-features.sh",
          "build-lvm-multi.sh",
          "build-ntfs-windows.sh",
          "build-ext4-variants.sh",
          "build-ntfs-mft.sh");

  /** The variants of {@code build-ext4-variants.sh}, each an image named "ext4-VARIANT". */
  public static final List<String> EXT4_VARIANTS = List.of("meta_bg", "bigalloc", "encrypt", "casefold", "ea_inode", "journal");

  /** The Windows-formatted NTFS disks of {@code shared/testdata/ntfs-windows}. */
  public static final List<String> WINDOWS_NTFS = List.of("ptrn", "ramslack", "lastaccess", "si-vs-fn");

  /** How to build one image: a script, its arguments, and a shared input file if any. */
  record Recipe(String name, String script, List<String> args, String sharedInput) {}

  static final Map<String, Recipe> RECIPES = recipes();

  private static final ReentrantLock BUILD_LOCK = new ReentrantLock();
  private static final Map<String, TestDisk> BUILT = new LinkedHashMap<>();
  private static final ObjectMapper JSON = new ObjectMapper();

  private TestDisks() {}

  private static Map<String, Recipe> recipes() {
    Map<String, Recipe> r = new LinkedHashMap<>();
    add(r, "gpt-mixed", "build-gpt-mixed.sh", "512");
    add(r, "gpt-mixed-4k", "build-gpt-mixed.sh", "4096");
    add(r, "mbr-logical", "build-mbr-logical.sh");
    add(r, "ext4-features", "build-ext4-features.sh");
    add(r, "ext2", "build-ext-legacy.sh", "ext2");
    add(r, "ext3", "build-ext-legacy.sh", "ext3");
    add(r, "ntfs-features-4k", "build-ntfs-features.sh", "4096");
    add(r, "ntfs-features-64k", "build-ntfs-features.sh", "65536");
    add(r, "lvm-multi", "build-lvm-multi.sh");
    add(r, "ntfs-mft", "build-ntfs-mft.sh");
    for (String v : EXT4_VARIANTS) {
      add(r, "ext4-" + v, "build-ext4-variants.sh", v);
    }
    for (String w : WINDOWS_NTFS) {
      String input = "testdata/ntfs-windows/ntfs-" + w + ".raw.gz";
      r.put("ntfs-windows-" + w, new Recipe("ntfs-windows-" + w, "build-ntfs-windows.sh", List.of(), input));
    }
    return Map.copyOf(r);
  }

  private static void add(Map<String, Recipe> r, String name, String script, String... args) {
    r.put(name, new Recipe(name, script, List.of(args), null));
  }

  /** Names of every image in the library. */
  public static Set<String> names() {
    return RECIPES.keySet();
  }

  /** GPT: BIOS boot, FAT32 ESP, ext4 root, swap, and LVM (vg0: home ext4, swap, data NTFS). */
  public static TestDisk gptMixed() {
    return get("gpt-mixed");
  }

  /** {@link #gptMixed()} on a disk with 4 KiB logical sectors (GPT header at byte 4096). */
  public static TestDisk gptMixed4k() {
    return get("gpt-mixed-4k");
  }

  /** MBR: primary ext4, extended partition with logical swap, NTFS and ext4. */
  public static TestDisk mbrLogical() {
    return get("mbr-logical");
  }

  /** A bare ext4 with extent trees of depth 2, htree, inline data, xattrs, special files. */
  public static TestDisk ext4Features() {
    return get("ext4-features");
  }

  /** A bare ext2 with indirect block maps up to triple indirect. */
  public static TestDisk ext2() {
    return get("ext2");
  }

  /** A bare ext3 (journal, indirect block maps). */
  public static TestDisk ext3() {
    return get("ext3");
  }

  /** A bare NTFS, 4 KiB clusters, with compressed files, streams, reparse points, ... */
  public static TestDisk ntfsFeatures4k() {
    return get("ntfs-features-4k");
  }

  /** A bare NTFS, 64 KiB clusters (no compression possible). */
  public static TestDisk ntfsFeatures64k() {
    return get("ntfs-features-64k");
  }

  /** Two disks forming one VG: striped and spanning LVs, wrapped metadata. */
  public static TestDisk lvmMulti() {
    return get("lvm-multi");
  }

  /** A disk formatted by Windows 10: one of {@link #WINDOWS_NTFS}. */
  public static TestDisk ntfsWindows(String which) {
    return get("ntfs-windows-" + which);
  }

  /** Builds (or finds in the cache) the named image. */
  public static TestDisk get(String name) {
    Recipe recipe = RECIPES.get(name);
    if (recipe == null) {
      throw new IllegalArgumentException("no test disk named " + name + "; known: " + names());
    }
    BUILD_LOCK.lock();
    try {
      TestDisk disk = BUILT.get(name);
      if (disk == null) {
        disk = build(recipe);
        BUILT.put(name, disk);
      }
      return disk;
    } finally {
      BUILD_LOCK.unlock();
    }
  }

  /** Where built images are kept. */
  public static Path cacheDir() {
    String configured = System.getProperty("pluck.testdata.cache", System.getenv("PLUCK_TESTDATA_CACHE"));
    if (configured != null && !configured.isBlank()) {
      return Path.of(configured);
    }
    return Path.of(System.getProperty("user.home"), ".cache", "pluck-testdata");
  }

  /**
   * The project's {@code ../shared} folder: {@code $PLUCK_SHARED}, else the first {@code shared}
   * folder holding {@code testdata} found beside the working directory or one of its parents.
   */
  public static Path sharedDir() {
    String configured = System.getProperty("pluck.shared", System.getenv("PLUCK_SHARED"));
    if (configured != null && !configured.isBlank()) {
      return Path.of(configured);
    }
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      Path candidate = p.resolve("shared");
      if (Files.isDirectory(candidate.resolve("testdata"))) {
        return candidate;
      }
    }
    throw new IllegalStateException(
        "cannot find the shared/ folder (with testdata/) beside the project; set PLUCK_SHARED");
  }

  /**
   * The hash that names a recipe's cache entry: its own builder script, the shared helpers (every
   * script that is not a builder), arguments, input, format. Another image's builder does not
   * count, so adding or changing one builder rebuilds only its images.
   */
  static String recipeHash(Recipe recipe) {
    MessageDigest sha = sha256();
    update(sha, "format " + FORMAT + "\n" + recipe.script() + "\n" + String.join("\0", recipe.args()));
    for (String script : SCRIPTS) {
      if (script.startsWith("build-") && !script.equals(recipe.script())) {
        continue;
      }
      update(sha, "\0" + script + "\0");
      sha.update(scriptBytes(script));
    }
    if (recipe.sharedInput() != null) {
      Path input = sharedDir().resolve(recipe.sharedInput());
      update(sha, "\0input\0");
      try (InputStream in = Files.newInputStream(input)) {
        byte[] buf = new byte[1 << 16];
        for (int n; (n = in.read(buf)) > 0; ) {
          sha.update(buf, 0, n);
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read test input " + input, e);
      }
    }
    return HexFormat.of().formatHex(sha.digest()).substring(0, 16);
  }

  private static TestDisk build(Recipe recipe) {
    Path cache = cacheDir();
    String hash = recipeHash(recipe);
    Path dir = cache.resolve(recipe.name() + "-" + hash);
    try {
      Files.createDirectories(cache);
      if (!Files.exists(dir.resolve("manifest.json"))) {
        try (FileChannel ch =
                FileChannel.open(cache.resolve(".build.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock ignored = ch.lock()) {
          // Another process may have built it while this one waited for the lock.
          if (!Files.exists(dir.resolve("manifest.json"))) {
            runBuild(recipe, cache, dir, hash);
          }
        }
      }
      return open(recipe.name(), dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot build test disk " + recipe.name() + " in " + cache, e);
    }
  }

  private static void runBuild(Recipe recipe, Path cache, Path dir, String hash) throws IOException {
    if (!"root".equals(System.getProperty("user.name"))) {
      throw new IllegalStateException(
          "building test disk " + recipe.name() + " needs root (loop devices, mounts); run scripts/test as root");
    }
    Path scripts = cache.resolve("scripts-" + hash);
    deleteTree(scripts);
    Files.createDirectories(scripts);
    for (String script : SCRIPTS) {
      Path target = scripts.resolve(script);
      Files.write(target, scriptBytes(script));
      target.toFile().setExecutable(true);
    }
    Path partial = cache.resolve(recipe.name() + "-" + hash + ".partial");
    deleteTree(partial);
    Files.createDirectories(partial);
    List<String> command = new ArrayList<>(List.of("bash", scripts.resolve(recipe.script()).toString(), partial.toString()));
    command.addAll(recipe.args());
    if (recipe.sharedInput() != null) {
      command.add(sharedDir().resolve(recipe.sharedInput()).toString());
    }
    Path log = cache.resolve(recipe.name() + "-" + hash + ".log");
    long start = System.nanoTime();
    Tools.Result result = Tools.run(BUILD_TIMEOUT, command, log);
    deleteTree(scripts);
    if (result.exitCode() != 0 || !Files.exists(partial.resolve("manifest.json"))) {
      String output = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
      throw new IllegalStateException(
          "building test disk " + recipe.name() + " failed (exit " + result.exitCode() + "): "
              + Tools.tail(output + "\n" + result.stderr()));
    }
    Files.move(partial, dir, StandardCopyOption.ATOMIC_MOVE);
    Files.writeString(
        dir.resolve("build-seconds"), String.format("%.1f%n", (System.nanoTime() - start) / 1e9));
    removeStale(cache, recipe.name(), dir);
  }

  /** Older builds of the same image (another recipe hash) only take disk space. */
  private static void removeStale(Path cache, String name, Path keep) throws IOException {
    Pattern own = Pattern.compile(Pattern.quote(name) + "-[0-9a-f]{16}(\\.partial|\\.log)?");
    try (Stream<Path> entries = Files.list(cache)) {
      for (Path p : entries.toList()) {
        String file = p.getFileName().toString();
        if (!p.equals(keep) && own.matcher(file).matches() && !file.equals(keep.getFileName() + ".log")) {
          deleteTree(p);
        }
      }
    }
  }

  private static TestDisk open(String name, Path dir) throws IOException {
    JsonNode manifest = JSON.readTree(dir.resolve("manifest.json").toFile());
    List<Path> disks = new ArrayList<>();
    manifest.path("disks").forEach(d -> disks.add(dir.resolve(d.asText())));
    if (disks.isEmpty()) {
      throw new IllegalStateException("test disk " + name + " has no disk images in " + dir);
    }
    return new TestDisk(name, dir, disks, new Oracle(dir));
  }

  /** Writes one of the builder scripts (e.g. lvmap.py, an oracle helper) into {@code dir}. */
  public static Path writeScript(String script, Path dir) throws IOException {
    Path target = dir.resolve(script);
    Files.write(target, scriptBytes(script));
    target.toFile().setExecutable(true);
    return target;
  }

  static byte[] scriptBytes(String script) {
    try (InputStream in = TestDisks.class.getResourceAsStream("scripts/" + script)) {
      if (in == null) {
        throw new IllegalStateException("builder script missing from the classpath: " + script);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void update(MessageDigest sha, String s) {
    sha.update(s.getBytes(StandardCharsets.UTF_8));
  }
}
