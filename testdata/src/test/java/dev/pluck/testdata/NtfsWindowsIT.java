package dev.pluck.testdata;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The disks Windows 10 formatted, served through the same fixture API. */
class NtfsWindowsIT {

  @ParameterizedTest
  @ValueSource(strings = {"ptrn", "ramslack", "lastaccess", "si-vs-fn"})
  void oneNtfsPartitionAtSector128ThatTheSleuthKitReadsAlike(String which) {
    TestDisk disk = TestDisks.ntfsWindows(which);
    OracleVolume p1 = disk.oracle().volume("p1");
    assertThat(p1.fsType()).isEqualTo("ntfs");
    assertThat(p1.offset()).isEqualTo(128 * 512);
    assertThat(disk.oracle().files("p1")).anyMatch(e -> e.path().equals("/System Volume Information"));
    OracleAsserts.assertSleuthkitAgrees(disk.image(), p1.offset(), disk.oracle(), "p1", p -> true, 20);
  }

  @Test
  void labelsAreWhatWindowsWrote() {
    assertThat(TestDisks.ntfsWindows("ptrn").oracle().volume("p1").label()).isEqualTo("Slack");
    assertThat(TestDisks.ntfsWindows("ramslack").oracle().volume("p1").label()).isEqualTo("RAM Slack");
  }

  @Test
  void timesAreStandardInformationsAsWindowsShowsThem() {
    Map<String, OracleEntry> files = TestDisks.ntfsWindows("si-vs-fn").oracle().filesByPath("p1");
    Instant mtime = Instant.ofEpochSecond(0, files.get("/test/test.txt").mtimeNs());
    assertThat(mtime.atOffset(ZoneOffset.UTC).toLocalDate()).hasToString("2015-11-03");
  }
}
