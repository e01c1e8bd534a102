package dev.pluck.fs.volume;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * LVM2's text metadata format: sections {@code name { ... }}, assignments {@code key = value},
 * values that are numbers, "strings" or [lists]; {@code #} comments. Bounded: nesting depth,
 * list sizes and item counts are capped, so hostile text cannot recurse or allocate without limit.
 */
final class LvmText {
  static final int MAX_DEPTH = 32;
  static final int MAX_ITEMS = 1_000_000;

  private final String s;
  private final long base;
  private int pos;
  private int items;

  private LvmText(String s, long base) {
    this.s = s;
    this.base = base;
  }

  /** Parses metadata text into nested maps (section name to map; key to Long, String or List). */
  static Map<String, Object> parse(String text, long offset) throws CorruptStructureException {
    LvmText p = new LvmText(text, offset);
    Map<String, Object> root = p.section(0, true);
    return root;
  }

  private Map<String, Object> section(int depth, boolean top) throws CorruptStructureException {
    if (depth > MAX_DEPTH) {
      throw error("sections nested deeper than " + MAX_DEPTH);
    }
    Map<String, Object> out = new LinkedHashMap<>();
    while (true) {
      skip();
      if (pos >= s.length()) {
        if (!top) {
          throw error("unexpected end of text inside a section");
        }
        return out;
      }
      char c = s.charAt(pos);
      if (c == '}') {
        if (top) {
          throw error("unbalanced '}'");
        }
        pos++;
        return out;
      }
      String key = identifier();
      skip();
      if (pos >= s.length()) {
        throw error("unexpected end after '" + key + "'");
      }
      if (s.charAt(pos) == '{') {
        pos++;
        out.put(key, section(depth + 1, false));
      } else if (s.charAt(pos) == '=') {
        pos++;
        out.put(key, value(depth + 1));
      } else {
        throw error("expected '{' or '=' after '" + key + "'");
      }
      if (++items > MAX_ITEMS) {
        throw error("more than " + MAX_ITEMS + " items");
      }
    }
  }

  private Object value(int depth) throws CorruptStructureException {
    skip();
    if (pos >= s.length()) {
      throw error("missing value");
    }
    char c = s.charAt(pos);
    if (c == '"') {
      return string();
    }
    if (c == '[') {
      if (depth > MAX_DEPTH) {
        throw error("lists nested deeper than " + MAX_DEPTH);
      }
      pos++;
      List<Object> list = new ArrayList<>();
      while (true) {
        skip();
        if (pos >= s.length()) {
          throw error("unterminated list");
        }
        if (s.charAt(pos) == ']') {
          pos++;
          return list;
        }
        list.add(value(depth + 1));
        if (++items > MAX_ITEMS) {
          throw error("more than " + MAX_ITEMS + " items");
        }
        skip();
        if (pos < s.length() && s.charAt(pos) == ',') {
          pos++;
        }
      }
    }
    int start = pos;
    while (pos < s.length() && (Character.isDigit(s.charAt(pos)) || s.charAt(pos) == '-' || s.charAt(pos) == '.')) {
      pos++;
    }
    String number = s.substring(start, pos);
    try {
      return number.contains(".") ? (Object) Double.parseDouble(number) : (Object) Long.parseLong(number);
    } catch (NumberFormatException e) {
      throw error("bad value '" + s.substring(start, Math.min(s.length(), start + 20)) + "'");
    }
  }

  private String string() throws CorruptStructureException {
    pos++;
    StringBuilder b = new StringBuilder();
    while (pos < s.length()) {
      char c = s.charAt(pos++);
      if (c == '"') {
        return b.toString();
      }
      if (c == '\\' && pos < s.length()) {
        c = s.charAt(pos++);
      }
      b.append(c);
    }
    throw error("unterminated string");
  }

  private String identifier() throws CorruptStructureException {
    int start = pos;
    while (pos < s.length()) {
      char c = s.charAt(pos);
      if (Character.isLetterOrDigit(c) || c == '_' || c == '.' || c == '-' || c == '+') {
        pos++;
      } else {
        break;
      }
    }
    if (pos == start) {
      throw error("unexpected '" + s.charAt(pos) + "'");
    }
    return s.substring(start, pos);
  }

  private void skip() {
    while (pos < s.length()) {
      char c = s.charAt(pos);
      if (c == '#') {
        while (pos < s.length() && s.charAt(pos) != '\n') {
          pos++;
        }
      } else if (Character.isWhitespace(c) || c == 0) {
        pos++;
      } else {
        return;
      }
    }
  }

  private CorruptStructureException error(String why) {
    int line = 1;
    for (int i = 0; i < Math.min(pos, s.length()); i++) {
      if (s.charAt(i) == '\n') {
        line++;
      }
    }
    return new CorruptStructureException("LVM metadata text", base, "line " + line + ": " + why);
  }
}
