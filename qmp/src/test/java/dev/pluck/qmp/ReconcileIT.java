package dev.pluck.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.testdata.QemuSystem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reconcile resumes a guest that a dead pluck left paused, and only then. */
class ReconcileIT {
  @TempDir Path tmp;

  @Test
  void aDriveWhoseLockALivePluckHoldsIsLeftAlone() throws Exception {
    Path image = Files.write(tmp.resolve("busy.raw"), new byte[4 << 20]);
    try (dev.pluck.testdata.QemuStorageDaemon qsd = dev.pluck.testdata.QemuStorageDaemon.start(image, "raw", List.of())) {
      MonitorAddress monitor = MonitorAddress.unix(qsd.qmpSocket());
      Path root = tmp.resolve("scratch");
      PullView.Options o = PullView.Options.defaults("backup", root.resolve("view-" + ProcessHandle.current().pid()));
      PullView.View view = PullView.begin(monitor, List.of("disk0"), o);
      List<String> done = Reconcile.run(monitor, root, null, DriveLock.DEFAULT_DIR, Duration.ofSeconds(10));
      assertThat(done).anyMatch(s -> s.startsWith("left alone") && s.contains("in use by another pluck"));
      assertThat(dev.pluck.testdata.Tools.runOk("nbdinfo", "--size", view.uri(view.drives().get(0))).stdout().strip())
          .isEqualTo(Long.toString(4 << 20));  // the view still serves
      PullView.end(monitor, view, true, o);
    }
  }

  @Test
  void aGuestLeftPausedByPluckRunsAgainAndOnePausedByItsOwnerStaysPaused() throws Exception {
    Path image = Files.write(tmp.resolve("d.raw"), new byte[4 << 20]);
    try (QemuSystem vm = QemuSystem.startPaused(image, "raw", QemuSystem.Bus.VIRTIO_BLK, List.of())) {
      MonitorAddress monitor = MonitorAddress.unix(vm.qmpSocket());
      Path root = tmp.resolve("scratch");
      try (QmpClient qmp = QmpClient.connect(monitor)) {
        qmp.execute("cont");
        qmp.execute("stop");  // as a pluck that died between stop and cont leaves it
      }
      // The state such a pluck wrote just before its stop.
      Path dir = Files.createDirectories(root.resolve("view-999999"));
      PullView.DriveView d = new PullView.DriveView("vda", "disk0", "/machine/peripheral/vda/virtio-backend", 4 << 20,
          "pluck-dead-0", "pluck-dead-0-export", "pluck-backup-1", null, null, "pluck-dead-0-cbw", "pluck-dead-0-scratch",
          dir.resolve("pluck-dead-0.raw").toString(), null, "pluck-dead-0-snap", false, null);
      PullView.View view = new PullView.View("backup", PullView.Mode.COPY_BEFORE_WRITE, "7.2", dir.resolve("nbd.sock").toString(),
          false, "paused", "", List.of(d));
      PullView.writeState(dir, new PullView.State(monitor.toString(), view, false, true));

      List<String> done = Reconcile.run(monitor, root, null, tmp.resolve("locks"), Duration.ofSeconds(10));
      assertThat(done).anyMatch(s -> s.contains("resumed"));
      try (QmpClient qmp = QmpClient.connect(monitor)) {
        assertThat(qmp.execute("query-status").path("status").asText()).isEqualTo("running");
        qmp.execute("stop");  // now its owner pauses it
      }
      assertThat(Files.exists(dir)).isFalse();
      List<String> again = Reconcile.run(monitor, root, null, tmp.resolve("locks"), Duration.ofSeconds(10));
      assertThat(again).noneMatch(s -> s.contains("resumed"));
      try (QmpClient qmp = QmpClient.connect(monitor)) {
        assertThat(qmp.execute("query-status").path("status").asText()).isEqualTo("paused");
      }
    }
  }
}
