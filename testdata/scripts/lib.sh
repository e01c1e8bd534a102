# shellcheck shell=bash
# Shared helpers of the image builders. Source it; needs root (loop devices,
# kernel and FUSE mounts). Every resource taken is released on exit, in
# reverse order, whatever happens.
set -euo pipefail
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LVM_SUPPRESS_FD_WARNINGS=1
export LC_ALL=C.UTF-8
export TZ=UTC
MiB=1048576

_cleanups=()
# Registers a command to run on exit (last registered runs first).
on_exit() { _cleanups=("$*" "${_cleanups[@]}"); }
_run_cleanups() {
  local c
  for c in "${_cleanups[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
log() { echo "$(basename "$0"): $*" >&2; }

need() {
  local t
  for t; do command -v "$t" >/dev/null 2>&1 || die "missing tool: $t"; done
}

[ "$(id -u)" -eq 0 ] || die "needs root (loop devices, mounts)"
need losetup mount umount blkid python3 dd truncate

# work_dir OUT: a scratch directory inside OUT, removed on exit.
work_dir() {
  WORK=$(mktemp -d "$1/.work.XXXXXX")
  on_exit "rm -rf '$WORK'"
}

# loop_attach VAR FILE [SECTOR_SIZE [OFFSET SIZE]]: attaches FILE (or a byte
# range of it) to a free loop device, stores the device in VAR.
loop_attach() {
  local var=$1 file=$2 sector=${3:-512} offset=${4:-} size=${5:-} dev
  local args=(-f --show -b "$sector")
  [ -n "$offset" ] && args+=(-o "$offset" --sizelimit "$size")
  dev=$(losetup "${args[@]}" "$file")
  on_exit "losetup -d $dev"
  printf -v "$var" '%s' "$dev"
}

loop_detach() { losetup -d "$1"; }

# mount_ext SOURCE MNT [rw]: a kernel ext2/3/4 mount, read-only unless rw.
mount_ext() {
  mkdir -p "$2"
  if [ "${3:-ro}" = rw ]; then
    mount "$1" "$2"
  else
    # noload: never replay a journal (ext2 has none and refuses the option).
    mount -o ro,noload "$1" "$2" 2>/dev/null || mount -o ro "$1" "$2"
  fi
  on_exit "umount '$2'"
}

# mount_ntfs SOURCE MNT [ro|rw] [extra ntfs-3g options]: an ntfs-3g mount
# with Windows-style stream names (file:stream). Runs ntfs-3g in the
# foreground so that unmount_ntfs can wait until it has written everything.
mount_ntfs() {
  local src=$1 mnt=$2 mode=${3:-ro} extra=${4:-} i
  mkdir -p "$mnt"
  ntfs-3g -o "no_detach,streams_interface=windows,$mode${extra:+,$extra}" "$src" "$mnt" >/dev/null 2>&1 &
  NTFS_PID=$!
  for i in $(seq 1 200); do
    mountpoint -q "$mnt" && break
    kill -0 "$NTFS_PID" 2>/dev/null || die "ntfs-3g could not mount $src"
    sleep 0.05
  done
  mountpoint -q "$mnt" || die "ntfs-3g did not mount $src in 10 s"
  on_exit "umount '$mnt'; wait $NTFS_PID"
}

# unmount_ntfs MNT: unmounts and waits for ntfs-3g to exit (all data written).
unmount_ntfs() {
  umount "$1"
  wait "$NTFS_PID" || true
}

unmount() { umount "$1"; }

# gen_tree SEED FILES DIR [gen-tree.py options]: a seeded tree; prints counts.
gen_tree() {
  local seed=$1 files=$2 dir=$3
  shift 3
  python3 "$SCRIPTS/gen-tree.py" --seed "$seed" --files "$files" --out "$dir" "$@"
}

# walk MNT VOLUME_ID OUT [--ntfs]: writes the oracle listing of a mount.
walk() {
  local mnt=$1 id=$2 out=$3
  shift 3
  python3 "$SCRIPTS/oracle-walk.py" "$mnt" "$@" > "$out/files-${id//\//-}.jsonl"
}

# place SRC DISK OFFSET: writes SRC into DISK at byte OFFSET, keeping holes.
place() {
  dd if="$1" of="$2" bs=1M oflag=seek_bytes seek="$3" conv=notrunc,sparse status=none
}

# extract DISK OFFSET SIZE OUT: copies a byte range of DISK to OUT (sparse).
extract() {
  dd if="$1" of="$4" bs=1M iflag=skip_bytes,count_bytes skip="$2" count="$3" conv=sparse status=none
  truncate -s "$3" "$4"
}

# sfdisk_json DISK SECTOR: sfdisk's view of DISK's partition table, with
# nodes named disk.imgN. sfdisk learns the sector size from a loop device.
sfdisk_json() {
  local dev
  dev=$(losetup -f --show -r -b "$2" "$1")
  sfdisk --json "$dev" | sed -E "s#${dev}p?([0-9]+)#$(basename "$1")\1#g; s#\"${dev}\"#\"$(basename "$1")\"#g"
  losetup -d "$dev"
}

# part_offset DISK N SECTOR / part_size DISK N SECTOR: bytes, from sfdisk.
part_field() {
  sfdisk_json "$1" "$3" | python3 -c "
import json,sys
t=json.load(sys.stdin)['partitiontable']
p=[p for p in t['partitions'] if p['node'] == '$(basename "$1")$2'][0]
print(p['$4'] * $3)"
}
part_offset() { part_field "$1" "$2" "$3" start; }
part_size() { part_field "$1" "$2" "$3" size; }

# lvm_run CMD ARGS...: an LVM command that sees only this build's devices and
# never needs device-mapper.
lvm_run() {
  local cmd=$1
  shift
  "$cmd" --devices "$LVM_DEVICES" "$@"
}

# facts_put OUT KEY JSON: adds one top-level key to OUT/facts.json.
facts_put() {
  python3 - "$1/facts.json" "$2" "$3" <<'PY'
import json, os, sys
path, key, value = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
facts = json.load(open(path)) if os.path.exists(path) else {}
facts[key] = value
json.dump(facts, open(path, "w"), indent=1, sort_keys=True)
PY
}

# finish OUT NAME: the marker that the image and its oracle are complete.
finish() {
  python3 - "$1" "$2" <<'PY'
import json, os, sys
out, name = sys.argv[1], sys.argv[2]
disks = sorted(f for f in os.listdir(out) if f.startswith("disk") and f.endswith(".img"))
json.dump({"name": name, "disks": disks}, open(os.path.join(out, "manifest.json"), "w"), indent=1)
PY
}
