package dev.pluck.fs;

import java.util.function.Consumer;

/**
 * How a filesystem is opened.
 *
 * @param strict a checksum mismatch is an error (by default it is a warning and the data is used,
 *     as the kernel's own tools would show it)
 * @param warnings receives one line per problem that did not stop the read
 */
public record OpenOptions(boolean strict, Consumer<String> warnings) {
  public static final OpenOptions DEFAULT = new OpenOptions(false, w -> {});

  public OpenOptions {
    warnings = warnings == null ? w -> {} : warnings;
  }
}
