package dev.pluck.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Non-raw images open through a private qemu-nbd, never parsed as raw. */
class ImageFormatsIT {
  @TempDir Path tmp;

  @Test
  void everyFormatReadsLikeTheRawImageAndStopsItsServerOnClose() throws Exception {
    byte[] bytes = new byte[8 << 20];
    new Random(14).nextBytes(bytes);
    java.util.Arrays.fill(bytes, 2 << 20, 6 << 20, (byte) 0);
    Path raw = Files.write(tmp.resolve("disk.raw"), bytes);
    try (BlockDevice dev = BlockDevices.open(raw.toString())) {
      assertThat(dev).isInstanceOf(FileBlockDevice.class);
    }
    for (ImageFormat f : new ImageFormat[] {ImageFormat.QCOW2, ImageFormat.VMDK, ImageFormat.VHDX, ImageFormat.VDI, ImageFormat.QED}) {
      Path image = tmp.resolve("disk." + f.qemuName());
      Tools.runOk("qemu-img", "convert", "-f", "raw", "-O", f.qemuName(), raw.toString(), image.toString());
      assertThat(ImageFormat.probe(image)).isEqualTo(f);
      ProcessHandle server;
      try (BlockDevice dev = BlockDevices.open(image.toString())) {
        assertThat(dev.size()).as(f.name()).isEqualTo(bytes.length);
        assertThat(dev.read(0, bytes.length)).as(f.name()).isEqualTo(bytes);
        server = ((BlockDevices.QemuNbdImage) dev).process();
        assertThat(server.isAlive()).isTrue();
      }
      assertThat(server.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS).isAlive()).isFalse();
    }
  }
}
