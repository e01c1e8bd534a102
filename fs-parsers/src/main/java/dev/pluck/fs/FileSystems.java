package dev.pluck.fs;

import dev.pluck.fs.ext4.Ext4FileSystem;
import dev.pluck.fs.ntfs.NtfsFileSystem;
import dev.pluck.fs.volume.Volume;
import java.io.IOException;

/** Opens the filesystem a volume holds, by its signature. */
public final class FileSystems {
  private FileSystems() {}

  public static FileSystem open(Volume volume) throws IOException {
    return open(volume, OpenOptions.DEFAULT);
  }

  public static FileSystem open(Volume volume, OpenOptions options) throws IOException {
    if (volume.device() == null) {
      throw new IOException("volume " + volume.id() + " cannot be read: " + volume.note());
    }
    return switch (volume.fs()) {
      case "ext2", "ext3", "ext4" -> Ext4FileSystem.open(volume.device(), options);
      case "ntfs" -> NtfsFileSystem.open(volume.device(), options);
      default -> throw new IOException("volume " + volume.id() + " holds " + (volume.fs().isEmpty() ? "no filesystem" : volume.fs())
          + ", which pluck cannot list yet (it reads ext2, ext3, ext4 and NTFS)");
    };
  }
}
