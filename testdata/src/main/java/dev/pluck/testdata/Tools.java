package dev.pluck.testdata;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs the external tools that build fixtures and serve as oracles.
 *
 * <p>A missing tool is a failure, never a skip: a test that cannot run its peer has not passed.
 */
public final class Tools {
  /** Debian package of each tool, for the error message. */
  private static final Map<String, String> PACKAGES =
      Map.ofEntries(
          Map.entry("qemu-img", "qemu-utils"),
          Map.entry("qemu-nbd", "qemu-utils"),
          Map.entry("qemu-storage-daemon", "qemu-system-common"),
          Map.entry("qemu-system-x86_64", "qemu-system-x86"),
          Map.entry("nbdkit", "nbdkit"),
          Map.entry("nbdinfo", "libnbd-bin"),
          Map.entry("nbdcopy", "libnbd-bin"),
          Map.entry("debugfs", "e2fsprogs"),
          Map.entry("dumpe2fs", "e2fsprogs"),
          Map.entry("fls", "sleuthkit"),
          Map.entry("icat", "sleuthkit"),
          Map.entry("istat", "sleuthkit"),
          Map.entry("fsstat", "sleuthkit"),
          Map.entry("mmls", "sleuthkit"),
          Map.entry("mkfs.ext4", "e2fsprogs"),
          Map.entry("mkfs.exfat", "exfatprogs"),
          Map.entry("mkfs.xfs", "xfsprogs"),
          Map.entry("mkfs.btrfs", "btrfs-progs"),
          Map.entry("mkfs.vfat", "dosfstools"),
          Map.entry("cryptsetup", "cryptsetup-bin"),
          Map.entry("genisoimage", "genisoimage"),
          Map.entry("ntfsls", "ntfs-3g"),
          Map.entry("ntfscat", "ntfs-3g"),
          Map.entry("ntfsinfo", "ntfs-3g"),
          Map.entry("sfdisk", "fdisk"),
          Map.entry("sgdisk", "gdisk"),
          Map.entry("blkid", "util-linux"),
          Map.entry("pvck", "lvm2"),
          Map.entry("mdir", "mtools"),
          Map.entry("bash", "bash"),
          Map.entry("qemu-ga", "qemu-guest-agent"),
          Map.entry("qemu-io", "qemu-utils"),
          Map.entry("openssl", "openssl"),
          Map.entry("fallocate", "util-linux"),
          Map.entry("python3", "python3"));

  private Tools() {}

  /** The result of a finished process. */
  public record Result(List<String> command, int exitCode, String stdout, String stderr) {
    /** Throws unless the process exited with 0. */
    public Result ok() {
      if (exitCode != 0) {
        throw new IllegalStateException(
            String.join(" ", command) + " exited with " + exitCode + ": " + tail(stderr));
      }
      return this;
    }

    /** Standard output split into lines. */
    public List<String> lines() {
      return stdout.lines().toList();
    }
  }

  /** Returns the tool's path on PATH, or fails naming the Debian package that has it. */
  public static Path require(String tool) {
    String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
    for (String dir : (path + ":/usr/sbin:/sbin").split(":")) {
      Path candidate = Path.of(dir.isEmpty() ? "." : dir, tool);
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    String hint = PACKAGES.containsKey(tool) ? " (Debian package " + PACKAGES.get(tool) + ")" : "";
    throw new MissingToolException(
        "missing tool: " + tool + hint + "; scripts/test installs it when run as root");
  }

  /** Thrown when a test's peer or oracle tool is not installed. */
  public static final class MissingToolException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    MissingToolException(String message) {
      super(message);
    }
  }

  /** Runs a command to completion within the timeout; output is captured as UTF-8. */
  public static Result run(Duration timeout, List<String> command) {
    return run(timeout, command, null);
  }

  /** Runs a command, writing its standard output to {@code stdoutFile} when non-null. */
  public static Result run(Duration timeout, List<String> command, Path stdoutFile) {
    require(command.get(0));
    ProcessBuilder pb = new ProcessBuilder(command);
    if (stdoutFile != null) {
      pb.redirectOutput(stdoutFile.toFile());
    }
    pb.environment().put("LC_ALL", "C.UTF-8");
    pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + command.get(0), e);
    }
    CompletableFuture<String> out =
        stdoutFile == null ? drain(p.getInputStream()) : CompletableFuture.completedFuture("");
    CompletableFuture<String> err = drain(p.getErrorStream());
    try {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        throw new IllegalStateException(
            String.join(" ", command) + " did not finish within " + timeout);
      }
      return new Result(List.copyOf(command), p.exitValue(), out.join(), err.join());
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + command.get(0), e);
    }
  }

  /** Runs a command with a one-minute bound and requires exit status 0. */
  public static Result runOk(String... command) {
    return run(Duration.ofMinutes(1), List.of(command)).ok();
  }

  /** Reads a stream to its end on a thread of its own (never the common pool: it may be 1 thread). */
  private static CompletableFuture<String> drain(InputStream in) {
    CompletableFuture<String> result = new CompletableFuture<>();
    Thread reader =
        new Thread(
            () -> {
              try (in) {
                result.complete(new String(in.readAllBytes(), StandardCharsets.UTF_8));
              } catch (IOException e) {
                result.complete("");
              }
            },
            "tools-drain");
    reader.setDaemon(true);
    reader.start();
    return result;
  }

  static String tail(String text) {
    List<String> lines = new ArrayList<>(text.lines().toList());
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
  }
}
