package dev.pluck.engine.repo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * A repository in a local directory. Every object is written to a temporary file beside its
 * final place, fsynced, renamed into place and its directory fsynced: after a crash an object
 * is either whole or absent (temporary files, named {@code .tmp-*}, are ignored and removed by
 * prune).
 */
public final class LocalStorage implements Storage {
  public static final String TEMP_PREFIX = ".tmp-";

  private final Path root;

  public LocalStorage(Path root) {
    this.root = root;
  }

  public Path root() {
    return root;
  }

  /** The directory, as errors name the repository. */
  @Override
  public String toString() {
    return root.toString();
  }

  private Path path(String name) throws IOException {
    if (name.isEmpty() || name.startsWith("/") || name.contains("..") || name.contains("\\")) {
      throw new IOException("bad repository object name: " + name);
    }
    return root.resolve(name);
  }

  @Override
  public void put(String name, byte[] data) throws IOException {
    Path target = path(name);
    Files.createDirectories(target.getParent());
    Path temp = Files.createTempFile(target.getParent(), TEMP_PREFIX, "");
    try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(data);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    move(temp, target);
  }

  @Override
  public void putFile(String name, Path file) throws IOException {
    Path target = path(name);
    Files.createDirectories(target.getParent());
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
    if (!file.getParent().equals(target.getParent())) {
      Path temp = Files.createTempFile(target.getParent(), TEMP_PREFIX, "");
      Files.move(file, temp, StandardCopyOption.REPLACE_EXISTING);
      file = temp;
    }
    move(file, target);
  }

  private static void move(Path temp, Path target) throws IOException {
    try {
      Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException("the repository's filesystem cannot rename atomically: " + target, e);
    }
    syncDirectory(target.getParent());
  }

  static void syncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  @Override
  public byte[] get(String name) throws IOException {
    try {
      return Files.readAllBytes(path(name));
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(name, null, "no such object in the repository");
    }
  }

  @Override
  public byte[] get(String name, long offset, int length) throws IOException {
    byte[] out = new byte[length];
    try (FileChannel ch = FileChannel.open(path(name), StandardOpenOption.READ)) {
      ByteBuffer b = ByteBuffer.wrap(out);
      while (b.hasRemaining()) {
        if (ch.read(b, offset + b.position()) < 0) {
          throw new IOException(name + " ends before byte " + (offset + length) + " (truncated)");
        }
      }
    }
    return out;
  }

  @Override
  public long size(String name) throws IOException {
    return Files.size(path(name));
  }

  @Override
  public boolean exists(String name) throws IOException {
    return Files.exists(path(name));
  }

  @Override
  public List<String> list(String prefix) throws IOException {
    Path dir = root.resolve(prefix.contains("/") ? prefix.substring(0, prefix.lastIndexOf('/')) : "");
    List<String> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        String name = root.relativize(p).toString();
        if (Files.isRegularFile(p) && name.startsWith(prefix) && !p.getFileName().toString().startsWith(TEMP_PREFIX)) {
          out.add(name);
        }
      }
    }
    out.sort(null);
    return out;
  }

  /** Temporary files left by interrupted writes. */
  List<Path> leftovers() throws IOException {
    List<Path> out = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(root)) {
      walk.filter(p -> p.getFileName().toString().startsWith(TEMP_PREFIX)).forEach(out::add);
    }
    return out;
  }

  @Override
  public void delete(String name) throws IOException {
    Files.deleteIfExists(path(name));
  }

  @Override
  public Path scratch() throws IOException {
    return Files.createDirectories(root.resolve("data"));
  }
}
