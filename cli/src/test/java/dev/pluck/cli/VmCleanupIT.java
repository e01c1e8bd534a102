package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.nbd.Extent;
import dev.pluck.nbd.NbdBlockDevice;
import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdUri;
import dev.pluck.qmp.BlockNode;
import dev.pluck.qmp.DriveLock;
import dev.pluck.qmp.MonitorAddress;
import dev.pluck.qmp.PullView;
import dev.pluck.qmp.QemuBlock;
import dev.pluck.qmp.QmpClient;
import dev.pluck.testdata.FakeGuestAgent;
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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** kill -9 of a pluck serving a view, then {@code pluck vm cleanup}: nothing left, nothing lost. */
class VmCleanupIT {
  @TempDir Path tmp;

  private static Process pluck(String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("java", "-jar", Path.of("target/pluck.jar").toAbsolutePath().toString()));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
  }

  private static void write(Path fuse, long offset, int length) throws Exception {
    try (FileChannel ch = FileChannel.open(fuse, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(new byte[length]).put(0, (byte) 7), offset);
      ch.force(false);
    }
  }

  @Test
  void aKilledViewIsRepairedAndItsChangesAreNotLost() throws Exception {
    Path image = tmp.resolve("disk.raw");
    Files.write(image, new byte[32 << 20]);
    Path scratch = tmp.resolve("scratch");
    try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, "raw", List.of())) {
      MonitorAddress monitor = MonitorAddress.unix(qsd.qmpSocket());
      Path fuse = qsd.exportFuse("live");
      PullView.Options o = PullView.Options.defaults("backup", scratch.resolve("first"));
      PullView.end(monitor, PullView.begin(monitor, List.of("disk0"), o), true, o);
      write(fuse, 1 << 20, 4096);

      Process export = pluck("vm", "export", "--qmp", qsd.qmpSocket().toString(), "--drive", "disk0",
          "--scratch", scratch.toString(), "--until-stdin-closes", "--json");
      JsonNode view = new ObjectMapper().readTree(new BufferedReader(new InputStreamReader(export.getInputStream(), StandardCharsets.UTF_8)).readLine());
      assertThat(view.get("drives").get(0).get("bitmap").asText()).isEqualTo("pluck-backup-2");
      write(fuse, 20 << 20, 100);  // a change while the view is open
      // A second pluck is refused the drive while the first lives.
      Process second = new ProcessBuilder("java", "-jar", Path.of("target/pluck.jar").toAbsolutePath().toString(), "vm", "export",
          "--qmp", qsd.qmpSocket().toString(), "--drive", "disk0", "--scratch", scratch.toString()).start();
      String refusal = new String(second.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(second.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(second.exitValue()).isEqualTo(1);
      assertThat(refusal).contains("in use by another pluck").contains(Long.toString(export.pid()));

      export.destroyForcibly();  // kill -9: no end, no cleanup
      assertThat(export.waitFor(10, TimeUnit.SECONDS)).isTrue();

      Process cleanup = pluck("vm", "cleanup", "--qmp", qsd.qmpSocket().toString(), "--scratch", scratch.toString(), "--json");
      String report = new String(cleanup.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(cleanup.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(cleanup.exitValue()).as(report).isZero();
      assertThat(report).contains("ended view");

      try (QmpClient qmp = QmpClient.connect(monitor)) {
        QemuBlock block = new QemuBlock(qmp);
        assertThat(block.exportIds()).containsExactly("live");
        assertThat(block.jobIds()).isEmpty();
        assertThat(qmp.execute("query-named-block-nodes").findValuesAsText("node-name")).containsExactlyInAnyOrder("disk0", "file0");
        BlockNode node = block.resolve("disk0");
        assertThat(node.bitmaps()).extracting(BlockNode.Bitmap::name).containsExactly("pluck-backup-1");
        assertThat(node.bitmaps().get(0).recording()).isTrue();
      }
      DriveLock.acquire(DriveLock.DEFAULT_DIR, monitor, "disk0").close();

      PullView.Options o2 = PullView.Options.defaults("backup", scratch.resolve("after"));
      PullView.View next = PullView.begin(monitor, List.of("disk0"), o2);
      PullView.DriveView d = next.drives().get(0);
      assertThat(d.context()).isEqualTo("qemu:dirty-bitmap:pluck-backup-1");
      try (NbdBlockDevice dev = NbdBlockDevice.open(NbdUri.parse(next.uri(d)), NbdOptions.defaults().withMetaContexts(List.of(d.context())))) {
        assertThat(dev.blockStatus(d.context(), 0, dev.size()).stream().filter(e -> (e.flags() & Extent.DIRTY) != 0))
            .extracting(Extent::offset).containsExactly(1L << 20, 20L << 20);
      }
      PullView.end(monitor, next, true, o2);
    }
  }

  @Test
  void aPluckKilledWhileTheGuestIsFrozenIsThawedByCleanup() throws Exception {
    Path image = tmp.resolve("disk.raw");
    Files.write(image, new byte[8 << 20]);
    Path scratch = tmp.resolve("scratch");
    try (QemuStorageDaemon qsd = QemuStorageDaemon.start(image, "raw", List.of());
        FakeGuestAgent agent = new FakeGuestAgent(tmp, false, true)) {
      Process export = pluck("vm", "export", "--qmp", qsd.qmpSocket().toString(), "--drive", "disk0",
          "--qga", agent.socket().toString(), "--scratch", scratch.toString(), "--until-stdin-closes");
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (!agent.commands.contains("guest-fsfreeze-thaw") && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(agent.frozen()).isTrue();  // pluck waits for a thaw answer that never comes
      export.destroyForcibly();
      assertThat(export.waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(agent.frozen()).isTrue();

      Process cleanup = pluck("vm", "cleanup", "--qmp", qsd.qmpSocket().toString(), "--qga", agent.socket().toString(),
          "--scratch", scratch.toString());
      String report = new String(cleanup.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(cleanup.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(cleanup.exitValue()).as(report).isZero();
      assertThat(report).contains("thawed");
      assertThat(agent.frozen()).isFalse();
      try (QmpClient qmp = QmpClient.connect(MonitorAddress.unix(qsd.qmpSocket()))) {
        assertThat(qmp.execute("query-named-block-nodes").findValuesAsText("node-name")).containsExactlyInAnyOrder("disk0", "file0");
        assertThat(new QemuBlock(qmp).jobIds()).isEmpty();
        assertThat(new QemuBlock(qmp).resolve("disk0").bitmaps()).isEmpty();  // a failed first view: the next is full
      }
    }
  }
}
