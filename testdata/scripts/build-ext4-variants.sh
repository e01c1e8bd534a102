#!/usr/bin/env bash
# ext4 variants, each a bare filesystem (volume "disk") for what the
# features image cannot hold at once:
#   meta_bg    1 KiB blocks, meta_bg without resize_inode, sparse_super2 (two
#              backup superblocks only): group descriptors
#              spread over the groups (64bit, so 16 per block)
#   bigalloc   4 KiB blocks in 64 KiB clusters
#   encrypt    fscrypt v2 policy on /secret (files, a subdirectory, a
#              symlink), walked by the kernel without the key
#   casefold   a casefolded directory; this kernel cannot mount casefold,
#              so the oracle is debugfs (debugfs-disk.jsonl)
#   ea_inode   xattr values too large for an inode or a block, each in an
#              inode of its own (one shared by two files), set by the kernel
#   journal    a crash copy: changes committed to the journal but not yet
#              written in place (needs_recovery); the oracle is the copy
#              after e2fsck's journal replay (replayed.img), the listing
#              before replay is files-noload.jsonl
# usage: build-ext4-variants.sh OUT VARIANT
source "$(dirname "$0")/lib.sh"
need mkfs.ext4 debugfs e2fsck dumpe2fs
OUT=$1
VARIANT=$2
mkdir -p "$OUT"
work_dir "$OUT"
IMG=$OUT/disk.img
M=$WORK/m
rm -f "$IMG"

# kernel_fill IMG SEED FILES: mounts IMG read-write and lets the kernel write
# a seeded tree, a large file crossing groups, a sparse and an unwritten file.
kernel_fill() {
  local img=$1 seed=$2 files=$3
  loop_attach FILL_DEV "$img"
  mount_ext "$FILL_DEV" "$M" rw
  gen_tree "$seed" "$files" "$M/tree" --max-bytes $((24 * MiB)) > "$WORK/counts"
  python3 - "$M" "$seed" <<'PY'
import os, random, sys
m, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
with open(f"{m}/large.bin", "wb") as f:
    f.write(rng.randbytes(40 << 20))
with open(f"{m}/sparse.bin", "wb") as f:
    for off in (0, 3 << 20, (9 << 20) + 777):
        f.seek(off); f.write(rng.randbytes(6000))
    f.truncate(16 << 20)
fd = os.open(f"{m}/unwritten.bin", os.O_CREAT | os.O_WRONLY, 0o644)
os.posix_fallocate(fd, 0, 1 << 20)
os.pwrite(fd, rng.randbytes(10000), 300000)
os.close(fd)
PY
  unmount "$M"
  loop_detach "$FILL_DEV"
}

# oracle_of IMG: the kernel's read-only view of IMG as the volume's oracle.
oracle_of() {
  e2fsck -fn "$1" >/dev/null 2>&1 || die "e2fsck finds $VARIANT inconsistent"
  mount_ext "$1" "$M"
  walk "$M" disk "$OUT"
  unmount "$M"
}

case "$VARIANT" in
meta_bg)
  truncate -s 256M "$IMG"
  mkfs.ext4 -q -F -b 1024 -O meta_bg,^resize_inode,64bit,sparse_super2 -E num_backup_sb=2 -L metabg "$IMG"
  grep -q 'features:.*meta_bg' <(dumpe2fs -h "$IMG" 2>/dev/null) || die "mkfs did not set meta_bg"
  kernel_fill "$IMG" 41 600
  oracle_of "$IMG"
  ;;
bigalloc)
  truncate -s 384M "$IMG"
  mkfs.ext4 -q -F -b 4096 -C 65536 -O bigalloc -L bigalloc "$IMG" 2>/dev/null
  grep -q 'Cluster size:.*65536' <(dumpe2fs -h "$IMG" 2>/dev/null) || die "mkfs did not make 64 KiB clusters"
  kernel_fill "$IMG" 42 600
  oracle_of "$IMG"
  ;;
encrypt)
  truncate -s 128M "$IMG"
  mkfs.ext4 -q -F -b 4096 -O encrypt -L encrypted "$IMG"
  kernel_fill "$IMG" 43 200
  loop_attach DEV "$IMG"
  mount_ext "$DEV" "$M" rw
  mkdir "$M/secret"
  python3 - "$M" <<'PY'
