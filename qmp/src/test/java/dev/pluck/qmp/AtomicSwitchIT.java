package dev.pluck.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.nbd.Extent;
import dev.pluck.nbd.NbdBlockDevice;
import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdUri;
import dev.pluck.testdata.QemuSystem;
import dev.pluck.testdata.TestQmp;
import dev.pluck.testdata.Tools;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writes hammering the device while views begin, through a second QMP monitor (HMP qemu-io on the
 * guest device) while pluck uses the first. With backup-sync-none (one transaction) every write
 * is either in the view and in the exported bitmap, or in neither. With copy-before-write the
 * device moves in a second command; HMP writes are not stopped by a pause as a guest's are, so a
 * write may slip in between: it must then be in the exported bitmap even if not in the view
 * (re-read once), never in the view but missing from the bitmap.
 */
class AtomicSwitchIT {
  private static final long BLOCK = 64 << 10;
  @TempDir Path tmp;

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.EnumSource(PullView.Mode.class)
  void noWriteIsInTheViewWithoutBeingInItsBitmap(PullView.Mode mode) throws Exception {
    Path image = tmp.resolve("disk.qcow2");
    Tools.runOk("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "256M");
    Path second = tmp.resolve("second-monitor.sock");
    try (QemuSystem vm = QemuSystem.startPaused(image, "qcow2", QemuSystem.Bus.VIRTIO_BLK,
        List.of("-qmp", "unix:" + second + ",server=on,wait=off"))) {
      MonitorAddress monitor = MonitorAddress.unix(vm.qmpSocket());
      PullView.Options o = PullView.Options.defaults("backup", tmp.resolve("scratch")).withMode(mode);
      PullView.end(monitor, PullView.begin(monitor, List.of("vda"), o), true, o);
      AtomicInteger next = new AtomicInteger();  // block index of the next write; pattern = index % 255 + 1
      List<Integer> written = java.util.Collections.synchronizedList(new ArrayList<>());
      int checked = 0;
      int split = 0;
      for (int round = 0; round < 20; round++) {
        AtomicBoolean stop = new AtomicBoolean();
        Thread guest = new Thread(() -> {
          try (TestQmp qmp = new TestQmp(second)) {
            while (!stop.get()) {
              int i = next.getAndIncrement();
              qmp.execute("human-monitor-command", "{\"command-line\":\"qemu-io -d /machine/peripheral/vda/virtio-backend \\\"write -P "
                  + (i % 255 + 1) + " " + i * BLOCK + " " + BLOCK + "\\\"\"}");
              written.add(i);
            }
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        });
        int from = next.get();
        guest.start();
        Thread.sleep(20);
        PullView.View v = PullView.begin(monitor, List.of("vda"), o);
        stop.set(true);
        guest.join();
        int to = next.get();
        PullView.DriveView d = v.drives().get(0);
        try (NbdBlockDevice dev = NbdBlockDevice.open(NbdUri.parse(v.uri(d)), NbdOptions.defaults().withMetaContexts(List.of(d.context())))) {
          List<Extent> status = dev.blockStatus(d.context(), 0, dev.size());
          for (int i = from; i < to; i++) {
            long off = i * BLOCK;
            boolean inView = dev.read(off, 1)[0] == (byte) (i % 255 + 1);
            boolean inBitmap = status.stream().anyMatch(e -> e.offset() <= off && off < e.end() && (e.flags() & Extent.DIRTY) != 0);
            if (mode == PullView.Mode.BACKUP_SYNC_NONE || inView) {
              assertThat(inBitmap).as("round %d, write %d: in the view %s, in the bitmap %s", round, i, inView, inBitmap).isEqualTo(inView);
            }
            checked++;
            if (!inView) {
              split++;
            }
          }
        }
        PullView.end(monitor, v, true, o);
      }
      assertThat(checked).isGreaterThan(40);
      assertThat(split).as("writes that landed after the switch, in the next view").isGreaterThan(0);
    }
  }
}
