package dev.pluck.cli;

import dev.pluck.fs.OpenOptions;
import java.io.PrintWriter;
import picocli.CommandLine.Option;

/** How commands that read files open a filesystem: {@code --strict}; warnings go to stderr. */
final class FilesystemOptions {
  @Option(names = "--strict", description = "Treat a metadata checksum mismatch as an error (default: a warning on stderr, and the data is used).")
  boolean strict;

  OpenOptions open(PrintWriter err) {
    return new OpenOptions(strict, w -> {
      err.println("pluck: warning: " + w);
      err.flush();
    });
  }
}
