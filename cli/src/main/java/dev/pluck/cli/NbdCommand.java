package dev.pluck.cli;

import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.Extent;
import dev.pluck.nbd.NbdBlockDevice;
import dev.pluck.nbd.ReadPlanner;
import dev.pluck.nbd.protocol.ExportInfo;
import dev.pluck.nbd.protocol.NbdConnection;
import dev.pluck.nbd.protocol.NbdOptions;
import dev.pluck.nbd.protocol.NbdUri;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code pluck nbd ...}: look at and copy NBD exports with pluck's own client. */
@Command(name = "nbd", mixinStandardHelpOptions = true, description = "Inspect and copy NBD exports.")
final class NbdCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Options every nbd subcommand shares. */
  static final class Connection {
    @Option(names = "--connections", paramLabel = "N", description = "Connections when the server allows several (default ${DEFAULT-VALUE}).",
        defaultValue = "4")
    int connections;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Seconds to wait for each request (default ${DEFAULT-VALUE}).", defaultValue = "60")
    int timeoutSeconds;

    NbdOptions options(List<String> contexts) {
      return NbdOptions.defaults().withConnections(connections).withMetaContexts(contexts)
          .withRequestTimeout(java.time.Duration.ofSeconds(timeoutSeconds));
    }
  }

  @Command(name = "info", mixinStandardHelpOptions = true, description = {
      "Size, block sizes, flags, metadata contexts (and exports with --list) of an export.", "",
      "Example: pluck nbd info 'nbd+unix:///vda?socket=/run/pluck/view/nbd.sock' --json",
      "Example: pluck nbd info nbd://backup-host --list"})
  static final class Info implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "URI", description = "nbd://, nbds://, nbd+unix:///EXPORT?socket=PATH, ...")
    String uri;

    @Option(names = "--list", description = "Also list every export of the server.")
    boolean list;

    @Option(names = "--json", description = "One JSON object on stdout.")
    boolean json;

    @picocli.CommandLine.Mixin Connection connection = new Connection();
    @picocli.CommandLine.Mixin TraceOptions.Nbd trace = new TraceOptions.Nbd();

    @Override
    public Integer call() throws IOException {
      NbdUri parsed = NbdUri.parse(uri);
      NbdConnection.Listing[] listing = new NbdConnection.Listing[1];
      ExportInfo info;
      try (NbdConnection c = NbdConnection.connectAndList(parsed, connection.options(List.of()).withConnections(1), list, listing)) {
        info = c.info();
      }
      PrintWriter out = spec.commandLine().getOut();
      Map<String, Object> result = new LinkedHashMap<>();
      result.put("uri", parsed.toString());
      result.put("export", info.name());
      result.put("size", info.size());
      result.put("blockSizes", Map.of("minimum", info.blockSizes().minimum(), "preferred", info.blockSizes().preferred(),
          "maximum", info.blockSizes().maximum()));
      result.put("transmissionFlags", info.transmissionFlags());
      result.put("flags", info.flagNames());
      result.put("structuredReplies", info.structuredReplies());
      result.put("extendedHeaders", info.extendedHeaders());
      result.put("metaContexts", listing[0].metaContexts());
      if (!info.description().isEmpty()) {
        result.put("description", info.description());
      }
      if (list) {
        result.put("exports", listing[0].exports().stream()
            .map(e -> Map.of("name", e, "description", listing[0].descriptions().getOrDefault(e, ""))).toList());
      }
      if (json) {
        Output.json(out, result);
        return 0;
      }
      out.printf("uri: %s%n", parsed);
      out.printf("export: %s%n", info.name().isEmpty() ? "\"\"" : info.name());
      out.printf("size: %d%n", info.size());
      out.printf("block sizes: minimum %d, preferred %d, maximum %d%n",
          info.blockSizes().minimum(), info.blockSizes().preferred(), info.blockSizes().maximum());
      out.printf("flags: %s%n", String.join(" ", info.flagNames()));
      out.printf("structured replies: %s, extended headers: %s%n", yes(info.structuredReplies()), yes(info.extendedHeaders()));
      out.printf("metadata contexts:%s%n", listing[0].metaContexts().isEmpty() ? " none" : "");
      listing[0].metaContexts().forEach(m -> out.printf("  %s%n", m));
      if (list) {
        out.printf("exports:%n");
        listing[0].exports().forEach(e -> out.printf("  %s%n", e.isEmpty() ? "\"\"" : e));
      }
      return 0;
    }

    private static String yes(boolean b) {
      return b ? "yes" : "no";
    }
  }

  @Command(name = "map", mixinStandardHelpOptions = true, description = {
      "The extents of a metadata context, one per line: offset length flags description.", "",
      "Example: pluck nbd map 'nbd+unix:///vda?socket=/run/pluck/view/nbd.sock' --context qemu:dirty-bitmap:pluck-backup-3"})
  static final class MapExtents implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "URI", description = "nbd://, nbds://, nbd+unix:///EXPORT?socket=PATH, ...")
    String uri;

    @Option(names = "--context", paramLabel = "NAME", description = "Metadata context (default ${DEFAULT-VALUE}).", defaultValue = BlockDevice.BASE_ALLOCATION)
    String context;

    @Option(names = "--json", description = "JSON lines: {offset, length, flags, description}.")
    boolean json;

    @picocli.CommandLine.Mixin Connection connection = new Connection();
    @picocli.CommandLine.Mixin TraceOptions.Nbd trace = new TraceOptions.Nbd();

    @Override
    public Integer call() throws IOException {
      try (NbdBlockDevice dev = NbdBlockDevice.open(NbdUri.parse(uri), connection.options(List.of(context)).withConnections(1))) {
        if (!dev.metaContexts().contains(context)) {
          throw new IOException("server " + uri + " does not offer metadata context " + context);
        }
        PrintWriter out = new PrintWriter(new java.io.BufferedWriter(spec.commandLine().getOut(), 1 << 16), false);
        long step = 1L << 34;
        for (long pos = 0; pos < dev.size(); pos += step) {
          for (Extent e : dev.blockStatus(context, pos, Math.min(step, dev.size() - pos))) {
            String description = describe(context, e.flags());
            if (json) {
              Output.json(out, new LinkedHashMap<>(java.util.Map.of("offset", e.offset(), "length", e.length(),
                  "flags", e.flags(), "description", description)));
            } else {
              out.printf("%10d  %10d  %3d  %s%n", e.offset(), e.length(), e.flags(), description);
            }
          }
        }
        out.flush();
      }
      return 0;
    }

    /** The words nbdinfo --map uses for each context's flags. */
    static String describe(String context, int flags) {
      if (context.equals(BlockDevice.BASE_ALLOCATION)) {
        return switch (flags) {
          case 0 -> "data";
          case 1 -> "hole";
          case 2 -> "zero";
          case 3 -> "hole,zero";
          default -> "unknown";
        };
      }
      if (context.startsWith("qemu:dirty-bitmap:")) {
        return (flags & 1) != 0 ? "dirty" : "clean";
      }
      if (context.equals("qemu:allocation-depth")) {
        return flags == 0 ? "unallocated" : flags == 1 ? "local" : "backing depth " + flags;
      }
      return "";
    }
  }

  @Command(name = "copy", mixinStandardHelpOptions = true, description = {
      "Read a whole export into a raw file (holes stay holes) or to stdout (-).", "",
      "Example: pluck nbd copy nbd://backup-host/vda /var/tmp/vda.raw",
      "Example: pluck nbd copy 'nbd+unix:///vda?socket=/run/vda.sock' - | zstd > vda.raw.zst"})
  static final class Copy implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "URI", description = "nbd://, nbds://, nbd+unix:///EXPORT?socket=PATH, ...")
    String uri;

    @Parameters(index = "1", paramLabel = "FILE", description = "Destination raw file, or - for stdout.")
    String target;

    @picocli.CommandLine.Mixin Connection connection = new Connection();
    @picocli.CommandLine.Mixin TraceOptions.Nbd trace = new TraceOptions.Nbd();

    @Override
    public Integer call() throws IOException {
      try (NbdBlockDevice dev = NbdBlockDevice.open(NbdUri.parse(uri), connection.options(List.of(BlockDevice.BASE_ALLOCATION)))) {
        boolean toStdout = target.equals("-");
        java.io.RandomAccessFile file = null;
        FileChannel out;
        if (toStdout) {
          out = new FileOutputStream(FileDescriptor.out).getChannel();
        } else {
          file = new java.io.RandomAccessFile(target, "rw");
          file.setLength(0);
          file.setLength(dev.size());  // sparse: what is never written stays a hole
          out = file.getChannel();
        }
        // 4 requests of 512 KiB in flight. Measured against a fresh qemu-nbd (docs/PERFORMANCE.md):
        // half as many requests as at 256 KiB cost the server less CPU (0.63 s per 2 GiB instead of
        // 0.71); requests of 1 MiB and more, or more bytes in flight, cost it more. A copy has no
        // compressing to overlap with its reads, so a short pipeline keeps the server busy.
        ReadPlanner.Options opts = ReadPlanner.Options.defaults()
            .withMaxRequest(512 << 10).withMaxInFlight(2L << 20)
            .withFilter(dev.metaContexts().contains(BlockDevice.BASE_ALLOCATION) ? ReadPlanner.Filter.SKIP_ZEROS : ReadPlanner.Filter.NONE);
        ByteBuffer zeros = ByteBuffer.allocateDirect(1 << 20);
        long[] done = {0};
        try (Progress progress = new Progress("copy", dev.size())) {
          new ReadPlanner(dev, opts).read(List.of(new ReadPlanner.Range(0, dev.size())), new ReadPlanner.Sink() {
            @Override
            public void data(long offset, ByteBuffer data) throws IOException {
              long pos = offset;
              while (data.hasRemaining()) {
                pos += toStdout ? out.write(data) : out.write(data, pos);
              }
              done[0] = offset + (pos - offset);
              progress.update(done[0]);
            }

            @Override
            public void zeros(long offset, long length) throws IOException {
              if (toStdout) {  // a stream has no holes: write the zeros
                for (long left = length; left > 0; ) {
                  ByteBuffer z = zeros.duplicate().limit((int) Math.min(left, zeros.capacity()));
                  left -= out.write(z);
                }
              }
              progress.update(offset + length);
            }
          });
        }
        if (file != null) {
          file.close();
        }
      }
      return 0;
    }
  }
}
