package dev.pluck.fs.ntfs;

import dev.pluck.fs.FileSystemException;
import dev.pluck.fs.LittleEndian;
import dev.pluck.fs.ReadOnlyChannel;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A file the Windows Overlay Filter compressed ("system compression": compact.exe /EXE, CompactOS):
 * a reparse point tagged IO_REPARSE_TAG_WOF whose data names the algorithm, an unnamed $DATA
 * that is all hole but has the file's size, and the bytes in the named stream
 * "WofCompressedData": a chunk table, then the chunks. The table holds, for chunks 1 to n-1, where
 * each starts (4-byte entries, 8-byte when the file is 4 GiB or more), counted from the table's
 * end; chunk 0 starts there. A chunk whose stored size is its whole size is stored as it is.
 */
final class WofCompressedData {
  static final String STREAM = "WofCompressedData";

  // WOF_EXTERNAL_INFO, after the reparse header (tag, data length, reserved)
  static final int WOF_VERSION = 0x08;
  static final int WOF_PROVIDER = 0x0C;
  // FILE_PROVIDER_EXTERNAL_INFO_V1, after it
  static final int FILE_PROVIDER_VERSION = 0x10;
  static final int FILE_PROVIDER_ALGORITHM = 0x14;
  static final int FILE_PROVIDER_FLAGS = 0x18;
  static final int REPARSE_LENGTH = 0x1C;

  static final int PROVIDER_WIM = 1;
  static final int PROVIDER_FILE = 2;

  static final int XPRESS4K = 0;
  static final int LZX = 1;
  static final int XPRESS8K = 2;
  static final int XPRESS16K = 3;

  private WofCompressedData() {}

  /** What the reparse data says: the provider, and for per-file compression the algorithm. */
  record Info(int provider, int algorithm) {
    int chunkSize() {
      return switch (algorithm) {
        case XPRESS4K -> 4096;
        case XPRESS8K -> 8192;
        case XPRESS16K -> 16384;
        case LZX -> 32768;
        default -> 0;
      };
    }

    String algorithmName() {
      return switch (algorithm) {
        case XPRESS4K -> "XPRESS4K";
        case XPRESS8K -> "XPRESS8K";
        case XPRESS16K -> "XPRESS16K";
        case LZX -> "LZX";
        default -> "algorithm " + algorithm;
      };
    }
  }

  static Info parse(byte[] reparse, String where) throws NtfsCorruptException {
    if (reparse.length < FILE_PROVIDER_VERSION) {
      throw new NtfsCorruptException("WOF reparse data", where, reparse.length + " bytes");
    }
    int provider = (int) LittleEndian.u32(reparse, WOF_PROVIDER);
    if (provider != PROVIDER_FILE) {
      return new Info(provider, -1);
    }
    if (reparse.length < FILE_PROVIDER_FLAGS) {
      throw new NtfsCorruptException("WOF reparse data", where, reparse.length + " bytes for the file provider's");
    }
    return new Info(provider, (int) LittleEndian.u32(reparse, FILE_PROVIDER_ALGORITHM));
  }

  /** Reads the compressed stream. */
  interface Source {
    long size();

    byte[] read(long offset, int length) throws IOException;
  }

  /**
   * The file's bytes, decompressed a chunk at a time.
   *
   * @param size the file's size (its unnamed $DATA's)
   */
  static ReadOnlyChannel open(Info info, long size, Source compressed, String where) throws IOException {
    if (info.provider() != PROVIDER_FILE) {
      throw new FileSystemException(where + " is WOF-backed by a WIM file outside the volume (provider " + info.provider()
          + "): its data is not on this volume");
    }
    if (info.chunkSize() == 0) {
      throw new NtfsCorruptException("WOF reparse data", where, "unknown compression algorithm " + info.algorithm());
    }
    return new Channel(info, size, compressed, where);
  }

  private static final class Channel extends ReadOnlyChannel {
    private final Info info;
    private final long size;
    private final Source compressed;
    private final String where;
    private final int chunk;
    private final long chunks;
    private final int entryBytes;
    private final long tableBytes;
    private final byte[] current;
    private long currentIndex = -1;

    Channel(Info info, long size, Source compressed, String where) throws IOException {
      this.info = info;
      this.size = size;
      this.compressed = compressed;
      this.where = where;
      this.chunk = info.chunkSize();
      this.chunks = (size + chunk - 1) / chunk;
      this.entryBytes = size > 0xFFFFFFFFL ? 8 : 4;
      this.tableBytes = Math.max(0, chunks - 1) * entryBytes;
      if (tableBytes > compressed.size()) {
        throw new NtfsCorruptException(STREAM, where, "a chunk table of " + tableBytes + " bytes for " + size + " bytes in "
            + info.algorithmName() + " chunks, in a stream of " + compressed.size());
      }
      this.current = new byte[chunk];
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      if (position >= size) {
        return -1;
      }
      long index = position / chunk;
      if (index != currentIndex) {
        load(index);
      }
      int within = (int) (position - index * chunk);
      int n = (int) Math.min(dst.remaining(), Math.min(chunk, size - index * chunk) - within);
      dst.put(current, within, n);
      position += n;
      return n;
    }

    @Override
    public long size() {
      return size;
    }

    /** Where chunk {@code index} starts, from the table's end. */
    private long start(long index) throws IOException {
      if (index == 0) {
        return 0;
      }
      if (index == chunks) {
        return compressed.size() - tableBytes;
      }
      byte[] e = compressed.read((index - 1) * entryBytes, entryBytes);
      long at = entryBytes == 8 ? LittleEndian.u64(e, 0) : LittleEndian.u32(e, 0);
      if (at < 0 || at > compressed.size() - tableBytes) {
        throw new NtfsCorruptException(STREAM, where, "chunk " + index + " starts at " + at + ", past the stream's "
            + (compressed.size() - tableBytes) + " bytes of chunks");
      }
      return at;
    }

    private void load(long index) throws IOException {
      currentIndex = -1;
      long from = start(index);
      long to = start(index + 1);
      int whole = (int) Math.min(chunk, size - index * chunk);
      if (to < from || to - from > whole) {
        throw new NtfsCorruptException(STREAM, where, "chunk " + index + " of " + (to - from) + " bytes (" + from + " to " + to
            + ") for " + whole + " bytes of " + info.algorithmName());
      }
      byte[] stored = compressed.read(tableBytes + from, (int) (to - from));
      if (stored.length == whole) {
        System.arraycopy(stored, 0, current, 0, whole);  // stored as it is: compressing did not help
      } else if (info.algorithm() == LZX) {
        Lzx.decompress(stored, 0, stored.length, current, whole, where + " chunk " + index);
      } else {
        XpressHuffman.decompress(stored, 0, stored.length, current, whole, where + " chunk " + index);
      }
      currentIndex = index;
    }
  }
}
