#!/usr/bin/env python3
"""Writes a file whose clusters are scattered over an ntfs-3g mount.

ntfs-3g allocates contiguous runs whenever it can, so fragmentation has to
be forced: fill the volume, free every other one-cluster file, and write the
file into the holes. Enough runs overflow the MFT record, and ntfs-3g
spreads $DATA over extension records listed in an $ATTRIBUTE_LIST.

usage: ntfs-fragment.py MOUNT RELPATH CLUSTER_SIZE MIN_RUNS SEED
"""
import errno
import os
import random
import sys

mnt, rel, cluster, runs, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(seed)
scratch = os.path.join(mnt, ".fragment-scratch")
os.mkdir(scratch)
st = os.statvfs(mnt)
free = st.f_bavail * st.f_frsize
ballast_size = free - (3 * runs + 256) * cluster
ballast = os.path.join(scratch, "ballast")
with open(ballast, "wb") as f:
    chunk = b"\0" * (1 << 20)
    left = max(0, ballast_size)
    while left > 0:
        f.write(chunk[:min(left, len(chunk))])
        left -= min(left, len(chunk))
fillers = []
block = b"\x11" * cluster
for i in range(4 * runs + 1024):  # bounded: stops at ENOSPC long before
    p = os.path.join(scratch, f"f{i:06d}")
    try:
        with open(p, "wb") as f:
            f.write(block)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        if os.path.exists(p):
            os.unlink(p)
        break
    fillers.append(p)
if len(fillers) < 2 * runs:
    sys.exit(f"only {len(fillers)} one-cluster files fit; need {2 * runs}")
for p in fillers[::2]:
    os.unlink(p)
target = os.path.join(mnt, rel)
with open(target, "wb") as f:  # as many clusters as there are holes
    f.write(rng.randbytes(len(fillers) // 2 * cluster))
for p in fillers[1::2]:
    os.unlink(p)
os.unlink(ballast)
os.rmdir(scratch)
