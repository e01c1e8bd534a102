package dev.pluck.fs.ntfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.pluck.fs.DamagedDevice;
import dev.pluck.fs.Entry;
import dev.pluck.fs.FileExtent;
import dev.pluck.fs.OpenOptions;
import dev.pluck.fs.VolumeRange;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.testdata.OracleEntry;
import dev.pluck.testdata.Sleuthkit;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.Tools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The awkward parts of NTFS: security descriptors, attribute lists, the MFT's own runlist, damaged boot sectors, allocation. */
class NtfsMetadataIT {

  /** system.ntfs_acl is the descriptor ntfs-3g gives for the same file. */
  @Test
  void securityDescriptorsAreWhatNtfs3gReturns(@TempDir Path tmp) throws Exception {
    Path mnt = Files.createDirectories(tmp.resolve("mnt"));
    Path value = tmp.resolve("value");
    TestDisk disk = TestDisks.ntfsFeatures4k();
    List<OracleEntry> sample = disk.oracle().files("disk").stream().filter(o -> !o.path().startsWith("/many/")).limit(80).toList();
    Tools.runOk("ntfs-3g", "-o", "ro", disk.image().toString(), mnt.toString());
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      NtfsFileSystem fs = NtfsFileSystem.open(img);
      for (OracleEntry o : sample) {
        Entry e = fs.lookup(o.path()).orElseThrow();
        assertThat(e.xattrs()).as(o.path()).containsKey(NtfsFileSystem.ACL_XATTR);
        // --only-values prints the raw bytes.
        Tools.Result r = Tools.run(java.time.Duration.ofSeconds(30), List.of("getfattr", "-h", "--only-values", "-n",
            NtfsFileSystem.ACL_XATTR, mnt.resolve(o.path().substring(1)).toString()), value);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        byte[] theirs = Files.readAllBytes(value);
        assertThat(theirs.length).isGreaterThan(20);
        assertThat(HexFormat.of().formatHex(e.xattrs().get(NtfsFileSystem.ACL_XATTR))).as("descriptor of %s", o.path())
            .isEqualTo(HexFormat.of().formatHex(theirs));
      }
    } finally {
      Tools.run(java.time.Duration.ofSeconds(30), List.of("umount", mnt.toString()));
    }
  }

  /** An FILE_FULL_EA_INFORMATION chain: each entry's length first (on disk the last's too), then flags, lengths, name, NUL, value. */
  private static byte[] eaChain(Object... nameValue) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (int i = 0; i < nameValue.length; i += 2) {
      byte[] name = ((String) nameValue[i]).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      byte[] value = (byte[]) nameValue[i + 1];
      int length = (8 + name.length + 1 + value.length + 3) & ~3;
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
      b.putInt(length).put((byte) 0).put((byte) name.length).putShort((short) value.length).put(name).put((byte) 0).put(value);
      out.writeBytes(b.array());
    }
    return out.toByteArray();
  }

  /** $EA: resident and not, read whole as ntfs-3g's system.ntfs_ea gives it; a damaged chain is a warning, an error with --strict. */
  @Test
  void extendedAttributesAreWhatNtfs3gReturns(@TempDir Path tmp) throws Exception {
    Path image = tmp.resolve("ea.img");
    Path mnt = Files.createDirectories(tmp.resolve("mnt"));
    Tools.runOk("truncate", "-s", "16M", image.toString());
    Tools.runOk("mkntfs", "-F", "-q", "-Q", image.toString());
    byte[] big = new byte[2048];
    new java.util.Random(9).nextBytes(big);
    Map<String, byte[]> set = Map.of("/big-ea.txt", eaChain("PLUCK.TEST", new byte[] {'4', '2'}, "SECOND", big),
        "/small-ea.txt", eaChain("DAMAGE.ME", new byte[] {1, 2, 3}));
    Tools.runOk("ntfs-3g", image.toString(), mnt.toString());
    try {
      for (Map.Entry<String, byte[]> e : set.entrySet()) {
        Files.writeString(mnt.resolve(e.getKey().substring(1)), "content");
        Tools.runOk("setfattr", "-h", "-n", NtfsFileSystem.EA_XATTR, "-v", "0x" + HexFormat.of().formatHex(e.getValue()),
            mnt.resolve(e.getKey().substring(1)).toString());
      }
      Files.writeString(mnt.resolve("no-ea.txt"), "content");
    } finally {
      Tools.runOk("umount", mnt.toString());
    }
    Map<String, byte[]> theirs = new java.util.HashMap<>();
    Path value = tmp.resolve("value");
    Tools.runOk("ntfs-3g", "-o", "ro", image.toString(), mnt.toString());
    try {
      for (String path : set.keySet()) {
        Tools.Result r = Tools.run(java.time.Duration.ofSeconds(30), List.of("getfattr", "-h", "--only-values", "-n", NtfsFileSystem.EA_XATTR,
            mnt.resolve(path.substring(1)).toString()), value);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        theirs.put(path, Files.readAllBytes(value));
      }
    } finally {
      Tools.runOk("umount", mnt.toString());
    }
    try (BlockDevice img = FileBlockDevice.open(image)) {
      NtfsFileSystem fs = NtfsFileSystem.open(img);
      for (String path : set.keySet()) {
        Entry file = fs.lookup(path).orElseThrow();
        assertThat(Sleuthkit.istat(image, 0, file.inode())).as("The Sleuth Kit sees an $EA on %s", path).contains("$EA");
        byte[] ours = file.xattrs().get(NtfsFileSystem.EA_XATTR);
        assertThat(HexFormat.of().formatHex(ours)).as("$EA of %s", path).isEqualTo(HexFormat.of().formatHex(theirs.get(path)));
      }
      assertThat(FullEaInformation.parse(fs.lookup("/big-ea.txt").orElseThrow().xattrs().get(NtfsFileSystem.EA_XATTR), "test"))
          .extracting(FullEaInformation.Entry::name).containsExactly("PLUCK.TEST", "SECOND");
      assertThat(fs.lookup("/no-ea.txt").orElseThrow().xattrs()).doesNotContainKey(NtfsFileSystem.EA_XATTR);
    }
    // The damaged chain: the name's NUL overwritten where it lies in its MFT record.
    byte[] bytes = Files.readAllBytes(image);
    byte[] name = "DAMAGE.ME".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    int at = -1;
    for (int i = 0; i + name.length < bytes.length && at < 0; i++) {
      if (java.util.Arrays.equals(bytes, i, i + name.length, name, 0, name.length) && bytes[i + name.length] == 0) {
        at = i + name.length;
      }
    }
    assertThat(at).as("the resident $EA in the image").isPositive();
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(image, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(new byte[] {'!'}), at);
    }
    List<String> warnings = new java.util.ArrayList<>();
    try (BlockDevice img = FileBlockDevice.open(image)) {
      NtfsFileSystem fs = NtfsFileSystem.open(img, new OpenOptions(false, warnings::add));
      assertThat(fs.lookup("/small-ea.txt").orElseThrow().xattrs()).doesNotContainKey(NtfsFileSystem.EA_XATTR);
      assertThat(warnings).anyMatch(w -> w.contains("$EA") && w.contains("NUL"));
      NtfsFileSystem strict = NtfsFileSystem.open(img, new OpenOptions(true, w -> { }));
      assertThatThrownBy(() -> strict.lookup("/small-ea.txt")).isInstanceOf(NtfsCorruptException.class)
          .hasMessageContaining("$EA");
    }
  }

  /**
   * WOF-compressed files as Windows leaves them (a WOF reparse point, an unnamed $DATA that is all
   * hole, the chunks in WofCompressedData), the chunks made by wimlib, an independent XPRESS
   * compressor whose WIM resources have WOF's layout: read back as the original bytes for the
   * three XPRESS chunk sizes and LZX (with x86 call translation to undo); a WIM-backed file and a
   * damaged chunk are clear errors.
   */
  static final Map<String, Integer> ALGORITHMS = Map.of("xpress4k", WofCompressedData.XPRESS4K, "xpress8k", WofCompressedData.XPRESS8K,
      "xpress16k", WofCompressedData.XPRESS16K, "lzx", WofCompressedData.LZX);

  /** Text, noise, x86-like calls and 8-byte records: every kind of chunk and block the compressors make. */
  private static byte[] wofContent() throws Exception {
    java.util.Random random = new java.util.Random(11);
    String[] words = {"alpha", "volume", "backup", "chunk", "huffman", "window", "ntfs", "wof"};
    StringBuilder text = new StringBuilder();
    while (text.length() < 150_000) {
      text.append(words[random.nextInt(words.length)]).append(random.nextInt(10) == 0 ? "\n" : " ");
    }
    byte[] noise = new byte[20_000];
    random.nextBytes(noise);
    // Text (compressible chunks), then noise (chunks stored as they are), then text; not a whole number of chunks.
    java.io.ByteArrayOutputStream original = new java.io.ByteArrayOutputStream();
    original.write(text.substring(0, 70_000).getBytes());
    original.write(noise);
    original.write(text.substring(70_000, 123_457).getBytes());
    // Code-like bytes: x86 calls (E8 and a near relative target), which LZX translates; and
    // 8-byte records, whose matches lie at multiples of 8 (what aligned-offset blocks are for).
    for (int i = 0; i < 3000; i++) {
      original.write(new byte[] {(byte) 0x55, (byte) 0x8B, (byte) 0xEC, (byte) 0xE8});
      int target = random.nextInt(4000) - 2000;
      original.write(new byte[] {(byte) target, (byte) (target >> 8), (byte) (target >> 16), (byte) (target >> 24)});
      original.write(new byte[] {(byte) 0x5D, (byte) 0xC3, (byte) random.nextInt(4)});
    }
    for (int i = 0; i < 4000; i++) {
      original.write(new byte[] {(byte) (i % 7), 0, 0, (byte) (i % 3), 1, 2, (byte) random.nextInt(2), 0});
    }
    byte[] content = original.toByteArray();
    return content;
  }

  /** The content's chunks as wimlib compresses them for each WOF algorithm (WIM resources have WOF's layout). */
  private static Map<String, byte[]> wimlibChunks(Path tmp, byte[] content) throws Exception {
    Path src = Files.createDirectories(tmp.resolve("src"));
    Files.write(src.resolve("f"), content);
    Map<String, byte[]> blobs = new java.util.LinkedHashMap<>();
    for (String name : List.of("xpress4k", "xpress8k", "xpress16k", "lzx")) {
      Path wim = tmp.resolve(name + ".wim");
      boolean lzx = name.equals("lzx");
      Tools.runOk("wimlib-imagex", "capture", src.toString(), wim.toString(), "--compress=" + (lzx ? "LZX" : "XPRESS"),
          "--chunk-size=" + (lzx ? 32768 : Integer.parseInt(name.substring(6, name.length() - 1)) * 1024));
      blobs.put(name, wimBlob(Files.readAllBytes(wim), content.length));
    }
    return blobs;
  }

  /**
   * The hostile-input test of the WOF decompressors: wimlib's chunks damaged at random (bytes
   * changed, chunk table entries, truncation), thousands of cases, each read whole within 2 s to
   * a result or the reader's own corruption error.
   */
  @Test
  void damagedWofDataEndsInANamedError(@TempDir Path tmp) throws Exception {
    byte[] content = wofContent();
    Map<String, byte[]> blobs = wimlibChunks(tmp, content);
    java.util.Random random = new java.util.Random(5);
    int cases = Boolean.getBoolean("pluck.slow") ? 100_000 : 4000;
    int errors = 0;
    for (int c = 0; c < cases; c++) {
      String name = List.copyOf(ALGORITHMS.keySet()).get(c % ALGORITHMS.size());
      byte[] blob = blobs.get(name).clone();
      int kind = random.nextInt(4);
      if (kind == 0) {
        blob = java.util.Arrays.copyOf(blob, random.nextInt(blob.length));
      } else {
        for (int k = 1 + random.nextInt(kind == 3 ? 64 : 4); k > 0; k--) {
          int at = kind == 1 ? random.nextInt(Math.min(blob.length, 160)) : random.nextInt(blob.length);  // 1: the chunk table
          blob[at] = (byte) random.nextInt(256);
        }
      }
      byte[] damaged = blob;
      long start = System.nanoTime();
      try (var ch = WofCompressedData.open(new WofCompressedData.Info(WofCompressedData.PROVIDER_FILE, ALGORITHMS.get(name)),
          content.length, new WofCompressedData.Source() {
            @Override
            public long size() {
              return damaged.length;
            }

            @Override
            public byte[] read(long offset, int length) {
              byte[] out = new byte[length];
              System.arraycopy(damaged, (int) offset, out, 0, (int) Math.min(length, damaged.length - offset));
              return out;
            }
          }, "fuzz case " + c)) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(content.length);
        while (b.hasRemaining() && ch.read(b) > 0) {
          // all of it
        }
      } catch (NtfsCorruptException expected) {
        errors++;
      }
      assertThat((System.nanoTime() - start) / 1e9).as("case %d (%s, kind %d)", c, name, kind).isLessThan(2.0);
    }
    assertThat(errors).as("damage found").isGreaterThan(cases / 4);
  }

  @Test
  void wofCompressedFilesAreDecompressed(@TempDir Path tmp) throws Exception {
    byte[] content = wofContent();
    Map<String, byte[]> blobs = wimlibChunks(tmp, content);
    Map<String, Integer> algorithms = ALGORITHMS;
    Path image = tmp.resolve("wof.img");
    Path mnt = Files.createDirectories(tmp.resolve("mnt"));
    Tools.runOk("truncate", "-s", "16M", image.toString());
    Tools.runOk("mkntfs", "-F", "-q", "-Q", image.toString());
    Tools.runOk("ntfs-3g", "-o", "streams_interface=xattr", image.toString(), mnt.toString());
    try {
      for (Map.Entry<String, byte[]> b : blobs.entrySet()) {
        wofFile(mnt.resolve(b.getKey()), content.length, b.getValue(), WofCompressedData.PROVIDER_FILE, algorithms.get(b.getKey()));
      }
      byte[] damaged = blobs.get("xpress4k").clone();
      damaged[damaged.length - 300] ^= 0x5A;
      damaged[damaged.length - 299] ^= 0x3C;
      wofFile(mnt.resolve("damaged"), content.length, damaged, WofCompressedData.PROVIDER_FILE, WofCompressedData.XPRESS4K);
      wofFile(mnt.resolve("wim-backed"), content.length, new byte[0], WofCompressedData.PROVIDER_WIM, 0);
    } finally {
      Tools.runOk("umount", mnt.toString());
    }
    try (BlockDevice img = FileBlockDevice.open(image)) {
      NtfsFileSystem fs = NtfsFileSystem.open(img);
      assertThat(Sleuthkit.istat(image, 0, fs.lookup("/xpress8k").orElseThrow().inode()))
          .as("The Sleuth Kit sees the reparse point and the stream").contains("$REPARSE_POINT").contains(WofCompressedData.STREAM);
      for (String name : List.of("xpress4k", "xpress8k", "xpress16k", "lzx")) {
        Entry file = fs.lookup("/" + name).orElseThrow();
        assertThat(file.size()).isEqualTo(content.length);
        assertThat(file.has(Entry.Attribute.REPARSE)).isTrue();
        assertThat(fs.extents(file)).as("the unnamed $DATA is all hole").allMatch(x -> x.kind() == FileExtent.Kind.HOLE);
        assertThat(fs.streams(file)).as("the compressed stream, kept as it is").extracting(s -> s.name())
            .contains(WofCompressedData.STREAM);
        byte[] read = new byte[content.length];
        try (var ch = fs.open(file)) {
          java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(read);
          while (b.hasRemaining() && ch.read(b) > 0) {
            // all of it
          }
          assertThat(ch.read(java.nio.ByteBuffer.allocate(1))).isEqualTo(-1);
        }
        assertThat(read).as("%s decompressed", name).isEqualTo(content);
      }
      assertThatThrownBy(() -> fs.open(fs.lookup("/wim-backed").orElseThrow())).hasMessageContaining("WIM");
      assertThatThrownBy(() -> {
        try (var ch = fs.open(fs.lookup("/damaged").orElseThrow())) {
          java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(content.length);
          while (b.hasRemaining() && ch.read(b) > 0) {
            // until the damage
          }
          assertThat(b.array()).isNotEqualTo(content);  // if no error, at least not silently right by chance
          throw new NtfsCorruptException("test", "damaged", "decoded without an error");
        }
      }).isInstanceOf(NtfsCorruptException.class);
    }
  }

  /** Writes a WOF-compressed file through ntfs-3g: its size as a hole, the compressed stream, then the reparse point. */
  private static void wofFile(Path file, long size, byte[] compressed, int provider, int algorithm) throws Exception {
    Files.write(file, new byte[0]);
    Tools.runOk("truncate", "-s", Long.toString(size), file.toString());
    if (compressed.length > 0) {
      Path value = file.resolveSibling(file.getFileName() + ".blob");
      Files.write(value, compressed);
      Tools.runOk("sh", "-c", "setfattr -n user." + WofCompressedData.STREAM + " -v 0x$(xxd -p " + value + " | tr -d '\\n') " + file);
      Files.delete(value);
    }
    java.nio.ByteBuffer r = java.nio.ByteBuffer.allocate(WofCompressedData.REPARSE_LENGTH).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    r.putInt((int) ReparsePoint.IO_REPARSE_TAG_WOF).putShort((short) (WofCompressedData.REPARSE_LENGTH - 8)).putShort((short) 0);
    r.putInt(1).putInt(provider).putInt(1).putInt(algorithm).putInt(0);
    Tools.runOk("setfattr", "-h", "-n", "system.ntfs_reparse_data", "-v", "0x" + HexFormat.of().formatHex(r.array()), file.toString());
  }

  /**
   * The stored resource of the one file blob of {@code size} bytes in a WIM: the blob table's
   * entries (50 bytes: a 24-byte resource header of 7-byte stored size, flags, offset and size,
   * then part number, reference count and SHA-1), found through the header's resource header at 0x30.
   */
  private static byte[] wimBlob(byte[] wim, long size) {
    java.nio.ByteBuffer w = java.nio.ByteBuffer.wrap(wim).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    long tableOffset = w.getLong(0x30 + 8);
    long tableSize = w.getLong(0x30 + 16);
    for (long at = tableOffset; at + 50 <= tableOffset + tableSize; at += 50) {
      long stored = w.getLong((int) at) & 0x00FFFFFFFFFFFFFFL;
      int flags = wim[(int) at + 7] & 0xFF;
      long offset = w.getLong((int) at + 8);
      long original = w.getLong((int) at + 16);
      if (original == size && (flags & 0x02) == 0) {
        assertThat(flags & 0x04).as("the blob is compressed").isNotZero();
        return java.util.Arrays.copyOfRange(wim, (int) offset, (int) (offset + stored));
      }
    }
    throw new AssertionError("no blob of " + size + " bytes in the WIM");
  }

  /** A volume marked dirty (as ntfsinfo reads it) is a warning: its $LogFile is not replayed. */
  @Test
  void dirtyVolumeIsReported(@TempDir Path tmp) throws Exception {
    Path image = tmp.resolve("dirty.img");
    Tools.runOk("truncate", "-s", "16M", image.toString());
    Tools.runOk("mkntfs", "-F", "-q", "-Q", image.toString());
    List<String> clean = new ArrayList<>();
    long record;
    long mirror;
    try (BlockDevice img = FileBlockDevice.open(image)) {
      NtfsFileSystem fs = NtfsFileSystem.open(img, new OpenOptions(false, clean::add));
      record = fs.recordOffset(NtfsFileSystem.VOLUME);
      BootSector boot = fs.bootSector();
      mirror = boot.mftMirrCluster() * boot.clusterSize() + NtfsFileSystem.VOLUME * boot.mftRecordSize();
    }
    assertThat(clean).noneMatch(w -> w.contains("dirty"));
    // Set VOLUME_IS_DIRTY in $Volume's $VOLUME_INFORMATION, in place in record 3.
    byte[] r = new byte[1024];
    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(image, java.nio.file.StandardOpenOption.READ,
        java.nio.file.StandardOpenOption.WRITE)) {
      ch.read(java.nio.ByteBuffer.wrap(r), record);
      int at = dev.pluck.fs.LittleEndian.u16(r, 0x14);
      while (dev.pluck.fs.LittleEndian.u32(r, at) != 0x70) {
        at += (int) dev.pluck.fs.LittleEndian.u32(r, at + 4);
      }
      int flags = at + dev.pluck.fs.LittleEndian.u16(r, at + 0x14) + 10;
      for (long copy : new long[] {record, mirror}) {  // and in $MFTMirr, which ntfs-3g compares
        ch.write(java.nio.ByteBuffer.wrap(new byte[] {(byte) (r[flags] | 1)}), copy + flags);
      }
    }
    assertThat(Tools.runOk("ntfsinfo", "-f", "-m", image.toString()).stdout()).as("ntfsinfo sees the flag").contains("Volume Flags: 0x0001");
    List<String> warnings = new ArrayList<>();
    try (BlockDevice img = FileBlockDevice.open(image)) {
      NtfsFileSystem.open(img, new OpenOptions(false, warnings::add));
    }
    assertThat(warnings).anyMatch(w -> w.contains("marked dirty") && w.contains("$LogFile"));
  }

  /** The test image really has them: a file spread by $ATTRIBUTE_LIST, an MFT in many pieces. */
  @Test
  void attributeListAndFragmentedMftAreReadRight() throws Exception {
    for (TestDisk disk : List.of(TestDisks.ntfsFeatures4k(), TestDisks.ntfsFeatures64k())) {
      OracleEntry o = disk.oracle().file("disk", "/fragmented.bin");
      assertThat(Sleuthkit.istat(disk.image(), 0, o.inode())).contains("$ATTRIBUTE_LIST");
      try (BlockDevice img = FileBlockDevice.open(disk.image())) {
        NtfsFileSystem fs = NtfsFileSystem.open(img);
        NtfsFileSystem.NtfsFile f = fs.file(o.inode());
        assertThat(f.first(AttributeRecord.ATTRIBUTE_LIST, "")).isNotNull();
        Set<Long> records = new HashSet<>();
        f.pieces(AttributeRecord.DATA, "").forEach(a -> records.add(a.record()));
        assertThat(records).as("records holding the $DATA of %s", o.path()).hasSizeGreaterThan(1);
        assertThat(NtfsReaderIT.sha256(fs, fs.lookup(o.path()).orElseThrow(), "")).isEqualTo(o.sha256());
        List<DataRun> mft = fs.stream(fs.file(NtfsFileSystem.MFT), AttributeRecord.DATA, "").runs();
        assertThat(mft).as("runs of $MFT").hasSizeGreaterThan(10);
        // Every record read through those runs: the last file of /many lies in a late piece of the MFT.
        OracleEntry late = disk.oracle().files("disk").stream().max(java.util.Comparator.comparingLong(OracleEntry::inode)).orElseThrow();
        assertThat(fs.lookup(late.path()).orElseThrow().inode()).isEqualTo(late.inode());
        List<FileExtent> extents = fs.extents(fs.lookup(o.path()).orElseThrow());
        assertThat(extents).hasSizeGreaterThan(50);
      }
    }
  }

  /** An MFT whose own runlist continues in extension records (record 0 has an $ATTRIBUTE_LIST). */
  @Test
  void mftRunlistSpreadOverExtensionRecords() throws Exception {
    TestDisk disk = TestDisks.get("ntfs-mft");
    assertThat(Sleuthkit.istat(disk.image(), 0, 0)).contains("$ATTRIBUTE_LIST");
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      NtfsFileSystem fs = NtfsFileSystem.open(img);
      NtfsFileSystem.NtfsFile mft = fs.file(NtfsFileSystem.MFT);
      Set<Long> records = new HashSet<>();
      mft.pieces(AttributeRecord.DATA, "").forEach(a -> records.add(a.record()));
      assertThat(records).as("records holding $MFT's $DATA").hasSizeGreaterThan(1);
      assertThat(fs.stream(mft, AttributeRecord.DATA, "").runs()).hasSizeGreaterThan(200);
      OracleEntry last = disk.oracle().files("disk").stream().max(java.util.Comparator.comparingLong(OracleEntry::inode)).orElseThrow();
      assertThat(fs.lookup(last.path()).orElseThrow().inode()).isEqualTo(last.inode());
    }
  }

  /** Allocated ranges are $Bitmap's, as The Sleuth Kit's blkls lists the unallocated clusters. */
  @Test
  void allocatedRangesMatchTheSleuthKit() throws Exception {
    TestDisk disk = TestDisks.ntfsFeatures4k();
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      NtfsFileSystem fs = NtfsFileSystem.open(img);
      List<VolumeRange> ours = fs.allocatedRanges();
      int cluster = fs.info().blockSize();
      long clusters = fs.info().totalBytes() / cluster;
      boolean[] used = new boolean[(int) clusters];
      for (VolumeRange r : ours) {
        for (long c = r.offset() / cluster; c < Math.min(clusters, r.end() / cluster); c++) {
          used[(int) c] = true;
        }
      }
      // Past the last cluster, where $Bitmap does not reach: the boot sector's copy, which a restored volume needs.
      long copy = Math.min(fs.info().totalBytes(), img.size() - 512);
      assertThat(ours).anyMatch(r -> r.offset() <= copy && r.end() >= copy + 512);
      // blkls -l -e: "address|allocated flag" per cluster ("a" or "f").
      String out = Tools.runOk("blkls", "-l", "-e", disk.image().toString()).stdout();
      int checked = 0;
      for (String line : out.lines().toList()) {
        String[] f = line.split("\\|");
        if (f.length == 2 && f[0].matches("\\d+") && Long.parseLong(f[0]) < clusters) {
          assertThat(used[Integer.parseInt(f[0])]).as("cluster %s", f[0]).isEqualTo(f[1].equals("a"));
          checked++;
        }
      }
      assertThat(checked).isGreaterThan(1000);
      List<VolumeRange> meta = fs.metadataRanges();
      assertThat(meta).isNotEmpty();
      for (VolumeRange m : meta.subList(0, 1)) {
        assertThat(m.offset()).isZero();
      }
    }
  }

  /** A wiped boot sector: the copy at the volume's end opens the same volume. */
  @Test
  void wipedBootSectorFallsBackToItsCopy() throws Exception {
    TestDisk disk = TestDisks.ntfsFeatures4k();
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      List<String> warnings = new ArrayList<>();
      NtfsFileSystem fs = NtfsFileSystem.open(new DamagedDevice(img).zero(0, 512), new OpenOptions(false, warnings::add));
      assertThat(warnings).anyMatch(w -> w.contains("using the copy at byte"));
      OracleEntry o = disk.oracle().file("disk", "/compressed/mixed.bin");
      assertThat(NtfsReaderIT.sha256(fs, fs.lookup(o.path()).orElseThrow(), "")).isEqualTo(o.sha256());
      BlockDevice both = new DamagedDevice(img).zero(0, 512).zero(img.size() - 512, 512);
      assertThatThrownBy(() -> NtfsFileSystem.open(both)).isInstanceOf(NtfsCorruptException.class).hasMessageContaining("boot sector");
    }
  }

  /** Record 0 unreadable: its copy in $MFTMirr locates the MFT, and the volume reads as before. */
  @Test
  void damagedMftRecordZeroFallsBackToTheMirror() throws Exception {
    TestDisk disk = TestDisks.ntfsFeatures4k();
    OracleEntry o = disk.oracle().file("disk", "/compressed/mixed.bin");
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      NtfsFileSystem fs = NtfsFileSystem.open(img);
      long zero = fs.recordOffset(NtfsFileSystem.MFT);
      List<String> warnings = new ArrayList<>();
      NtfsFileSystem mirrored = NtfsFileSystem.open(new DamagedDevice(img).zero(zero, 4), new OpenOptions(false, warnings::add));
      assertThat(warnings).anyMatch(w -> w.contains("$MFTMirr"));
      assertThat(NtfsReaderIT.sha256(mirrored, mirrored.lookup(o.path()).orElseThrow(), "")).isEqualTo(o.sha256());
    }
  }

  /** A record whose sector was torn (update sequence mismatch) is reported, not used. */
  @Test
  void tornRecordIsReported() throws Exception {
    TestDisk disk = TestDisks.ntfsFeatures4k();
    OracleEntry o = disk.oracle().file("disk", "/links/target.txt");
    try (BlockDevice img = FileBlockDevice.open(disk.image())) {
      NtfsFileSystem fs = NtfsFileSystem.open(img);
      long at = fs.recordOffset(o.inode());
      BlockDevice torn = new DamagedDevice(img).zero(at + 510, 2);  // the first sector's update sequence number
      NtfsFileSystem damaged = NtfsFileSystem.open(torn);
      assertThatThrownBy(() -> damaged.lookup(o.path())).isInstanceOf(NtfsCorruptException.class)
          .hasMessageContaining("record " + o.inode()).hasMessageContaining("torn");
    }
  }
}
