#!/usr/bin/env bash
# ntfs-windows-*: a disk formatted by Windows 10 (from shared/testdata),
# unpacked, with the same oracle as the other images: partitions by sfdisk,
# volumes by blkid, and the NTFS listing through ntfs-3g.
# usage: build-ntfs-windows.sh OUT IMAGE.raw.gz
source "$(dirname "$0")/lib.sh"
need ntfs-3g gzip
OUT=$1
SRC=$2
[ -f "$SRC" ] || die "no such image: $SRC"
mkdir -p "$OUT"
work_dir "$OUT"
DISK=$OUT/disk.img
gzip -dc "$SRC" | dd of="$DISK" bs=1M conv=sparse status=none
sfdisk_json "$DISK" 512 > "$OUT/partitions.json"
: > "$OUT/volumes.jsonl"
n=0
for line in $(python3 -c "
import json
for p in json.load(open('$OUT/partitions.json'))['partitiontable']['partitions']:
    print(p['node'][len('disk.img'):] + ':' + str(p['start'] * 512) + ':' + str(p['size'] * 512))"); do
  IFS=: read -r num off size <<< "$line"
  python3 "$SCRIPTS/volinfo.py" --id "p$num" --kind partition --file "$DISK" --offset "$off" --size "$size" >> "$OUT/volumes.jsonl"
  loop_attach DEV "$DISK" 512 "$off" "$size"
  mount_ntfs "$DEV" "$WORK/m$num" ro
  walk "$WORK/m$num" "p$num" "$OUT" --ntfs
  unmount_ntfs "$WORK/m$num"
  n=$((n + 1))
done
[ $n -gt 0 ] || die "no partitions in $SRC"
facts_put "$OUT" sectorSize 512
finish "$OUT" "$(basename "$SRC" .raw.gz)"
