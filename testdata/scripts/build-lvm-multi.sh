#!/usr/bin/env bash
# lvm-multi: two disks forming one VG "vgmulti" (1 MiB extents):
#   disk0.img  GPT, p1 = PV        disk1.img  a whole-disk PV, no table
#   vgmulti/striped  2 stripes of 64 KiB over both PVs, ext4 "striped"
#   vgmulti/span     linear, its segments on both PVs, ext4 "span"
#   vgmulti/small    linear, left empty
#   vgmulti/numlin   linear, one segment on each disk; every 512-byte sector holds its
#                    own LV sector number (u64 little-endian, repeated)
#   vgmulti/numstripe  2 stripes of 16 KiB, numbered the same way
# Both PVs have a small metadata area that has wrapped: the newest metadata
# runs past the end of the circular buffer and continues at its start.
# usage: build-lvm-multi.sh OUT
source "$(dirname "$0")/lib.sh"
need sgdisk pvcreate vgcreate lvcreate vgchange pvck mkfs.ext4
OUT=$1
mkdir -p "$OUT"
work_dir "$OUT"
D0=$OUT/disk0.img
D1=$OUT/disk1.img
rm -f "$D0" "$D1"
truncate -s 160M "$D0" "$D1"
sgdisk -n 1:0:0 -t 1:8E00 -c 1:pv0 "$D0" >/dev/null
P1=$(part_offset "$D0" 1 512)
loop_attach PV0 "$D0" 512 "$P1" "$(part_size "$D0" 1 512)"
loop_attach PV1 "$D1"
LVM_DEVICES=$PV0,$PV1
lvm_run pvcreate -q --metadatasize 16k --dataalignment 64k "$PV0" "$PV1" >/dev/null
lvm_run vgcreate -q -s 1M vgmulti "$PV0" "$PV1" >/dev/null
lv() { lvm_run lvcreate -q --driverloaded n -an -Zn "$@" vgmulti >/dev/null 2>&1; }
# Numbered LVs first, while both PVs have room: one linear LV with a segment on each disk.
lvm_run lvcreate -q --driverloaded n -an -Zn -L 8M -n numlin vgmulti "$PV1" >/dev/null 2>&1
lvm_run lvextend -q --driverloaded n -L +8M vgmulti/numlin "$PV0" >/dev/null 2>&1
lv -L 8M -i 2 -I 16k -n numstripe
lv -L 40M -i 2 -I 64k -n striped
lv -L 200M -n span
lv -L 8M -n small

# Rewrite the metadata until the newest copy wraps around its buffer.
mda() { pvck --dump headers "$PV0" 2>/dev/null | awk -v k="$1" '$1 == k {print $2}'; }
wrapped=""
for i in $(seq 1 400); do
  if [ $((i % 2)) = 1 ]; then lvm_run vgchange -q --addtag "rewrite$i" vgmulti >/dev/null
  else lvm_run vgchange -q --deltag "rewrite$((i - 1))" vgmulti >/dev/null; fi
  off=$(mda 'mda_header_1.raw_locn[0].offset'); len=$(mda 'mda_header_1.raw_locn[0].size'); size=$(mda 'mda_header_1.size')
  if [ $((off + len)) -gt "$size" ]; then wrapped=yes; break; fi
done
[ -n "$wrapped" ] || die "metadata never wrapped around its buffer"
facts_put "$OUT" metadataWrap "{\"offset\": $off, \"size\": $len, \"mdaSize\": $size, \"rewrites\": $i}"

python3 "$SCRIPTS/lvmap.py" layout --vg vgmulti --pv "$PV0=0:$P1" --pv "$PV1=1:0" --devices "$LVM_DEVICES" > "$OUT/lvm-layout.jsonl"
loop_detach "$PV0"
loop_detach "$PV1"

for lv in striped span; do
  size=$(python3 -c "import json; print([json.loads(l)['size'] for l in open('$OUT/lvm-layout.jsonl') if json.loads(l)['lv'] == 'vgmulti/$lv'][0])")
  truncate -s "$size" "$WORK/$lv.img"
  seed=$([ $lv = striped ] && echo 61 || echo 62)
  gen_tree $seed 400 "$WORK/t-$lv" --max-bytes $((12 * MiB)) > "$WORK/$lv.counts"
  mkfs.ext4 -q -F -L "$lv" -d "$WORK/t-$lv" "$WORK/$lv.img"
  facts_put "$OUT" "tree-vgmulti/$lv" "$(cat "$WORK/$lv.counts")"
  python3 "$SCRIPTS/lvmap.py" write "$OUT/lvm-layout.jsonl" "vgmulti/$lv" "$WORK/$lv.img" "$D0" "$D1"
done

for lv in numlin numstripe; do
  python3 - "$WORK/$lv.img" <<'PY'
import struct, sys
with open(sys.argv[1], "wb") as f:
    for n in range((16 << 20) // 512):
        f.write(struct.pack("<Q", n) * 64)
PY
  size=$(python3 -c "import json; print([json.loads(l)['size'] for l in open('$OUT/lvm-layout.jsonl') if json.loads(l)['lv'] == 'vgmulti/$lv'][0])")
  truncate -s "$size" "$WORK/$lv.img"
  python3 "$SCRIPTS/lvmap.py" write "$OUT/lvm-layout.jsonl" "vgmulti/$lv" "$WORK/$lv.img" "$D0" "$D1"
done

# The oracle reads the LVs back from both disks at LVM's offsets.
: > "$OUT/volumes.jsonl"
python3 "$SCRIPTS/volinfo.py" --id p1 --kind partition --disk 0 --file "$D0" \
  --offset "$P1" --size "$(part_size "$D0" 1 512)" >> "$OUT/volumes.jsonl"
python3 "$SCRIPTS/volinfo.py" --id disk --kind disk --disk 1 --file "$D1" >> "$OUT/volumes.jsonl"
for lv in striped span small numlin numstripe; do
  python3 "$SCRIPTS/lvmap.py" read "$OUT/lvm-layout.jsonl" "vgmulti/$lv" "$WORK/lv-$lv" "$D0" "$D1"
  python3 "$SCRIPTS/volinfo.py" --id "vgmulti/$lv" --kind lv --file "$WORK/lv-$lv" --layout "$OUT/lvm-layout.jsonl" >> "$OUT/volumes.jsonl"
done
for lv in striped span; do
  mount_ext "$WORK/lv-$lv" "$WORK/m-$lv"
  walk "$WORK/m-$lv" "vgmulti/$lv" "$OUT"
  unmount "$WORK/m-$lv"
done
sfdisk_json "$D0" 512 > "$OUT/partitions.json"
facts_put "$OUT" sectorSize 512
finish "$OUT" lvm-multi
