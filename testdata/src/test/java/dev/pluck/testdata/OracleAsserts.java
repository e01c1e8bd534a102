package dev.pluck.testdata;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/** Checks of an oracle against what its builder made and against a second, independent tool. */
final class OracleAsserts {
  /** NTFS metafiles (hidden by ntfs-3g) and TSK's virtual folder; not "$RECYCLE.BIN", a real one. */
  private static final Set<String> METAFILES = Set.of("$MFT", "$MFTMirr", "$LogFile", "$Volume", "$AttrDef",
      "$Bitmap", "$Boot", "$BadClus", "$Secure", "$UpCase", "$Extend", "$OrphanFiles");

  private OracleAsserts() {}

  /**
   * The listing under {@code prefix} holds exactly what gen-tree.py reported making: its files
   * (hard links are extra paths to files), directories and symlinks.
   */
  static void assertTreeMatchesGenerator(Oracle oracle, String volume, String prefix, String factsKey, String... otherTrees) {
    JsonNode counts = oracle.facts().path(factsKey);
    assertThat(counts.isObject()).as("facts.json has %s", factsKey).isTrue();
    String root = prefix.equals("/") ? "/" : prefix + "/";
    List<OracleEntry> under = oracle.files(volume).stream()
        .filter(e -> e.path().startsWith(root) && !e.path().equals(root))
        .filter(e -> !e.path().equals("/lost+found") && !e.path().startsWith("/lost+found/"))
        .filter(e -> java.util.Arrays.stream(otherTrees).noneMatch(o -> e.path().equals(o) || e.path().startsWith(o + "/")))
        .toList();
    assertThat(under).filteredOn(OracleEntry::isFile)
        .hasSize(counts.get("file").asInt() + counts.get("hardlink").asInt());
    assertThat(under).filteredOn(OracleEntry::isDirectory).hasSize(counts.get("dir").asInt());
    assertThat(under).filteredOn(OracleEntry::isSymlink).hasSize(counts.get("symlink").asInt());
    assertThat(counts.get("file").asInt()).isGreaterThan(100);
    long hardLinked = under.stream().filter(e -> e.isFile() && e.nlink() > 1).count();
    assertThat(hardLinked).as("files with more than one name").isGreaterThanOrEqualTo(counts.get("hardlink").asInt());
    long bytes = under.stream().filter(OracleEntry::isFile)
        .collect(Collectors.toMap(OracleEntry::inode, OracleEntry::size, (a, b) -> a)).values().stream()
        .mapToLong(Long::longValue).sum();
    assertThat(bytes).isEqualTo(counts.get("bytes").asLong());
  }

  /**
   * The Sleuth Kit's {@code fls} lists the same paths as the oracle (within {@code scope}), and
   * {@code icat} reads the same content for a sample of files.
   */
  static void assertSleuthkitAgrees(Path image, long offset, Oracle oracle, String volume, Predicate<String> scope, int samples) {
    List<Sleuthkit.FlsEntry> fls = Sleuthkit.fls(image, offset);
    Set<String> flsPaths = fls.stream()
        .filter(e -> !e.deleted())
        .map(e -> "/" + e.path())
        .filter(p -> !METAFILES.contains(p.split("/")[1]))
        .filter(p -> !p.substring(p.lastIndexOf('/')).contains(":"))  // NTFS streams
        .filter(scope)
        .collect(Collectors.toCollection(TreeSet::new));
    Set<String> oraclePaths = oracle.files(volume).stream().map(OracleEntry::path)
        .filter(p -> !p.equals("/")).filter(scope)
        .collect(Collectors.toCollection(TreeSet::new));
    assertThat(flsPaths).as("fls paths of %s", volume).isEqualTo(oraclePaths);

    Map<String, OracleEntry> byPath = oracle.filesByPath(volume);
    fls.stream()
        .filter(e -> !e.deleted() && byPath.containsKey("/" + e.path()) && byPath.get("/" + e.path()).isFile())
        .filter(e -> scope.test("/" + e.path()))
        .limit(samples)
        .forEach(e -> assertThat(Sleuthkit.icatSha256(image, offset, Long.toString(e.inode())))
            .as("icat of %s", e.path())
            .isEqualTo(byPath.get("/" + e.path()).sha256()));
  }
}
