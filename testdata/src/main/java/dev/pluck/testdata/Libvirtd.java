package dev.pluck.testdata;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The system libvirt for tests: virtlogd and libvirtd started in the foreground (nothing starts
 * them on these machines), listening on /run/libvirt/libvirt-sock, and stopped on close. A
 * libvirtd already listening there is left alone and used.
 */
public final class Libvirtd extends Daemon {
  public static final Path SOCKET = Path.of("/run/libvirt/libvirt-sock");
  private final Daemon logd;

  private static final class Virtlogd extends Daemon {
    Virtlogd(Path dir) {
      super("virtlogd", dir, List.of("virtlogd"));
      awaitSocket(Path.of("/run/libvirt/virtlogd-sock"));
    }
  }

  private Libvirtd(Path dir, Daemon logd) {
    super("libvirtd", dir, List.of("libvirtd"));
    this.logd = logd;
    awaitSocket(SOCKET);
  }

  /** Starts virtlogd and libvirtd, or returns null when a libvirtd already listens. */
  public static Libvirtd start() {
    if (listening()) {
      return null;
    }
    Path dir = privateDir("libvirtd");
    Daemon logd = Files.exists(Path.of("/run/libvirt/virtlogd-sock")) ? null : new Virtlogd(dir);
    return new Libvirtd(dir, logd);
  }

  private static boolean listening() {
    if (!Files.exists(SOCKET)) {
      return false;
    }
    try (var ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
      ch.connect(java.net.UnixDomainSocketAddress.of(SOCKET));
      return true;
    } catch (java.io.IOException e) {
      return false;
    }
  }

  @Override
  public void close() {
    super.close();
    if (logd != null) {
      logd.close();
    }
  }
}
