#!/usr/bin/env python3
"""Lists every path under a mounted filesystem as JSON lines: the oracle.

Run on a read-only kernel mount (ext2/3/4) or an ntfs-3g mount; it never
touches pluck code. One object per path, sorted by path:
  path      "/dir/name" relative to the mount ("/" for the root)
  type      file | dir | symlink | chardev | blockdev | fifo | socket
  size, mode (permission bits, 0o7777), uid, gid, nlink, inode
  mtimeNs, atimeNs, ctimeNs   nanoseconds since the epoch
  target    symlink target
  rdev      [major, minor] for devices
  sha256    of a regular file's content
  encrypted true for an fscrypt file whose key is absent (no sha256)
  xattrs    {name: base64 value} (ntfs-3g's own system.* and ntfs.* names
            left out)
  streams   {name: {size, sha256}} alternate data streams (--ntfs)
  ntfsAttributes  the DOS/NTFS attribute flags as ntfs-3g reports them (--ntfs)
  reparse   hex of the raw reparse point data, where there is one (--ntfs)

usage: oracle-walk.py MOUNTPOINT [--ntfs] [--skip-hash-over BYTES]
"""
import argparse
import base64
import errno
import hashlib
import json
import os
import stat
import sys

TYPES = [(stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
         (stat.S_ISCHR, "chardev"), (stat.S_ISBLK, "blockdev"),
         (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket")]


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def xattrs_of(path, ntfs):
    out = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for n in sorted(names):
        if ntfs and (n.startswith("system.ntfs") or n.startswith("ntfs.")):
            continue
        try:
            out[n] = base64.b64encode(os.getxattr(path, n, follow_symlinks=False)).decode()
        except OSError:
            pass
    return out


def streams_of(path):
    try:
        raw = os.getxattr(path, "ntfs.streams.list", follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for n in raw.split(b"\0"):
        if not n:
            continue
        name = n.decode()
        p = path + ":" + name
        out[name] = {"size": os.stat(p).st_size, "sha256": sha256_of(p)}
    return out


def entry(root, path, ntfs):
    st = os.lstat(path)
    kind = next(k for test, k in TYPES if test(st.st_mode))
    rel = "/" + os.path.relpath(path, root) if path != root else "/"
    e = {"path": rel, "type": kind, "size": st.st_size,
         "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
         "nlink": st.st_nlink, "inode": st.st_ino,
         "mtimeNs": st.st_mtime_ns, "atimeNs": st.st_atime_ns, "ctimeNs": st.st_ctime_ns}
    if kind == "symlink":
        target = os.readlink(path)
        if target.startswith(root + "/"):  # ntfs-3g's junctions point into the mount
            target = target[len(root):]
        e["target"] = target
    elif kind in ("chardev", "blockdev"):
        e["rdev"] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
    elif kind == "file":
        try:
            e["sha256"] = sha256_of(path)
        except OSError as err:
            if err.errno != errno.ENOKEY:
                raise
            e["encrypted"] = True  # fscrypt without its key: no content to hash
    x = xattrs_of(path, ntfs)
    if x:
        e["xattrs"] = x
    if ntfs:
        if kind in ("file", "dir"):
            s = streams_of(path)
            if s:
                e["streams"] = s
        try:
            e["ntfsAttributes"] = int.from_bytes(
                os.getxattr(path, "system.ntfs_attrib_be", follow_symlinks=False), "big")
        except OSError:
            pass
        try:
            e["reparse"] = os.getxattr(path, "system.ntfs_reparse_data", follow_symlinks=False).hex()
        except OSError:
            pass
    return e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--ntfs", action="store_true")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    paths = [root]
    for d, dirnames, filenames in os.walk(root):
        paths += [os.path.join(d, x) for x in dirnames + filenames]
    out = sys.stdout
    for p in sorted(paths, key=lambda p: os.fsencode(p)):
        out.write(json.dumps(entry(root, p, args.ntfs), ensure_ascii=False, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
