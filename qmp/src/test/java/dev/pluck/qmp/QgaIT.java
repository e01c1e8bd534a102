package dev.pluck.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The guest-agent client against the real qemu-ga, run on the host with freezing blocked. */
class QgaIT {
  @TempDir Path tmp;

  @Test
  void syncPingInfoAndARefusedFreezeAgainstTheRealAgent() throws Exception {
    Tools.require("qemu-ga");
    Path socket = tmp.resolve("qga.sock");
    Path state = Files.createDirectories(tmp.resolve("state"));
    // Freezing here would freeze the host: those commands are blocked in the agent itself.
    Process ga = new ProcessBuilder("qemu-ga", "-m", "unix-listen", "-p", socket.toString(), "-t", state.toString(),
        "-b", "guest-fsfreeze-freeze,guest-fsfreeze-freeze-list,guest-fsfreeze-thaw,guest-shutdown")
        .redirectErrorStream(true).redirectOutput(tmp.resolve("qga.log").toFile()).start();
    try {
      for (int i = 0; i < 200 && !Files.exists(socket); i++) {
        Thread.sleep(20);
      }
      try (QgaClient qga = QgaClient.connect(MonitorAddress.unix(socket), Duration.ofSeconds(10))) {
        qga.ping();
        qga.sync();  // again, mid-session
        JsonNode info = qga.info();
        assertThat(info.path("version").asText()).startsWith("7.");
        assertThat(info.path("supported_commands").toString()).contains("guest-fsfreeze-freeze");
        assertThat(qga.freezeStatus()).isEqualTo("thawed");
        assertThatThrownBy(() -> qga.freeze(List.of()))
            .isInstanceOf(QmpException.class).hasMessageContaining("guest-fsfreeze-freeze");
        assertThat(qga.freezeStatus()).isEqualTo("thawed");
        assertThat(qga.fsInfo()).isNotEmpty().allSatisfy(f -> assertThat(f.mountpoint()).startsWith("/"));
      }
    } finally {
      ga.destroy();
      ga.waitFor();
    }
  }

  @Test
  void aSilentAgentTimesOut() throws Exception {
    try (java.nio.channels.ServerSocketChannel silent = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
      Path socket = tmp.resolve("silent.sock");
      silent.bind(java.net.UnixDomainSocketAddress.of(socket));
      long start = System.nanoTime();
      assertThatThrownBy(() -> QgaClient.connect(MonitorAddress.unix(socket), Duration.ofMillis(500)))
          .hasMessageContaining("did not answer guest-sync-delimited");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
    }
  }
}
