package dev.pluck.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code --trace-qmp} file rendered as the transcripts of docs/PULL-BACKUP.md: {@code ->} what
 * pluck sent, {@code <-} what QEMU replied, {@code <- event} what it announced; command ids and
 * timestamps dropped, the run's own paths, pids and view tokens replaced by placeholders, long
 * replies (node lists, schemas) shortened to their shape.
 */
final class QmpTranscript {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int LONGEST_REPLY = 160;
  private static final Pattern VIEW_TOKEN = Pattern.compile("pluck-[0-9a-f]{8}-");
  private static final Pattern VIEW_DIR = Pattern.compile("view-[0-9]+");
  private static final Pattern ANONYMOUS_NODE = Pattern.compile("#block[0-9]+");
  private static final Pattern SYNC_ID = Pattern.compile("\"id\":[0-9]+|\"return\":[0-9]+");
  /** A generated block in the doc: the marker line, then a fenced block. */
  private static final Pattern BLOCK = Pattern.compile("<!-- generated: ([a-z0-9-]+) -->\\s*\n```[a-z]*\n(.*?)```", Pattern.DOTALL);

  private QmpTranscript() {}

  /** The trace's lines, normalised: {@code placeholders} maps literal strings (the run's paths) to their names. */
  static List<String> render(Path trace, Map<String, String> placeholders) throws IOException {
    List<String> out = new ArrayList<>();
    boolean syncing = false;
    for (String line : Files.readAllLines(trace)) {
      JsonNode entry = JSON.readTree(line);
      ObjectNode message = (ObjectNode) entry.get("message").deepCopy();
      String text;
      if (entry.path("protocol").asText().equals("qga")) {
        // The agent's sync id is random: the reply echoes it.
        String json = JSON.writeValueAsString(message);
        boolean send = entry.get("direction").asText().equals("send");
        if (syncing || json.contains("guest-sync")) {
          json = SYNC_ID.matcher(json).replaceAll(m -> m.group().replaceAll("[0-9]+", "SYNC"));
        }
        syncing = send && json.contains("guest-sync");
        out.add(normalize((send ? "qga -> " : "qga <- ") + json, placeholders));
        continue;
      }
      message.remove("id");
      if (entry.get("direction").asText().equals("send")) {
        text = "-> " + JSON.writeValueAsString(message);
      } else if (message.has("QMP")) {
        text = "<- {\"QMP\":{\"version\":{…},\"capabilities\":" + message.at("/QMP/capabilities") + "}}";
      } else if (message.has("event")) {
        text = "<- event " + message.get("event").asText() + (message.has("data") ? " " + JSON.writeValueAsString(message.get("data")) : "");
      } else {
        String reply = JSON.writeValueAsString(message);
        if (reply.length() > LONGEST_REPLY && message.has("return")) {
          reply = message.get("return").isArray() ? "{\"return\":[…]}" : "{\"return\":{…}}";
        }
        text = "<- " + reply;
      }
      out.add(normalize(text, placeholders));
    }
    return out;
  }

  /** The run's paths, pids, view tokens and QEMU's anonymous node names replaced by placeholders. */
  static String normalize(String text, Map<String, String> placeholders) {
    for (Map.Entry<String, String> p : placeholders.entrySet()) {
      text = text.replace(p.getKey(), p.getValue());
    }
    text = VIEW_TOKEN.matcher(text).replaceAll("pluck-TOKEN-");
    text = VIEW_DIR.matcher(text).replaceAll("view-PID");
    return ANONYMOUS_NODE.matcher(text).replaceAll("#blockN");
  }

  /** The generated blocks of a markdown document, by name, in order. */
  static Map<String, String> blocks(String markdown) {
    Map<String, String> blocks = new LinkedHashMap<>();
    Matcher m = BLOCK.matcher(markdown);
    while (m.find()) {
      if (blocks.put(m.group(1), m.group(2)) != null) {
        throw new IllegalStateException("two generated blocks named " + m.group(1));
      }
    }
    return blocks;
  }

  /**
   * What a block says, for comparison: annotations ({@code #} lines), blank lines and events left
   * out (events arrive asynchronously: how many {@code JOB_STATUS_CHANGE}s pass before a reply is
   * QEMU's business, not pluck's), trailing spaces trimmed.
   */
  static List<String> comparable(String block) {
    List<String> lines = new ArrayList<>();
    for (String l : block.split("\n")) {
      String s = l.stripTrailing();
      if (s.isBlank() || s.startsWith("#") || s.startsWith("<- event ")) {
        continue;
      }
      lines.add(s);
    }
    return lines;
  }
}
