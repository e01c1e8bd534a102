package dev.pluck.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;

/** How commands print results: text for people, or JSON (one object, or JSON lines). */
final class Output {
  static final ObjectMapper JSON = new ObjectMapper().disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);

  private Output() {}

  /** Prints {@code value} as one line of JSON. */
  static void json(PrintWriter out, Object value) {
    try {
      out.println(JSON.writeValueAsString(value));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException("cannot render JSON", e);
    }
  }

  /** "1 file", "2 files". */
  static String count(long n, String one) {
    return count(n, one, one + "s");
  }

  /** "1 directory", "2 directories". */
  static String count(long n, String one, String many) {
    return n + " " + (n == 1 ? one : many);
  }

  /** A size for people, in powers of 1024: "1.5 GiB", or with {@code compact} as lsblk prints it, "1.5G". */
  static String bytes(long bytes, boolean compact) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = bytes;
    int u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    if (compact) {
      return u == 0 ? bytes + "B" : String.format("%.1f%s", v, units[u].charAt(0));
    }
    return u == 0 ? bytes + " B" : String.format("%.1f %s", v, units[u]);
  }
}
