package dev.pluck.nbd.protocol;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * How to connect to an NBD server.
 *
 * @param connections connections to open when the server allows several (NBD_FLAG_CAN_MULTI_CONN)
 * @param metaContexts metadata contexts to negotiate (base:allocation, qemu:dirty-bitmap:NAME, ...)
 * @param structuredReplies ask for structured replies (holes sent as holes, block status)
 * @param extendedHeaders ask for extended headers (64-bit lengths) when the server offers them
 * @param connectTimeout bound on connecting and on the whole handshake
 * @param requestTimeout bound on each request; a server that does not answer in time has its
 *     connection closed and every outstanding request failed
 * @param tls X.509 files for nbds:// (null: from the URI's tls-certificates, or none)
 */
public record NbdOptions(
    int connections,
    List<String> metaContexts,
    boolean structuredReplies,
    boolean extendedHeaders,
    Duration connectTimeout,
    Duration requestTimeout,
    Tls tls) {

  /**
   * X.509 material for TLS.
   *
   * @param caCertificate PEM file of the CA that signed the server's certificate (null: the JDK's)
   * @param clientCertificate PEM certificate to present, or null
   * @param clientKey PEM (PKCS#8) key of that certificate, or null
   * @param verifyPeer check the server's certificate and host name
   */
  public record Tls(Path caCertificate, Path clientCertificate, Path clientKey, boolean verifyPeer) {
    /** The files qemu-nbd's and libnbd's convention puts in one directory. */
    public static Tls fromDirectory(Path dir, boolean verifyPeer) {
      Path ca = dir.resolve("ca-cert.pem");
      Path cert = dir.resolve("client-cert.pem");
      Path key = dir.resolve("client-key.pem");
      return new Tls(
          java.nio.file.Files.exists(ca) ? ca : null,
          java.nio.file.Files.exists(cert) ? cert : null,
          java.nio.file.Files.exists(key) ? key : null,
          verifyPeer);
    }
  }

  public NbdOptions {
    if (connections < 1 || connections > 64) {
      throw new IllegalArgumentException("connections must be 1..64: " + connections);
    }
    metaContexts = List.copyOf(metaContexts);
  }

  public static NbdOptions defaults() {
    return new NbdOptions(4, List.of("base:allocation"), true, true, Duration.ofSeconds(30), Duration.ofSeconds(60), null);
  }

  public NbdOptions withConnections(int n) {
    return new NbdOptions(n, metaContexts, structuredReplies, extendedHeaders, connectTimeout, requestTimeout, tls);
  }

  public NbdOptions withMetaContexts(List<String> contexts) {
    return new NbdOptions(connections, contexts, structuredReplies, extendedHeaders, connectTimeout, requestTimeout, tls);
  }

  public NbdOptions withStructuredReplies(boolean on) {
    return new NbdOptions(connections, metaContexts, on, extendedHeaders, connectTimeout, requestTimeout, tls);
  }

  public NbdOptions withExtendedHeaders(boolean on) {
    return new NbdOptions(connections, metaContexts, structuredReplies, on, connectTimeout, requestTimeout, tls);
  }

  public NbdOptions withRequestTimeout(Duration timeout) {
    return new NbdOptions(connections, metaContexts, structuredReplies, extendedHeaders, connectTimeout, timeout, tls);
  }

  public NbdOptions withConnectTimeout(Duration timeout) {
    return new NbdOptions(connections, metaContexts, structuredReplies, extendedHeaders, timeout, requestTimeout, tls);
  }

  public NbdOptions withTls(Tls tls) {
    return new NbdOptions(connections, metaContexts, structuredReplies, extendedHeaders, connectTimeout, requestTimeout, tls);
  }
}
