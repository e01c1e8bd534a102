package dev.pluck.engine.repo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Where a repository keeps its objects: named, immutable once written, listed by prefix. The few
 * mutable references (snapshots, locks) are written whole under a new name, so an object store
 * with atomic puts serves as well as a directory with atomic renames.
 */
public interface Storage {
  /** Writes {@code data} under {@code name} atomically: readers see all of it or nothing. */
  void put(String name, byte[] data) throws IOException;

  /** Moves a local file's bytes under {@code name} atomically (packs are built in a local file first). */
  void putFile(String name, Path file) throws IOException;

  byte[] get(String name) throws IOException;

  /** {@code length} bytes at {@code offset} of an object. */
  byte[] get(String name, long offset, int length) throws IOException;

  long size(String name) throws IOException;

  boolean exists(String name) throws IOException;

  /** Names starting with {@code prefix} ("data/", "snapshots/"), sorted. */
  List<String> list(String prefix) throws IOException;

  void delete(String name) throws IOException;

  /** A local directory for building objects before {@link #putFile}. */
  Path scratch() throws IOException;
}
