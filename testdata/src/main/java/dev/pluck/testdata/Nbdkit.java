package dev.pluck.testdata;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code nbdkit} on a private unix socket, in the foreground, exiting with the JVM. Its filters
 * inject faults: {@code --filter=error error-rate=...}, {@code --filter=delay rdelay=...}.
 */
public final class Nbdkit extends Daemon {
  private final Path socket;

  private Nbdkit(Path dir, Path socket, List<String> command) {
    super("nbdkit", dir, command);
    this.socket = socket;
    awaitSocket(socket);
  }

  /**
   * Starts nbdkit with the given filters, plugin and parameters, e.g. {@code
   * start("--filter=error", "memory", "size=1M", "error-rate=1")}.
   */
  public static Nbdkit start(String... pluginAndArgs) {
    Path dir = privateDir("nbdkit");
    Path socket = dir.resolve("nbd.sock");
    List<String> cmd = new ArrayList<>(List.of("nbdkit", "--foreground", "--exit-with-parent", "--unix", socket.toString()));
    cmd.addAll(List.of(pluginAndArgs));
    return new Nbdkit(dir, socket, cmd);
  }

  public Path socket() {
    return socket;
  }

  /** {@code nbd+unix:///?socket=PATH} (nbdkit serves any export name). */
  public String uri() {
    return "nbd+unix:///?socket=" + socket;
  }
}
