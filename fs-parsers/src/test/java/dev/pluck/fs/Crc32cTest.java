package dev.pluck.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

class Crc32cTest {
  /** The textbook bitwise register, one bit at a time, as the kernel's crc32c_le. */
  private static int bitwise(int crc, byte[] b) {
    for (byte x : b) {
      crc ^= x & 0xff;
      for (int i = 0; i < 8; i++) {
        crc = (crc & 1) != 0 ? (crc >>> 1) ^ 0x82F63B78 : crc >>> 1;
      }
    }
    return crc;
  }

  @Test
  void anySeedGivesWhatTheBitwiseRegisterGives() {
    Random r = new Random(7);
    for (int i = 0; i < 2000; i++) {
      byte[] data = new byte[r.nextInt(300)];
      r.nextBytes(data);
      int seed = i % 3 == 0 ? Crc32c.INITIAL : r.nextInt();
      assertThat(Crc32c.update(seed, data)).as("seed %08x, %d bytes", seed, data.length).isEqualTo(bitwise(seed, data));
    }
  }

  @Test
  void knownVector() {
    // RFC 3720's check value: CRC-32C of "123456789" is 0xE3069283 (after the final inversion).
    assertThat(~Crc32c.update(Crc32c.INITIAL, "123456789".getBytes())).isEqualTo(0xE3069283);
  }
}
