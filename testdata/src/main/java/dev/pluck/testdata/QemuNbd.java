package dev.pluck.testdata;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code qemu-nbd} serving an image on a private unix socket. */
public final class QemuNbd extends Daemon {
  private final Path socket;
  private final String exportName;

  private QemuNbd(Path dir, Path socket, String exportName, List<String> command) {
    super("qemu-nbd", dir, command);
    this.socket = socket;
    this.exportName = exportName;
    awaitSocket(socket);
  }

  /** Serves {@code image} read-only as raw, export name "", up to 8 connections. */
  public static QemuNbd serve(Path image) {
    return serve(image, "raw", true, "", List.of());
  }

  /**
   * Serves an image.
   *
   * @param format qemu's format name (raw, qcow2, ...)
   * @param readOnly whether writes are refused
   * @param exportName the NBD export name
   * @param extraArgs further qemu-nbd options (e.g. {@code --trace ...})
   */
  public static QemuNbd serve(Path image, String format, boolean readOnly, String exportName, List<String> extraArgs) {
    Path dir = privateDir("qemu-nbd");
    Path socket = dir.resolve("nbd.sock");
    List<String> cmd = new ArrayList<>(List.of("qemu-nbd", "--persistent", "--shared=8", "--socket=" + socket,
        "--format=" + format, "--export-name=" + exportName));
    if (readOnly) {
      cmd.add("--read-only");
    }
    cmd.addAll(extraArgs);
    cmd.add(image.toAbsolutePath().toString());
    return new QemuNbd(dir, socket, exportName, cmd);
  }

  /**
   * Serves an image over TCP on 127.0.0.1:{@code port}; {@code extraArgs} must include {@code
   * --bind} and {@code --port} (and TLS options when wanted).
   */
  public static QemuNbd serveTcp(Path image, String format, String exportName, List<String> extraArgs, int port) {
    Path dir = privateDir("qemu-nbd");
    List<String> cmd = new ArrayList<>(List.of("qemu-nbd", "--persistent", "--shared=8", "--read-only",
        "--format=" + format, "--export-name=" + exportName));
    cmd.addAll(extraArgs);
    cmd.add(image.toAbsolutePath().toString());
    return new QemuNbd(dir, null, exportName, cmd, port);
  }

  private QemuNbd(Path dir, Path socket, String exportName, List<String> command, int port) {
    super("qemu-nbd", dir, command);
    this.socket = socket;
    this.exportName = exportName;
    awaitPort(port);
  }

  public Path socket() {
    return socket;
  }

  /** {@code nbd+unix:///NAME?socket=PATH}. */
  public String uri() {
    return "nbd+unix:///" + exportName + "?socket=" + socket;
  }
}
