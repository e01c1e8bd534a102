package dev.pluck.nbd.protocol;

import dev.pluck.nbd.BlockSizes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What the handshake learned about an export.
 *
 * @param transmissionFlags NBD_FLAG_* of the export
 * @param metaContexts negotiated context name to the id the server gave it
 * @param structuredReplies whether structured replies are in use
 * @param extendedHeaders whether extended headers (64-bit lengths) are in use
 * @param description the server's description of the export, or ""
 */
public record ExportInfo(
    String name,
    long size,
    int transmissionFlags,
    BlockSizes blockSizes,
    Map<String, Integer> metaContexts,
    boolean structuredReplies,
    boolean extendedHeaders,
    String description) {

  public ExportInfo {
    metaContexts = Map.copyOf(metaContexts);
  }

  public boolean has(int flag) {
    return (transmissionFlags & flag) != 0;
  }

  public boolean readOnly() {
    return has(Nbd.NBD_FLAG_READ_ONLY);
  }

  public boolean canMultiConn() {
    return has(Nbd.NBD_FLAG_CAN_MULTI_CONN);
  }

  /** Names of the transmission flags that are set, low bit first. */
  public List<String> flagNames() {
    List<String> out = new ArrayList<>();
    for (int bit = 1; bit < 1 << 16; bit <<= 1) {
      if ((transmissionFlags & bit) != 0 && Nbd.TRANSMISSION_FLAG_NAMES.containsKey(bit)) {
        out.add(Nbd.TRANSMISSION_FLAG_NAMES.get(bit));
      }
    }
    return out;
  }
}
