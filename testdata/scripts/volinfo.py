#!/usr/bin/env python3
"""Describes one volume as a JSON line, probed by blkid (low-level mode).

  volinfo.py --id ID --kind partition|lv|disk --file F [--offset N --size N]
             [--disk N] [--layout LAYOUT.jsonl] [--extra JSON]

--file is the disk image (probed at --offset/--size) or, for an LV, the
volume's bytes already extracted; --layout adds the LV's segments.
"""
import argparse
import json
import os
import re
import subprocess


def blkid(path, offset, size):
    cmd = ["blkid", "-p", "-o", "export"]
    if offset is not None:
        cmd += ["-O", str(offset), "-S", str(size)]
    r = subprocess.run(cmd + [path], capture_output=True, text=True)
    if r.returncode not in (0, 2):  # 2: nothing recognised
        raise SystemExit(f"blkid failed on {path}: {r.stderr.strip()}")
    out = {}
    for line in r.stdout.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            if k != "DEVNAME":
                out[k] = re.sub(r"\\(.)", r"\1", v)  # export format escapes with backslashes
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--id", required=True)
    ap.add_argument("--kind", required=True)
    ap.add_argument("--file", required=True)
    ap.add_argument("--offset", type=int)
    ap.add_argument("--size", type=int)
    ap.add_argument("--disk", type=int, default=0)
    ap.add_argument("--layout")
    ap.add_argument("--extra", default="{}")
    a = ap.parse_args()
    e = {"id": a.id, "kind": a.kind}
    if a.kind == "lv":
        lv = next(json.loads(l) for l in open(a.layout) if json.loads(l)["lv"] == a.id)
        e["size"] = lv["size"]
        e["segments"] = lv["segments"]
        e["blkid"] = blkid(a.file, None, None)
    else:
        size = a.size if a.size is not None else os.path.getsize(a.file)
        e.update({"disk": a.disk, "offset": a.offset or 0, "size": size,
                  "blkid": blkid(a.file, a.offset or 0, size)})
    e.update(json.loads(a.extra))
    print(json.dumps(e, sort_keys=True))


if __name__ == "__main__":
    main()
