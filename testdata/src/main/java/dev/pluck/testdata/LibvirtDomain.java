package dev.pluck.testdata;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A libvirt domain for tests: TCG, q35, 64 MiB, one virtio qcow2 disk copied from a raw image
 * (under /var/lib/libvirt/images, where libvirt's QEMU user can open it), started paused. Guest
 * writes go through QEMU's block layer (HMP qemu-io on the disk's device), so dirty bitmaps see
 * them. Closing destroys and undefines the domain, its checkpoint metadata and the disk, and
 * stops the libvirtd this started.
 */
public final class LibvirtDomain implements AutoCloseable {
  /** The QOM path of the disk's virtio device (vda on q35, as libvirt names it). */
  private static final String DEVICE = "/machine/peripheral/virtio-disk0/virtio-backend";

  private final Libvirtd libvirtd;
  private final String name;
  private final Path image;

  private LibvirtDomain(Libvirtd libvirtd, String name, Path image) {
    this.libvirtd = libvirtd;
    this.name = name;
    this.image = image;
  }

  /** Starts libvirtd when none runs, and a paused domain whose disk vda holds a copy of {@code raw}. */
  public static LibvirtDomain start(Path raw, Path scratch) throws java.io.IOException {
    return start(raw, scratch, false);
  }

  /**
   * As {@link #start(Path, Path)}; {@code agentChannel} adds the guest agent's virtio-serial
   * channel, which libvirt then tries to reach (no guest OS runs here to answer on it).
   */
  public static LibvirtDomain start(Path raw, Path scratch, boolean agentChannel) throws java.io.IOException {
    Libvirtd libvirtd = Libvirtd.start();
    String name = "pluck-it-" + ProcessHandle.current().pid() + "-" + Long.toHexString(System.nanoTime() & 0xfffff);
    Path images = Path.of("/var/lib/libvirt/images");
    Files.createDirectories(images);
    Path image = images.resolve(name + ".qcow2");
    Tools.runOk("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw.toString(), image.toString());
    Path xml = scratch.resolve(name + ".xml");
    Files.writeString(xml, "<domain type='qemu'><name>" + name + "</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
        + "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator>"
        + "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='" + image + "'/>"
        + "<target dev='vda' bus='virtio'/></disk><memballoon model='none'/>"
        + (agentChannel ? "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>" : "")
        + "</devices></domain>");
    LibvirtDomain d = new LibvirtDomain(libvirtd, name, image);
    try {
      d.virsh("define", xml.toString());
      d.virsh("start", "--paused", name);
    } catch (RuntimeException | Error e) {
      d.close();
      throw e;
    }
    return d;
  }

  public String name() {
    return name;
  }

  public Path image() {
    return image;
  }

  /**
   * Runs virsh on qemu:///system; fails unless it exits 0; its stdout. libvirt 9.0 here probes
   * QEMU's capabilities again on each define and start (about a minute under TCG on 2 cores), so
   * the bound is generous.
   */
  public String virsh(String... args) {
    List<String> cmd = new ArrayList<>(List.of("virsh", "-c", "qemu:///system"));
    cmd.addAll(List.of(args));
    Tools.Result r = Tools.run(Duration.ofMinutes(5), cmd);
    if (r.exitCode() != 0) {
      throw new IllegalStateException("virsh " + String.join(" ", args) + ": " + r.stderr());
    }
    return r.stdout();
  }

  /**
   * A guest write of {@code length} bytes of {@code pattern} at {@code offset}, then a flush (so
   * qemu-img reading the qcow2 beside QEMU sees it); qemu-io prints into QEMU's log, not the reply.
   */
  public void write(int pattern, long offset, int length) {
    for (String command : List.of("write -P " + pattern + " " + offset + " " + length, "flush")) {
      String out = virsh("qemu-monitor-command", "--hmp", name, "qemu-io -d " + DEVICE + " \"" + command + "\"");
      if (!out.isBlank()) {
        throw new IllegalStateException("qemu-io " + command + ": " + out.strip());
      }
    }
  }

  /** The disk's content now, as a raw file (qemu-img beside the running QEMU). */
  public Path contentNow(Path out) throws java.io.IOException {
    Files.deleteIfExists(out);
    Tools.runOk("qemu-img", "convert", "-U", "-f", "qcow2", "-O", "raw", image.toString(), out.toString());
    return out;
  }

  @Override
  public void close() {
    Tools.run(Duration.ofSeconds(60), List.of("virsh", "-c", "qemu:///system", "destroy", name));
    Tools.run(Duration.ofSeconds(60), List.of("virsh", "-c", "qemu:///system", "undefine", "--checkpoints-metadata", name));
    try {
      Files.deleteIfExists(image);
    } catch (java.io.IOException e) {
      // left behind in /var/lib/libvirt/images
    }
    if (libvirtd != null) {
      libvirtd.close();
    }
  }
}
