package dev.pluck.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.nbd.protocol.NbdOptionException;
import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdUri;
import dev.pluck.testdata.QemuNbd;
import dev.pluck.testdata.Tools;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** nbds:// against qemu-nbd with X.509 credentials (STARTTLS, client certificates). */
class TlsIT {
  @TempDir Path tmp;

  private static void openssl(String... args) {
    List<String> cmd = new java.util.ArrayList<>(List.of("openssl"));
    cmd.addAll(List.of(args));
    Tools.run(java.time.Duration.ofMinutes(1), cmd).ok();
  }

  /** A CA, a server certificate for localhost and a client certificate, as qemu and libnbd name them. */
  private Path credentials() throws Exception {
    Path d = Files.createDirectories(tmp.resolve("pki"));
    String ca = d.resolve("ca-cert.pem").toString();
    String caKey = d.resolve("ca-key.pem").toString();
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", ca, "-days", "2", "-subj", "/CN=pluck test CA");
    for (String who : new String[] {"server", "client"}) {
      String key = d.resolve(who + "-key.pem").toString();
      String csr = d.resolve(who + ".csr").toString();
      Path ext = Files.writeString(d.resolve(who + ".ext"), who.equals("server")
          ? "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
          : "extendedKeyUsage=clientAuth\n");
      openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key);
      openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + (who.equals("server") ? "localhost" : "pluck-client"));
      openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "2",
          "-extfile", ext.toString(), "-out", d.resolve(who + "-cert.pem").toString());
    }
    return d;
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Test
  void readsOverTlsWithAClientCertificateAndRefusesPlainText() throws Exception {
    Path pki = credentials();
    byte[] bytes = new byte[4 << 20];
    new Random(13).nextBytes(bytes);
    Path image = Files.write(tmp.resolve("disk.raw"), bytes);
    int port = freePort();
    List<String> tls = List.of("--object", "tls-creds-x509,id=tls0,dir=" + pki + ",endpoint=server,verify-peer=on",
        "--tls-creds", "tls0", "--bind", "127.0.0.1", "--port", Integer.toString(port));
    try (QemuNbd server = QemuNbd.serveTcp(image, "raw", "secure", tls, port)) {
      String uri = "nbds://localhost:" + port + "/secure?tls-certificates=" + pki;
      try (InPlaceBytes counter = new InPlaceBytes()) {
        try (NbdBlockDevice dev = NbdBlockDevice.open(uri)) {
          assertThat(dev.read(12345, 100_000)).isEqualTo(java.util.Arrays.copyOfRange(bytes, 12345, 112345));
          // Into a direct buffer too: the socket's bytes are TLS records, so nothing lands in place.
          java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(3 << 20);
          dev.read(1 << 20, direct);
          byte[] got = new byte[3 << 20];
          direct.flip().get(got);
          assertThat(got).isEqualTo(java.util.Arrays.copyOfRange(bytes, 1 << 20, 4 << 20));
        }
        assertThat(counter.total()).isZero();
      }
      // Plain text to a TLS-only server: refused with the reason.
      assertThatThrownBy(() -> NbdBlockDevice.open("nbd://localhost:" + port + "/secure"))
          .isInstanceOf(NbdOptionException.class).hasMessageContaining("TLS_REQD");
      // Without a client certificate the server (verify-peer=on) refuses the handshake.
      NbdOptions noCert = NbdOptions.defaults().withTls(new NbdOptions.Tls(pki.resolve("ca-cert.pem"), null, null, true));
      assertThatThrownBy(() -> NbdBlockDevice.open(NbdUri.parse("nbds://localhost:" + port + "/secure"), noCert))
          .isInstanceOf(java.io.IOException.class);
    }
  }
}
