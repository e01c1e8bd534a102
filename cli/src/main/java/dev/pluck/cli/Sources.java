package dev.pluck.cli;

import dev.pluck.fs.volume.Volume;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.BlockDevices;
import dev.pluck.nbd.protocol.NbdUri;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** The disks of one machine named on the command line, opened and probed; closes them all. */
final class Sources implements Closeable {
  private final List<BlockDevice> opened = new ArrayList<>();
  /** The disks as opened, with their names ("0", "1", ... or NAME of NAME=SOURCE). */
  final List<VolumeTree.Disk> disks = new ArrayList<>();
  final VolumeTree tree;

  Sources(List<String> sources) throws IOException {
    this(sources, List.of());
  }

  /** Opens {@code sources}, asking NBD servers for the metadata {@code contexts} besides base:allocation. */
  Sources(List<String> sources, List<String> contexts) throws IOException {
    try {
      for (int i = 0; i < sources.size(); i++) {
        String s = sources.get(i);
        String name = Integer.toString(i);
        int eq = s.indexOf('=');
        if (eq > 0 && s.substring(0, eq).matches("[A-Za-z0-9_.-]+") && !NbdUri.isNbdUri(s)) {
          name = s.substring(0, eq);
          s = s.substring(eq + 1);
        }
        BlockDevice d = contexts.isEmpty() ? BlockDevices.open(s) : BlockDevices.open(s, withContexts(contexts));
        opened.add(d);
        disks.add(new VolumeTree.Disk(name, d));
      }
      tree = VolumeTree.probe(disks);
    } catch (IOException | RuntimeException e) {
      close();
      throw e;
    }
  }

  private static dev.pluck.nbd.protocol.NbdOptions withContexts(List<String> contexts) {
    List<String> all = new ArrayList<>(List.of(BlockDevice.BASE_ALLOCATION));
    all.addAll(contexts);
    return dev.pluck.nbd.protocol.NbdOptions.defaults().withMetaContexts(all);
  }

  /** The volume a --volume selector names, or a one-line error listing what there is. */
  Volume volume(String selector) throws IOException {
    return tree.find(selector).orElseThrow(() -> new IOException("no volume " + selector + " (there are: "
        + String.join(", ", tree.volumes().stream().map(Volume::id).toList()) + ")"));
  }

  @Override
  public void close() {
    for (BlockDevice d : opened) {
      try {
        d.close();
      } catch (IOException ignored) {
        // closing what was read
      }
    }
  }
}
