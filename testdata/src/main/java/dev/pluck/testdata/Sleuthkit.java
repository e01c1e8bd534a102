package dev.pluck.testdata;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Sleuth Kit as a second, independent oracle: {@code fls} lists what a filesystem holds and
 * {@code icat} reads it, without mounting. Offsets are bytes; TSK takes them in 512-byte units.
 */
public final class Sleuthkit {
  /** {@code r/r 64-128-2:\tpath}, {@code d/d * 17:\tpath} (deleted), {@code V/V 66:\t$OrphanFiles}. */
  private static final Pattern FLS_LINE = Pattern.compile("^(\\S+) (\\* )?([0-9]+(?:-[0-9]+-[0-9]+)?):\\t(.*)$");

  private Sleuthkit() {}

  /**
   * One line of {@code fls -r -p}.
   *
   * @param type fls's "name type / metadata type", e.g. {@code r/r}, {@code d/d}, {@code l/l}
   * @param address inode, or for NTFS {@code record-type-id} of the attribute
   * @param path relative path; NTFS streams as {@code path:stream}
   */
  public record FlsEntry(String type, String address, String path, boolean deleted) {
    /** The inode (MFT record) number of the address. */
    public long inode() {
      int dash = address.indexOf('-');
      return Long.parseLong(dash < 0 ? address : address.substring(0, dash));
    }
  }

  /** Every allocated entry of the filesystem at {@code byteOffset}; names with newlines are skipped. */
  public static List<FlsEntry> fls(Path image, long byteOffset) {
    Tools.Result r = Tools.run(java.time.Duration.ofMinutes(5),
        List.of("fls", "-r", "-p", "-o", Long.toString(sectors(byteOffset)), image.toString())).ok();
    List<FlsEntry> out = new ArrayList<>();
    for (String line : r.lines()) {
      Matcher m = FLS_LINE.matcher(line);
      if (m.matches()) {
        out.add(new FlsEntry(m.group(1), m.group(3), m.group(4), m.group(2) != null));
      }
    }
    return out;
  }

  /** SHA-256 of what {@code icat} reads for an address (inode, or NTFS record-type-id). */
  public static String icatSha256(Path image, long byteOffset, String address) {
    ProcessBuilder pb = new ProcessBuilder("icat", "-o", Long.toString(sectors(byteOffset)), image.toString(), address)
        .redirectError(ProcessBuilder.Redirect.DISCARD);
    Tools.require("icat");
    try {
      Process p = pb.start();
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      try (InputStream in = p.getInputStream()) {
        byte[] buf = new byte[1 << 16];
        for (int n; (n = in.read(buf)) > 0; ) {
          sha.update(buf, 0, n);
        }
      }
      if (p.waitFor() != 0) {
        throw new IllegalStateException("icat " + address + " on " + image + " exited with " + p.exitValue());
      }
      return HexFormat.of().formatHex(sha.digest());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** {@code istat} output for an inode. */
  public static String istat(Path image, long byteOffset, long inode) {
    return Tools.runOk("istat", "-o", Long.toString(sectors(byteOffset)), image.toString(), Long.toString(inode)).stdout();
  }

  private static long sectors(long byteOffset) {
    if (byteOffset % 512 != 0) {
      throw new IllegalArgumentException("offset " + byteOffset + " is not a multiple of 512");
    }
    return byteOffset / 512;
  }
}
