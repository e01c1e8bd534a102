package dev.pluck.nbd;

import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdUri;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Opens a source named on the command line: an NBD URI, a raw image, or another image format. */
public final class BlockDevices {
  private BlockDevices() {}

  public static BlockDevice open(String source) throws IOException {
    return open(source, NbdOptions.defaults());
  }

  /**
   * An NBD URI connects; a raw file opens directly; a qcow2, vmdk, vhdx, vdi or qed file is
   * served read-only by {@code qemu-nbd} on a private socket, stopped when the device closes.
   */
  public static BlockDevice open(String source, NbdOptions options) throws IOException {
    if (NbdUri.isNbdUri(source)) {
      return NbdBlockDevice.open(NbdUri.parse(source), options);
    }
    Path path = Path.of(source);
    if (!Files.exists(path)) {
      throw new java.nio.file.NoSuchFileException(source, null, "no such image or NBD URI");
    }
    ImageFormat format = ImageFormat.probe(path);
    if (format == ImageFormat.RAW) {
      return FileBlockDevice.open(path);
    }
    return QemuNbdImage.open(path, format, options);
  }

  /** An image qemu-nbd serves for as long as the device is open. */
  static final class QemuNbdImage implements BlockDevice {
    private final Process process;
    private final Path dir;
    private final NbdBlockDevice nbd;

    private QemuNbdImage(Process process, Path dir, NbdBlockDevice nbd) {
      this.process = process;
      this.dir = dir;
      this.nbd = nbd;
    }

    static QemuNbdImage open(Path image, ImageFormat format, NbdOptions options) throws IOException {
      Path dir = Files.createTempDirectory(Path.of("/tmp"), "pluck-img-");
      Path socket = dir.resolve("nbd.sock");
      Process p;
      try {
        p = new ProcessBuilder("qemu-nbd", "--read-only", "--persistent", "--shared=8", "--format=" + format.qemuName(),
            "--socket=" + socket, image.toAbsolutePath().toString())
            .redirectErrorStream(true).redirectOutput(dir.resolve("qemu-nbd.log").toFile()).start();
      } catch (IOException e) {
        deleteDir(dir);
        throw new IOException(image + " is a " + format.qemuName() + " image; reading it needs qemu-nbd (Debian package qemu-utils): "
            + e.getMessage(), e);
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      IOException last = null;
      while (System.nanoTime() < deadline) {
        if (!p.isAlive()) {
          String log = Files.readString(dir.resolve("qemu-nbd.log")).strip();
          deleteDir(dir);
          throw new IOException("qemu-nbd could not serve " + image + ": " + log);
        }
        if (Files.exists(socket)) {
          try {
            NbdUri uri = NbdUri.parse("nbd+unix:///?socket=" + socket);
            return new QemuNbdImage(p, dir, NbdBlockDevice.open(uri, options));
          } catch (IOException e) {
            last = e;
          }
        }
        try {
          Thread.sleep(20);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      p.destroyForcibly();
      deleteDir(dir);
      throw new IOException("qemu-nbd did not start serving " + image, last);
    }

    @Override
    public long size() {
      return nbd.size();
    }

    @Override
    public BlockSizes blockSizes() {
      return nbd.blockSizes();
    }

    @Override
    public boolean isReadOnly() {
      return true;
    }

    @Override
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
      return nbd.readAsync(offset, dst);
    }

    @Override
    public Set<String> metaContexts() {
      return nbd.metaContexts();
    }

    @Override
    public List<Extent> blockStatus(String context, long offset, long length) throws IOException {
      return nbd.blockStatus(context, offset, length);
    }

    /** The qemu-nbd process, for tests that check it is stopped. */
    ProcessHandle process() {
      return process.toHandle();
    }

    @Override
    public void close() {
      nbd.close();
      process.destroy();
      try {
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
      deleteDir(dir);
    }

    @Override
    public String toString() {
      return nbd.toString();
    }
  }

  private static void deleteDir(Path dir) {
    try (var s = Files.walk(dir)) {
      s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // a stale temp dir under /tmp is harmless
    }
  }
}