# fscrypt v2: add a key to the filesystem, set the policy on an empty
# directory, write files through it; unmounting forgets the key.
import fcntl, os, random, struct, sys
m = sys.argv[1]
FS_IOC_ADD_ENCRYPTION_KEY = 0xC0506617   # _IOWR('f', 23, struct fscrypt_add_key_arg)
FS_IOC_SET_ENCRYPTION_POLICY = 0x800C6613  # _IOR('f', 19, struct fscrypt_policy_v1)
raw = random.Random(44).randbytes(64)
arg = bytearray(struct.pack("<II32sII32x", 2, 0, bytes(32), len(raw), 0) + raw)
fd = os.open(m, os.O_RDONLY)
fcntl.ioctl(fd, FS_IOC_ADD_ENCRYPTION_KEY, arg)
os.close(fd)
identifier = bytes(arg[8:24])
policy = struct.pack("<BBBB4x16s", 2, 1, 4, 0, identifier)  # v2, AES-256-XTS, AES-256-CTS
fd = os.open(f"{m}/secret", os.O_RDONLY)
fcntl.ioctl(fd, FS_IOC_SET_ENCRYPTION_POLICY, policy)
os.close(fd)
rng = random.Random(45)
os.mkdir(f"{m}/secret/inner")
for i, size in enumerate((0, 10, 4096, 70000, 1 << 20)):
    with open(f"{m}/secret/file-{i}.bin", "wb") as f:
        f.write(rng.randbytes(size))
with open(f"{m}/secret/inner/a-rather-long-name-" + "z" * 150, "wb") as f:
    f.write(b"inside an encrypted subdirectory\n")
os.symlink("file-1.bin", f"{m}/secret/link")
PY
  unmount "$M"
  loop_detach "$DEV"
  facts_put "$OUT" encryptedDirs '["/secret"]'
  oracle_of "$IMG"
  ;;
casefold)
  truncate -s 64M "$IMG"
  gen_tree 46 150 "$WORK/tree" --max-bytes $((4 * MiB)) > "$WORK/counts"
  mkdir "$WORK/tree/folded"
  for n in README.txt Makefile MiXeD.CaSe "ünïcödé"; do printf '%s\n' "$n" > "$WORK/tree/folded/$n"; done
  mkdir "$WORK/tree/folded/Sub"
  printf 'deeper\n' > "$WORK/tree/folded/Sub/Deep.TXT"
  mkfs.ext4 -q -F -b 4096 -O casefold -E encoding=utf8 -L casefold -d "$WORK/tree" "$IMG"
  for d in /folded /folded/Sub; do
    flags=$(debugfs -R "stat $d" "$IMG" 2>/dev/null | sed -n 's/.*Flags: \(0x[0-9a-f]*\).*/\1/p')
    [ -n "$flags" ] || die "no flags for $d"
    debugfs -w -R "set_inode_field $d flags $(printf '0x%x' $((flags | 0x40000000)))" "$IMG" >/dev/null 2>&1
  done
  grep -q 'Flags: 0x4' <(debugfs -R "stat /folded" "$IMG" 2>/dev/null) || die "casefold flag not set"
  e2fsck -fn "$IMG" >/dev/null 2>&1 || die "e2fsck finds the casefold image inconsistent"
  python3 - "$IMG" > "$OUT/debugfs-disk.jsonl" <<'PY'
# debugfs's view, walked with "ls -p" (/inode/mode/uid/gid/name/size/) and
# "cat" for content digests.
import hashlib, json, subprocess, sys
img = sys.argv[1]
def run(cmd):
    return subprocess.run(["debugfs", "-R", cmd, img], capture_output=True, check=True).stdout
out = []
def walk(path, ino):
    for line in run(f"ls -p <{ino}>").splitlines():
        f = line.split(b"/")
        if len(f) < 7 or not f[1] or int(f[1]) == 0:
            continue  # not an entry, or an unused slot
        name = b"/".join(f[5:-2]).decode()
        if name in (".", ".."):
            continue
        child, mode = int(f[1]), int(f[2], 8)
        p = path.rstrip("/") + "/" + name
        kind = {0o100000: "file", 0o040000: "dir", 0o120000: "symlink"}.get(mode & 0o170000, "other")
        e = {"path": p, "inode": child, "type": kind, "mode": mode & 0o7777,
             "uid": int(f[3]), "gid": int(f[4]), "size": int(f[-2]) if f[-2] else 0}
        if kind == "file":
            e["sha256"] = hashlib.sha256(run(f"cat <{child}>")).hexdigest()
        out.append(e)
        if kind == "dir":
            walk(p, child)
walk("/", 2)
for e in sorted(out, key=lambda e: e["path"].encode()):
    print(json.dumps(e, ensure_ascii=False, sort_keys=True))
PY
  facts_put "$OUT" casefoldDirs '["/folded", "/folded/Sub"]'
  ;;
ea_inode)
  truncate -s 128M "$IMG"
  mkfs.ext4 -q -F -b 4096 -O ea_inode -L eainode "$IMG"
  grep -q 'features:.*ea_inode' <(dumpe2fs -h "$IMG" 2>/dev/null) || die "mkfs did not set ea_inode"
  kernel_fill "$IMG" 49 200
  loop_attach DEV "$IMG"
  mount_ext "$DEV" "$M" rw
  python3 - "$M" <<'PY'
