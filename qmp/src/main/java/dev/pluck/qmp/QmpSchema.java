package dev.pluck.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * What this QEMU can do, from {@code query-qmp-schema}: its commands, their arguments, and enum
 * values (block drivers such as copy-before-write). Probing beats version numbers: distributions
 * backport features and build without others.
 */
public final class QmpSchema {
  private final Map<String, JsonNode> byName = new HashMap<>();
  private final Set<String> enumValues = new HashSet<>();

  private QmpSchema(JsonNode schema) {
    for (JsonNode e : schema) {
      byName.put(e.path("name").asText(), e);
      if (e.path("meta-type").asText().equals("enum")) {
        for (JsonNode v : e.path("members")) {
          enumValues.add(v.path("name").asText());
        }
        for (JsonNode v : e.path("values")) {
          enumValues.add(v.asText());
        }
      }
    }
  }

  public static QmpSchema load(QmpClient qmp) throws IOException {
    return new QmpSchema(qmp.execute("query-qmp-schema"));
  }

  public boolean hasCommand(String command) {
    JsonNode e = byName.get(command);
    return e != null && e.path("meta-type").asText().equals("command");
  }

  /** Whether some enum has this value (e.g. a block driver name like "copy-before-write"). */
  public boolean hasEnumValue(String value) {
    return enumValues.contains(value);
  }

  /** Whether {@code command} takes an argument named {@code argument} (at its top level). */
  public boolean commandHasArgument(String command, String argument) {
    JsonNode cmd = byName.get(command);
    if (cmd == null) {
      return false;
    }
    return objectHasMember(byName.get(cmd.path("arg-type").asText()), argument, new HashSet<>());
  }

  /** Whether any object type (e.g. a blockdev-add driver's options) has a member of this name. */
  public boolean anyObjectHasMember(String member) {
    for (JsonNode e : byName.values()) {
      if (e.path("meta-type").asText().equals("object")) {
        for (JsonNode m : e.path("members")) {
          if (m.path("name").asText().equals(member)) {
            return true;
          }
        }
      }
    }
    return false;
  }

  private boolean objectHasMember(JsonNode type, String member, Set<String> seen) {
    if (type == null || !seen.add(type.path("name").asText())) {
      return false;
    }
    for (JsonNode m : type.path("members")) {
      if (m.path("name").asText().equals(member)) {
        return true;
      }
    }
    for (JsonNode v : type.path("variants")) {  // flat unions: members of each branch
      if (objectHasMember(byName.get(v.path("type").asText()), member, seen)) {
        return true;
      }
    }
    return false;
  }

  /** copy-before-write fleecing as pluck does it: the filter, snapshot-access, and on-cbw-error (7.1+). */
  public boolean canCopyBeforeWrite() {
    return hasEnumValue("copy-before-write") && hasEnumValue("snapshot-access") && anyObjectHasMember("on-cbw-error");
  }
}
