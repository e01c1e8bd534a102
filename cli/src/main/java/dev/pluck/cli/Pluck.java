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

  /** pluck's verbs, in the order --help lists them. */
  private static final java.util.List<Class<?>> VERBS = java.util.List.of(ProbeCommand.class, LsCommand.class, CatCommand.class,
      NbdCommand.class, VmCommand.class, RepoCommands.Init.class, RepoCommands.Snapshots.class, RepoCommands.CheckCommand.class,
      RepoCommands.StatsCommand.class, RepoCommands.ForgetCommand.class, RepoCommands.PruneCommand.class, RepoCommands.RebuildIndex.class,
      BackupCommand.class, RestoreCommand.class, ServeCommand.class, FindCommand.class, DiffCommand.class, DemoCommand.class,
      CompletionCommand.class);

  /** The verbs that have verbs of their own ({@code pluck nbd copy}), in the order --help lists them. */
  private static final java.util.Map<Class<?>, java.util.List<Class<?>>> SUBVERBS = java.util.Map.of(
      NbdCommand.class, java.util.List.of(NbdCommand.Info.class, NbdCommand.MapExtents.class, NbdCommand.Copy.class),
      VmCommand.class, java.util.List.of(VmBackupCommand.class, VmCommand.Checkpoints.class, VmCommand.Export.class, VmCommand.Cleanup.class));

  /** Builds the command line with pluck's conventions: exit 2 on usage errors. */
  public static CommandLine commandLine() {
    return commandLine(new String[0]);
  }

  /**
   * The command line for {@code args}: when they begin with one of pluck's verbs (and, for a verb
   * with verbs of its own, one of those), only that verb is built; else every verb. picocli builds
   * and instantiates every command of its tree up front, which took a third of a short command's
   * time (every verb's options, mixins and statics, Jackson among them); a run needs only the verb
   * it runs, and {@code pluck nbd copy} the copy alone (~15 ms less than all of nbd's).
   */
  static CommandLine commandLine(String[] arguments) {
    String verb = arguments.length > 0 ? arguments[0] : null;
    String subverb = arguments.length > 1 ? arguments[1] : null;
    boolean known = VERBS.stream().anyMatch(c -> name(c).equals(verb));
    // Traces and flags belong to one command line (tests run many in one process).
    TraceOptions.clear();
    verbose = false;
    quiet = false;
    CommandLine cmd = new CommandLine(new Pluck());
    for (Class<?> c : VERBS) {
      if (known && !name(c).equals(verb)) {
        continue;
      }
      java.util.List<Class<?>> subs = SUBVERBS.get(c);
      if (subs == null) {
        cmd.addSubcommand(name(c), c);
        continue;
      }
      CommandLine parent = new CommandLine(c);
      boolean knownSub = known && subs.stream().anyMatch(s -> name(s).equals(subverb));
      for (Class<?> s : subs) {
        if (!knownSub || name(s).equals(subverb)) {
          parent.addSubcommand(name(s), s);
        }
      }
      cmd.addSubcommand(name(c), parent);
    }
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

  private static String name(Class<?> command) {
    return command.getAnnotation(Command.class).name();
  }

  /** Whether commands write to the process's own stdout (set by {@link #main}; tests capture a writer instead). */
  static volatile boolean processStdout;

  public static void main(String[] args) {
    processStdout = true;
    // Netty's JFR events load the Flight Recorder's classes, 0.07 s of every NBD command; pluck emits none.
    if (System.getProperty("io.netty.jfr.enabled") == null) {
      System.setProperty("io.netty.jfr.enabled", "false");
    }
    NettyLog.install(System.err);
    // An NBD command's transport starts while picocli builds the command line (~40 ms each, on
    // different cores; docs/PERFORMANCE.md).
    if (java.util.Arrays.stream(args).anyMatch(dev.pluck.nbd.protocol.NbdUri::isNbdUri)) {
      Thread start = new Thread(() -> {
        try {
          dev.pluck.nbd.protocol.NbdConnection.startTransport();
        } catch (RuntimeException | LinkageError e) {
          // the first connection meets it again and says what failed
        }
      }, "nbd-transport-start");
      start.setDaemon(true);
      start.start();
    }
    int status = commandLine(args).execute(args);
    // Threads waiting in epoll_wait make the JVM's exit wait 300 ms for them.
    dev.pluck.nbd.protocol.EventLoops.shutdownAll();
    dev.pluck.qmp.QmpEventLoop.shutdown();
    System.exit(status);
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
