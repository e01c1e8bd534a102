#!/usr/bin/env python3
"""Generates a realistic directory tree from a fixed seed.

The same seed gives the same names, sizes, contents, modes and times, so an
image filled from the tree is reproducible. Prints a JSON summary of what it
made (counts by type) on stdout; tests compare it with the oracle's listing.

usage: gen-tree.py --seed N --files N --out DIR [--max-bytes N]
                   [--no-owners] [--no-links] [--ascii]
"""
import argparse
import json
import os
import random
import sys

WORDS = ("alpha beta gamma delta report invoice photo draft backup config "
         "index data log notes summary final v2 old new tmp cache build "
         "release readme todo letter budget plan scan music video").split()
EXTS = ["txt", "log", "conf", "json", "csv", "jpg", "png", "pdf", "odt",
        "tar", "gz", "db", "sh", "py", "c", "h", "html", "md", ""]
# Names a real system has: unicode, spaces, leading dashes, dots, long ones.
ODD_NAMES = ["with space.txt", "-leading-dash", "ünïcödé-ファイル.txt",
             "emoji-\U0001F600.bin", ".hidden", "UPPER.TXT", "a" * 200,
             "semi;colon&amp", "quote'single\"double"]
BASE_TIME = 1_600_000_000  # 2020-09-13, a fixed epoch for reproducible times


def name(rng, ascii_only):
    n = "-".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
    if rng.random() < 0.3:
        n += "_" + str(rng.randint(0, 99999))
    ext = rng.choice(EXTS)
    if ext:
        n += "." + ext
    if not ascii_only and rng.random() < 0.05:
        n = "ü-" + n
    return n


def size(rng):
    r = rng.random()
    if r < 0.05:
        return 0
    if r < 0.60:
        return rng.randint(1, 4096)
    if r < 0.90:
        return rng.randint(4097, 128 * 1024)
    if r < 0.99:
        return rng.randint(128 * 1024, 1024 * 1024)
    return rng.randint(1024 * 1024, 4 * 1024 * 1024)


def content(rng, n):
    if n == 0:
        return b""
    if rng.random() < 0.5:
        # Text-like: compressible, with repeats across files (dedup-friendly).
        words = []
        total = 0
        while total < n:
            w = rng.choice(WORDS)
            words.append(w)
            total += len(w) + 1
        return (" ".join(words).encode() + b"\n")[:n]
    return rng.randbytes(n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--files", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-bytes", type=int, default=64 * 1024 * 1024)
    ap.add_argument("--no-owners", action="store_true")
    ap.add_argument("--no-links", action="store_true")
    ap.add_argument("--ascii", action="store_true")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    root = args.out
    os.makedirs(root, exist_ok=True)
    dirs = [root]
    counts = {"file": 0, "dir": 0, "symlink": 0, "hardlink": 0, "bytes": 0}
    files = []
    used = set()

    def fresh(parent, candidate):
        path = os.path.join(parent, candidate)
        i = 0
        while path in used or os.path.lexists(path):
            i += 1
            path = os.path.join(parent, f"{i}-{candidate}")
        used.add(path)
        return path

    # Directories first: a few deep chains and many shallow ones.
    n_dirs = max(3, args.files // 12)
    for _ in range(n_dirs):
        parent = rng.choice(dirs)
        depth = parent[len(root):].count(os.sep)
        if depth > 10:
            parent = root
        d = fresh(parent, rng.choice(WORDS) + ("" if rng.random() < .5 else str(rng.randint(0, 999))))
        os.mkdir(d)
        dirs.append(d)
        counts["dir"] += 1
    deep = root
    for i in range(24):  # one very deep path
        deep = fresh(deep, f"level{i:02d}")
        os.mkdir(deep)
        dirs.append(deep)
        counts["dir"] += 1

    budget = args.max_bytes
    for i in range(args.files):
        parent = rng.choice(dirs)
        candidate = name(rng, args.ascii)
        if not args.ascii and i < len(ODD_NAMES):
            candidate = ODD_NAMES[i]
        path = fresh(parent, candidate)
        n = size(rng)
        if n > budget:  # out of budget: small files only from here on
            n = min(n % 4096, budget)
        budget -= n
        with open(path, "wb") as f:
            f.write(content(rng, n))
        os.chmod(path, rng.choice([0o644, 0o644, 0o644, 0o600, 0o755, 0o400, 0o640]))
        if not args.no_owners and rng.random() < 0.3:
            os.chown(path, rng.choice([1000, 1001, 33]), rng.choice([1000, 100, 33]))
        t = BASE_TIME + rng.randint(0, 86400 * 365 * 3)
        os.utime(path, ns=(t * 10**9 + rng.randint(0, 10**9 - 1), t * 10**9 + rng.randint(0, 10**9 - 1)))
        files.append(path)
        counts["file"] += 1
        counts["bytes"] += n

    if not args.no_links:
        for _ in range(max(1, args.files // 50)):
            target = rng.choice(files)
            parent = rng.choice(dirs)
            link = fresh(parent, "link-" + name(rng, True))
            kind = rng.random()
            if kind < 0.5:
                os.symlink(os.path.relpath(target, parent), link)
            elif kind < 0.8:
                os.symlink("/" + os.path.relpath(target, root), link)
            else:
                os.symlink("dangling/" + name(rng, True), link)
            counts["symlink"] += 1
        for _ in range(max(1, args.files // 60)):
            target = rng.choice(files)
            link = fresh(rng.choice(dirs), "hard-" + name(rng, True))
            os.link(target, link)
            counts["hardlink"] += 1

    # Directory times last: creating entries above changed them.
    for d in reversed(dirs[1:]):
        t = BASE_TIME + rng.randint(0, 86400 * 365 * 3)
        os.utime(d, ns=(t * 10**9, t * 10**9))
    json.dump(counts, sys.stdout)
    print()


if __name__ == "__main__":
    main()
