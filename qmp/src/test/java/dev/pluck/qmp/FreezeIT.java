package dev.pluck.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.testdata.FakeGuestAgent;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.TestQmp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Freezing through a guest agent around the switch: thaw is guaranteed, refusal falls back. */
class FreezeIT {
  @TempDir Path tmp;

  private QemuStorageDaemon qsd() throws Exception {
    Path image = tmp.resolve("disk.raw");
    Files.write(image, new byte[8 << 20]);
    return QemuStorageDaemon.start(image, "raw", List.of());
  }

  private PullView.Options options(FakeGuestAgent agent) {
    return PullView.Options.defaults("backup", tmp.resolve("scratch")).withGuestAgent(MonitorAddress.unix(agent.socket()), List.of("/", "/home"));
  }

  @Test
  void theViewIsTakenFrozenAndTheGuestThawedRightAfter() throws Exception {
    try (QemuStorageDaemon qsd = qsd(); FakeGuestAgent agent = new FakeGuestAgent(tmp, false)) {
      MonitorAddress monitor = MonitorAddress.unix(qsd.qmpSocket());
      PullView.View view = PullView.begin(monitor, List.of("disk0"), options(agent));
      assertThat(view.consistency()).isEqualTo("frozen");
      assertThat(view.notice()).doesNotContain("freeze");  // only the raw image's non-persistent bitmaps are noted
      assertThat(agent.frozen()).isFalse();
      assertThat(agent.commands).containsSubsequence("guest-sync-delimited", "guest-fsfreeze-freeze-list", "guest-fsfreeze-thaw", "guest-fsfreeze-status");
      PullView.end(monitor, view, true, options(agent));
    }
  }

  @Test
  void aRefusedFreezeSaysSoAndTheViewIsStillMade() throws Exception {
    try (QemuStorageDaemon qsd = qsd(); FakeGuestAgent agent = new FakeGuestAgent(tmp, true)) {
      MonitorAddress monitor = MonitorAddress.unix(qsd.qmpSocket());
      PullView.View view = PullView.begin(monitor, List.of("disk0"), options(agent));
      assertThat(view.consistency()).isEqualTo("crash-consistent");
      assertThat(view.notice()).contains("fake agent refuses to freeze");
      PullView.end(monitor, view, true, options(agent));
    }
  }

  @Test
  void aFailureWhileFrozenStillThawsAndLeavesNothingBehind() throws Exception {
    try (QemuStorageDaemon qsd = qsd(); FakeGuestAgent agent = new FakeGuestAgent(tmp, false)) {
      TestQmp qmp = new TestQmp(qsd.qmpSocket());
      // The chain's previous bitmap is busy (another NBD export uses it): disabling it fails
      // inside the transaction, after the freeze.
      qmp.execute("block-dirty-bitmap-add", "{\"node\":\"disk0\",\"name\":\"pluck-backup-7\"}");
      qmp.execute("block-dirty-bitmap-disable", "{\"node\":\"disk0\",\"name\":\"pluck-backup-7\"}");
      qmp.execute("nbd-server-start", "{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"" + tmp.resolve("other.sock") + "\"}}}");
      qmp.execute("block-export-add", "{\"type\":\"nbd\",\"id\":\"other\",\"node-name\":\"disk0\",\"name\":\"o\","
          + "\"bitmaps\":[\"pluck-backup-7\"]}");
      qmp.close();  // the monitor serves one client at a time
      MonitorAddress monitor = MonitorAddress.unix(qsd.qmpSocket());
      assertThatThrownBy(() -> PullView.begin(monitor, List.of("disk0"), options(agent)))
          .isInstanceOf(QmpException.class).hasMessageContaining("transaction");
      qmp = new TestQmp(qsd.qmpSocket());
      assertThat(agent.commands).containsSubsequence("guest-fsfreeze-freeze-list", "guest-fsfreeze-thaw");
      assertThat(agent.frozen()).isFalse();
      assertThat(qmp.execute("query-named-block-nodes").findValuesAsText("node-name")).containsExactlyInAnyOrder("disk0", "file0");
      assertThat(qmp.execute("query-jobs").size()).isZero();
      assertThat(qmp.execute("query-named-block-nodes").toString()).doesNotContain("pluck-backup-8");
      qmp.close();
    }
  }
}
