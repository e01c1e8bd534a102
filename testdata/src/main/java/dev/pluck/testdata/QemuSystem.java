package dev.pluck.testdata;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code qemu-system-x86_64} started paused ({@code -S}, TCG, q35, no devices but the disk): a real
 * VM whose guest never runs, so its disk changes only by what the test writes through QEMU. The
 * image is node {@code disk0}, attached as virtio-blk device {@code vda} or scsi-hd {@code sda}.
 */
public final class QemuSystem extends Daemon {
  /** How the disk is attached to the guest. */
  public enum Bus {
    VIRTIO_BLK,
    SCSI,
    /** No device: {@code extraArgs} attach node {@code disk0} (e.g. with a management tool's device ids). */
    NONE
  }

  private final Path qmpSocket;

  private QemuSystem(Path dir, Path qmpSocket, List<String> command) {
    super("qemu-system-x86_64", dir, command);
    this.qmpSocket = qmpSocket;
    awaitSocket(qmpSocket);
  }

  /** Starts a paused guest with {@code image} as its only disk. */
  public static QemuSystem startPaused(Path image, String format, Bus bus, List<String> extraArgs) {
    Path dir = privateDir("qemu");
    Path qmp = dir.resolve("qmp.sock");
    List<String> cmd = new ArrayList<>(List.of(
        "qemu-system-x86_64", "-S", "-no-user-config", "-nodefaults", "-display", "none",
        "-machine", "q35,accel=tcg", "-m", "64",
        "-qmp", "unix:" + qmp + ",server=on,wait=off",
        "-blockdev", "driver=file,node-name=file0,filename=" + image.toAbsolutePath(),
        "-blockdev", "driver=" + format + ",node-name=disk0,file=file0"));
    if (bus == Bus.VIRTIO_BLK) {
      cmd.addAll(List.of("-device", "virtio-blk-pci,drive=disk0,id=vda"));
    } else if (bus == Bus.SCSI) {
      cmd.addAll(List.of("-device", "virtio-scsi-pci,id=scsi0", "-device", "scsi-hd,drive=disk0,id=sda"));
    }
    cmd.addAll(extraArgs);
    return new QemuSystem(dir, qmp, cmd);
  }

  public Path qmpSocket() {
    return qmpSocket;
  }
}
