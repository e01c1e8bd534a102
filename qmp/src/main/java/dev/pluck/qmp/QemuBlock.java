package dev.pluck.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Typed QMP block-layer commands pluck uses, over one {@link QmpClient}. Anything else goes through
 * {@link QmpClient#execute} as raw JSON.
 */
public final class QemuBlock {
  static final ObjectMapper JSON = new ObjectMapper();
  private final QmpClient qmp;

  public QemuBlock(QmpClient qmp) {
    this.qmp = qmp;
  }

  public QmpClient client() {
    return qmp;
  }

  /**
   * Finds a drive by node name, qdev id (vda, virtio-disk0, or a QOM path) or BlockBackend name
   * (drive-virtio-disk0), and returns its format node: VMs started with -drive have generated
   * node names, so the name the user knows goes through query-block.
   */
  public BlockNode resolve(String drive) throws IOException {
    JsonNode blocks = qmp.execute("query-block");
    String nodeName = null;
    String qdev = "";
    String device = "";
    for (JsonNode b : blocks) {
      JsonNode inserted = b.path("inserted");
      if (inserted.isMissingNode()) {
        continue;
      }
      String q = b.path("qdev").asText("");
      String d = b.path("device").asText("");
      String n = inserted.path("node-name").asText("");
      boolean qdevMatches = !q.isEmpty() && (q.equals(drive) || q.equals("/machine/peripheral/" + drive + "/virtio-backend")
          || q.endsWith("/" + drive) || q.startsWith("/machine/peripheral/" + drive + "/"));
      if (n.equals(drive) || d.equals(drive) || qdevMatches) {
        nodeName = n;
        qdev = q;
        device = d;
        break;
      }
    }
    if (nodeName == null) {
      nodeName = drive;  // a node no device uses (qemu-storage-daemon), or a name QEMU will reject
    }
    for (JsonNode n : qmp.execute("query-named-block-nodes", "{\"flat\":true}")) {
      if (n.path("node-name").asText().equals(nodeName)) {
        return new BlockNode(nodeName, n.path("drv").asText(), qdev, device, n.path("image").path("virtual-size").asLong(),
            bitmaps(n.path("dirty-bitmaps")));
      }
    }
    throw new QmpException("query-block", "DeviceNotFound", "no drive or block node named '" + drive + "'");
  }

  private static List<BlockNode.Bitmap> bitmaps(JsonNode list) {
    List<BlockNode.Bitmap> out = new ArrayList<>();
    for (JsonNode b : list) {
      if (b.path("name").asText("").isEmpty()) {
        continue;  // an anonymous bitmap belongs to a running job (backup's own copy-before-write)
      }
      out.add(new BlockNode.Bitmap(b.path("name").asText(), b.path("recording").asBoolean(), b.path("persistent").asBoolean(),
          b.path("busy").asBoolean(), b.path("inconsistent").asBoolean(), b.path("granularity").asLong(), b.path("count").asLong()));
    }
    return out;
  }

  /** Every format node that holds or could hold bitmaps, with its bitmaps. */
  public List<BlockNode> nodesWithBitmaps() throws IOException {
    List<BlockNode> out = new ArrayList<>();
    for (JsonNode n : qmp.execute("query-named-block-nodes", "{\"flat\":true}")) {
      if (!bitmaps(n.path("dirty-bitmaps")).isEmpty()) {
        out.add(new BlockNode(n.path("node-name").asText(), n.path("drv").asText(), "", "",
            n.path("image").path("virtual-size").asLong(), bitmaps(n.path("dirty-bitmaps"))));
      }
    }
    return out;
  }

  /** One action of a {@code transaction}. */
  public static ObjectNode action(String type, ObjectNode data) {
    ObjectNode a = JSON.createObjectNode().put("type", type);
    a.set("data", data);
    return a;
  }

  public static ObjectNode bitmapRef(String node, String name) {
    return JSON.createObjectNode().put("node", node).put("name", name);
  }

  /** Runs actions atomically: all take effect, or none. */
  public void transaction(List<ObjectNode> actions) throws IOException {
    ArrayNode list = JSON.createArrayNode();
    actions.forEach(list::add);
    ObjectNode args = JSON.createObjectNode();
    args.set("actions", list);
    qmp.execute("transaction", args);
  }

  public void blockdevAdd(ObjectNode options) throws IOException {
    qmp.execute("blockdev-add", options);
  }

  public void blockdevDel(String nodeName) throws IOException {
    qmp.execute("blockdev-del", JSON.createObjectNode().put("node-name", nodeName));
  }

  public void removeBitmap(String node, String name) throws IOException {
    qmp.execute("block-dirty-bitmap-remove", bitmapRef(node, name));
  }

  /** Job ids of block jobs that exist now. */
  public List<String> jobIds() throws IOException {
    List<String> out = new ArrayList<>();
    for (JsonNode j : qmp.execute("query-jobs")) {
      out.add(j.path("id").asText());
    }
    return out;
  }

  /** Export ids that exist now. */
  public List<String> exportIds() throws IOException {
    List<String> out = new ArrayList<>();
    for (JsonNode e : qmp.execute("query-block-exports")) {
      out.add(e.path("id").asText());
    }
    return out;
  }

  /** Ids of the NBD exports (not FUSE or vhost-user ones): what keeps an NBD server needed. */
  public List<String> nbdExportIds() throws IOException {
    List<String> out = new ArrayList<>();
    for (JsonNode e : qmp.execute("query-block-exports")) {
      if (e.path("type").asText().equals("nbd")) {
        out.add(e.path("id").asText());
      }
    }
    return out;
  }

  /** Starts an NBD server on a unix socket; false when one already runs. */
  public boolean nbdServerStart(java.nio.file.Path socket) throws IOException {
    ObjectNode data = JSON.createObjectNode().put("path", socket.toString());
    ObjectNode addr = JSON.createObjectNode().put("type", "unix");
    addr.set("data", data);
    ObjectNode args = JSON.createObjectNode();
    args.set("addr", addr);
    try {
      qmp.execute("nbd-server-start", args);
      return true;
    } catch (QmpException e) {
      if (e.description().contains("already running")) {
        return false;
      }
      throw e;
    }
  }

  public void nbdServerStop() throws IOException {
    qmp.execute("nbd-server-stop");
  }

  /** A read-only NBD export of {@code node} named {@code name}, carrying the given bitmaps. */
  public void exportNbd(String id, String node, String name, List<ObjectNode> bitmaps) throws IOException {
    ObjectNode args = JSON.createObjectNode().put("type", "nbd").put("id", id).put("node-name", node).put("name", name)
        .put("writable", false);
    if (!bitmaps.isEmpty()) {
      ArrayNode b = JSON.createArrayNode();
      bitmaps.forEach(b::add);
      args.set("bitmaps", b);
    }
    qmp.execute("block-export-add", args);
  }

  public void exportDel(String id) throws IOException {
    qmp.execute("block-export-del", JSON.createObjectNode().put("id", id));
  }

  /** Starts {@code blockdev-backup} from {@code node} to {@code target} with the given sync mode. */
  public void blockdevBackup(String jobId, String node, String target, String sync) throws IOException {
    qmp.execute("blockdev-backup", JSON.createObjectNode().put("device", node).put("target", target).put("sync", sync)
        .put("job-id", jobId));
  }

  /** Cancels a block job (forced: a sync=none backup never completes by itself). */
  public void cancelJob(String jobId) throws IOException {
    qmp.execute("block-job-cancel", JSON.createObjectNode().put("device", jobId).put("force", true));
  }

  /** Sets a QOM property: here, a guest device's {@code drive}. */
  public void qomSet(String path, String property, String value) throws IOException {
    qmp.execute("qom-set", JSON.createObjectNode().put("path", path).put("property", property).put("value", value));
  }

  /** Runs an HMP command line (e.g. {@code qemu-io}); returns what it printed. */
  public String hmp(String commandLine) throws IOException {
    return qmp.execute("human-monitor-command", JSON.createObjectNode().put("command-line", commandLine)).asText();
  }

  /** The guest's run state ("running", "paused", "prelaunch", ...). */
  public String runState() throws IOException {
    return qmp.execute("query-status").path("status").asText();
  }

  public void stop() throws IOException {
    qmp.execute("stop");
  }

  public void cont() throws IOException {
    qmp.execute("cont");
  }

  /** Whether this is a full QEMU with a guest (it has a run state) rather than qemu-storage-daemon. */
  public boolean hasGuest() throws IOException {
    try {
      qmp.execute("query-status");
      return true;
    } catch (QmpException e) {
      if (e.errorClass().equals("CommandNotFound")) {
        return false;
      }
      throw e;
    }
  }
}
