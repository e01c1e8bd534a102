package dev.pluck.cli;

import dev.pluck.qmp.MonitorAddress;
import picocli.CommandLine.Option;

/** The {@code --qmp} option every vm subcommand takes. */
final class MonitorOption {
  @Option(names = "--qmp", required = true, paramLabel = "SOCKET", description = "QMP monitor: unix socket path or host:port.")
  String qmp;

  MonitorAddress address() {
    return MonitorAddress.parse(qmp);
  }
}
