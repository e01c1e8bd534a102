package dev.pluck.engine;

import dev.pluck.nbd.ImageFormat;
import dev.pluck.qmp.MonitorAddress;
import dev.pluck.qmp.QmpClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * A disk image no QEMU runs, opened read-write in a qemu-storage-daemon pluck starts, so that it
 * can be backed up like a running VM's drive: the daemon's QMP monitor takes the same views, and
 * the chain's persistent bitmaps live in the image, where the VM's QEMU finds them when it starts
 * again. QEMU's image lock keeps a VM from starting on the image meanwhile (and this from opening
 * an image a VM has open). Closing quits the daemon through QMP, which writes the bitmaps back.
 */
public final class OfflineImage implements AutoCloseable {
  private static final Duration START = Duration.ofSeconds(30);

  private final Process process;
  private final Path dir;
  private final Path qmp;
  private final Path log;

  private OfflineImage(Process process, Path dir, Path qmp, Path log) {
    this.process = process;
    this.dir = dir;
    this.qmp = qmp;
    this.log = log;
  }

  /**
   * Opens {@code image} (qcow2 keeps bitmaps; raw cannot) as node {@code nodeName}; the daemon's
   * socket and log go to a new directory below {@code workDir}.
   */
  public static OfflineImage open(Path image, String nodeName, Path workDir) throws IOException {
    return open(java.util.Map.of(nodeName, image), workDir);
  }

  /** Opens several images of one VM in one daemon, each as the node its key names. */
  public static OfflineImage open(java.util.Map<String, Path> images, Path workDir) throws IOException {
    List<String> command = new java.util.ArrayList<>(List.of("qemu-storage-daemon"));
    for (java.util.Map.Entry<String, Path> e : images.entrySet()) {
      Path image = e.getValue();
      String nodeName = e.getKey();
      if (!Files.isRegularFile(image)) {
        throw new IOException(image + " is not a disk image file");
      }
      ImageFormat format = ImageFormat.probe(image);
      if (format != ImageFormat.QCOW2) {
        throw new IOException(image + " is " + format.name().toLowerCase(Locale.ROOT) + ": only qcow2 images keep the persistent "
            + "dirty bitmaps a chain needs (convert it, or back it up as a plain source: pluck backup " + image + ")");
      }
      if (!nodeName.matches("[A-Za-z][A-Za-z0-9_.-]{0,30}")) {
        throw new IOException("drive name " + nodeName + " cannot be a QEMU node name");
      }
      command.addAll(List.of(
          "--blockdev", "driver=file,node-name=" + nodeName + "-file,filename=" + image.toAbsolutePath().toString().replace(",", ",,"),
          "--blockdev", "driver=qcow2,node-name=" + nodeName + ",file=" + nodeName + "-file"));
    }
    String image = String.join(", ", images.values().stream().map(Path::toString).toList());
    Files.createDirectories(workDir);
    Path dir = Files.createTempDirectory(workDir, "offline-");
    Path qmp = dir.resolve("qmp.sock");
    Path log = dir.resolve("qemu-storage-daemon.log");
    command.addAll(1, List.of("--chardev", "socket,path=" + qmp + ",server=on,wait=off,id=qmp0", "--monitor", "chardev=qmp0"));
    ProcessBuilder pb = new ProcessBuilder(command)
        .redirectErrorStream(true).redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new IOException("cannot start qemu-storage-daemon (Debian: apt-get install qemu-system-x86 or qemu-utils): " + e.getMessage(), e);
    }
    OfflineImage o = new OfflineImage(p, dir, qmp, log);
    long deadline = System.nanoTime() + START.toNanos();
    while (true) {
      if (!p.isAlive()) {
        String said = o.log();
        o.deleteDir();
        throw new IOException("qemu-storage-daemon could not open " + image + ": " + said);
      }
      if (Files.exists(qmp)) {
        try (QmpClient c = QmpClient.connect(o.monitor(), Duration.ofSeconds(5))) {
          break;
        } catch (IOException notYet) {
          // listening soon
        }
      }
      if (System.nanoTime() > deadline) {
        o.close();
        throw new IOException("qemu-storage-daemon did not start within " + START.toSeconds() + " s: " + o.log());
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        o.close();
        throw new IOException("interrupted while starting qemu-storage-daemon");
      }
    }
    return o;
  }

  /** The daemon's QMP monitor. */
  public MonitorAddress monitor() {
    return new MonitorAddress(qmp, null, 0);
  }

  private String log() {
    try {
      String s = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8).strip() : "";
      List<String> lines = s.lines().toList();
      return String.join(" / ", lines.subList(Math.max(0, lines.size() - 3), lines.size()));
    } catch (IOException e) {
      return "";
    }
  }

  /** Quits the daemon (persistent bitmaps are written into the image as it closes), then removes its directory. */
  @Override
  public void close() {
    if (process.isAlive()) {
      try (QmpClient c = QmpClient.connect(monitor(), Duration.ofSeconds(5))) {
        c.execute("quit");
      } catch (IOException e) {
        process.destroy();  // SIGTERM: the daemon shuts down cleanly on it too
      }
      try {
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        process.destroyForcibly();
      }
    }
    deleteDir();
  }

  private void deleteDir() {
    try (var files = Files.list(dir)) {
      for (Path f : files.toList()) {
        Files.deleteIfExists(f);
      }
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // vm cleanup removes what is left
    }
  }
}
