package dev.pluck.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The QMP client against a monitor that stops answering (no real QEMU does that on purpose). */
class QmpClientTest {
  @TempDir Path tmp;

  @Test
  void aCommandWithoutAnswerTimesOutAndTheConnectionStaysUsable() throws Exception {
    Path socket = tmp.resolve("mute.qmp");
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(socket));
      Thread monitor = new Thread(() -> {
        try (SocketChannel ch = server.accept()) {
          OutputStream out = Channels.newOutputStream(ch);
          BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
          out.write("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"mute\"}, \"capabilities\": []}}\r\n".getBytes());
          String line;
          while ((line = in.readLine()) != null) {
            String id = line.replaceAll(".*\"id\":\"([^\"]+)\".*", "$1");
            if (line.contains("query-status")) {
              continue;  // never answered
            }
            out.write(("{\"return\": {}, \"id\": \"" + id + "\"}\r\n").getBytes());
            out.flush();
          }
        } catch (Exception ignored) {
          // test over
        }
      });
      monitor.setDaemon(true);
      monitor.start();
      try (QmpClient qmp = QmpClient.connect(MonitorAddress.unix(socket), Duration.ofMillis(500))) {
        assertThat(qmp.version().toString()).isEqualTo("7.2.0 (mute)");
        long start = System.nanoTime();
        assertThatThrownBy(() -> qmp.execute("query-status")).hasMessageContaining("query-status").hasMessageContaining("no answer");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
        assertThat(qmp.execute("query-version").isObject()).isTrue();
      }
    }
  }

  @Test
  void addressesAreUnixPathsOrHostAndPort() {
    assertThat(MonitorAddress.parse("/run/vm.qmp").socket()).isEqualTo(Path.of("/run/vm.qmp"));
    assertThat(MonitorAddress.parse("vm.qmp").socket()).isEqualTo(Path.of("vm.qmp"));
    MonitorAddress tcp = MonitorAddress.parse("127.0.0.1:4444");
    assertThat(tcp.host()).isEqualTo("127.0.0.1");
    assertThat(tcp.port()).isEqualTo(4444);
    assertThat(MonitorAddress.parse("[::1]:5").host()).isEqualTo("::1");
  }

  @Test
  void chainNamesAreChecked() {
    assertThat(PullView.bitmapName("backup", 3)).isEqualTo("pluck-backup-3");
    assertThatThrownBy(() -> PullView.Options.defaults("bad name!", tmp)).isInstanceOf(IllegalArgumentException.class);
  }
}
