#!/usr/bin/env bash
# ntfs-mft: a bare NTFS (volume "disk", 4 KiB clusters) whose MFT is in
# hundreds of pieces, so many that its own runlist continues in extension
# records listed by an $ATTRIBUTE_LIST in record 0. Made by ntfs-3g: fill
# the volume with one-cluster files, free every other one, then create
# files until the MFT has grown through the holes.
#   /many   ~3,500 empty files (their records are the MFT's late pieces)
# (grep -q reads from <(...): with pipefail, "cmd | grep -q" fails when grep stops reading early)
# usage: build-ntfs-mft.sh OUT
source "$(dirname "$0")/lib.sh"
need mkntfs ntfs-3g istat
OUT=$1
mkdir -p "$OUT"
work_dir "$OUT"
IMG=$OUT/disk.img
M=$WORK/m
# fragment HOLES: a fresh volume whose MFT grew through HOLES one-cluster holes.
fragment() {
  rm -f "$IMG"
  truncate -s 48M "$IMG"
  mkntfs -F -q -Q -c 4096 -L ntfs-mft "$IMG" >/dev/null 2>&1
  mount_ntfs "$IMG" "$M" rw
  python3 - "$M" "$1" <<'PY'
import errno, os, sys
m, holes = sys.argv[1], int(sys.argv[2])
os.mkdir(f"{m}/.scratch")
st = os.statvfs(m)
with open(f"{m}/.scratch/ballast", "wb") as f:
    f.write(b"\0" * (st.f_bavail * st.f_frsize - (3 * holes + 64) * 4096))
fillers = []
for i in range(4 * holes):
    p = f"{m}/.scratch/f{i:05d}"
    try:
        with open(p, "wb") as f:
            f.write(b"\x11" * 4096)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        if os.path.exists(p):
            os.unlink(p)
        break
    fillers.append(p)
for p in fillers[::2]:
    os.unlink(p)
os.mkdir(f"{m}/many")
for i in range(12000):  # until the volume is full: the MFT grows into the holes
    try:
        open(f"{m}/many/e{i:05d}", "wb").close()
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        break
for p in fillers[1::2]:
    os.unlink(p)
os.unlink(f"{m}/.scratch/ballast")
os.rmdir(f"{m}/.scratch")
PY
  unmount_ntfs "$M"
}

# Should the allocator take the holes differently, more holes.
for holes in 700 1000 1400 2000; do
  fragment "$holes"
  grep -q '\$ATTRIBUTE_LIST' <(istat "$IMG" 0) && break
  log "$holes holes did not spread the MFT's runlist over extension records; more"
  [ "$holes" = 2000 ] && die "the MFT has no attribute list; it did not fragment enough"
done
mount_ntfs "$IMG" "$M" ro
walk "$M" disk "$OUT" --ntfs
unmount_ntfs "$M"
python3 "$SCRIPTS/volinfo.py" --id disk --kind disk --file "$IMG" > "$OUT/volumes.jsonl"
finish "$OUT" ntfs-mft
