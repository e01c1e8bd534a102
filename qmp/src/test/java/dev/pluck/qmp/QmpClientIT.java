package dev.pluck.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.QemuSystem;
import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QmpClientIT {
  @TempDir Path tmp;

  @Test
  void greetingManyCommandsInFlightTypedErrorsEventsAndSchema() throws Exception {
    Path image = Files.write(tmp.resolve("d.raw"), new byte[4 << 20]);
    try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, "raw", List.of());
        QmpClient qmp = QmpClient.connect(MonitorAddress.unix(qsd.qmpSocket()))) {
      assertThat(qmp.version().major()).isGreaterThanOrEqualTo(7);
      assertThat(qmp.version().toString()).isEqualTo(qmp.execute("query-version").path("qemu").path("major").asText()
          + "." + qmp.execute("query-version").path("qemu").path("minor").asText()
          + "." + qmp.execute("query-version").path("qemu").path("micro").asText()
          + " (" + qmp.execute("query-version").path("package").asText().strip() + ")");
      List<CompletableFuture<JsonNode>> many = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        many.add(qmp.executeAsync(i % 2 == 0 ? "query-named-block-nodes" : "query-block-exports", null));
      }
      for (int i = 0; i < 50; i++) {
        JsonNode r = many.get(i).join();
        assertThat(r.isArray()).isTrue();
        if (i % 2 == 0) {
          assertThat(r.findValuesAsText("node-name")).contains("disk0");
        }
      }
      assertThatThrownBy(() -> qmp.execute("blockdev-del", "{\"node-name\":\"no-such-node\"}"))
          .isInstanceOfSatisfying(QmpException.class, e -> {
            assertThat(e.command()).isEqualTo("blockdev-del");
            assertThat(e.errorClass()).isEqualTo("GenericError");
            assertThat(e.description()).contains("no-such-node");
          });
      assertThatThrownBy(() -> qmp.execute("no-such-command"))
          .isInstanceOfSatisfying(QmpException.class, e -> assertThat(e.errorClass()).isEqualTo("CommandNotFound"));

      List<QmpEvent> events = new CopyOnWriteArrayList<>();
      qmp.subscribe(events::add);
      Path target = tmp.resolve("t.qcow2");
      Tools.runOk("qemu-img", "create", "-q", "-f", "qcow2", target.toString(), "4M");
      qmp.execute("blockdev-add", "{\"driver\":\"qcow2\",\"node-name\":\"t\",\"file\":{\"driver\":\"file\",\"filename\":\"" + target + "\"}}");
      qmp.execute("blockdev-backup", "{\"device\":\"disk0\",\"target\":\"t\",\"sync\":\"full\",\"job-id\":\"j\"}");
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (events.stream().noneMatch(e -> e.name().equals("BLOCK_JOB_COMPLETED")) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(events).extracting(QmpEvent::name).contains("JOB_STATUS_CHANGE", "BLOCK_JOB_COMPLETED");
      assertThat(events.stream().filter(e -> e.name().equals("BLOCK_JOB_COMPLETED")).findFirst().orElseThrow().data().path("device").asText())
          .isEqualTo("j");

      QmpSchema schema = QmpSchema.load(qmp);
      assertThat(schema.hasCommand("blockdev-backup")).isTrue();
      assertThat(schema.hasCommand("no-such-command")).isFalse();
      assertThat(schema.commandHasArgument("block-export-add", "bitmaps")).isTrue();
      assertThat(schema.commandHasArgument("blockdev-backup", "sync")).isTrue();
      assertThat(schema.commandHasArgument("blockdev-backup", "no-such-arg")).isFalse();
      assertThat(schema.canCopyBeforeWrite()).isTrue();  // QEMU 7.2 here
    }
  }

  @Test
  void drivesAreFoundByNodeNameQdevIdOrBlockBackendName() throws Exception {
    Path a = Files.write(tmp.resolve("a.raw"), new byte[4 << 20]);
    Path b = Files.write(tmp.resolve("b.raw"), new byte[8 << 20]);
    // The second disk the way libvirt's older -drive configurations attach it: generated node name.
    List<String> extra = List.of("-drive", "file=" + b + ",format=raw,if=none,id=drive-virtio-disk1",
        "-device", "virtio-blk-pci,drive=drive-virtio-disk1,id=virtio-disk1");
    try (QemuSystem vm = QemuSystem.startPaused(a, "raw", QemuSystem.Bus.VIRTIO_BLK, extra);
        QmpClient qmp = QmpClient.connect(MonitorAddress.unix(vm.qmpSocket()))) {
      QemuBlock block = new QemuBlock(qmp);
      BlockNode byQdev = block.resolve("virtio-disk1");
      BlockNode byBackend = block.resolve("drive-virtio-disk1");
      assertThat(byQdev.nodeName()).startsWith("#block").isEqualTo(byBackend.nodeName());
      assertThat(byQdev.virtualSize()).isEqualTo(8 << 20);
      assertThat(block.resolve(byQdev.nodeName()).virtualSize()).isEqualTo(8 << 20);
      assertThat(block.resolve("vda").nodeName()).isEqualTo("disk0");
      assertThatThrownBy(() -> block.resolve("vdz")).isInstanceOf(QmpException.class).hasMessageContaining("vdz");
    }
  }

  @Test
  void aMonitorOverTcp() throws Exception {
    Path a = Files.write(tmp.resolve("tcp.raw"), new byte[1 << 20]);
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    try (QemuSystem vm = QemuSystem.startPaused(a, "raw", QemuSystem.Bus.VIRTIO_BLK,
        List.of("-qmp", "tcp:127.0.0.1:" + port + ",server=on,wait=off"))) {
      QmpClient qmp = null;
      for (int i = 0; i < 100 && qmp == null; i++) {
        try {
          qmp = QmpClient.connect(MonitorAddress.parse("127.0.0.1:" + port), java.time.Duration.ofSeconds(5));
        } catch (java.io.IOException notYet) {
          Thread.sleep(50);
        }
      }
      assertThat(qmp).isNotNull();
      try (QmpClient c = qmp) {
        assertThat(new QemuBlock(c).runState()).isEqualTo("prelaunch");
        assertThat(new QemuBlock(c).resolve("vda").nodeName()).isEqualTo("disk0");
      }
    }
  }

  @Test
  void oneViewOfTwoDrivesInOneTransaction() throws Exception {
    Path a = Files.write(tmp.resolve("a.raw"), new byte[4 << 20]);
    Path b = Files.write(tmp.resolve("b.raw"), new byte[8 << 20]);
    List<String> extra = List.of("-drive", "file=" + b + ",format=raw,if=none,id=drive-virtio-disk1",
        "-device", "virtio-blk-pci,drive=drive-virtio-disk1,id=virtio-disk1");
    try (QemuSystem vm = QemuSystem.startPaused(a, "raw", QemuSystem.Bus.VIRTIO_BLK, extra)) {
      MonitorAddress monitor = MonitorAddress.unix(vm.qmpSocket());
      PullView.Options o = PullView.Options.defaults("backup", tmp.resolve("scratch"));
      PullView.View v = PullView.begin(monitor, List.of("vda", "virtio-disk1"), o);
      assertThat(v.drives()).hasSize(2);
      assertThat(v.mode()).isEqualTo(PullView.Mode.COPY_BEFORE_WRITE);
      assertThat(v.notice()).contains("vda").contains("virtio-disk1").contains("restart of QEMU");  // raw: not persistent
      for (PullView.DriveView d : v.drives()) {
        assertThat(Tools.runOk("nbdinfo", "--size", v.uri(d)).stdout().strip()).isEqualTo(Long.toString(d.size()));
      }
      PullView.end(monitor, v, true, o);
      try (QmpClient qmp = QmpClient.connect(monitor)) {
        assertThat(new QemuBlock(qmp).resolve("virtio-disk1").bitmaps()).extracting(BlockNode.Bitmap::name).containsExactly("pluck-backup-1");
        assertThat(new QemuBlock(qmp).resolve("vda").bitmaps()).extracting(BlockNode.Bitmap::name).containsExactly("pluck-backup-1");
      }
    }
  }
}
