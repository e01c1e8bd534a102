package dev.pluck.engine.repo;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;

/**
 * Repository locks ("locks/ID", JSON): backups, restores and checks take a shared lock; prune
 * takes an exclusive one. A lock whose process is gone (same host, no such pid) or that has not
 * been refreshed for {@link #STALE_AFTER} (another host) is stale and removed.
 */
public final class Locks {
  static final Duration REFRESH = Duration.ofMinutes(5);
  static final Duration STALE_AFTER = Duration.ofMinutes(30);

  /** What a lock file says. */
  public record Info(String host, long pid, boolean exclusive, String time, String purpose) {}

  private Locks() {}

  /** A held lock: refreshed in the background, removed on close. */
  public static final class Lock implements Closeable {
    private final Storage storage;
    private final String name;
    private final Info info;
    private final Thread refresher;

    private Lock(Storage storage, String name, Info info) {
      this.storage = storage;
      this.name = name;
      this.info = info;
      this.refresher = new Thread(this::refresh, "pluck-lock-refresh");
      refresher.setDaemon(true);
      refresher.start();
    }

    private void refresh() {
      try {
        while (true) {
          Thread.sleep(REFRESH.toMillis());
          storage.put(name, Repository.JSON.writeValueAsBytes(new Info(info.host(), info.pid(), info.exclusive(),
              Instant.now().toString(), info.purpose())));
        }
      } catch (InterruptedException | IOException e) {
        // closed, or the repository went away: the lock goes stale on its own
      }
    }

    @Override
    public void close() throws IOException {
      refresher.interrupt();
      storage.delete(name);
    }
  }

  public static Lock acquire(Storage storage, boolean exclusive, String purpose) throws IOException {
    String host = InetAddress.getLocalHost().getHostName();
    Info mine = new Info(host, ProcessHandle.current().pid(), exclusive, Instant.now().toString(), purpose);
    String name = "locks/" + UUID.randomUUID();
    storage.put(name, Repository.JSON.writeValueAsBytes(mine));
    try {
      for (String other : storage.list("locks/")) {
        if (other.equals(name)) {
          continue;
        }
        Info info;
        try {
          info = Repository.JSON.readValue(storage.get(other), Info.class);
        } catch (IOException gone) {
          continue;  // released meanwhile
        }
        if (stale(info, host)) {
          storage.delete(other);
          continue;
        }
        if (exclusive || info.exclusive()) {
          throw new IOException("repository is locked by " + info.purpose() + " (pid " + info.pid() + " on " + info.host() + ", "
              + (info.exclusive() ? "exclusive" : "shared") + " since " + info.time() + ")");
        }
      }
    } catch (IOException e) {
      storage.delete(name);
      throw e;
    }
    return new Lock(storage, name, mine);
  }

  static boolean stale(Info info, String host) {
    if (info.host().equals(host)) {
      return ProcessHandle.of(info.pid()).isEmpty();
    }
    try {
      return Instant.parse(info.time()).plus(STALE_AFTER).isBefore(Instant.now());
    } catch (RuntimeException e) {
      return true;
    }
  }
}
