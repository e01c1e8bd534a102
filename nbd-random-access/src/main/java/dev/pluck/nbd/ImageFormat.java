package dev.pluck.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Disk image formats recognised by their magic, so that a qcow2 is never read as if raw. */
public enum ImageFormat {
  RAW, QCOW2, VMDK, VHDX, VDI, QED;

  /** Bytes read to recognise a format. */
  private static final int PROBE = 512;

  /** The format of the file at {@code path}, from its first bytes; RAW when nothing matches. */
  public static ImageFormat probe(Path path) throws IOException {
    ByteBuffer head = ByteBuffer.allocate(PROBE);
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      while (head.hasRemaining() && ch.read(head) > 0) {
        // read what there is
      }
    }
    head.flip();
    return probe(head);
  }

  static ImageFormat probe(ByteBuffer head) {
    if (startsWith(head, 0, new byte[] {'Q', 'F', 'I', (byte) 0xfb})) {
      return QCOW2;                                   // qcow2 header magic "QFI\xfb"
    }
    if (startsWith(head, 0, "QED\0".getBytes(StandardCharsets.US_ASCII))) {
      return QED;
    }
    if (startsWith(head, 0, "KDMV".getBytes(StandardCharsets.US_ASCII))
        || startsWith(head, 0, "# Disk DescriptorFile".getBytes(StandardCharsets.US_ASCII))) {
      return VMDK;                                    // sparse extent magic, or a descriptor file
    }
    if (startsWith(head, 0, "vhdxfile".getBytes(StandardCharsets.US_ASCII))) {
      return VHDX;
    }
    if (head.limit() >= 0x44 && head.order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0x40) == 0xbeda107f) {
      return VDI;                                     // VDI pre-header signature at 0x40
    }
    return RAW;
  }

  private static boolean startsWith(ByteBuffer b, int at, byte[] magic) {
    if (b.limit() < at + magic.length) {
      return false;
    }
    for (int i = 0; i < magic.length; i++) {
      if (b.get(at + i) != magic[i]) {
        return false;
      }
    }
    return true;
  }

  /** The name qemu gives the format. */
  public String qemuName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
