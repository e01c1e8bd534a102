package dev.pluck.cli;

import dev.pluck.fs.Entry;
import dev.pluck.fs.FileSystem;
import dev.pluck.fs.FileSystems;
import dev.pluck.fs.TreeWalk;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pluck ls}: list files of a volume, without mounting it. */
@Command(name = "ls", mixinStandardHelpOptions = true, description = "List a directory of a volume (like ls -l), or the whole tree with -R.")
final class LsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin FilesystemOptions filesystem = new FilesystemOptions();

  @Parameters(index = "0", paramLabel = "SOURCE", description = "NBD URI or image path (NAME=SOURCE to name it).")
  String source;

  @Parameters(index = "1", arity = "0..1", paramLabel = "PATH", defaultValue = "/", description = "Directory or file (default /).")
  String path;

  @Option(names = "--volume", required = true, paramLabel = "ID", description = "p1, VG/LV, disk, label=NAME or uuid=UUID.")
  String volume;

  @Option(names = "--disk", paramLabel = "SOURCE", description = "Another disk of the same machine (repeatable).")
  List<String> moreDisks = new ArrayList<>();

  @Option(names = {"-R", "--recursive"}, description = "The whole tree below PATH.")
  boolean recursive;

  @Option(names = "--json", description = "JSON lines, one per entry.")
  boolean json;

  static final DateTimeFormatter ISO = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.nnnnnnnnn'Z'").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter SHORT = DateTimeFormatter.ofPattern("uuuu-MM-dd HH:mm").withZone(ZoneOffset.UTC);

  @Override
  public Integer call() throws IOException {
    List<String> all = new ArrayList<>(List.of(source));
    all.addAll(moreDisks);
    try (Sources sources = new Sources(all); FileSystem fs = FileSystems.open(sources.volume(volume), filesystem.open(spec.commandLine().getErr()))) {
      Entry start = fs.lookup(path).orElseThrow(() -> new IOException("no " + path + " on volume " + volume));
      // Long listings: one buffered writer, flushed at the end, not a flush per line.
      PrintWriter out = new PrintWriter(new java.io.BufferedWriter(spec.commandLine().getOut(), 1 << 16), false);
      if (!start.isDirectory()) {
        print(out, start);
      } else {
        if (recursive) {
          print(out, start);
        }
        TreeWalk.walk(fs, start, e -> {
          print(out, e);
          return recursive;
        });
      }
      out.flush();
    }
    return 0;
  }

  private void print(PrintWriter out, Entry e) {
    if (json) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("path", e.path());
      m.put("type", e.type().label());
      m.put("size", e.size());
      m.put("mode", String.format("%04o", e.mode()));
      m.put("uid", e.uid());
      m.put("gid", e.gid());
      m.put("mtime", ISO.format(e.mtime()));
      m.put("nlink", e.nlink());
      m.put("inode", e.inode());
      if (e.target() != null) {
        m.put("target", e.target());
      }
      if (e.type().label().endsWith("dev")) {
        m.put("rdev", List.of(e.rdevMajor(), e.rdevMinor()));
      }
      m.put("xattrs", e.xattrs().keySet().stream().sorted().toList());
      Output.json(out, m);
      return;
    }
    out.printf("%s %3d %5d %5d %12d %s %s%s%n", modeString(e), e.nlink(), e.uid(), e.gid(), e.size(), SHORT.format(e.mtime()),
        recursive ? e.path() : e.name(), e.target() != null ? " -> " + e.target() : "");
  }

  static String modeString(Entry e) {
    char t = switch (e.type()) {
      case DIRECTORY -> 'd';
      case SYMLINK -> 'l';
      case CHAR_DEVICE -> 'c';
      case BLOCK_DEVICE -> 'b';
      case FIFO -> 'p';
      case SOCKET -> 's';
      default -> '-';
    };
    int m = e.mode();
    StringBuilder s = new StringBuilder().append(t);
    String rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; i++) {
      s.append((m & (1 << (8 - i))) != 0 ? rwx.charAt(i) : '-');
    }
    if ((m & 04000) != 0) {
      s.setCharAt(3, s.charAt(3) == 'x' ? 's' : 'S');
    }
    if ((m & 02000) != 0) {
      s.setCharAt(6, s.charAt(6) == 'x' ? 's' : 'S');
    }
    if ((m & 01000) != 0) {
      s.setCharAt(9, s.charAt(9) == 'x' ? 't' : 'T');
    }
    return s.toString();
  }
}
