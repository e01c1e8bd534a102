#!/usr/bin/env python3
"""Maps LVM logical volumes to disk bytes, as LVM itself reports them.

The kernel here has no device-mapper, so LVs cannot be activated; the
builders write filesystems into an LV's extents by hand, and the oracle
reads them back the same way. The layout comes from LVM's own reports
(`lvs`, `pvs`, `vgs` with --reportformat json), never from pluck code.

  lvmap.py layout --vg VG --pv DEV=DISKINDEX:OFFSET ... [--devices D,D]
      prints one JSON line per LV: {"lv", "size", "segments": [{"start",
      "length", "type", "stripeSize", "stripes": [{"disk", "offset"}]}]}
  lvmap.py write LAYOUT LV SRC DISK...   copy SRC into the LV's extents
  lvmap.py read  LAYOUT LV OUT DISK...   copy the LV's bytes to OUT
"""
import json
import subprocess
import sys


def report(cmd, devices, fields, kind):
    args = [cmd, "--reportformat", "json", "--units", "b", "--nosuffix", "-o", fields]
    if devices:
        args += ["--devices", devices]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["report"][0][kind]


def layout(argv):
    vg = None
    pvmap = {}
    devices = None
    it = iter(argv)
    for a in it:
        if a == "--vg":
            vg = next(it)
        elif a == "--pv":
            dev, where = next(it).split("=")
            disk, off = where.split(":")
            pvmap[dev] = (int(disk), int(off))
        elif a == "--devices":
            devices = next(it)
    pe_start = {p["pv_name"]: int(p["pe_start"]) for p in report("pvs", devices, "pv_name,pe_start", "pv")}
    extent = int(report("vgs", devices, "vg_name,vg_extent_size", "vg")[0]["vg_extent_size"])
    lvs = report("lvs", devices, "lv_name,vg_name,lv_uuid,vg_uuid,lv_size,segtype,stripes,stripe_size,seg_pe_ranges,seg_start_pe,seg_size_pe", "lv")
    by_lv = {}
    for s in lvs:
        if s["vg_name"] != vg:
            continue
        # dmUuid: the name device-mapper (and udev's /dev/disk/by-id/dm-uuid-*) gives the LV
        dm_uuid = "LVM-" + s["vg_uuid"].replace("-", "") + s["lv_uuid"].replace("-", "")
        lv = by_lv.setdefault(s["lv_name"], {"lv": f"{vg}/{s['lv_name']}", "size": int(s["lv_size"]), "dmUuid": dm_uuid,
                                             "segments": []})
        stripes = []
        for r in s["seg_pe_ranges"].split():
            dev, pes = r.rsplit(":", 1)
            first = int(pes.split("-")[0])
            disk, off = pvmap[dev]
            stripes.append({"disk": disk, "offset": off + pe_start[dev] + first * extent})
        lv["segments"].append({"start": int(s["seg_start_pe"]) * extent,
                               "length": int(s["seg_size_pe"]) * extent,
                               "type": s["segtype"],
                               "stripeSize": int(s["stripe_size"] or 0),
                               "stripes": stripes})
    for lv in by_lv.values():
        lv["segments"].sort(key=lambda x: x["start"])
        print(json.dumps(lv, sort_keys=True))


def pieces(lv):
    """Yields (lv_offset, length, disk, disk_offset) covering the LV in order."""
    for seg in lv["segments"]:
        stripes = seg["stripes"]
        if len(stripes) == 1:
            yield seg["start"], seg["length"], stripes[0]["disk"], stripes[0]["offset"]
            continue
        size = seg["stripeSize"]
        n = len(stripes)
        for chunk in range(seg["length"] // size):
            s = stripes[chunk % n]
            yield seg["start"] + chunk * size, size, s["disk"], s["offset"] + (chunk // n) * size


def copy(argv, to_disk):
    lay, name, path, disks = argv[0], argv[1], argv[2], argv[3:]
    lv = next(json.loads(l) for l in open(lay) if json.loads(l)["lv"].endswith("/" + name) or json.loads(l)["lv"] == name)
    files = [open(d, "r+b" if to_disk else "rb") for d in disks]
    with open(path, "rb" if to_disk else "wb") as f:
        if not to_disk:
            f.truncate(lv["size"])
        for lv_off, length, disk, disk_off in pieces(lv):
            if to_disk:
                f.seek(lv_off)
                data = f.read(length)
                if not data:
                    continue
                if data.count(0) == len(data):
                    continue  # keep the disk image sparse
                files[disk].seek(disk_off)
                files[disk].write(data)
            else:
                files[disk].seek(disk_off)
                data = files[disk].read(length)
                if data.count(0) != len(data):
                    f.seek(lv_off)
                    f.write(data)
    for x in files:
        x.close()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "layout":
        layout(sys.argv[2:])
    elif cmd == "write":
        copy(sys.argv[2:], True)
    elif cmd == "read":
        copy(sys.argv[2:], False)
    else:
        sys.exit(__doc__)
