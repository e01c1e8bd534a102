#!/usr/bin/env bash
# mbr-logical: an MBR (DOS) disk with a primary ext4 and an extended
# partition whose chain of logical partitions holds swap, NTFS and ext4.
#   p1 ext4 "mroot" (seeded tree)     p2 extended (type 0x05)
#   p5 swap "mswap"   p6 NTFS "mdata" (seeded tree)   p7 ext4 "mlogical",
#      no journal (seeded tree)
# usage: build-mbr-logical.sh OUT
source "$(dirname "$0")/lib.sh"
need sfdisk mkfs.ext4 mkswap mkntfs ntfs-3g
OUT=$1
mkdir -p "$OUT"
work_dir "$OUT"
DISK=$OUT/disk.img
rm -f "$DISK"
truncate -s 256M "$DISK"
SECTOR=512

# Logical partitions start inside the extended one, each 1 MiB after the
# previous end (room for its EBR), as fdisk lays them out.
loop_attach DISKDEV "$DISK"
sfdisk -q "$DISKDEV" >/dev/null <<'TABLE'
label: dos
label-id: 0x5eed0001
start=2048, size=163840, type=83, bootable
start=165888, size=327680, type=5
start=167936, size=32768, type=82
start=202752, size=131072, type=7
start=335872, size=98304, type=83
TABLE
loop_detach "$DISKDEV"
python3 -c "import random,sys; sys.stdout.buffer.write(random.Random(11).randbytes(440))" > "$OUT/mbr-bootcode.bin"
dd if="$OUT/mbr-bootcode.bin" of="$DISK" conv=notrunc status=none

part() { loop_attach "$2" "$DISK" "$SECTOR" "$(part_offset "$DISK" "$1" "$SECTOR")" "$(part_size "$DISK" "$1" "$SECTOR")"; }

part 1 P1
gen_tree 4 800 "$WORK/t1" --max-bytes $((24 * MiB)) > "$WORK/t1.counts"
mkfs.ext4 -q -F -L mroot -d "$WORK/t1" "$P1"
facts_put "$OUT" tree-p1 "$(cat "$WORK/t1.counts")"
mount_ext "$P1" "$WORK/m1"
walk "$WORK/m1" p1 "$OUT"
unmount "$WORK/m1"

part 5 P5
mkswap -L mswap "$P5" >/dev/null

part 6 P6
mkntfs -F -q -Q -L mdata "$P6" >/dev/null 2>&1
gen_tree 5 200 "$WORK/t6" --max-bytes $((12 * MiB)) --no-owners > "$WORK/t6.counts"
facts_put "$OUT" tree-p6 "$(cat "$WORK/t6.counts")"
mount_ntfs "$P6" "$WORK/m6" rw
cp -rP --preserve=timestamps,links "$WORK/t6/." "$WORK/m6/"
unmount_ntfs "$WORK/m6"
mount_ntfs "$P6" "$WORK/m6r" ro
walk "$WORK/m6r" p6 "$OUT" --ntfs
unmount_ntfs "$WORK/m6r"

part 7 P7
gen_tree 6 300 "$WORK/t7" --max-bytes $((12 * MiB)) > "$WORK/t7.counts"
mkfs.ext4 -q -F -L mlogical -O ^has_journal -d "$WORK/t7" "$P7"
facts_put "$OUT" tree-p7 "$(cat "$WORK/t7.counts")"
mount_ext "$P7" "$WORK/m7"
walk "$WORK/m7" p7 "$OUT"
unmount "$WORK/m7"

sfdisk_json "$DISK" "$SECTOR" > "$OUT/partitions.json"
: > "$OUT/volumes.jsonl"
for n in 1 2 5 6 7; do
  python3 "$SCRIPTS/volinfo.py" --id p$n --kind partition --file "$DISK" \
    --offset "$(part_offset "$DISK" $n "$SECTOR")" --size "$(part_size "$DISK" $n "$SECTOR")" >> "$OUT/volumes.jsonl"
done
facts_put "$OUT" sectorSize "$SECTOR"
finish "$OUT" mbr-logical
