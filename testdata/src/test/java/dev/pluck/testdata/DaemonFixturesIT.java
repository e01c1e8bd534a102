package dev.pluck.testdata;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DaemonFixturesIT {
  @TempDir Path tmp;

  private Path patternImage() throws IOException {
    byte[] data = new byte[4 << 20];
    new Random(5).nextBytes(data);
    return Files.write(tmp.resolve("disk.raw"), data);
  }

  @Test
  void qemuNbdServesTheImageAndStopsCleanly() throws Exception {
    Path image = patternImage();
    QemuNbd nbd = QemuNbd.serve(image);
    try (nbd) {
      assertThat(Tools.runOk("nbdinfo", "--size", nbd.uri()).stdout().strip()).isEqualTo(Long.toString(Files.size(image)));
      Path copy = tmp.resolve("copy.raw");
      Tools.runOk("nbdcopy", nbd.uri(), copy.toString());
      assertThat(Files.readAllBytes(copy)).isEqualTo(Files.readAllBytes(image));
    }
    assertThat(nbd.isAlive()).isFalse();
    assertThat(nbd.dir()).doesNotExist();
  }

  @Test
  void nbdkitErrorFilterInjectsFaults() {
    try (Nbdkit healthy = Nbdkit.start("memory", "size=1M")) {
      assertThat(Tools.runOk("nbdinfo", "--size", healthy.uri()).stdout().strip()).isEqualTo("1048576");
      assertThat(Tools.run(Duration.ofSeconds(30), List.of("nbdcopy", "--no-extents", healthy.uri(), "null:")).exitCode()).isZero();
    }
    try (Nbdkit failing = Nbdkit.start("--filter=error", "memory", "size=1M", "error=EIO", "error-pread-rate=1")) {
      Tools.Result copy = Tools.run(Duration.ofSeconds(30), List.of("nbdcopy", "--no-extents", failing.uri(), "null:"));
      assertThat(copy.exitCode()).isNotZero();
      assertThat(copy.stderr()).contains("Input/output error");
    }
  }

  @Test
  void qemuStorageDaemonAnswersQmpWithItsDiskNode() throws Exception {
    Path image = patternImage();
    QemuStorageDaemon qsd = QemuStorageDaemon.start(image, "raw", List.of());
    try (qsd; TestQmp qmp = new TestQmp(qsd.qmpSocket())) {
      JsonNode nodes = qmp.execute("query-named-block-nodes");
      assertThat(nodes.findValuesAsText("node-name")).contains("disk0", "file0");
    }
    assertThat(qsd.isAlive()).isFalse();
    assertThat(qsd.dir()).doesNotExist();
  }

  @Test
  void qemuSystemStartsPausedWithTheDiskOnTheGuestBus() throws Exception {
    Path image = patternImage();
    for (QemuSystem.Bus bus : QemuSystem.Bus.values()) {
      List<String> extra = bus != QemuSystem.Bus.NONE ? List.of()
          : List.of("-device", "virtio-scsi-pci,id=scsihw0", "-device", "scsi-hd,bus=scsihw0.0,drive=disk0,id=scsi0");
      try (QemuSystem vm = QemuSystem.startPaused(image, "raw", bus, extra); TestQmp qmp = new TestQmp(vm.qmpSocket())) {
        JsonNode status = qmp.execute("query-status");
        assertThat(status.path("running").asBoolean()).isFalse();
        assertThat(status.path("status").asText()).isEqualTo("prelaunch");
        JsonNode block = qmp.execute("query-block");
        String qdev = block.get(0).path("qdev").asText();
        assertThat(qdev).contains(switch (bus) {
          case VIRTIO_BLK -> "vda";
          case SCSI -> "sda";
          case NONE -> "scsi0";  // the device the caller attached
        });
      }
    }
  }
}
