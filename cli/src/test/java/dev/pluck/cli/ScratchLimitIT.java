package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.qmp.BlockNode;
import dev.pluck.qmp.MonitorAddress;
import dev.pluck.qmp.PullView;
import dev.pluck.qmp.QemuBlock;
import dev.pluck.qmp.QmpClient;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.TestQmp;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A view whose scratch outgrows --scratch-limit is given up; the guest's writes all succeed. */
class ScratchLimitIT {
  @TempDir Path tmp;

  @Test
  void theViewIsGivenUpNotTheGuestsWrites() throws Exception {
    Path image = tmp.resolve("disk.raw");
    byte[] bytes = new byte[64 << 20];
    new Random(41).nextBytes(bytes);
    Files.write(image, bytes);
    Path scratch = tmp.resolve("scratch");
    try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, "raw", List.of())) {
      MonitorAddress monitor = MonitorAddress.unix(qsd.qmpSocket());
      Path fuse = qsd.exportFuse("live");
      PullView.Options o = PullView.Options.defaults("backup", scratch.resolve("first"));
      PullView.end(monitor, PullView.begin(monitor, List.of("disk0"), o), true, o);

      Process export = new ProcessBuilder("java", "-jar", Path.of("target/pluck.jar").toAbsolutePath().toString(), "vm", "export",
          "--qmp", qsd.qmpSocket().toString(), "--drive", "disk0", "--scratch", scratch.toString(), "--scratch-limit", "4M",
          "--until-stdin-closes").start();
      assertThat(new BufferedReader(new InputStreamReader(export.getInputStream(), StandardCharsets.UTF_8)).readLine()).startsWith("view of disk0");
      byte[] data = new byte[16 << 20];
      new Random(42).nextBytes(data);
      try (FileChannel ch = FileChannel.open(fuse, StandardOpenOption.WRITE)) {
        ch.write(ByteBuffer.wrap(data), 8 << 20);  // every old cluster is copied to the scratch overlay
        ch.force(false);
      }
      assertThat(export.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(export.exitValue()).isEqualTo(1);
      assertThat(new String(export.getErrorStream().readAllBytes(), StandardCharsets.UTF_8)).contains("giving the view up", "over the limit");

      byte[] now = new byte[data.length];
      try (FileChannel ch = FileChannel.open(fuse, StandardOpenOption.READ)) {
        ch.read(ByteBuffer.wrap(now), 8 << 20);
      }
      assertThat(now).isEqualTo(data);  // the guest's write went through whole
      try (QmpClient qmp = QmpClient.connect(monitor)) {
        assertThat(qmp.execute("query-named-block-nodes").findValuesAsText("node-name")).containsExactlyInAnyOrder("disk0", "file0");
        BlockNode node = new QemuBlock(qmp).resolve("disk0");
        assertThat(node.bitmaps()).extracting(BlockNode.Bitmap::name).containsExactly("pluck-backup-1");
        assertThat(node.bitmaps().get(0).dirtyBytes()).isGreaterThanOrEqualTo(data.length);  // merged back: nothing lost
      }
    }
  }
}
