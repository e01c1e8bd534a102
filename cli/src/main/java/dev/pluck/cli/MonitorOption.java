package dev.pluck.cli;

import dev.pluck.qmp.MonitorAddress;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** Which VM every vm subcommand talks to: a QMP monitor, or a domain libvirt runs. */
final class MonitorOption {
  @Spec(Spec.Target.MIXEE) CommandSpec mixee;

  @Option(names = "--qmp", paramLabel = "SOCKET", description = "QMP monitor: unix socket path or host:port (or --libvirt).")
  String qmp;

  @Option(names = "--libvirt", paramLabel = "DOMAIN", description = "A domain libvirt runs, reached through libvirt (or --qmp).")
  String libvirt;

  @Option(names = "--connect", paramLabel = "URI", description = "libvirt connection (default qemu:///system).")
  String connect;

  @Option(names = "--libvirt-dir", defaultValue = "/var/lib/libvirt/qemu/pluck", paramLabel = "DIR",
      description = "Where pluck's libvirt backup jobs keep their socket, scratch files and state (default ${DEFAULT-VALUE}).")
  Path libvirtDir;

  /** True for a libvirt domain, false for a QMP monitor; a usage error unless exactly one is given. */
  boolean isLibvirt() {
    if ((qmp == null) == (libvirt == null)) {
      throw new ParameterException(mixee.commandLine(), "say which VM: --qmp SOCKET or --libvirt DOMAIN");
    }
    return libvirt != null;
  }

  MonitorAddress address() {
    if (isLibvirt()) {
      throw new ParameterException(mixee.commandLine(), mixee.name() + " takes --qmp; with --libvirt it is not built yet");
    }
    return MonitorAddress.parse(qmp);
  }
}
