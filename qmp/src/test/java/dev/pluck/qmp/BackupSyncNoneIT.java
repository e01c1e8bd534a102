package dev.pluck.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.nbd.Extent;
import dev.pluck.nbd.NbdBlockDevice;
import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdUri;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.TestQmp;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pull views on qemu-storage-daemon (backup-sync-none): guest-style writes go through a FUSE
 * export of the live node, so QEMU's block layer and its bitmaps see them as a guest's.
 */
class BackupSyncNoneIT {
  private static final long GRANULARITY = 64 << 10;
  @TempDir Path tmp;
  private QemuStorageDaemon qsd;
  private Path fuse;
  private MonitorAddress monitor;
  private final Random random = new Random(21);

  @BeforeEach
  void start() throws Exception {
    Path image = tmp.resolve("disk.raw");
    byte[] bytes = new byte[64 << 20];
    random.nextBytes(bytes);
    Files.write(image, bytes);
    qsd = QemuStorageDaemon.start(image, "raw", List.of());
    monitor = MonitorAddress.unix(qsd.qmpSocket());
    fuse = qsd.exportFuse("live");
  }

  @AfterEach
  void stop() {
    qsd.close();
  }

  /** A guest's write: through the FUSE export into QEMU's block layer. */
  private long[] write(long offset, int length) throws Exception {
    byte[] b = new byte[length];
    random.nextBytes(b);
    try (FileChannel ch = FileChannel.open(fuse, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(b), offset);
      ch.force(false);
    }
    return new long[] {offset, length};
  }

  private static byte[] readAll(PullView.View view) throws Exception {
    PullView.DriveView d = view.drives().get(0);
    try (NbdBlockDevice dev = NbdBlockDevice.open(view.uri(d))) {
      return dev.read(0, (int) dev.size());
    }
  }

  private static List<Extent> dirty(PullView.View view) throws Exception {
    PullView.DriveView d = view.drives().get(0);
    try (NbdBlockDevice dev = NbdBlockDevice.open(NbdUri.parse(view.uri(d)), NbdOptions.defaults().withMetaContexts(List.of(d.context())))) {
      return dev.blockStatus(d.context(), 0, dev.size()).stream().filter(e -> (e.flags() & Extent.DIRTY) != 0).toList();
    }
  }

  /** The writes, widened to the bitmap's granularity and merged, as extents. */
  private static List<long[]> expected(long[]... writes) {
    List<long[]> spans = new ArrayList<>();
    for (long[] w : writes) {
      spans.add(new long[] {w[0] / GRANULARITY * GRANULARITY, (w[0] + w[1] + GRANULARITY - 1) / GRANULARITY * GRANULARITY});
    }
    spans.sort((a, b) -> Long.compare(a[0], b[0]));
    List<long[]> out = new ArrayList<>();
    for (long[] s : spans) {
      if (!out.isEmpty() && s[0] <= out.get(out.size() - 1)[1]) {
        out.get(out.size() - 1)[1] = Math.max(out.get(out.size() - 1)[1], s[1]);
      } else {
        out.add(new long[] {s[0], s[1]});
      }
    }
    return out;
  }

  private static void assertDirty(List<Extent> dirty, List<long[]> expected) {
    assertThat(dirty.stream().map(e -> new long[] {e.offset(), e.end()}).toList())
        .usingElementComparator((a, b) -> java.util.Arrays.equals(a, b) ? 0 : 1)
        .containsExactlyElementsOf(expected);
  }

  private PullView.Options options(String chain) {
    return PullView.Options.defaults(chain, tmp.resolve("scratch"));
  }

