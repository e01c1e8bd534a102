package dev.pluck.fs.volume;

import dev.pluck.nbd.BlockDevice;
import java.io.IOException;

/**
 * Where a PV's committed metadata text lies, for tests that damage it: the metadata area's offset
 * on the PV, its header, and the text's offset (from the area) and size.
 */
record LvmMetadataSpot(long mda, long mdaSize, byte[] header, long textOffset, int textSize) {
  static LvmMetadataSpot of(BlockDevice pv) throws IOException {
    LvmLabel label = LvmLabel.read(pv);
    long mda = label.metadataAreas().get(0)[0];
    byte[] header = pv.read(mda, 512);
    return new LvmMetadataSpot(mda, label.metadataAreas().get(0)[1], header,
        LvmMetadataArea.u64(header, LvmMetadataArea.RAW_LOCNS), (int) LvmMetadataArea.u64(header, LvmMetadataArea.RAW_LOCNS + 8));
  }
}
