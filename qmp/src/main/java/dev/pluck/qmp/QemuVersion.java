package dev.pluck.qmp;

/** QEMU's version, from the greeting or {@code query-version}. */
public record QemuVersion(int major, int minor, int micro, String packageName) implements Comparable<QemuVersion> {
  public boolean atLeast(int maj, int min) {
    return major > maj || (major == maj && minor >= min);
  }

  @Override
  public int compareTo(QemuVersion o) {
    int c = Integer.compare(major, o.major);
    if (c == 0) {
      c = Integer.compare(minor, o.minor);
    }
    return c != 0 ? c : Integer.compare(micro, o.micro);
  }

  @Override
  public String toString() {
    return major + "." + minor + "." + micro + (packageName == null || packageName.isBlank() ? "" : " (" + packageName.strip() + ")");
  }
}
