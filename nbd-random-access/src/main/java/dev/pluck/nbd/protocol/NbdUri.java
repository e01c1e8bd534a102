package dev.pluck.nbd.protocol;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An NBD address as the NBD project's {@code doc/uri.md} writes it: {@code
 * nbd[s]://host[:port][/export]} or {@code nbd[s]+unix:///[export]?socket=PATH}, with query
 * parameters {@code tls-certificates=DIR} (ca-cert.pem, client-cert.pem, client-key.pem) and
 * {@code tls-verify-peer=false}.
 *
 * @param socket unix socket path, or null for TCP
 */
public record NbdUri(boolean tls, String host, int port, Path socket, String exportName, Map<String, String> query) {
  public static final int DEFAULT_PORT = 10809;

  public NbdUri {
    query = Map.copyOf(query);
  }

  /** Whether {@code text} looks like an NBD URI rather than a file path. */
  public static boolean isNbdUri(String text) {
    return text.startsWith("nbd://") || text.startsWith("nbds://") || text.startsWith("nbd+unix://")
        || text.startsWith("nbds+unix://") || text.startsWith("nbd+tcp://") || text.startsWith("nbds+tcp://");
  }

  public static NbdUri parse(String text) {
    URI uri;
    try {
      uri = new URI(text);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("not an NBD URI: " + text + " (" + e.getReason() + ")");
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme();
    boolean tls;
    boolean unix;
    switch (scheme) {
      case "nbd", "nbd+tcp" -> { tls = false; unix = false; }
      case "nbds", "nbds+tcp" -> { tls = true; unix = false; }
      case "nbd+unix" -> { tls = false; unix = true; }
      case "nbds+unix" -> { tls = true; unix = true; }
      default -> throw new IllegalArgumentException("not an NBD URI scheme: " + text);
    }
    Map<String, String> query = new LinkedHashMap<>();
    if (uri.getRawQuery() != null) {
      for (String kv : uri.getRawQuery().split("&")) {
        int eq = kv.indexOf('=');
        String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
        String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
        query.put(k, v);
      }
    }
    String path = uri.getPath() == null ? "" : uri.getPath();
    String export = path.startsWith("/") ? path.substring(1) : path;
    if (unix) {
      String socket = query.get("socket");
      if (socket == null || socket.isEmpty()) {
        throw new IllegalArgumentException("nbd+unix URI needs ?socket=PATH: " + text);
      }
      if (uri.getHost() != null) {
        throw new IllegalArgumentException("nbd+unix URI must not name a host: " + text);
      }
      return new NbdUri(tls, null, 0, Path.of(socket), export, query);
    }
    if (uri.getHost() == null) {
      throw new IllegalArgumentException("NBD URI has no host: " + text);
    }
    String host = uri.getHost();
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    return new NbdUri(tls, host, uri.getPort() < 0 ? DEFAULT_PORT : uri.getPort(), null, export, query);
  }

  /** The directory of X.509 files given by {@code tls-certificates}, or null. */
  public Path tlsCertificates() {
    String dir = query.get("tls-certificates");
    return dir == null || dir.isEmpty() ? null : Path.of(dir);
  }

  public boolean tlsVerifyPeer() {
    return !"false".equalsIgnoreCase(query.getOrDefault("tls-verify-peer", "true"));
  }

  @Override
  public String toString() {
    String scheme = (tls ? "nbds" : "nbd") + (socket != null ? "+unix" : "");
    if (socket != null) {
      return scheme + ":///" + exportName + "?socket=" + socket;
    }
    String h = host.contains(":") ? "[" + host + "]" : host;
    return scheme + "://" + h + (port == DEFAULT_PORT ? "" : ":" + port) + "/" + exportName;
  }
}
