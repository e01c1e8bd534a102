package dev.pluck.cli;

import dev.pluck.fs.Entry;
import dev.pluck.fs.FileSystem;
import dev.pluck.fs.FileSystems;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pluck cat}: a file's bytes, from a volume, to stdout. */
@Command(name = "cat", mixinStandardHelpOptions = true, description = {"Write a file of a volume to standard output.", "",
    "Example: pluck cat web1.qcow2 --volume p1 /etc/fstab",
    "Example: pluck cat nbd://backup-host/vda --volume vg0/data /srv/db/dump.sql > dump.sql"})
final class CatCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin FilesystemOptions filesystem = new FilesystemOptions();

  @Parameters(index = "0", paramLabel = "SOURCE", description = "NBD URI or image path (NAME=SOURCE to name it).")
  String source;

  @Parameters(index = "1", paramLabel = "PATH", description = "The file; FILE:STREAM for a named stream (NTFS alternate data stream).")
  String path;

  @Option(names = "--stream", paramLabel = "NAME", description = "A named stream of the file (the same as PATH:NAME).")
  String stream;

  @Option(names = "--volume", required = true, paramLabel = "ID", description = "p1, VG/LV, disk, label=NAME or uuid=UUID.")
  String volume;

  @Option(names = "--disk", paramLabel = "SOURCE", description = "Another disk of the same machine (repeatable).")
  List<String> moreDisks = new ArrayList<>();

  @Override
  public Integer call() throws IOException {
    List<String> all = new ArrayList<>(List.of(source));
    all.addAll(moreDisks);
    try (Sources sources = new Sources(all); FileSystem fs = FileSystems.open(sources.volume(volume), filesystem.open(spec.commandLine().getErr()))) {
      String file = path;
      String named = stream == null ? "" : stream;
      java.util.Optional<Entry> found = fs.lookup(file);
      int colon = path.lastIndexOf(':');
      if (found.isEmpty() && stream == null && colon > path.lastIndexOf('/')) {
        file = path.substring(0, colon);  // FILE:STREAM, as Windows names streams
        named = path.substring(colon + 1);
        found = fs.lookup(file);
      }
      String shown = file;
      Entry e = found.orElseThrow(() -> new IOException("no " + shown + " on volume " + volume));
      if (named.isEmpty() && e.type() != dev.pluck.fs.EntryType.FILE) {
        throw new IOException(path + " on volume " + volume + " is a " + e.type().label() + ", not a regular file");
      }
      FileChannel out = new FileOutputStream(FileDescriptor.out).getChannel();
      ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
      try (SeekableByteChannel in = fs.open(e, named)) {
        while (in.read(buf.clear()) > 0) {
          buf.flip();
          while (buf.hasRemaining()) {
            out.write(buf);
          }
        }
      }
    }
    return 0;
  }
}
