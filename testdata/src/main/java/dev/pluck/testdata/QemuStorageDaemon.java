package dev.pluck.testdata;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code qemu-storage-daemon} with a QMP monitor on a private unix socket: a live disk without a
 * guest. The image is attached as block node {@code disk0} (format node over a file node).
 */
public final class QemuStorageDaemon extends Daemon {
  private final Path qmpSocket;

  private QemuStorageDaemon(Path dir, Path qmpSocket, List<String> command) {
    super("qemu-storage-daemon", dir, command);
    this.qmpSocket = qmpSocket;
    awaitSocket(qmpSocket);
  }

  /**
   * Starts the daemon with {@code image} (in {@code format}: raw, qcow2, ...) as node {@code
   * disk0}; {@code extraArgs} are appended (e.g. {@code --trace EVENT,file=F}).
   */
  public static QemuStorageDaemon start(Path image, String format, List<String> extraArgs) {
    Path dir = privateDir("qsd");
    Path qmp = dir.resolve("qmp.sock");
    List<String> cmd = new ArrayList<>(List.of(
        "qemu-storage-daemon",
        "--chardev", "socket,path=" + qmp + ",server=on,wait=off,id=qmp0",
        "--monitor", "chardev=qmp0",
        "--blockdev", "driver=file,node-name=file0,filename=" + image.toAbsolutePath(),
        "--blockdev", "driver=" + format + ",node-name=disk0,file=file0"));
    cmd.addAll(extraArgs);
    return new QemuStorageDaemon(dir, qmp, cmd);
  }

  public Path qmpSocket() {
    return qmpSocket;
  }

  /**
   * Exports node {@code disk0} writable through FUSE at a new file in the daemon's directory:
   * writes to that file pass through QEMU's block layer (and its dirty bitmaps) as a guest's
   * would. Opens and closes its own monitor connection.
   */
  public java.nio.file.Path exportFuse(String id) throws java.io.IOException {
    java.nio.file.Path file = java.nio.file.Files.createFile(dir().resolve(id + ".fuse"));
    try (TestQmp qmp = new TestQmp(qmpSocket)) {
      qmp.execute("block-export-add", "{\"type\":\"fuse\",\"id\":\"" + id + "\",\"node-name\":\"disk0\",\"mountpoint\":\""
          + file + "\",\"writable\":true}");
    }
    return file;
  }
}
