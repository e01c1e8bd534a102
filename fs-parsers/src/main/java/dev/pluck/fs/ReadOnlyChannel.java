package dev.pluck.fs;

import java.nio.ByteBuffer;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.SeekableByteChannel;

/** A file's bytes for reading: subclasses read at {@link #position} and advance it; writing is refused. */
public abstract class ReadOnlyChannel implements SeekableByteChannel {
  protected long position;
  private boolean open = true;

  /** The bytes of an array as a channel. */
  public static ReadOnlyChannel of(byte[] data) {
    return new ReadOnlyChannel() {
      @Override
      public int read(ByteBuffer dst) {
        if (position >= data.length) {
          return -1;
        }
        int n = (int) Math.min(dst.remaining(), data.length - position);
        dst.put(data, (int) position, n);
        position += n;
        return n;
      }

      @Override
      public long size() {
        return data.length;
      }
    };
  }

  @Override
  public final int write(ByteBuffer src) {
    throw new NonWritableChannelException();
  }

  @Override
  public final long position() {
    return position;
  }

  @Override
  public final SeekableByteChannel position(long newPosition) {
    if (newPosition < 0) {
      throw new IllegalArgumentException("negative position");
    }
    position = newPosition;
    return this;
  }

  @Override
  public final SeekableByteChannel truncate(long size) {
    throw new NonWritableChannelException();
  }

  @Override
  public final boolean isOpen() {
    return open;
  }

  @Override
  public void close() {
    open = false;
  }
}
