package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.engine.repo.Check;
import dev.pluck.engine.repo.Config;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Prune;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.testdata.Tools;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a backup reads, counted by the server: qemu-storage-daemon traces every read reply it
 * sends (offset and length), so the test needs no word of pluck's about what it read.
 */
class ReadEfficiencyIT {
  private static final long GIB = 1L << 30;
  private static final Pattern REPLY = Pattern.compile("nbd_co_send_structured_read(_hole)? .*offset = (\\d+).*(?:len|size) = (\\d+)");

  @TempDir Path tmp;

  @Test
  void aFolderOfFivePercentAndItsIncrementalsReadLittleMoreThanTheirBytes() throws Exception {
    Path trace = tmp.resolve("nbd.trace");
    try (LiveGuest guest = LiveGuest.newExt4(tmp, GIB, List.of("--trace", "enable=nbd_co_send_structured_read*,file=" + trace));
        Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:1"))) {
      for (int d = 0; d < 19; d++) {  // the rest of the volume: 95% of its used bytes
        for (int f = 0; f < 10; f++) {
          guest.write(guest.mount.resolve("other" + d + "/file" + f), 4 << 20);
        }
      }
      for (int f = 0; f < 10; f++) {
        guest.write(guest.mount.resolve("sel/big" + f), 4 << 20);
      }
      for (int f = 0; f < 200; f++) {
        guest.write(guest.mount.resolve("sel/small/s" + f), 100 + 37 * f);
      }
      long selected = Long.parseLong(Tools.runOk("du", "-sB1", guest.mount.resolve("sel").toString()).stdout().split("\\s+")[0]);

      long at = Files.size(trace);
      VmBackup.Result full = guest.backup(repo, "backup", Backup.Mode.FILES, "disk", List.of("/sel/**"));
      long server = served(trace, at);
      long metadata = full.backup().bytesRead().get("metadata");
      System.err.printf("read efficiency: full: server %d, selected %d, metadata %d%n", server, selected, metadata);
      assertThat(full.backup().bytesRead().get("data")).as("pluck's count of file data").isBetween(40L << 20, selected);
      assertThat(server).as("bytes the server sent for a 5%% folder (%d allocated, %d metadata)", selected, metadata)
          .isGreaterThanOrEqualTo(40L << 20).isLessThanOrEqualTo((long) (1.02 * selected) + 2 * metadata);

      // 1% of the folder's bytes overwritten in place
      long written = guest.overwrite(guest.mount.resolve("sel/big3"), 1 << 20, 6 << 16);
      long dirty = guest.dirtyBytes("backup");
      assertThat(dirty).as("the bitmap holds about what was written").isBetween(written, 2 * written);
      at = Files.size(trace);
      VmBackup.Result r1 = guest.backup(repo, "backup", Backup.Mode.FILES, "disk", List.of("/sel/**"));
      server = served(trace, at);
      System.err.printf("read efficiency: 1%%: server %d, dirty %d, written %d, metadata %d%n", server, dirty, written,
          r1.backup().bytesRead().get("metadata"));
      assertThat(server).as("an incremental after a 1%% change: %d dirty", dirty)
          .isLessThanOrEqualTo((long) (1.10 * dirty) + 2 * r1.backup().bytesRead().get("metadata"));
      assertThat(r1.backup().bytesRead().get("data")).isEqualTo(written);

      at = Files.size(trace);
      VmBackup.Result quiet = guest.backup(repo, "backup", Backup.Mode.FILES, "disk", List.of("/sel/**"));
      server = served(trace, at);
      System.err.printf("read efficiency: no change: server %d%n", server);
      assertThat(quiet.backup().bytesRead().get("data")).isZero();
      assertThat(server).as("an incremental after no writes: under 1 MiB per GiB").isLessThan(1L << 20);

      // Metadata comes from the parent's image, not the source, where the bitmap says it is unchanged.
      Snapshot.Metadata kept = repo.snapshot(quiet.backup().snapshot()).volumes().get(0).metadata();
      assertThat(kept).as("the metadata a files backup of a chain keeps").isNotNull();
      assertThat(kept.bytes()).isPositive();
      System.err.printf("read efficiency: metadata kept %d, read: full %d, no change %d%n", kept.bytes(), metadata,
          quiet.backup().bytesRead().get("metadata"));
      assertThat(quiet.backup().bytesRead().get("metadata")).as("metadata read from the source after no writes (%d kept)", kept.bytes())
          .isLessThan(metadata - kept.bytes() / 2);
      assertThat(quiet.backup().warnings()).isEmpty();

      // The kept metadata survives forget and prune of the snapshots before it (they are referenced).
      for (VmBackup.Result r : List.of(full, r1)) {
        repo.forget(r.backup().snapshot());
      }
      Prune.run(repo);
      assertThat(Check.run(repo, true).problems()).isEmpty();
      guest.write(guest.mount.resolve("sel/after-prune"), 1 << 20);
      VmBackup.Result after = guest.backup(repo, "backup", Backup.Mode.FILES, "disk", List.of("/sel/**"));
      assertThat(after.backup().warnings()).as("the parent's metadata image read whole").isEmpty();
      assertThat(after.backup().files().get("new")).isEqualTo(1);
    }
  }

  /** Bytes of read replies (data and holes) the trace holds after byte {@code from}. */
  static long served(Path trace, long from) throws IOException {
    long n = 0;
    try (RandomAccessFile f = new RandomAccessFile(trace.toFile(), "r")) {
      f.seek(from);
      byte[] rest = new byte[(int) (f.length() - from)];
      f.readFully(rest);
      for (String line : new String(rest, StandardCharsets.US_ASCII).split("\n")) {
        Matcher m = REPLY.matcher(line);
        if (m.find()) {
          n += Long.parseLong(m.group(3));
        }
      }
    }
    return n;
  }
}