  @Test
  void viewsAreFrozenAndTheChainsBitmapHoldsEveryChangeEvenAfterAFailure() throws Exception {
    PullView.View v1 = PullView.begin(monitor, List.of("disk0"), options("backup"));
    assertThat(v1.mode()).isEqualTo(PullView.Mode.BACKUP_SYNC_NONE);
    assertThat(v1.consistency()).isEqualTo("crash-consistent");
    assertThat(v1.drives().get(0).context()).isNull();  // first view of the chain: a full backup
    byte[] before = readAll(v1);
    long[] w1 = write(1 << 20, 65536);
    long[] w1b = write((7 << 20) + 100, 5000);
    assertThat(readAll(v1)).isEqualTo(before);  // the view does not move
    PullView.end(monitor, v1, true, options("backup"));

    long[] w2 = write(5 << 20, 300_000);
    PullView.View v2 = PullView.begin(monitor, List.of("disk0"), options("backup"));
    assertThat(v2.drives().get(0).context()).isEqualTo("qemu:dirty-bitmap:pluck-backup-1");
    assertDirty(dirty(v2), expected(w1, w1b, w2));
    PullView.end(monitor, v2, false, options("backup"));  // a failed backup

    long[] w3 = write(30 << 20, 4096);
    PullView.View v3 = PullView.begin(monitor, List.of("disk0"), options("backup"));
    assertThat(v3.drives().get(0).previousBitmap()).isEqualTo("pluck-backup-1");
    assertDirty(dirty(v3), expected(w1, w1b, w2, w3));
    PullView.end(monitor, v3, true, options("backup"));

    try (QmpClient qmp = QmpClient.connect(monitor)) {
      BlockNode node = new QemuBlock(qmp).resolve("disk0");
      assertThat(node.bitmaps()).extracting(BlockNode.Bitmap::name).containsExactly("pluck-backup-2");
      assertThat(node.bitmaps().get(0).recording()).isTrue();
      assertThat(new QemuBlock(qmp).exportIds()).containsExactly("live");
      assertThat(new QemuBlock(qmp).jobIds()).isEmpty();
      assertThat(qmp.execute("query-named-block-nodes").findValuesAsText("node-name")).containsExactlyInAnyOrder("disk0", "file0");
    }
    assertThat(Files.list(tmp.resolve("scratch")).toList()).isEmpty();
  }

