#!/usr/bin/env bash
# ext4-features: a bare ext4 filesystem (volume "disk") made by mkfs.ext4
# with 64bit, flex_bg, metadata_csum, huge_file and inline_data, filled by
# the kernel's own ext4 driver with every kind of file a reader meets:
#   /fragmented.bin   dense, but physically scattered: extent tree depth >= 2
#   /sparse.bin       data between holes        /unwritten.bin  fallocated
#   /huge-sparse.bin  > 4 GiB, mostly hole      /big-dir        20,000 entries (htree)
#   /inline/          inline_data files and a directory stored inline
#   /links/           fast and slow symlinks, hard links
#   /special/         char and block devices, fifo, socket
#   /xattr/           user.*, security.*, trusted.* and POSIX ACLs
#   /names/           unicode, spaces, newline, leading dash, 255-byte name
#   /swapfile         made by mkswap
# usage: build-ext4-features.sh OUT
source "$(dirname "$0")/lib.sh"
need mkfs.ext4 debugfs e2fsck mkswap setfattr setfacl fallocate
OUT=$1
mkdir -p "$OUT"
work_dir "$OUT"
IMG=$OUT/disk.img
rm -f "$IMG"
truncate -s 384M "$IMG"
mkfs.ext4 -q -F -b 4096 -N 32768 -L features \
  -O 64bit,flex_bg,metadata_csum,huge_file,inline_data,dir_index "$IMG"

M=$WORK/m
loop_attach DEV "$IMG"
mount_ext "$DEV" "$M" rw

# A dense file whose every other block is moved elsewhere: punch holes in
# alternate blocks, then write them again. ~3000 extents need depth 2.
python3 - "$M/fragmented.bin" <<'PY'
import os, random, sys
path = sys.argv[1]
rng = random.Random(21)
blocks = 3072
data = rng.randbytes(blocks * 4096)
with open(path, "wb") as f:
    f.write(data)
    f.flush(); os.fsync(f.fileno())
fd = os.open(path, os.O_RDWR)
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2
import ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
for b in range(0, blocks, 2):
    if libc.fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, ctypes.c_long(b * 4096), ctypes.c_long(4096)) != 0:
        raise OSError(ctypes.get_errno(), "fallocate punch")
os.fsync(fd)
# A filler takes the freed blocks' neighbourhood so the rewrites land far away.
with open(os.path.join(os.path.dirname(path), "filler.bin"), "wb") as f:
    f.write(rng.randbytes(8 * 1024 * 1024)); f.flush(); os.fsync(f.fileno())
for b in range(0, blocks, 2):
    os.pwrite(fd, data[b * 4096:(b + 1) * 4096], b * 4096)
    if b % 64 == 0:
        os.fsync(fd)
os.fsync(fd)
os.close(fd)
PY

# Holes, unwritten extents, and a file past 4 GiB.
python3 - "$M" <<'PY'
import os, random, sys
m = sys.argv[1]
rng = random.Random(22)
with open(f"{m}/sparse.bin", "wb") as f:
    for off in (0, 1 << 20, 10 << 20, (20 << 20) + 123):
        f.seek(off); f.write(rng.randbytes(5000))
    f.truncate(24 << 20)
with open(f"{m}/huge-sparse.bin", "wb") as f:
    f.write(b"head of a file larger than 4 GiB\n")
    f.seek((4 << 30) + (512 << 20)); f.write(rng.randbytes(8192))
    f.truncate(5 << 30)
PY
fallocate -l 2M "$M/unwritten.bin"
python3 -c "
import os,random
fd=os.open('$M/unwritten.bin', os.O_WRONLY)
os.pwrite(fd, random.Random(23).randbytes(65536), 512*1024)
os.close(fd)"
fallocate -o 4M -l 1M -n "$M/sparse.bin"   # unwritten beyond the data, size kept

# 20,000 entries in one directory: an htree index.
mkdir "$M/big-dir"
python3 -c "
import os
for i in range(20000):
    n = f'$M/big-dir/entry-{i:05d}-' + 'x' * (i % 40)
    with open(n, 'wb') as f:
        if i % 100 == 0: f.write(b'%d\n' % i)"

# inline_data: tiny files and a small directory live inside their inodes.
mkdir -p "$M/inline/small-dir"
printf 'tiny\n' > "$M/inline/tiny.txt"
printf '%.0s0123456789' 1 2 3 4 5 > "$M/inline/fifty.txt"
printf 'x' > "$M/inline/small-dir/a"
: > "$M/inline/empty"

# Links.
mkdir -p "$M/links/dir"
printf 'target of links\n' > "$M/links/target.txt"
ln -s target.txt "$M/links/fast-symlink"
ln -s "$(printf 'long/%.0s' $(seq 1 40))target.txt" "$M/links/slow-symlink"
ln -s /links/target.txt "$M/links/absolute-symlink"
ln -s ../links/dir "$M/links/dir-symlink"
ln "$M/links/target.txt" "$M/links/hard-link"
ln "$M/links/target.txt" "$M/links/dir/hard-link-2"

# Special files.
mkdir -p "$M/special"
mknod "$M/special/char-null" c 1 3
mknod "$M/special/block-loop7" b 7 7
mkfifo "$M/special/fifo"
python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind('$M/special/socket')"

# Extended attributes and ACLs.
mkdir -p "$M/xattr/acl-dir"
printf 'has xattrs\n' > "$M/xattr/file"
setfattr -n user.comment -v "a user attribute" "$M/xattr/file"
setfattr -n user.binary -v 0x00ff10ab "$M/xattr/file"
setfattr -n user.big -v "$(printf 'v%.0s' $(seq 1 3000))" "$M/xattr/file"
setfattr -n security.pluck -v "security value" "$M/xattr/file"
setfattr -n trusted.pluck -v "trusted value" "$M/xattr/file"
setfacl -m u:1000:rwx,g:100:r-x "$M/xattr/file"
setfacl -d -m u:1001:rw "$M/xattr/acl-dir"
printf 'inherits\n' > "$M/xattr/acl-dir/child"

# Names.
mkdir -p "$M/names"
for n in "with space" $'new\nline' "-leading-dash" "ünïcödé-名前" "emoji-🎉" "tab	in" "$(printf 'n%.0s' $(seq 1 255))"; do
  printf '%s\n' "$n" > "$M/names/$n"
done

# Modes, owners, times with nanoseconds.
mkdir -p "$M/modes"
for mode in 4755 2755 1777 0000 0777 0640; do
  printf 'mode %s\n' $mode > "$M/modes/m$mode"
  chmod $mode "$M/modes/m$mode"
done
chown 1234:5678 "$M/modes/m0640"
touch -d '2001-02-03 04:05:06.123456789' "$M/modes/m0640"
touch -d '1969-07-20 20:17:40' "$M/modes/m0777"
touch -d '2040-01-01 00:00:00.5' "$M/modes/m0000"

# A swap file, fully allocated as the kernel wants it.
dd if=/dev/zero of="$M/swapfile" bs=1M count=16 status=none
chmod 600 "$M/swapfile"
mkswap -L swapfile "$M/swapfile" >/dev/null

unmount "$M"
loop_detach "$DEV"
e2fsck -fn "$IMG" >/dev/null || die "e2fsck finds the built filesystem inconsistent"

mount_ext "$IMG" "$M"
walk "$M" disk "$OUT"
unmount "$M"
python3 "$SCRIPTS/volinfo.py" --id disk --kind disk --file "$IMG" > "$OUT/volumes.jsonl"
finish "$OUT" ext4-features