# Values past what fits in the inode or one 4 KiB block go to inodes of their
# own; the kernel shares one value inode between equal values (refcounted).
import os, random, sys
m = sys.argv[1]
rng = random.Random(50)
os.mkdir(f"{m}/xattrs")
shared = rng.randbytes(30000)
for i, sizes in enumerate(((5000,), (20000, 12, 4097), (65536,), ())):
    p = f"{m}/xattrs/file-{i}"
    with open(p, "wb") as f:
        f.write(rng.randbytes(rng.randrange(0, 50000)))
    for j, size in enumerate(sizes):
        os.setxattr(p, f"user.v{j}", rng.randbytes(size))
    os.setxattr(p, "user.shared", shared)
os.setxattr(f"{m}/xattrs", "user.dir", rng.randbytes(9000))
os.setxattr(f"{m}/xattrs", "trusted.small", b"fits in the inode")
PY
  unmount "$M"
  loop_detach "$DEV"
  [ -n "$(debugfs -R 'stat /xattrs/file-2' "$IMG" 2>/dev/null | grep -i 'user.v0 (65536)')" ] || die "no 64 KiB xattr on file-2"
  oracle_of "$IMG"
  ;;
journal)
  truncate -s 128M "$IMG"
  mkfs.ext4 -q -F -b 4096 -J size=16 -L journal "$IMG"
  kernel_fill "$IMG" 47 300
  for attempt in 1 2 3 4 5; do
    cp --sparse=always "$IMG" "$WORK/base.img"
    loop_attach DEV "$WORK/base.img"
    mount -o commit=600 "$DEV" "$M"
    # Changes made durable by fsync alone: the journal commits them, while
    # the metadata blocks stay dirty in the block device's cache for ~30 s.
    python3 - "$M" <<'PY'
import os, random, sys
m = sys.argv[1]
rng = random.Random(48)
def fsync_path(p):
    fd = os.open(p, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
os.mkdir(f"{m}/after-crash")
for i in range(40):
    with open(f"{m}/after-crash/new-{i:02d}.bin", "wb") as f:
        f.write(rng.randbytes(rng.randrange(0, 90000)))
        f.flush(); os.fsync(f.fileno())
os.rename(f"{m}/large.bin", f"{m}/after-crash/moved-large.bin")
os.unlink(f"{m}/sparse.bin")
os.chmod(f"{m}/unwritten.bin", 0o600)
with open(f"{m}/unwritten.bin", "r+b") as f:
    f.seek(700000); f.write(rng.randbytes(5000)); f.flush(); os.fsync(f.fileno())
os.symlink("after-crash/new-00.bin", f"{m}/link-after-crash")
fsync_path(f"{m}/after-crash")
fsync_path(m)
PY
    cp --sparse=always "$WORK/base.img" "$WORK/crash.img"
    umount "$M"
    losetup -d "$DEV"
    cp --sparse=always "$WORK/crash.img" "$WORK/replayed.img"
    e2fsck -E journal_only -y "$WORK/replayed.img" >/dev/null 2>&1 || true
    mkdir -p "$M"
    mount -o ro,noload "$WORK/crash.img" "$M"
    python3 "$SCRIPTS/oracle-walk.py" "$M" > "$WORK/noload.jsonl"
    umount "$M"
    mount -o ro,noload "$WORK/replayed.img" "$M"
    python3 "$SCRIPTS/oracle-walk.py" "$M" > "$WORK/replayed.jsonl"
    umount "$M"
    if grep -q 'features:.*needs_recovery' <(dumpe2fs -h "$WORK/crash.img" 2>/dev/null) \
        && ! cmp -s "$WORK/noload.jsonl" "$WORK/replayed.jsonl"; then
      break
    fi
    log "attempt $attempt: the metadata reached the disk before the copy; again"
    [ "$attempt" = 5 ] && die "could not catch the journal before its checkpoint"
  done
  mv "$WORK/crash.img" "$IMG"
  mv "$WORK/replayed.img" "$OUT/replayed.img"
  mv "$WORK/noload.jsonl" "$OUT/files-noload.jsonl"
  mv "$WORK/replayed.jsonl" "$OUT/files-disk.jsonl"
  e2fsck -fn "$OUT/replayed.img" >/dev/null 2>&1 || die "the replayed copy is inconsistent"
  ;;
*)
  die "unknown variant $VARIANT"
  ;;
esac
[ -f "$WORK/counts" ] && facts_put "$OUT" tree-disk "$(cat "$WORK/counts")"
python3 "$SCRIPTS/volinfo.py" --id disk --kind disk --file "$IMG" > "$OUT/volumes.jsonl"
finish "$OUT" "ext4-$VARIANT"
