package dev.pluck.fs.ntfs;

import dev.pluck.fs.LittleEndian;
import java.time.Instant;

/** $STANDARD_INFORMATION: the times Windows shows, the file attribute flags, the security id. */
record StandardInformation(Instant created, Instant modified, Instant changed, Instant accessed, long fileAttributes,
    long securityId) {
  static final int CREATION_TIME = 0x00;
  static final int MODIFICATION_TIME = 0x08;
  static final int MFT_CHANGE_TIME = 0x10;
  static final int ACCESS_TIME = 0x18;
  static final int FILE_ATTRIBUTES = 0x20;
  static final int SECURITY_ID = 0x34;  // NTFS 3.0 and later (72-byte attribute)

  static StandardInformation parse(byte[] v, String where) throws NtfsCorruptException {
    if (v.length < 0x30) {
      throw new NtfsCorruptException("$STANDARD_INFORMATION", where, v.length + " bytes");
    }
    return new StandardInformation(NtfsTime.of(LittleEndian.u64(v, CREATION_TIME)), NtfsTime.of(LittleEndian.u64(v, MODIFICATION_TIME)),
        NtfsTime.of(LittleEndian.u64(v, MFT_CHANGE_TIME)), NtfsTime.of(LittleEndian.u64(v, ACCESS_TIME)),
        LittleEndian.u32(v, FILE_ATTRIBUTES), v.length >= 0x38 ? LittleEndian.u32(v, SECURITY_ID) : 0);
  }
}
