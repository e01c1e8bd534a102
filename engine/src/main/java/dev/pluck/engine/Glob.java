package dev.pluck.engine;

import java.util.List;
import java.util.regex.Pattern;

/**
 * gitignore-style path patterns: {@code *} and {@code ?} within a name, {@code **} across
 * directories, {@code [abc]} classes. A pattern with a slash is anchored at the root ("/etc/**");
 * one without matches a name at any depth ("*.tmp", "cache"). A pattern matching a directory
 * matches everything below it.
 */
public final class Glob {
  private final String text;
  private final Pattern pattern;
  /** The literal directory path before the first wildcard, for anchored patterns ("/home/alice" of "/home/alice/**"). */
  private final String literalPrefix;

  public Glob(String text) {
    this.text = text;
    String t = text.endsWith("/") && text.length() > 1 ? text.substring(0, text.length() - 1) : text;
    boolean anchored = t.contains("/");
    if (anchored && !t.startsWith("/")) {
      t = "/" + t;
    }
    StringBuilder re = new StringBuilder(anchored ? "" : "(?:.*/)?");
    for (int i = 0; i < t.length(); i++) {
      char c = t.charAt(i);
      if (c == '*' && i + 1 < t.length() && t.charAt(i + 1) == '*') {
        boolean slashAfter = i + 2 < t.length() && t.charAt(i + 2) == '/';
        re.append(slashAfter ? "(?:.*/)?" : ".*");
        i += slashAfter ? 2 : 1;
      } else if (c == '*') {
        re.append("[^/]*");
      } else if (c == '?') {
        re.append("[^/]");
      } else if (c == '[') {
        int close = t.indexOf(']', i + 1);
        if (close < 0) {
          re.append("\\[");
        } else {
          re.append('[').append(t, i + 1, close).append(']');
          i = close;
        }
      } else {
        re.append(Pattern.quote(String.valueOf(c)));
      }
    }
    re.append("(?:/.*)?");  // a matching directory covers its subtree
    this.pattern = Pattern.compile(anchored ? re.toString() : "/" + re);
    int wild = indexOfWildcard(t);
    String literal = wild < 0 ? t : t.substring(0, wild);
    this.literalPrefix = anchored ? literal.substring(0, Math.max(0, literal.lastIndexOf('/'))) : null;
  }

  private static int indexOfWildcard(String s) {
    for (int i = 0; i < s.length(); i++) {
      if ("*?[".indexOf(s.charAt(i)) >= 0) {
        return i;
      }
    }
    return -1;
  }

  /** Whether the absolute path (or a directory above it) matches. */
  public boolean matches(String path) {
    return pattern.matcher(path).matches();
  }

  /** Whether something below {@code dir} could match (so a walk must go into it). */
  public boolean couldMatchBelow(String dir) {
    if (literalPrefix == null) {
      return true;
    }
    String d = dir.equals("/") ? "" : dir;
    return literalPrefix.startsWith(d + "/") || literalPrefix.equals(d) || d.startsWith(literalPrefix + "/") || literalPrefix.isEmpty();
  }

  public static boolean any(List<Glob> globs, String path) {
    for (Glob g : globs) {
      if (g.matches(path)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return text;
  }
}
