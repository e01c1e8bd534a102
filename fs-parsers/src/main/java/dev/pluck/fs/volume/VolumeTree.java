package dev.pluck.fs.volume;

import dev.pluck.nbd.BlockDevice;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What one machine's disks hold: disks, their partitions (or a filesystem on the whole disk), LVM
 * volume groups spanning any of them, and logical volumes; each volume with its signature and a
 * view that reads it. Problems that leave the rest usable are {@link #warnings()}.
 */
public final class VolumeTree {
  /** A disk given to the probe: a name for ids ("vda", or its position) and its device. */
  public record Disk(String name, BlockDevice device) {}

  /** What the probe found on a disk. */
  public record DiskInfo(String name, long size, int sectorSize, String table, String tableId) {}

  private final List<DiskInfo> disks;
  private final List<Volume> volumes;
  private final List<String> warnings;
  /** LV ids by the UUID device-mapper gives them: "LVM-" + the VG's and the LV's ids without dashes. */
  private final Map<String, String> lvByDmUuid;

  private VolumeTree(List<DiskInfo> disks, List<Volume> volumes, List<String> warnings, Map<String, String> lvByDmUuid) {
    this.disks = List.copyOf(disks);
    this.volumes = List.copyOf(volumes);
    this.warnings = List.copyOf(warnings);
    this.lvByDmUuid = Map.copyOf(lvByDmUuid);
  }

  public List<DiskInfo> disks() {
    return disks;
  }

  public List<Volume> volumes() {
    return volumes;
  }

  public List<String> warnings() {
    return warnings;
  }

  /** A volume by id ("p1", "vg0/home", "vdb:p1"), "label=NAME" or "uuid=UUID". */
  public Optional<Volume> find(String selector) {
    if (selector.startsWith("label=")) {
      String label = selector.substring(6);
      return volumes.stream().filter(v -> v.signature().label().equals(label)).findFirst();
    }
    if (selector.startsWith("uuid=")) {
      String uuid = selector.substring(5);
      return volumes.stream().filter(v -> v.signature().uuid().equalsIgnoreCase(uuid)).findFirst();
    }
    return volumes.stream().filter(v -> v.id().equals(selector)).findFirst();
  }

  /**
   * The LV that device-mapper names by this UUID ({@code LVM-} and the VG's and LV's 32-character
   * ids without dashes), as guests' {@code /dev/disk/by-id/dm-uuid-LVM-...} links do (Ubuntu's
   * installer writes LVM volumes into fstab that way).
   */
  public Optional<Volume> findByDmUuid(String dmUuid) {
    String id = lvByDmUuid.get(dmUuid);
    return id == null ? Optional.empty() : find(id);
  }

  public static VolumeTree probe(List<Disk> input) throws IOException {
    List<DiskInfo> infos = new ArrayList<>();
    List<Volume> volumes = new ArrayList<>();
    List<String> warnings = new ArrayList<>();
    boolean several = input.size() > 1;
    for (int i = 0; i < input.size(); i++) {
      Disk d = input.get(i);
      String prefix = several ? d.name() + ":" : "";
      PartitionTable t = PartitionTable.read(d.device());
      t.warnings().forEach(w -> warnings.add((several ? d.name() + ": " : "") + w));
      infos.add(new DiskInfo(d.name(), d.device().size(), t.sectorSize(), t.scheme(), t.id()));
      if (t.scheme().equals("none")) {
        volumes.add(new Volume(prefix + "disk", "", "disk", "", SignatureProbe.probe(d.device()), i, 0, d.device().size(),
            List.of(), "", d.device(), null));
        continue;
      }
      for (Partition p : t.partitions()) {
        BlockDevice view = d.device().slice(p.offset(), p.size());
        Signature sig = p.extended() ? new Signature("", "", "", "", "extended partition") : SignatureProbe.probe(view);
        volumes.add(new Volume(prefix + "p" + p.number(), several ? d.name() : "", "partition", p.typeName(), sig, i,
            p.offset(), p.size(), List.of(), "", view, p));
      }
    }
    Map<String, String> lvByDmUuid = new LinkedHashMap<>();
    volumes.addAll(logicalVolumes(volumes, warnings, lvByDmUuid));
    return new VolumeTree(infos, volumes, warnings, lvByDmUuid);
  }

  /** Reads every PV's metadata, groups PVs into VGs by the newest metadata, and maps their LVs. */
  private static List<Volume> logicalVolumes(List<Volume> volumes, List<String> warnings, Map<String, String> lvByDmUuid) {
    Map<String, Map<String, Object>> newestByVg = new LinkedHashMap<>();
    Map<String, Long> seqnoByVg = new LinkedHashMap<>();
    Map<String, Volume> pvByUuid = new LinkedHashMap<>();
    Map<String, LvmLabel> labelByUuid = new LinkedHashMap<>();
    for (Volume v : volumes) {
      if (!v.fs().equals("lvm2-pv")) {
        continue;
      }
      try {
        LvmLabel label = LvmLabel.read(v.device());
        if (label == null) {
          continue;
        }
        pvByUuid.put(label.formattedUuid(), v);
        labelByUuid.put(label.formattedUuid(), label);
        for (long[] mda : label.metadataAreas()) {
          String text = LvmMetadataArea.read(v.device(), mda[0], mda[1]);
          if (text == null) {
            continue;
          }
          Map<String, Object> root = LvmText.parse(text, mda[0]);
          for (Map.Entry<String, Object> e : root.entrySet()) {
            if (e.getValue() instanceof Map<?, ?> vg && ((Map<?, ?>) vg).containsKey("seqno")) {
              @SuppressWarnings("unchecked")
              Map<String, Object> section = (Map<String, Object>) vg;
              String key = e.getKey() + " " + section.getOrDefault("id", "");
              long seqno = number(section, "seqno");
              if (seqno > seqnoByVg.getOrDefault(key, -1L)) {
                seqnoByVg.put(key, seqno);
                Map<String, Object> named = new LinkedHashMap<>(section);
                named.put("__name", e.getKey());
                newestByVg.put(key, named);
              }
            }
          }
        }
      } catch (IOException | RuntimeException e) {
        warnings.add("PV " + v.id() + ": " + e.getMessage());
      }
    }
    List<Volume> out = new ArrayList<>();
    for (Map<String, Object> vg : newestByVg.values()) {
      try {
        out.addAll(volumeGroup(vg, pvByUuid, labelByUuid, warnings, lvByDmUuid));
      } catch (RuntimeException e) {
        warnings.add("VG " + vg.get("__name") + ": metadata not understood: " + e.getMessage());
      }
    }
    return out;
  }

  @SuppressWarnings("unchecked")
  private static List<Volume> volumeGroup(Map<String, Object> vg, Map<String, Volume> pvByUuid, Map<String, LvmLabel> labels,
      List<String> warnings, Map<String, String> lvByDmUuid) throws RuntimeException {
    String name = (String) vg.get("__name");
    String vgId = String.valueOf(vg.getOrDefault("id", "")).replace("-", "");
    long extentBytes = Math.multiplyExact(number(vg, "extent_size"), 512);
    if (extentBytes <= 0) {
      throw new IllegalArgumentException("extent_size must be positive");
    }
    Map<String, VolumeGroup.Pv> pvs = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : section(vg, "physical_volumes").entrySet()) {
      Map<String, Object> pv = (Map<String, Object>) e.getValue();
      String uuid = String.valueOf(pv.get("id"));
      Volume where = pvByUuid.get(uuid);
      if (where == null) {
        warnings.add("VG " + name + ": PV " + e.getKey() + " (" + uuid + ") is missing");
      }
      pvs.put(e.getKey(), new VolumeGroup.Pv(e.getKey(), uuid, Math.multiplyExact(number(pv, "pe_start"), 512), where));
    }
    VolumeGroup group = new VolumeGroup(name, extentBytes, pvs);
    List<Volume> out = new ArrayList<>();
    for (Map.Entry<String, Object> e : section(vg, "logical_volumes").entrySet()) {
      Map<String, Object> lv = (Map<String, Object>) e.getValue();
      Object status = lv.get("status");
      if (status instanceof List<?> flags && !flags.contains("VISIBLE")) {
        continue;  // internal LVs (thin pool data, raid images) are not volumes of their own
      }
      List<VolumeGroup.LvSegment> segs = new ArrayList<>();
      String unsupported = null;
      long unreadExtents = 0;
      boolean missing = false;
      for (Map.Entry<String, Object> s : lv.entrySet()) {
        if (!s.getKey().startsWith("segment") || !(s.getValue() instanceof Map<?, ?>)) {
          continue;
        }
        Map<String, Object> seg = (Map<String, Object>) s.getValue();
        String type = String.valueOf(seg.get("type"));
        if (!VolumeGroup.SUPPORTED.contains(type)) {
          unsupported = type;
          long count = number(seg, "extent_count");
          if (count < 0) {
            throw new IllegalArgumentException("LV " + e.getKey() + " segment " + s.getKey() + " has " + count + " extents");
          }
          unreadExtents = Math.addExact(unreadExtents, count);  // still part of the LV's size
          continue;
        }
        List<Object> stripes = (List<Object>) seg.getOrDefault("stripes", List.of());
        List<VolumeGroup.Area> areas = new ArrayList<>();
        for (int i = 0; i + 1 < stripes.size(); i += 2) {
          String pvName = String.valueOf(stripes.get(i));
          areas.add(new VolumeGroup.Area(pvName, ((Number) stripes.get(i + 1)).longValue()));
          VolumeGroup.Pv pv = pvs.get(pvName);
          missing |= pv == null || pv.volume() == null;
        }
        long stripeCount = seg.containsKey("stripe_count") ? number(seg, "stripe_count") : areas.size();
        if (areas.isEmpty() || areas.size() != stripeCount) {
          throw new IllegalArgumentException("LV " + e.getKey() + " segment " + s.getKey() + " lists " + areas.size()
              + " stripes but says " + stripeCount);
        }
        long stripeSize = areas.size() > 1 ? Math.multiplyExact(number(seg, "stripe_size"), 512) : 0;
        if (areas.size() > 1 && (stripeSize <= 0 || extentBytes % stripeSize != 0)) {
          throw new IllegalArgumentException("LV " + e.getKey() + " has stripe size " + stripeSize);
        }
        segs.add(new VolumeGroup.LvSegment(number(seg, "start_extent"), number(seg, "extent_count"), type, stripeSize, areas));
      }
      segs.sort(Comparator.comparingLong(VolumeGroup.LvSegment::startExtent));
      long extents = unreadExtents;
      for (VolumeGroup.LvSegment x : segs) {
        extents = Math.addExact(extents, x.extentCount());
      }
      long size = Math.multiplyExact(extents, extentBytes);
      List<Volume.Segment> where = new ArrayList<>();
      for (VolumeGroup.LvSegment s : segs) {
        for (VolumeGroup.Area a : s.areas()) {
          VolumeGroup.Pv pv = pvs.get(a.pv());
          if (pv != null && pv.volume() != null) {
            where.add(new Volume.Segment(pv.volume().id(), pv.volume().disk(),
                pv.volume().offset() + pv.peStartBytes() + a.startExtent() * extentBytes,
                s.extentCount() / s.areas().size() * extentBytes));
          }
        }
      }
      String id = name + "/" + e.getKey();
      String lvId = String.valueOf(lv.getOrDefault("id", "")).replace("-", "");
      if (vgId.length() == 32 && lvId.length() == 32) {
        lvByDmUuid.put("LVM-" + vgId + lvId, id);
      }
      String type = segs.isEmpty() ? String.valueOf(unsupported)
          : segs.stream().allMatch(x -> x.areas().size() == 1) ? "linear" : "striped";
      if (unsupported != null || missing) {
        String note = unsupported != null ? "unsupported segment type " + unsupported : "a PV of the VG is missing";
        out.add(new Volume(id, name, "lv", type, Signature.UNKNOWN, -1, -1, size, where, note, null, null));
        continue;
      }
      BlockDevice view = group.view(e.getKey(), segs);
      Signature sig;
      try {
        sig = SignatureProbe.probe(view);
      } catch (IOException ex) {
        sig = Signature.UNKNOWN;
        warnings.add("LV " + id + ": " + ex.getMessage());
      }
      out.add(new Volume(id, name, "lv", type, sig, -1, -1, size, where, "", view, null));
    }
    return out;
  }

  private static long number(Map<String, Object> m, String key) {
    Object v = m.get(key);
    if (!(v instanceof Long n)) {
      throw new IllegalArgumentException("'" + key + "' is missing or not a number");
    }
    return n;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> section(Map<String, Object> m, String key) {
    Object v = m.get(key);
    return v instanceof Map<?, ?> ? (Map<String, Object>) v : Map.of();
  }
}