  @Test
  void anNbdServerThatAnotherToolRunsIsUsedWhenNamedAndLeftRunning() throws Exception {
    Path other = tmp.resolve("other-nbd.sock");
    try (TestQmp qmp = new TestQmp(qsd.qmpSocket())) {
      qmp.execute("nbd-server-start", "{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"" + other + "\"}}}");
    }
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> PullView.begin(monitor, List.of("disk0"), options("backup")))
        .hasMessageContaining("--nbd-server");
    PullView.Options o = options("backup").withNbdServer(MonitorAddress.unix(other));
    PullView.View v = PullView.begin(monitor, List.of("disk0"), o);
    assertThat(v.uri(v.drives().get(0))).contains("socket=" + other);
    assertThat(readAll(v)).hasSize(64 << 20);
    PullView.end(monitor, v, true, o);
    try (TestQmp qmp = new TestQmp(qsd.qmpSocket())) {
      // still the other tool's server: starting another one is refused
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> qmp.execute("nbd-server-start",
          "{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"" + tmp.resolve("x.sock") + "\"}}}"))
          .hasMessageContaining("already");
    }
  }

  @Test
  void retentionKeepsThePreviousBitmapDisabledWhenAsked() throws Exception {
    PullView.Options keep = options("backup").withKeepPrevious(true);
    PullView.end(monitor, PullView.begin(monitor, List.of("disk0"), keep), true, keep);
    long[] a = write(3 << 20, 1000);
    PullView.end(monitor, PullView.begin(monitor, List.of("disk0"), keep), true, keep);
    try (QmpClient qmp = QmpClient.connect(monitor)) {
      List<BlockNode.Bitmap> bitmaps = new QemuBlock(qmp).resolve("disk0").bitmaps();
      assertThat(bitmaps).extracting(BlockNode.Bitmap::name).containsExactlyInAnyOrder("pluck-backup-1", "pluck-backup-2");
      BlockNode.Bitmap kept = bitmaps.stream().filter(b -> b.name().equals("pluck-backup-1")).findFirst().orElseThrow();
      assertThat(kept.recording()).isFalse();
      assertThat(kept.dirtyBytes()).isEqualTo(GRANULARITY);  // exactly the write it covered, frozen
      assertThat(a[1]).isPositive();
    }
  }

  @Test
  void changesSinceAnOlderCheckpointMergeTheKeptBitmaps() throws Exception {
    PullView.Options keep = options("backup").withKeepPrevious(true);
    PullView.end(monitor, PullView.begin(monitor, List.of("disk0"), keep), true, keep);   // checkpoint 1
    long[] a = write(2 << 20, 4096);
    PullView.end(monitor, PullView.begin(monitor, List.of("disk0"), keep), true, keep);   // checkpoint 2
    long[] b = write(12 << 20, 200_000);
    PullView.end(monitor, PullView.begin(monitor, List.of("disk0"), keep), true, keep);   // checkpoint 3
    long[] c = write(40 << 20, 10);
    PullView.View since1 = PullView.begin(monitor, List.of("disk0"), keep.since(1));
    assertThat(since1.drives().get(0).context()).startsWith("qemu:dirty-bitmap:pluck-").contains("-since-1");
    assertDirty(dirty(since1), expected(a, b, c));
    PullView.end(monitor, since1, false, keep);
    PullView.View since3 = PullView.begin(monitor, List.of("disk0"), keep.since(3));
    assertThat(since3.drives().get(0).context()).isEqualTo("qemu:dirty-bitmap:pluck-backup-3");
    assertDirty(dirty(since3), expected(c));
    PullView.end(monitor, since3, false, keep);
    try (QmpClient qmp = QmpClient.connect(monitor)) {
      assertThat(new QemuBlock(qmp).resolve("disk0").bitmaps()).extracting(BlockNode.Bitmap::name)
          .containsExactlyInAnyOrder("pluck-backup-1", "pluck-backup-2", "pluck-backup-3");  // the temporary merge is gone
    }
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> PullView.begin(monitor, List.of("disk0"), options("backup").since(7)))
        .isInstanceOf(QmpException.class).hasMessageContaining("no checkpoint 7");
  }

  @Test
  void writesThroughAFilesystemAreCoveredByTheBitmap() throws Exception {
    // The kernel's ext4 on a loop device over the FUSE export: every block it writes passes
    // through QEMU, as a guest's filesystem would.
    dev.pluck.testdata.Tools.runOk("mkfs.ext4", "-q", "-F", "-b", "4096", fuse.toString());
    PullView.end(monitor, PullView.begin(monitor, List.of("disk0"), options("fs")), true, options("fs"));
    String loop = dev.pluck.testdata.Tools.runOk("losetup", "-f", "--show", fuse.toString()).stdout().strip();
    Path mnt = Files.createDirectories(tmp.resolve("mnt"));
    try {
      dev.pluck.testdata.Tools.runOk("mount", loop, mnt.toString());
      byte[] content = new byte[3 << 20];
      random.nextBytes(content);
      Files.write(mnt.resolve("report.bin"), content);
      dev.pluck.testdata.Tools.runOk("umount", mnt.toString());
      dev.pluck.testdata.Tools.runOk("sync");
      String extents = dev.pluck.testdata.Tools.runOk("debugfs", "-R", "ex /report.bin", loop).stdout();
      PullView.View v = PullView.begin(monitor, List.of("disk0"), options("fs"));
      List<Extent> dirty = dirty(v);
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^\\s*\\d+/\\s*\\d+\\s+\\d+/\\s*\\d+\\s+\\d+\\s*-\\s*\\d+\\s+(\\d+)\\s*-\\s*(\\d+)").matcher(extents);
      int found = 0;
      while (m.find()) {
        long start = Long.parseLong(m.group(1)) * 4096;
        long end = (Long.parseLong(m.group(2)) + 1) * 4096;
        assertThat(dirty).as("blocks %d-%d of report.bin", start, end)
            .anyMatch(e -> e.offset() <= start && end <= e.end());
        found++;
      }
      assertThat(found).isPositive();
      PullView.end(monitor, v, true, options("fs"));
    } finally {
      runQuietly("umount", mnt.toString());
      runQuietly("losetup", "-d", loop);
    }
  }

  private static void runQuietly(String... cmd) {
    dev.pluck.testdata.Tools.run(java.time.Duration.ofSeconds(30), List.of(cmd));
  }

  @Test
  void twoChainsKeepTheirOwnHistories() throws Exception {
    PullView.end(monitor, PullView.begin(monitor, List.of("disk0"), options("backup")), true, options("backup"));
    PullView.end(monitor, PullView.begin(monitor, List.of("disk0"), options("replication")), true, options("replication"));
    long[] a = write(2 << 20, 10_000);
    PullView.View b = PullView.begin(monitor, List.of("disk0"), options("backup"));
    assertDirty(dirty(b), expected(a));
    PullView.end(monitor, b, true, options("backup"));
    long[] c = write(9 << 20, 70_000);
    PullView.View r = PullView.begin(monitor, List.of("disk0"), options("replication"));
    assertThat(r.drives().get(0).context()).isEqualTo("qemu:dirty-bitmap:pluck-replication-1");
    assertDirty(dirty(r), expected(a, c));  // replication saw both writes; backup's end took nothing from it
    PullView.end(monitor, r, true, options("replication"));
  }
}
