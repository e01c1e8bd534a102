package dev.pluck.engine;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** fstab device names read without a disk: device-mapper names and udev's escapes. */
class GuestMountsTest {
  @Test
  void deviceMapperNamesSplitAtTheSingleDash() {
    assertThat(GuestMounts.mapperName("vg0-root")).contains("vg0/root");
    assertThat(GuestMounts.mapperName("vg--data-lv--home")).contains("vg-data/lv-home");
    assertThat(GuestMounts.mapperName("data---x")).as("a VG name ending in a dash").contains("data-/x");
    assertThat(GuestMounts.mapperName("vg-lv--")).as("an LV name ending in a dash").contains("vg/lv-");
    assertThat(GuestMounts.mapperName("vg-a--b--c")).contains("vg/a-b-c");
    assertThat(GuestMounts.mapperName("vg-pool-tpool")).as("LVM's own layers are not LVs").isEmpty();
    assertThat(GuestMounts.mapperName("luks-1234")).as("one dash: read as VG and LV; the tree finds none").contains("luks/1234");
    assertThat(GuestMounts.mapperName("nodash")).isEmpty();
    assertThat(GuestMounts.mapperName("-x")).isEmpty();
    assertThat(GuestMounts.mapperName("x-")).isEmpty();
    assertThat(GuestMounts.mapperName("")).isEmpty();
  }

  @Test
  void udevEscapesAreUndone() {
    assertThat(GuestMounts.udevUnescape("EFI\\x20system")).isEqualTo("EFI system");
    assertThat(GuestMounts.udevUnescape("plain")).isEqualTo("plain");
    assertThat(GuestMounts.udevUnescape("bad\\x2")).isEqualTo("bad\\x2");
  }
}
