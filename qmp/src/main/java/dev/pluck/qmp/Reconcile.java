package dev.pluck.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Repairs what a pluck that died mid-view left behind: a guest left frozen or paused, exports,
 * jobs, fleecing nodes and files, and a checkpoint chain mid-switch. The drive ends as after a
 * failed backup: the next view's bitmap still holds every change. Never touches a drive whose
 * lock a live pluck holds.
 */
public final class Reconcile {
  private Reconcile() {}

  /**
   * @param scratchRoot the directory holding views' scratch directories (each with a view.json)
   * @param qga the guest agent, to thaw a guest left frozen (null: none)
   * @return what was done, one line each
   */
  public static List<String> run(MonitorAddress monitor, Path scratchRoot, MonitorAddress qga, Path lockDir, Duration timeout)
      throws IOException {
    List<String> done = new ArrayList<>();
    java.util.Set<String> live = new java.util.HashSet<>();  // name prefixes of views a live pluck serves
    List<Path> dirs = new ArrayList<>();
    if (Files.isDirectory(scratchRoot)) {
      try (Stream<Path> s = Files.list(scratchRoot)) {
        s.filter(d -> Files.exists(d.resolve(PullView.STATE_FILE))).sorted().forEach(dirs::add);
      }
    }
    for (Path dir : dirs) {
      Optional<PullView.State> state = PullView.readState(dir);
      if (state.isEmpty() || !state.get().monitor().equals(monitor.toString())) {
        continue;
      }
      PullView.View view = state.get().view();
      List<DriveLock> locks = new ArrayList<>();
      try {
        for (PullView.DriveView d : view.drives()) {
          locks.add(DriveLock.acquire(lockDir, monitor, d.node()));
        }
      } catch (IOException busy) {
        for (DriveLock l : locks) {
          l.close();
        }
        view.drives().forEach(d -> live.add(d.exportName()));
        done.add("left alone: " + busy.getMessage());
        continue;
      }
      try {
        if (state.get().guestFrozen() && qga != null) {
          try (QgaClient agent = QgaClient.connect(qga, timeout)) {
            if (agent.freezeStatus().equals("frozen")) {
              agent.thaw();
              done.add("thawed the guest's filesystems");
            }
          }
        } else if (state.get().guestFrozen()) {
          done.add("the guest may still be frozen: give --qga to thaw it");
        }
        try (QmpClient qmp = QmpClient.connect(monitor, timeout)) {
          QemuBlock block = new QemuBlock(qmp);
          if (state.get().guestPaused() && block.runState().equals("paused")) {
            block.cont();
            done.add("resumed the guest pluck had paused");
          }
          PullView.teardown(block, view, false);
          PullView.settleBitmaps(block, view, false, false);
          done.add("ended view " + dir.getFileName() + " of chain " + view.chain() + " as failed: its changes stay in "
              + String.join(", ", view.drives().stream().map(d -> d.node() + ":"
                  + (d.previousBitmap() != null ? d.previousBitmap() : "(next backup is full)")).toList()));
        }
        deleteTree(dir);
      } finally {
        for (DriveLock l : locks) {
          l.close();
        }
      }
    }
    try (QmpClient qmp = QmpClient.connect(monitor, timeout)) {
      done.addAll(leftovers(new QemuBlock(qmp), live));
    }
    done.addAll(orphanDirs(scratchRoot));
    return done;
  }

  /** Scratch directories of dead plucks that never wrote a state file (died while preparing). */
  private static List<String> orphanDirs(Path scratchRoot) throws IOException {
    List<String> done = new ArrayList<>();
    if (!Files.isDirectory(scratchRoot)) {
      return done;
    }
    try (Stream<Path> s = Files.list(scratchRoot)) {
      for (Path d : s.toList()) {
        String name = d.getFileName().toString();
        if (!name.matches("view-\\d+") || Files.exists(d.resolve(PullView.STATE_FILE))) {
          continue;
        }
        long pid = Long.parseLong(name.substring(5));
        if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
          continue;
        }
        deleteTree(d);
        done.add("removed scratch files of dead pluck " + pid);
      }
    }
    return done;
  }

  /**
   * pluck-named exports, jobs and nodes that no live view owns (their view's state was lost):
   * {@code live} holds the name prefixes of views a running pluck serves.
   */
  private static List<String> leftovers(QemuBlock block, java.util.Set<String> live) throws IOException {
    java.util.function.Predicate<String> ours = n -> n.startsWith("pluck-") && live.stream().noneMatch(n::startsWith);
    List<String> done = new ArrayList<>();
    QmpClient qmp = block.client();
    for (JsonNode e : qmp.execute("query-block-exports")) {
      String id = e.path("id").asText();
      if (ours.test(id)) {
        qmp.execute("block-export-del", QemuBlock.JSON.createObjectNode().put("id", id).put("mode", "hard"));
        done.add("removed export " + id);
      }
    }
    for (String job : block.jobIds()) {
      if (ours.test(job)) {
        qmp.execute("block-job-cancel", QemuBlock.JSON.createObjectNode().put("device", job).put("force", true));
        done.add("cancelled job " + job);
      }
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < deadline && (block.jobIds().stream().anyMatch(ours)
        || block.exportIds().stream().anyMatch(ours))) {
      sleep();
    }
    List<String> nodes = new ArrayList<>(qmp.execute("query-named-block-nodes", "{\"flat\":true}").findValuesAsText("node-name"));
    nodes.removeIf(ours.negate());
    nodes.sort(Comparator.comparing((String n) -> n.endsWith("-snap") ? 0 : n.endsWith("-overlay") || n.endsWith("-cbw") ? 1 : 2));
    for (String n : nodes) {
      try {
        block.blockdevDel(n);
        done.add("removed node " + n);
      } catch (QmpException e) {
        done.add("could not remove node " + n + ": " + e.description());
      }
    }
    return done;
  }

  private static void sleep() {
    try {
      Thread.sleep(20);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
