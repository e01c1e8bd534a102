package dev.pluck.engine.repo;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Metadata too large to keep whole (a million-file catalog, the block map of a large volume) as
 * a byte stream cut into chunks: written and read in order, never loaded at once.
 */
public final class ChunkedStream {
  private ChunkedStream() {}

  /** Writes bytes into chunks of the repository's chunk size; {@link #finish} names them. */
  public static final class Writer extends OutputStream {
    private final Repository repo;
    private final byte[] buffer;
    private int used;
    private final List<String> chunks = new ArrayList<>();

    public Writer(Repository repo) {
      this.repo = repo;
      this.buffer = new byte[repo.config().chunkSize()];
    }

    @Override
    public void write(int b) throws IOException {
      if (used == buffer.length) {
        emit();
      }
      buffer[used++] = (byte) b;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      while (len > 0) {
        if (used == buffer.length) {
          emit();
        }
        int n = Math.min(len, buffer.length - used);
        System.arraycopy(b, off, buffer, used, n);
        used += n;
        off += n;
        len -= n;
      }
    }

    private void emit() throws IOException {
      chunks.add(repo.put(buffer, 0, used).hex());
      used = 0;
    }

    public List<String> finish() throws IOException {
      if (used > 0) {
        emit();
      }
      return List.copyOf(chunks);
    }
  }

  /** Reads the chunks back in order, one at a time. */
  public static InputStream reader(Repository repo, List<String> chunks) {
    return new InputStream() {
      private int next;
      private byte[] current = new byte[0];
      private int at;

      private boolean fill() throws IOException {
        while (at == current.length) {
          if (next == chunks.size()) {
            return false;
          }
          current = repo.get(ChunkId.parse(chunks.get(next++)));
          at = 0;
        }
        return true;
      }

      @Override
      public int read() throws IOException {
        return fill() ? current[at++] & 0xff : -1;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
          return 0;
        }
        if (!fill()) {
          return -1;
        }
        int n = Math.min(len, current.length - at);
        System.arraycopy(current, at, b, off, n);
        at += n;
        return n;
      }
    };
  }
}
