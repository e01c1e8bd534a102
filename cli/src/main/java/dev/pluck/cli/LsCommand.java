package dev.pluck.cli;

import dev.pluck.fs.Entry;
import dev.pluck.fs.FileSystem;
import dev.pluck.fs.FileSystems;
import dev.pluck.fs.TreeWalk;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.io.SerializedString;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pluck ls}: list files of a volume, without mounting it, or of a snapshot's volume. */
@Command(name = "ls", mixinStandardHelpOptions = true, description = {
    "List a directory of a volume (like ls -l), or the whole tree with -R; with --repo, of a snapshot's volume, with the same "
        + "fields, so that a script can diff the two.", "",
    "Example: pluck ls disk.img --volume p1 /etc",
    "Example: pluck ls --repo /srv/backups latest --volume p1 /home -R --json"})
final class LsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin FilesystemOptions filesystem = new FilesystemOptions();

  @Parameters(index = "0", paramLabel = "SOURCE", description = "NBD URI or image path (NAME=SOURCE to name it); with --repo, a "
      + "snapshot (id prefix, latest, latest:TAG).")
  String source;

  @Option(names = "--repo", paramLabel = "DIR", description = "List a snapshot of this repository instead of a live source "
      + "(default $PLUCK_REPOSITORY when SOURCE is no file or URI).")
  java.nio.file.Path repo;

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

  @Option(names = "--streams", description = "Named streams too (NTFS alternate data streams): in text as PATH:STREAM lines, in JSON as \"streams\".")
  boolean streams;

  private FileSystem fs;

  static final DateTimeFormatter ISO = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.nnnnnnnnn'Z'").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter SHORT = DateTimeFormatter.ofPattern("uuuu-MM-dd HH:mm").withZone(ZoneOffset.UTC);

  /** A listed entry's named streams. */
  interface StreamLister {
    List<FileSystem.Stream> of(Entry e) throws IOException;
  }

  private StreamLister streamsOf;

  @Override
  public Integer call() throws IOException {
    if (repo == null && namesASnapshot(source) && System.getenv("PLUCK_REPOSITORY") != null) {
      repo = java.nio.file.Path.of(System.getenv("PLUCK_REPOSITORY"));
    }
    if (repo != null) {
      return listSnapshot();
    }
    List<String> all = new ArrayList<>(List.of(source));
    all.addAll(moreDisks);
    try (Sources sources = new Sources(all); FileSystem fs = FileSystems.open(sources.volume(volume), filesystem.open(spec.commandLine().getErr()))) {
      this.fs = fs;
      this.streamsOf = fs::streams;
      Entry start = fs.lookup(path).orElseThrow(() -> new IOException("no " + path + " on volume " + volume));
      // Long listings: one buffered writer, flushed at the end, not a flush per line.
      PrintWriter out = new PrintWriter(new java.io.BufferedWriter(spec.commandLine().getOut(), 1 << 16), false);
      if (!start.isDirectory()) {
        print(out, start);
      } else {
        if (recursive) {
          print(out, start);
        }
        if (recursive) {
          printWhileWalking(start, out);
        } else {
          TreeWalk.walk(fs, start, e -> {
            print(out, e);
            return false;
          });
        }
      }
      finish(out);
    }
    return 0;
  }

  /**
   * Whether SOURCE can only be a snapshot (with $PLUCK_REPOSITORY set, {@code ls latest} lists
   * it): not a URI, not NAME=SOURCE, and no such file.
   */
  private static boolean namesASnapshot(String source) {
    return !source.contains("://") && !source.contains("=") && !java.nio.file.Files.exists(java.nio.file.Path.of(source));
  }

  /**
   * The listing of a snapshot's volume from its catalog (in the walk order the backup stored):
   * PATH's entries, or with -R PATH and everything below it.
   */
  private int listSnapshot() throws IOException {
    if (!moreDisks.isEmpty()) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--disk is for live sources, not --repo");
    }
    PrintWriter out = new PrintWriter(new java.io.BufferedWriter(spec.commandLine().getOut(), 1 << 16), false);
    dev.pluck.engine.repo.LocalStorage storage = new dev.pluck.engine.repo.LocalStorage(repo);
    try (dev.pluck.engine.repo.Locks.Lock lock = dev.pluck.engine.repo.Locks.acquire(storage, false, "ls");
        dev.pluck.engine.repo.Repository r = dev.pluck.engine.repo.Repository.open(storage)) {
      dev.pluck.engine.repo.Snapshot s = r.snapshot(source);
      dev.pluck.engine.repo.Snapshot.Volume v = s.volumes().stream().filter(x -> x.id().equals(volume) && x.catalog() != null)
          .findFirst().orElseThrow(() -> new IOException("snapshot " + s.id().substring(0, 12) + " has no files of volume " + volume
              + " (it has: " + String.join(", ", s.volumes().stream().filter(x -> x.catalog() != null)
              .map(dev.pluck.engine.repo.Snapshot.Volume::id).toList()) + ")"));
      String at = path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
      Map<String, List<FileSystem.Stream>> named = new java.util.HashMap<>();
      streamsOf = e -> named.getOrDefault(e.path(), List.of());
      boolean[] found = {false};
      boolean[] directory = {false};
      dev.pluck.engine.repo.Catalog.read(r, v.catalog(), c -> {
        String p = c.path();
        boolean self = p.equals(at);
        boolean below = at.equals("/") ? !p.equals("/") : p.startsWith(at + "/");
        if (self) {
          found[0] = true;
          directory[0] = c.type().equals("dir");
        }
        boolean child = below && p.lastIndexOf('/') == (at.equals("/") ? 0 : at.length());
        boolean wanted = recursive ? self || below : child || (self && !c.type().equals("dir"));
        if (!wanted) {
          return;
        }
        if (c.streams() != null) {
          named.put(p, c.streams().entrySet().stream().map(x -> new FileSystem.Stream(x.getKey(), x.getValue().size())).toList());
        }
        print(out, entry(c));
      });
      if (!found[0]) {
        throw new IOException("no " + path + " in volume " + volume + " of snapshot " + s.id().substring(0, 12));
      }
    }
    finish(out);
    return 0;
  }

  /** Ends a listing: the JSON generator's bytes, then its last newline, all flushed. */
  private void finish(PrintWriter out) throws IOException {
    if (generator != null) {
      generator.flush();
      if (stdout != null) {
        stdout.flush();
      }
      out.println();
    }
    out.flush();
  }

  /** A catalog line as the filesystem API's entry, so both listings print alike. */
  static Entry entry(dev.pluck.engine.repo.CatalogEntry c) {
    dev.pluck.fs.EntryType type = java.util.Arrays.stream(dev.pluck.fs.EntryType.values()).filter(t -> t.label().equals(c.type()))
        .findFirst().orElse(dev.pluck.fs.EntryType.FILE);
    Map<String, byte[]> xattrs = new java.util.LinkedHashMap<>();
    if (c.xattrs() != null) {
      c.xattrs().forEach((k, val) -> xattrs.put(k, java.util.Base64.getDecoder().decode(val)));
    }
    java.util.Set<Entry.Attribute> attributes = java.util.EnumSet.noneOf(Entry.Attribute.class);
    if (c.attributes() != null) {
      for (String a : c.attributes()) {
        try {
          attributes.add(Entry.Attribute.valueOf(a.toUpperCase(java.util.Locale.ROOT)));
        } catch (IllegalArgumentException unknown) {
          // an attribute a newer pluck wrote: not shown
        }
      }
    }
    return new Entry(c.path(), c.inode(), type, c.size(), c.mode(), c.uid(), c.gid(), c.nlink(), dev.pluck.engine.repo.CatalogEntry.instant(c.atimeNs()),
        dev.pluck.engine.repo.CatalogEntry.instant(c.mtimeNs()), dev.pluck.engine.repo.CatalogEntry.instant(c.ctimeNs()), c.crtimeNs() == null ? null : dev.pluck.engine.repo.CatalogEntry.instant(c.crtimeNs()), c.target(),
        c.rdev() == null || c.rdev().size() < 2 ? 0 : c.rdev().get(0), c.rdev() == null || c.rdev().size() < 2 ? 0 : c.rdev().get(1),
        xattrs, c.flags(), attributes);
  }


  private static final List<Entry> END = List.of();

  /**
   * A recursive listing on two threads: one walks the filesystem, this one formats and writes,
   * taking batches of entries from a bounded queue (a slow stdout holds the walk back).
   */
  private void printWhileWalking(Entry start, PrintWriter out) throws IOException {
    BlockingQueue<List<Entry>> batches = new ArrayBlockingQueue<>(64);
    IOException[] failure = {null};
    Thread walker = new Thread(() -> {
      List<Entry> batch = new ArrayList<>(BATCH);
      try {
        TreeWalk.walk(fs, start, e -> {
          batch.add(e);
          if (batch.size() == BATCH) {
            put(batches, new ArrayList<>(batch));
            batch.clear();
          }
          return true;
        });
        put(batches, new ArrayList<>(batch));
      } catch (IOException e) {
        failure[0] = e;
      } catch (RuntimeException e) {
        failure[0] = new IOException(e.toString(), e);
      } finally {
        put(batches, END);
      }
    }, "pluck-ls-walk");
    walker.setDaemon(true);
    walker.start();
    try {
      for (List<Entry> batch = batches.take(); batch != END; batch = batches.take()) {
        for (Entry e : batch) {
          print(out, e);
        }
      }
      walker.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while listing");
    }
    if (failure[0] != null) {
      throw failure[0];
    }
  }

  private static final int BATCH = 512;

  private static void put(BlockingQueue<List<Entry>> queue, List<Entry> batch) {
    try {
      queue.put(batch);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Permission bits as four octal digits ("0755"). */
  static String octal(int mode) {
    char[] c = new char[4];
    for (int i = 3; i >= 0; i--) {
      c[i] = (char) ('0' + (mode & 7));
      mode >>>= 3;
    }
    return new String(c);
  }

  /** ISO-8601 UTC with nanoseconds ("2001-02-03T04:05:06.123456789Z"), digits written straight into a char array. */
  static String isoTime(Instant t) {
    long seconds = t.getEpochSecond();
    long days = Math.floorDiv(seconds, 86_400);
    int secondOfDay = (int) Math.floorMod(seconds, 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian, eras of 400 years).
    long z = days + 719_468;
    long era = Math.floorDiv(z, 146_097);
    int dayOfEra = (int) (z - era * 146_097);
    int yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365;
    int dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
    int mp = (5 * dayOfYear + 2) / 153;
    int day = dayOfYear - (153 * mp + 2) / 5 + 1;
    int month = mp < 10 ? mp + 3 : mp - 9;
    long year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
    if (year < 0 || year > 9999) {
      return ISO.format(t);
    }
    char[] c = new char[30];
    digits(c, 0, (int) year, 4);
    c[4] = '-';
    digits(c, 5, month, 2);
    c[7] = '-';
    digits(c, 8, day, 2);
    c[10] = 'T';
    digits(c, 11, secondOfDay / 3600, 2);
    c[13] = ':';
    digits(c, 14, secondOfDay / 60 % 60, 2);
    c[16] = ':';
    digits(c, 17, secondOfDay % 60, 2);
    c[19] = '.';
    digits(c, 20, t.getNano(), 9);
    c[29] = 'Z';
    return new String(c);
  }

  private static void digits(char[] c, int at, int value, int count) {
    for (int i = at + count - 1; i >= at; i--) {
      c[i] = (char) ('0' + value % 10);
      value /= 10;
    }
  }

  private JsonGenerator generator;

  private java.io.OutputStream stdout;

  /** The process's stdout as bytes, once what {@code out} holds is flushed ahead of them. */
  private java.io.OutputStream stdoutBytes(PrintWriter out) {
    out.flush();
    stdout = new java.io.BufferedOutputStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), 1 << 16);
    return stdout;
  }

  private void print(PrintWriter out, Entry e) throws IOException {
    if (json) {
      // One generator for the whole listing: a map and a serializer lookup per line cost more than the reading.
      if (generator == null) {
        // jackson-core's factory alone: the ObjectMapper would load databind's classes first (~0.1 s).
        com.fasterxml.jackson.core.JsonFactory factory = com.fasterxml.jackson.core.JsonFactory.builder()
            .enable(com.fasterxml.jackson.core.json.JsonWriteFeature.COMBINE_UNICODE_SURROGATES_IN_UTF8).build();  // 😀, not \uD83D\uDE00
        // On the process's stdout, UTF-8 bytes straight from the generator: no char-to-byte encoding pass.
        generator = (Pluck.processStdout ? factory.createGenerator(stdoutBytes(out), com.fasterxml.jackson.core.JsonEncoding.UTF8)
            : factory.createGenerator(out))
            .disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET).disable(JsonGenerator.Feature.FLUSH_PASSED_TO_STREAM);
        generator.setRootValueSeparator(new SerializedString("\n"));
      }
      JsonGenerator g = generator;
      g.writeStartObject();
      g.writeStringField("path", e.path());
      g.writeStringField("type", e.type().label());
      g.writeNumberField("size", e.size());
      if (e.mode() != null) {
        g.writeStringField("mode", octal(e.mode()));
      }
      if (e.uid() != null) {
        g.writeNumberField("uid", e.uid());
      }
      if (e.gid() != null) {
        g.writeNumberField("gid", e.gid());
      }
      g.writeStringField("mtime", isoTime(e.mtime()));
      g.writeNumberField("nlink", e.nlink());
      g.writeNumberField("inode", e.inode());
      if (e.target() != null) {
        g.writeStringField("target", e.target());
      }
      if (e.type().label().endsWith("dev")) {
        g.writeArrayFieldStart("rdev");
        g.writeNumber(e.rdevMajor());
        g.writeNumber(e.rdevMinor());
        g.writeEndArray();
      }
      if (!e.attributes().isEmpty()) {
        g.writeArrayFieldStart("attributes");
        for (Entry.Attribute a : e.attributes()) {
          g.writeString(a.name().toLowerCase(java.util.Locale.ROOT));
        }
        g.writeEndArray();
      }
      if (streams) {
        g.writeArrayFieldStart("streams");
        for (FileSystem.Stream s : streamsOf.of(e)) {
          g.writeStartObject();
          g.writeStringField("name", s.name());
          g.writeNumberField("size", s.size());
          g.writeEndObject();
        }
        g.writeEndArray();
      }
      g.writeArrayFieldStart("xattrs");
      for (String name : e.xattrs().size() < 2 ? e.xattrs().keySet() : new java.util.TreeSet<>(e.xattrs().keySet())) {
        g.writeString(name);
      }
      g.writeEndArray();
      g.writeEndObject();
      return;
    }
    out.printf("%s %3d %5s %5s %12d %s %s%s%n", modeString(e), e.nlink(), e.uid() == null ? "-" : e.uid(), e.gid() == null ? "-" : e.gid(),
        e.size(), SHORT.format(e.mtime()),
        recursive ? e.path() : e.name(), e.target() != null ? " -> " + e.target() : "");
    if (streams) {
      for (FileSystem.Stream s : streamsOf.of(e)) {
        out.printf("%s %3s %5s %5s %12d %s %s:%s%n", "s---------", "", "", "", s.size(), SHORT.format(e.mtime()),
            recursive ? e.path() : e.name(), s.name());
      }
    }
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
    if (e.mode() == null) {
      return t + "?????????";  // no permission bits on this filesystem
    }
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
