package dev.pluck.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdUri;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.TestQmp;
import dev.pluck.testdata.Tools;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A qemu-storage-daemon export carrying a dirty bitmap, as a pull backup sees it. */
class DirtyBitmapIT {
  @TempDir Path tmp;

  @Test
  void dirtyExtentsAreExactlyWhatWasWrittenAndPlannerReadsOnlyThem() throws Exception {
    Path image = tmp.resolve("disk.raw");
    byte[] base = new byte[64 << 20];
    new Random(12).nextBytes(base);
    Files.write(image, base);
    try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, "raw", List.of()); TestQmp qmp = new TestQmp(qsd.qmpSocket())) {
      Path sock = qsd.dir().resolve("nbd.sock");
      qmp.execute("block-dirty-bitmap-add", "{\"node\":\"disk0\",\"name\":\"b0\"}");
      qmp.execute("nbd-server-start", "{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"" + sock + "\"}}}");
      qmp.execute("block-export-add", "{\"type\":\"nbd\",\"id\":\"rw\",\"node-name\":\"disk0\",\"name\":\"rw\",\"writable\":true}");
      // Guest-style writes through QEMU's block layer.
      try (NbdBlockDevice rw = NbdBlockDevice.open("nbd+unix:///rw?socket=" + sock)) {
        rw.write(1 << 20, ByteBuffer.wrap(new byte[65536]));
        rw.write((10 << 20) + 123, ByteBuffer.wrap(new byte[1000]));
        rw.write((40 << 20) - 4096, ByteBuffer.wrap(new byte[3 << 20]));
        rw.flush();
      }
      qmp.execute("block-export-add", "{\"type\":\"nbd\",\"id\":\"view\",\"node-name\":\"disk0\",\"name\":\"view\","
          + "\"writable\":false,\"bitmaps\":[{\"node\":\"disk0\",\"name\":\"b0\"}]}");
      String uri = "nbd+unix:///view?socket=" + sock;
      String context = "qemu:dirty-bitmap:b0";
      try (NbdBlockDevice view = NbdBlockDevice.open(NbdUri.parse(uri),
          NbdOptions.defaults().withMetaContexts(List.of(BlockDevice.BASE_ALLOCATION, context)))) {
        assertThat(view.metaContexts()).contains(context, BlockDevice.BASE_ALLOCATION);
        List<Extent> ours = view.blockStatus(context, 0, view.size());
        List<String> theirs = Tools.runOk("nbdinfo", "--map=" + context, uri).lines();
        assertThat(ours).hasSize(theirs.size());
        for (int i = 0; i < ours.size(); i++) {
          String[] f = theirs.get(i).trim().split("\\s+");
          assertThat(new long[] {ours.get(i).offset(), ours.get(i).length(), ours.get(i).flags()})
              .containsExactly(Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]));
        }
        List<Extent> dirty = ours.stream().filter(e -> (e.flags() & Extent.DIRTY) != 0).toList();
        assertThat(dirty).extracting(Extent::offset).containsExactly(1L << 20, 10L << 20, (40L << 20) - 65536);

        // The planner reads exactly the dirty bytes of a whole-disk request.
        List<long[]> reads = new ArrayList<>();
        ReadPlanner.Stats stats = new ReadPlanner(view, ReadPlanner.Options.defaults().onlyDirty(context).withGap(0))
            .read(List.of(new ReadPlanner.Range(0, view.size())), (off, d) -> reads.add(new long[] {off, d.remaining()}));
        long dirtyBytes = dirty.stream().mapToLong(Extent::length).sum();
        assertThat(stats.wantedBytes()).isEqualTo(dirtyBytes);
        assertThat(stats.readBytes()).isEqualTo(dirtyBytes);
        assertThat(stats.skippedBytes()).isEqualTo(view.size() - dirtyBytes);
        assertThat(reads.get(0)[0]).isEqualTo(1L << 20);
      }
    }
  }
}
