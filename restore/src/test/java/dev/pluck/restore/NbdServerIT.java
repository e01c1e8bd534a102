package dev.pluck.restore;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pluck.engine.Backup;
import dev.pluck.engine.repo.BlockMap;
import dev.pluck.engine.repo.Config;
import dev.pluck.engine.repo.LocalStorage;
import dev.pluck.engine.repo.Repository;
import dev.pluck.engine.repo.Snapshot;
import dev.pluck.fs.volume.VolumeTree;
import dev.pluck.nbd.BlockDevice;
import dev.pluck.nbd.FileBlockDevice;
import dev.pluck.nbd.NbdBlockDevice;
import dev.pluck.testdata.QemuStorageDaemon;
import dev.pluck.testdata.TestDisk;
import dev.pluck.testdata.TestDisks;
import dev.pluck.testdata.TestQmp;
import dev.pluck.testdata.Tools;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * pluck's NBD server checked by other clients: nbdinfo (handshake, size, flags, contexts,
 * allocation map), nbdcopy (many requests on several connections), qemu-img compare and a
 * qemu-storage-daemon that opens the export with QEMU's own nbd driver and re-exports it; and by
 * pluck's client, over the rough edges (reads past the end, writes).
 */
class NbdServerIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path tmp;

  private static Backup.Options mode(Backup.Mode mode, List<String> volumes) {
    return new Backup.Options(mode, volumes, List.of(), List.of(), false, List.of(), false, List.of(), null,
        new Snapshot.Source("vm", List.of("0"), List.of()), "backup", "test", null, null);
  }

  @Test
  void aWholeDiskSnapshotServedEqualsItsRestore() throws Exception {
    TestDisk disk = TestDisks.gptMixed();
    Path restored = tmp.resolve("restored.raw");
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"));
        BlockDevice source = FileBlockDevice.open(disk.image())) {
      Snapshot s = repo.snapshot(Backup.run(repo, List.of(new VolumeTree.Disk("0", source)), mode(Backup.Mode.DISK, List.of()))
          .snapshot());
      try (RandomAccessFile f = new RandomAccessFile(restored.toFile(), "rw")) {
        f.setLength(source.size());
      }
      try (BlockDevice target = FileBlockDevice.openWritable(restored)) {
        ImageRestore.wholeDisk(repo, s, List.of(target), true, n -> { });
      }
      Map<String, BlockDevice> disks = SnapshotDisks.open(repo, s);
      assertThat(disks).containsOnlyKeys("0");
      List<NbdServer.Export> exports = List.of(new NbdServer.Export("0", "disk 0 of snapshot " + s.id(), disks.get("0")));
      try (NbdServer server = NbdServer.unix(exports, tmp.resolve("serve.sock"))) {
        String uri = server.uri("0");
        JsonNode info = JSON.readTree(Tools.runOk("nbdinfo", "--json", uri).stdout());
        JsonNode export = info.path("exports").get(0);
        assertThat(export.path("export-size").asLong()).isEqualTo(source.size());
        assertThat(export.path("is_read_only").asBoolean()).isTrue();
        assertThat(export.path("can_multi_conn").asBoolean()).isTrue();
        assertThat(export.path("contexts").toString()).contains("base:allocation");
        assertThat(export.path("block_size_maximum").asLong()).isEqualTo(NbdServer.MAX_REQUEST);

        // The allocation map: every hole nbdinfo sees is a hole of the snapshot's block maps.
        String map = Tools.runOk("nbdinfo", "--map", "--totals", uri).stdout();
        assertThat(map).contains("hole,zero").contains("data");

        Path copy = tmp.resolve("copy.raw");
        long before = server.connections();
        Tools.runOk("nbdcopy", "--connections=4", "--requests=16", uri, copy.toString());
        assertThat(server.connections() - before).as("nbdcopy used multi-conn").isGreaterThan(1);
        assertThat(Tools.runOk("cmp", restored.toString(), copy.toString()).exitCode()).isZero();
        Tools.Result compare = Tools.run(Duration.ofMinutes(2), List.of("qemu-img", "compare", "-f", "raw", restored.toString(), uri));
        assertThat(compare.exitCode()).as(compare.stdout() + compare.stderr()).isZero();
        // gpt-mixed's free space and swap hold only zeros: the served disk is the original, byte for byte.
        Tools.Result original = Tools.run(Duration.ofMinutes(2), List.of("qemu-img", "compare", "-f", "raw", "-F", "raw",
            disk.image().toString(), uri));
        assertThat(original.exitCode()).as(original.stdout() + original.stderr()).isZero();

        // QEMU's nbd driver in a qemu-storage-daemon, re-exported: the bytes come through it unchanged.
        Path dummy = tmp.resolve("dummy.raw");
        Tools.runOk("truncate", "-s", "1M", dummy.toString());
        Path again = tmp.resolve("qsd.sock");
        try (QemuStorageDaemon qsd = QemuStorageDaemon.start(dummy, "raw", List.of()); TestQmp qmp = new TestQmp(qsd.qmpSocket())) {
          qmp.execute("blockdev-add", "{\"driver\":\"nbd\",\"node-name\":\"snap\",\"read-only\":true,\"export\":\"0\","
              + "\"server\":{\"type\":\"unix\",\"path\":\"" + tmp.resolve("serve.sock") + "\"}}");
          qmp.execute("nbd-server-start", "{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"" + again + "\"}}}");
          qmp.execute("block-export-add", "{\"type\":\"nbd\",\"id\":\"e\",\"node-name\":\"snap\",\"name\":\"snap\"}");
          Path viaQemu = tmp.resolve("via-qemu.raw");
          Tools.runOk("nbdcopy", "nbd+unix:///snap?socket=" + again, viaQemu.toString());
          assertThat(Tools.runOk("cmp", restored.toString(), viaQemu.toString()).exitCode()).isZero();
        }
      }
    }
  }

  @Test
  void aVolumeWithHolesAndTheEdgesOfTheProtocol() throws Exception {
    TestDisk disk = TestDisks.ext4Features();
    try (Repository repo = Repository.init(new LocalStorage(tmp.resolve("repo")), Config.defaults("zstd:2"));
        BlockDevice source = FileBlockDevice.open(disk.image())) {
      Snapshot s = repo.snapshot(Backup.run(repo, List.of(new VolumeTree.Disk("0", source)), mode(Backup.Mode.VOLUMES, List.of()))
          .snapshot());
      Snapshot.Volume v = s.volumes().get(0);
      BlockDevice image = BlockMap.open(repo, v);
      try (NbdServer server = NbdServer.unix(List.of(new NbdServer.Export("disk", "", image)), tmp.resolve("v.sock"));
          NbdBlockDevice client = NbdBlockDevice.open(server.uri(""))) {
        assertThat(client.size()).isEqualTo(v.size());
        assertThat(client.isReadOnly()).isTrue();
        // Block status as the block map says, through the wire.
        List<dev.pluck.nbd.Extent> wire = client.blockStatus(BlockDevice.BASE_ALLOCATION, 0, v.size());
        List<dev.pluck.nbd.Extent> local = image.blockStatus(BlockDevice.BASE_ALLOCATION, 0, v.size());
        assertThat(holes(wire)).isEqualTo(holes(local)).isPositive();
        // Reads of every size and alignment equal the image's.
        java.util.Random random = new java.util.Random(7);
        for (int i = 0; i < 200; i++) {
          int n = 1 + random.nextInt(3 << 20);
          long at = (long) (random.nextDouble() * (v.size() - n));
          assertThat(Arrays.equals(client.read(at, n), image.read(at, n))).as("%d bytes at %d", n, at).isTrue();
        }
        List<java.util.concurrent.CompletableFuture<Void>> many = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
          many.add(client.readAsync((long) i << 20, java.nio.ByteBuffer.allocate(1 << 20)));
        }
        java.util.concurrent.CompletableFuture.allOf(many.toArray(java.util.concurrent.CompletableFuture[]::new)).get();
        assertThat(catching(() -> client.write(0, java.nio.ByteBuffer.allocate(512)))).as("the client knows").contains("read-only");
        assertThat(server.bytesServed()).isGreaterThan(64L << 20);
      }
      try (NbdServer server = NbdServer.unix(List.of(new NbdServer.Export("disk", "", image)), tmp.resolve("raw.sock"))) {
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(30), () -> rawClient(tmp.resolve("raw.sock"), image));
      }
      // nbdinfo --list: the export by name, with its description.
      try (NbdServer server = NbdServer.unix(List.of(new NbdServer.Export("disk", "ext4 volume", image)), tmp.resolve("l.sock"))) {
        String list = Tools.runOk("nbdinfo", "--list", server.uri("")).stdout();
        assertThat(list).contains("export=\"disk\"").contains("ext4 volume");
        Tools.Result unknown = Tools.run(Duration.ofSeconds(30), List.of("nbdinfo", server.uri("nope")));
        assertThat(unknown.exitCode()).isNotZero();
      }
    }
  }

  /**
   * A client that breaks the rules, by hand: old-style NBD_OPT_EXPORT_NAME, a WRITE with its
   * payload (refused with EPERM, the connection goes on), a read past the end (EINVAL), a good
   * read, then a request with a bad magic, after which the server hangs up.
   */
  private static void rawClient(Path socket, BlockDevice image) throws Exception {
    try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(socket))) {
      java.nio.ByteBuffer hello = read(ch, 18);
      assertThat(hello.getLong()).isEqualTo(dev.pluck.nbd.protocol.Nbd.NBDMAGIC);
      assertThat(hello.getLong()).isEqualTo(dev.pluck.nbd.protocol.Nbd.IHAVEOPT);
      byte[] name = "disk".getBytes();
      java.nio.ByteBuffer opt = java.nio.ByteBuffer.allocate(4 + 16 + name.length);
      opt.putInt(3).putLong(dev.pluck.nbd.protocol.Nbd.IHAVEOPT).putInt(1).putInt(name.length).put(name).flip();
      ch.write(opt);
      java.nio.ByteBuffer go = read(ch, 10);  // size and flags; NO_ZEROES asked, so no padding
      assertThat(go.getLong()).isEqualTo(image.size());
      ch.write(request(1, 1, 0, 512).put(new byte[512]).flip());
      assertThat(simpleReply(ch, 1)).as("a write: EPERM").isEqualTo(1);
      ch.write(request(0, 2, image.size() - 4096, 8192).flip());
      assertThat(simpleReply(ch, 2)).as("past the end: EINVAL").isEqualTo(22);
      ch.write(request(0, 3, 4096, 4096).flip());
      assertThat(simpleReply(ch, 3)).isZero();
      assertThat(read(ch, 4096).array()).isEqualTo(image.read(4096, 4096));
      ch.write(java.nio.ByteBuffer.wrap(new byte[28]).putInt(0, 0x12345678));
      assertThat(ch.read(java.nio.ByteBuffer.allocate(1))).as("hung up").isEqualTo(-1);
    }
  }

  private static java.nio.ByteBuffer request(int type, long cookie, long offset, int length) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(28 + (type == 1 ? length : 0));
    return b.putInt(dev.pluck.nbd.protocol.Nbd.NBD_REQUEST_MAGIC).putShort((short) 0).putShort((short) type).putLong(cookie)
        .putLong(offset).putInt(length);
  }

  private static int simpleReply(java.nio.channels.SocketChannel ch, long cookie) throws Exception {
    java.nio.ByteBuffer r = read(ch, 16);
    assertThat(r.getInt()).isEqualTo(dev.pluck.nbd.protocol.Nbd.NBD_SIMPLE_REPLY_MAGIC);
    int error = r.getInt();
    assertThat(r.getLong()).isEqualTo(cookie);
    return error;
  }

  private static java.nio.ByteBuffer read(java.nio.channels.SocketChannel ch, int n) throws Exception {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(n);
    while (b.hasRemaining()) {
      if (ch.read(b) < 0) {
        throw new java.io.EOFException("server hung up");
      }
    }
    return b.flip();
  }

  private static long holes(List<dev.pluck.nbd.Extent> extents) {
    return extents.stream().filter(dev.pluck.nbd.Extent::readsAsZeros).mapToLong(dev.pluck.nbd.Extent::length).sum();
  }

  private interface Action {
    void run() throws Exception;
  }

  private static String catching(Action a) {
    try {
      a.run();
      return "";
    } catch (Exception e) {
      return String.valueOf(e.getMessage());
    }
  }
}
