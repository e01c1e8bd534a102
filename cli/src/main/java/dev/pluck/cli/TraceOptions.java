package dev.pluck.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pluck.qmp.QmpClient;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code --trace-qmp FILE} and {@code --trace-nbd FILE} of the vm commands ({@link Nbd}: {@code --trace-nbd}
 * alone, for the others that speak NBD). {@code --trace-qmp}: every QMP command pluck sends, every reply and
 * every event QEMU sends, and the guest agent's commands and replies, as JSON lines {"seq", "time",
 * "monitor", "protocol": "qmp" | "qga", "direction": "send" | "receive", "message"} in the order they passed, so a pull backup can be read (and documented)
 * as QEMU saw it.
 */
final class TraceOptions {
  /** Made when a trace is asked for: an ObjectMapper costs a short command 0.1 s. */
  private static final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper().disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
  }

  /** Whether a command line of this process installed tracers (tests run many in one JVM). */
  private static volatile boolean installed;

  /**
   * Removes the tracers an earlier command line installed; touches the QMP and NBD classes only
   * then (loading QmpClient costs a short command its ObjectMapper).
   */
  static void clear() {
    if (installed) {
      QmpClient.untraceAll();
      dev.pluck.nbd.protocol.NbdTrace.clear();
      installed = false;
    }
  }

  @Option(names = "--trace-qmp", paramLabel = "FILE", description = "Write every QMP command, reply and event (and every guest "
      + "agent command and reply) as JSON lines to FILE.")
  void traceQmp(Path file) {
    java.util.function.Consumer<Object> out = jsonLines(file, "QMP");
    AtomicLong seq = new AtomicLong();
    installed = true;
    QmpClient.traceAll((monitor, line) -> {
      ObjectNode row = Json.MAPPER.createObjectNode();
      row.put("seq", seq.incrementAndGet());
      row.put("time", Instant.now().toString());
      boolean agent = line.startsWith("qga ");
      String arrowed = agent ? line.substring(4) : line;
      row.put("monitor", monitor.toString());
      row.put("protocol", agent ? "qga" : "qmp");
      row.put("direction", arrowed.startsWith("->") ? "send" : "receive");
      String text = arrowed.substring(3);
      try {
        JsonNode message = Json.MAPPER.readTree(text);
        row.set("message", message);
      } catch (IOException notJson) {
        row.put("text", text);
      }
      out.accept(row);
    });
  }

  /** A trace file written one JSON line per object, from any thread; a write that fails is said once per line on stderr. */
  private static java.util.function.Consumer<Object> jsonLines(Path file, String what) {
    OutputStream out;
    try {
      out = Files.newOutputStream(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the " + what + " trace to " + file + ": " + e.getMessage(), e);
    }
    return value -> {
      synchronized (out) {
        try {
          out.write(Json.MAPPER.writeValueAsBytes(value));
          out.write('\n');
          out.flush();
        } catch (IOException e) {
          System.err.println("pluck: the " + what + " trace stopped: " + e.getMessage());
        }
      }
    };
  }

  /** The vm commands speak NBD too. */
  @Mixin Nbd nbd = new Nbd();

  /** {@code --trace-nbd FILE} alone, for the commands that speak NBD and no QMP. */
  static final class Nbd {
    /**
     * NBD's handshake (every option sent and reply received) and, per connection when it closes,
     * its requests: counts and bytes per command, the largest request, the most in flight at once.
     */
    @Option(names = "--trace-nbd", paramLabel = "FILE", description = "Write the NBD handshake and a summary of each connection's "
        + "requests as JSON lines to FILE.")
    void traceNbd(Path file) {
      java.util.function.Consumer<Object> out = jsonLines(file, "NBD");
      installed = true;
      dev.pluck.nbd.protocol.NbdTrace.to(out::accept);
    }
  }
}
