#!/usr/bin/env bash
# ext2 / ext3: bare filesystems (volume "disk") with indirect block maps,
# made by mke2fs with 1 KiB blocks and filled by the kernel:
#   a seeded tree, /indirect/single.bin (single indirect), double.bin,
#   and triple.bin (a sparse file reaching triple indirect blocks).
# usage: build-ext-legacy.sh OUT ext2|ext3
source "$(dirname "$0")/lib.sh"
need mke2fs e2fsck
OUT=$1
TYPE=$2
case "$TYPE" in ext2|ext3) ;; *) die "type must be ext2 or ext3";; esac
mkdir -p "$OUT"
work_dir "$OUT"
IMG=$OUT/disk.img
rm -f "$IMG"
truncate -s 96M "$IMG"
SEED=$([ "$TYPE" = ext2 ] && echo 31 || echo 32)
gen_tree "$SEED" 500 "$WORK/tree" --max-bytes $((16 * MiB)) > "$WORK/counts"
mke2fs -q -F -t "$TYPE" -b 1024 -L "$TYPE-legacy" -d "$WORK/tree" "$IMG"
facts_put "$OUT" tree-disk "$(cat "$WORK/counts")"

M=$WORK/m
loop_attach DEV "$IMG"
mount_ext "$DEV" "$M" rw
mkdir "$M/indirect"
python3 - "$M/indirect" <<'PY'
import random, sys
d = sys.argv[1]
rng = random.Random(33)
# 1 KiB blocks: 12 direct, 256 via single, 65,536 via double, then triple.
with open(f"{d}/single.bin", "wb") as f:
    f.write(rng.randbytes(200 * 1024))
with open(f"{d}/double.bin", "wb") as f:
    f.write(rng.randbytes(600 * 1024))
with open(f"{d}/triple.bin", "wb") as f:
    f.write(rng.randbytes(20 * 1024))
    for off in (300 << 10, 40 << 20, 70 << 20, (100 << 20) + 777):
        f.seek(off); f.write(rng.randbytes(3000))
PY
unmount "$M"
loop_detach "$DEV"
e2fsck -fn "$IMG" >/dev/null 2>&1 || die "e2fsck finds the built filesystem inconsistent"

mount_ext "$IMG" "$M"
walk "$M" disk "$OUT"
unmount "$M"
python3 "$SCRIPTS/volinfo.py" --id disk --kind disk --file "$IMG" > "$OUT/volumes.jsonl"
finish "$OUT" "$TYPE"
