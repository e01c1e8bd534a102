#!/usr/bin/env python3
"""Fills FOLDER with MIB MiB of files of 4 KiB to 8 MiB, alternately random and text-like
(words of a seeded vocabulary, ~3:1 for zstd), the way bench disks are filled.

usage: fill-folder.py FOLDER MIB SEED
"""
import os
import random
import sys

folder, total, seed = sys.argv[1], int(sys.argv[2]) << 20, int(sys.argv[3])
rnd = random.Random(seed)
words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 12))).encode("ascii") for _ in range(5000)]


def text(n):
    out = bytearray()
    while len(out) < n:
        out += b" ".join(rnd.choice(words) for _ in range(200)) + b"\n"
    return bytes(out[:n])


os.makedirs(folder, exist_ok=True)
written, i = 0, 0
while written < total:
    n = min(total - written, rnd.choice([4096, 65536, 1 << 20, 8 << 20]))
    with open(os.path.join(folder, f"f{i:06d}"), "wb") as f:
        f.write(os.urandom(n) if i % 2 else text(n))
    written += n
    i += 1
