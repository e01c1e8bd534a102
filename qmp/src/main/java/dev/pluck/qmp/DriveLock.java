package dev.pluck.qmp;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * One pluck at a time per drive: an advisory lock on a file keyed by the VM's monitor and the
 * drive's node, holding the owner's host and pid. The kernel drops the lock when its process
 * dies, so a dead owner's lock is simply taken over.
 */
public final class DriveLock implements AutoCloseable {
  /** Where lock files live unless told otherwise. */
  public static final Path DEFAULT_DIR = Path.of(System.getProperty("pluck.lockdir", "/run/pluck/locks"));

  private final Path file;
  private final FileChannel channel;
  private final FileLock lock;

  private DriveLock(Path file, FileChannel channel, FileLock lock) {
    this.file = file;
    this.channel = channel;
    this.lock = lock;
  }

  /** The lock file of a drive of a VM. */
  public static Path fileFor(Path dir, MonitorAddress monitor, String node) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest((monitor + "\0" + node).getBytes(StandardCharsets.UTF_8));
      return dir.resolve("drive-" + HexFormat.of().formatHex(h, 0, 12) + ".lock");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Takes the lock, or fails naming the live process that holds it. */
  public static DriveLock acquire(Path dir, MonitorAddress monitor, String node) throws IOException {
    Files.createDirectories(dir);
    Path file = fileFor(dir, monitor, node);
    FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = ch.tryLock();
    } catch (java.nio.channels.OverlappingFileLockException heldHere) {
      lock = null;  // this very process holds it
    } catch (IOException e) {
      ch.close();
      throw e;
    }
    if (lock == null) {
      String owner = holder(ch);
      ch.close();
      throw new IOException("drive " + node + " of " + monitor + " is in use by another pluck (" + owner + ")");
    }
    ch.truncate(0);
    ch.write(ByteBuffer.wrap((hostName() + " " + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
    ch.force(false);
    return new DriveLock(file, ch, lock);
  }

  private static String holder(FileChannel ch) {
    try {
      ByteBuffer b = ByteBuffer.allocate(256);
      ch.read(b, 0);
      String s = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).strip();
      return s.isEmpty() ? "unknown process" : "host and pid " + s;
    } catch (IOException e) {
      return "unknown process";
    }
  }

  private static String hostName() {
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "localhost";
    }
  }

  public Path file() {
    return file;
  }

  @Override
  public void close() throws IOException {
    try {
      lock.release();
    } finally {
      channel.close();
    }
  }
}
