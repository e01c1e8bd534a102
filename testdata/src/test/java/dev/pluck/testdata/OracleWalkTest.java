package dev.pluck.testdata;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The oracle's walker, checked against what the JDK itself reads from a directory. */
class OracleWalkTest {
  @TempDir Path tmp;

  @Test
  void walkerRecordsWhatTheFilesystemHolds() throws Exception {
    Path root = Files.createDirectories(tmp.resolve("root"));
    Files.createDirectories(root.resolve("dir/sub"));
    byte[] content = "hello oracle\n".getBytes(StandardCharsets.UTF_8);
    Path file = Files.write(root.resolve("dir/file.txt"), content);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r-----"));
    Files.setLastModifiedTime(file, FileTime.from(Instant.parse("2021-05-06T07:08:09.123456789Z")));
    Files.createSymbolicLink(root.resolve("link"), Path.of("dir/file.txt"));
    Files.createLink(root.resolve("dir/sub/hard"), file);
    Files.writeString(root.resolve("name with\nnewline"), "odd");

    Path listing = tmp.resolve("out");
    Files.createDirectories(listing);
    Tools.run(Duration.ofSeconds(60),
            List.of("python3", Path.of("scripts/oracle-walk.py").toAbsolutePath().toString(), root.toString()),
            listing.resolve("files-disk.jsonl"))
        .ok();
    Files.writeString(listing.resolve("volumes.jsonl"), "{\"id\":\"disk\",\"kind\":\"disk\",\"size\":1}\n");

    Oracle oracle = new Oracle(listing);
    Map<String, OracleEntry> byPath = oracle.filesByPath("disk");
    assertThat(byPath.keySet())
        .containsExactly("/", "/dir", "/dir/file.txt", "/dir/sub", "/dir/sub/hard", "/link", "/name with\nnewline");
    OracleEntry f = byPath.get("/dir/file.txt");
    assertThat(f.type()).isEqualTo("file");
    assertThat(f.size()).isEqualTo(content.length);
    assertThat(f.mode()).isEqualTo(0640);
    assertThat(f.nlink()).isEqualTo(2);
    assertThat(f.inode()).isEqualTo(byPath.get("/dir/sub/hard").inode());
    assertThat(f.mtimeNs()).isEqualTo(Instant.parse("2021-05-06T07:08:09.123456789Z").getEpochSecond() * 1_000_000_000L + 123_456_789L);
    assertThat(f.sha256()).isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content)));
    assertThat(byPath.get("/link").target()).isEqualTo("dir/file.txt");
    assertThat(byPath.get("/link").isSymlink()).isTrue();
    assertThat(byPath.get("/dir").isDirectory()).isTrue();
    assertThat(oracle.filesystemVolumes()).containsExactly("disk");
  }

  @Test
  void aCorruptListingIsReportedWithItsLine() throws IOException {
    Files.writeString(tmp.resolve("files-p1.jsonl"), "{\"path\":\"/\"}\nnot json\n");
    assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> new Oracle(tmp).files("p1")))
        .hasMessageContaining("files-p1.jsonl:2");
  }
}
