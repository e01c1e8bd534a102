package dev.pluck.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.nbd.protocol.NbdUri;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class NbdUriTest {
  @Test
  void tcpWithAndWithoutPortAndExport() {
    NbdUri u = NbdUri.parse("nbd://example.org:10810/disk0");
    assertThat(u.host()).isEqualTo("example.org");
    assertThat(u.port()).isEqualTo(10810);
    assertThat(u.exportName()).isEqualTo("disk0");
    assertThat(u.tls()).isFalse();
    assertThat(NbdUri.parse("nbd://h").port()).isEqualTo(NbdUri.DEFAULT_PORT);
    assertThat(NbdUri.parse("nbd://h").exportName()).isEmpty();
    assertThat(NbdUri.parse("nbd://[::1]:7/x").host()).isEqualTo("::1");
  }

  @Test
  void unixSocketsAndTls() {
    NbdUri u = NbdUri.parse("nbds+unix:///view?socket=/run/x%20y.sock&tls-certificates=/etc/pki/nbd");
    assertThat(u.socket()).isEqualTo(Path.of("/run/x y.sock"));
    assertThat(u.exportName()).isEqualTo("view");
    assertThat(u.tls()).isTrue();
    assertThat(u.tlsCertificates()).isEqualTo(Path.of("/etc/pki/nbd"));
    assertThat(u.tlsVerifyPeer()).isTrue();
    assertThat(NbdUri.parse("nbds://h/?tls-verify-peer=false").tlsVerifyPeer()).isFalse();
  }

  @Test
  void roundTripsThroughToString() {
    for (String s : new String[] {"nbd+unix:///e?socket=/tmp/s", "nbd://host/e", "nbds://host:99/e"}) {
      assertThat(NbdUri.parse(NbdUri.parse(s).toString())).isEqualTo(NbdUri.parse(s));
    }
  }

  @Test
  void rejectsWhatIsNotAnNbdUri() {
    assertThat(NbdUri.isNbdUri("/var/lib/disk.img")).isFalse();
    assertThat(NbdUri.isNbdUri("nbd+unix:///?socket=/s")).isTrue();
    assertThatThrownBy(() -> NbdUri.parse("http://x/")).hasMessageContaining("scheme");
    assertThatThrownBy(() -> NbdUri.parse("nbd+unix:///x")).hasMessageContaining("socket=");
    assertThatThrownBy(() -> NbdUri.parse("nbd:///x")).hasMessageContaining("no host");
  }
}
