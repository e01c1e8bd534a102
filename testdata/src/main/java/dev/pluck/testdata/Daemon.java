package dev.pluck.testdata;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real daemon run for a test: started in a private directory (sockets, logs), waited for with a
 * bound, and stopped by pid on {@link #close()}, with the directory removed. Daemons a test forgot
 * to close are killed when the JVM exits.
 */
public abstract class Daemon implements AutoCloseable {
  private static final Set<Daemon> RUNNING = ConcurrentHashMap.newKeySet();
  private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(Daemon::close), "daemon-reaper"));
  }

  private final String name;
  private final Path dir;
  private final Path log;
  private final Process process;

  protected Daemon(String name, Path dir, List<String> command) {
    this.name = name;
    this.dir = dir;
    this.log = dir.resolve(name + ".log");
    Tools.require(command.get(0));
    ProcessBuilder pb =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    try {
      this.process = pb.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + name, e);
    }
    RUNNING.add(this);
  }

  /**
   * A fresh private directory under /tmp. Kept short: a unix socket path must fit in 108 bytes.
   */
  protected static Path privateDir(String prefix) {
    try {
      return Files.createTempDirectory(Path.of("/tmp"), "pluck-" + prefix + "-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Waits until the daemon accepts connections on {@code socket}; fails if it dies first. */
  protected final void awaitSocket(Path socket) {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        close();
        throw new IllegalStateException(name + " exited with " + process.exitValue() + " before listening: " + logTail());
      }
      if (Files.exists(socket)) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
          ch.connect(UnixDomainSocketAddress.of(socket));
          return;
        } catch (IOException notYet) {
          // listening socket file exists but accept not ready: try again
        }
      }
      sleep(20);
    }
    close();
    throw new IllegalStateException(name + " did not listen on " + socket + " within " + START_TIMEOUT + ": " + logTail());
  }

  /** Waits until the daemon accepts TCP connections on 127.0.0.1:{@code port}. */
  protected final void awaitPort(int port) {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        close();
        throw new IllegalStateException(name + " exited with " + process.exitValue() + " before listening: " + logTail());
      }
      try (java.net.Socket s = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), port)) {
        return;
      } catch (IOException notYet) {
        sleep(20);
      }
    }
    close();
    throw new IllegalStateException(name + " did not listen on port " + port + " within " + START_TIMEOUT + ": " + logTail());
  }

  /** The daemon's private directory (sockets, logs, scratch files). */
  public Path dir() {
    return dir;
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** What the daemon printed so far (stdout and stderr). */
  public String logTail() {
    try {
      return Files.exists(log) ? Tools.tail(Files.readString(log, StandardCharsets.UTF_8)) : "";
    } catch (IOException e) {
      return "";
    }
  }

  /** Kills the daemon at once (SIGKILL), as a crash would; {@link #close()} still cleans up. */
  public void kill() {
    process.destroyForcibly();
    try {
      process.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops the daemon (SIGTERM, then SIGKILL after 5 s) and removes its directory. Idempotent. */
  @Override
  public void close() {
    if (!RUNNING.remove(this)) {
      return;
    }
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    deleteTree(dir);
  }

  private static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(root)) {
      List<Path> paths = new ArrayList<>(walk.toList());
      paths.sort((a, b) -> b.getNameCount() - a.getNameCount());
      for (Path p : paths) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      // best effort: a leftover directory under /tmp is harmless
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  @Override
  public String toString() {
    return name + "[pid " + process.pid() + ", " + dir + "]";
  }
}
