package dev.pluck.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The listing's hand-made time format against the JDK's formatter. */
class LsCommandTest {
  @Test
  void isoTimeIsTheFormattersOverFourCenturies() {
    Random random = new Random(42);
    long from = Instant.parse("1601-01-01T00:00:00Z").getEpochSecond();  // NTFS's epoch
    long to = Instant.parse("9999-12-31T23:59:59Z").getEpochSecond();
    for (int i = 0; i < 200_000; i++) {
      Instant t = Instant.ofEpochSecond(from + (long) (random.nextDouble() * (to - from)), random.nextInt(1_000_000_000));
      assertThat(LsCommand.isoTime(t)).as("%s", t).isEqualTo(LsCommand.ISO.format(t));
    }
    for (String edge : new String[] {"1970-01-01T00:00:00Z", "2000-02-29T12:00:00.5Z", "1900-03-01T00:00:00Z", "2100-02-28T23:59:59Z",
        "1969-12-31T23:59:59.999999999Z", "1601-01-01T00:00:00Z"}) {
      Instant t = Instant.parse(edge);
      assertThat(LsCommand.isoTime(t)).isEqualTo(LsCommand.ISO.format(t));
    }
  }
}
