package dev.pluck.engine.repo;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** A chunk's name: the SHA-256 of its uncompressed bytes. */
public record ChunkId(long a, long b, long c, long d) implements Comparable<ChunkId> {
  public static final int BYTES = 32;

  public static ChunkId of(byte[] data, int from, int length) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(data, from, length);
      return fromBytes(sha.digest(), 0);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  public static ChunkId fromBytes(byte[] b, int at) {
    return new ChunkId(longAt(b, at), longAt(b, at + 8), longAt(b, at + 16), longAt(b, at + 24));
  }

  public static ChunkId parse(String hex) {
    if (hex.length() != 64) {
      throw new IllegalArgumentException("not a chunk id: " + hex);
    }
    return fromBytes(HexFormat.of().parseHex(hex), 0);
  }

  private static long longAt(byte[] b, int at) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = v << 8 | (b[at + i] & 0xff);
    }
    return v;
  }

  public void write(byte[] out, int at) {
    long[] parts = {a, b, c, d};
    for (int p = 0; p < 4; p++) {
      for (int i = 0; i < 8; i++) {
        out[at + p * 8 + i] = (byte) (parts[p] >>> (56 - 8 * i));
      }
    }
  }

  public String hex() {
    byte[] out = new byte[BYTES];
    write(out, 0);
    return HexFormat.of().formatHex(out);
  }

  @Override
  public int compareTo(ChunkId o) {
    int x = Long.compareUnsigned(a, o.a);
    if (x == 0) {
      x = Long.compareUnsigned(b, o.b);
    }
    if (x == 0) {
      x = Long.compareUnsigned(c, o.c);
    }
    return x != 0 ? x : Long.compareUnsigned(d, o.d);
  }

  @Override
  public String toString() {
    return hex();
  }
}
