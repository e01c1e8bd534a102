package dev.pluck.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code pluck} command: parses arguments, wires the modules, prints results. */
@Command(
    name = "pluck",
    mixinStandardHelpOptions = true,
    versionProvider = Pluck.Version.class,
    subcommands = {ProbeCommand.class, LsCommand.class, CatCommand.class, NbdCommand.class, VmCommand.class, RepoCommands.Init.class,
      RepoCommands.Snapshots.class, RepoCommands.CheckCommand.class, RepoCommands.StatsCommand.class, RepoCommands.ForgetCommand.class,
      RepoCommands.PruneCommand.class, RepoCommands.RebuildIndex.class, BackupCommand.class, RestoreCommand.class, ServeCommand.class, FindCommand.class, DiffCommand.class, DemoCommand.class, CompletionCommand.class},
    description = {
      "Agentless, file-level selective backups of QEMU/KVM virtual machines.",
      "",
      "pluck reads a frozen point-in-time view of a VM's disk over NBD, picks the",
      "volumes, files and folders it is told to, skips swap, free space and",
      "unchanged extents, and keeps the result in a deduplicating repository."
    },
    footer = {"", "Exit status: 0 on success, 1 on failure, 2 on a usage error."})
public final class Pluck implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  /** -v: failures also print their stack trace; -q: no progress lines and no notices on stderr. */
  static volatile boolean verbose;
  static volatile boolean quiet;

  @CommandLine.Option(names = {"-v", "--verbose"}, scope = CommandLine.ScopeType.INHERIT,
      description = "On failure, also print where it happened (the stack trace) on stderr.")
  void verbose(boolean on) {
    verbose = on;
  }

  @CommandLine.Option(names = {"-q", "--quiet"}, scope = CommandLine.ScopeType.INHERIT,
      description = "No progress lines and no notices on stderr (errors still).")
  void quiet(boolean on) {
    quiet = on;
  }

  @Override
  public void run() {
    // No verb given: show what there is to do.
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Builds the command line with pluck's conventions: exit 2 on usage errors. */
  public static CommandLine commandLine() {
    // Traces and flags belong to one command line (tests run many in one process).
    dev.pluck.qmp.QmpClient.untraceAll();
    dev.pluck.nbd.protocol.NbdTrace.clear();
    verbose = false;
    quiet = false;
    CommandLine cmd = new CommandLine(new Pluck());
    cmd.setParameterExceptionHandler(
        (ex, args) -> {
          CommandLine failed = ex.getCommandLine();
          failed.getErr().println("pluck: " + ex.getMessage());
          failed.getErr().println("Try 'pluck --help' for more information.");
          return 2;
        });
    // Failures: one line on stderr saying what failed and where; exit 1.
    cmd.setExecutionExceptionHandler(
        (ex, failed, parseResult) -> {
          String message = ex.getMessage() == null ? ex.getClass().getSimpleName() : ex.getMessage();
          failed.getErr().println("pluck: " + message.replace('\n', ' '));
          if (verbose) {
            ex.printStackTrace(failed.getErr());
          }
          return 1;
        });
    return cmd;
  }

  /** Whether commands write to the process's own stdout (set by {@link #main}; tests capture a writer instead). */
  static volatile boolean processStdout;

  public static void main(String[] args) {
    processStdout = true;
    System.exit(commandLine().execute(args));
  }

  /** Reads the version Maven wrote into {@code version.properties}. */
  static final class Version implements CommandLine.IVersionProvider {
    static String version() {
      try (InputStream in = Pluck.class.getResourceAsStream("version.properties")) {
        if (in == null) {
          return "unknown";
        }
        Properties properties = new Properties();
        properties.load(in);
        return properties.getProperty("version", "unknown");
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public String[] getVersion() {
      return new String[] {
        "pluck " + version(),
        "Java " + Runtime.version() + " (" + System.getProperty("java.vm.name") + ")"
      };
    }
  }
}
