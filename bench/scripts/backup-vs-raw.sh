#!/usr/bin/env bash
# pluck backups vs the raw approach (nbdcopy URI - | zstd -T0 -3 > file) on one export, in one run.
#
# Builds (once, cached) a 4 GiB GPT disk as a used VM's looks: p1 ext4 of
# 3 GiB, half the disk full (2 GiB of files, half random, half text-like, a
# 5% folder /sel of 100 MiB among them), its free space holding the data of
# deleted files, and p2 a 1 GiB swap partition full of swapped-out pages. Serves it read-only with qemu-nbd
# over a unix socket and times, as whole processes and alternating (the order
# rotating from round to round), RUNS times each:
#   raw:     nbdcopy URI - | zstd -T0 -3 > FILE
#   volumes: pluck backup --mode volumes URI        (into a new repository)
#   files:   pluck backup URI --volume p1 --include '/sel/**'   (new repository)
# and prints the medians and the ratios volumes/raw (target <= 0.5) and
# files/raw (target <= 0.1).
#
# usage: bench/scripts/backup-vs-raw.sh [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-3}
for t in qemu-nbd nbdcopy zstd sgdisk mkfs.ext4 mkswap losetup python3; do
  command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }
done

work=${PLUCK_BENCH_DIR:-/var/tmp/pluck-bench}
mkdir -p "$work"
image=$work/used-4g-v2.raw
if [ ! -f "$image" ]; then
  echo "making $image (4 GiB: 2 GiB of files, deleted data in the free space, 1 GiB of swap)..." >&2
  rm -f "$image.tmp"
  truncate -s 4G "$image.tmp"
  sgdisk -n 1:0:+3G -t 1:8300 -n 2:0:0 -t 2:8200 "$image.tmp" >/dev/null
  part() {  # part N: "OFFSET SIZE" in bytes, as sfdisk reads the table
    sfdisk --json "$image.tmp" | python3 -c "import json,sys; p=json.load(sys.stdin)['partitiontable']['partitions'][$1-1]; print(p['start']*512, p['size']*512)"
  }
  read -r off1 size1 < <(part 1)
  read -r off2 size2 < <(part 2)
  loop=$(losetup --find --show -o "$off1" --sizelimit "$size1" "$image.tmp")
  swap=$(losetup --find --show -o "$off2" --sizelimit "$size2" "$image.tmp")
  mnt=$(mktemp -d)
  trap 'umount "$mnt" 2>/dev/null; losetup -d "$loop" "$swap" 2>/dev/null; rmdir "$mnt"' EXIT
  mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "$loop"
  head -c "$size2" /dev/urandom > "$swap"  # pages swapped out
  mkswap "$swap" >/dev/null
  mount "$loop" "$mnt"
  fill=$root/bench/scripts/fill-folder.py
  # old data, deleted: what the new files do not reuse stays in the free space
  python3 "$fill" "$mnt/deleted" 2700 42
  rm -rf "$mnt/deleted"; sync
  for d in $(seq -w 0 18); do python3 "$fill" "$mnt/data$d" 100 $((43 + 10#$d)); done
  python3 "$fill" "$mnt/sel" 100 99
  umount "$mnt"; losetup -d "$loop" "$swap"; rmdir "$mnt"; trap - EXIT
  mv "$image.tmp" "$image"
fi
"$root/pluck" --version >/dev/null  # build first, outside the timing

sock=$(mktemp -u /tmp/pluck-bench-XXXXXX.sock)
qemu-nbd --read-only --persistent --shared=8 --format=raw --socket="$sock" "$image" &
qpid=$!
out=$(mktemp -d "$work/out.XXXXXX")
trap 'kill $qpid 2>/dev/null; rm -f "$sock"; rm -rf "$out"' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
uri="nbd+unix:///?socket=$sock"
cat "$image" > /dev/null  # page cache warm for all

seconds() {  # runs "$@" with stdout to /dev/null, prints the seconds it took
  local start end
  # No command pays for the write-back of the one before: the raw approach leaves 2.6 GiB of its
  # output dirty in the page cache, which the kernel writes out while the next command runs.
  sync
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  python3 -c "print($end - $start)"
}
raw() { nbdcopy "$uri" - | zstd -q -T0 -3 > "$out/raw.zst"; }
# Each backup goes into a new, empty repository, made before the clock starts: the backup is the
# one process timed, as the raw approach's one pipeline is.
fresh() { rm -rf "$1"; "$root/pluck" init --repo "$1" >/dev/null; }
volumes() { "$root/pluck" backup --repo "$out/rv" --mode volumes "$uri"; }
files() { "$root/pluck" backup --repo "$out/rf" "$uri" --volume p1 --include '/sel/**'; }

# The launcher records the classes of a verb's first run after a build (class-data sharing) as it
# exits: one untimed backup first, so no timed run pays for that.
fresh "$out/rf"; files >/dev/null; rm -rf "$out/rf"
raw_t=(); vol_t=(); files_t=()
# Each command starts from the same state: its previous output removed before the clock starts (a
# pluck backup into a new repository; the raw approach into a new file, not over 2.6 GiB it would
# first have to free). The order rotates from one round to the next, so that no command always
# follows the same one (the raw approach leaves the machine busiest: 2.6 GiB written and freed).
run_raw() { rm -f "$out/raw.zst"; raw_t+=("$(seconds raw)"); }
run_volumes() { fresh "$out/rv"; vol_t+=("$(seconds volumes)"); }
run_files() { fresh "$out/rf"; files_t+=("$(seconds files)"); }
order=(run_raw run_volumes run_files)
for i in $(seq "$runs"); do
  for j in 0 1 2; do
    ${order[$(( (i + j) % 3 ))]}
  done
done
raw_size=$(stat -c %s "$out/raw.zst")
vol_size=$(du -sb "$out/rv" | cut -f1)
python3 - "${raw_t[*]}" "${vol_t[*]}" "${files_t[*]}" "$raw_size" "$vol_size" "$(nproc)" <<'PY'
import statistics, sys
r, v, f = ([float(x) for x in a.split()] for a in sys.argv[1:4])
raw_size, vol_size, cores = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
mr, mv, mf = statistics.median(r), statistics.median(v), statistics.median(f)
runs = lambda xs: " ".join(f"{x:.2f}" for x in xs)
print(f"disk: 4 GiB GPT, ext4 p1 with 2 GiB of files (half random, half text) and deleted data in its free space, 1 GiB of swap p2; qemu-nbd, unix socket; {cores} cores; {len(r)} runs each, alternated")
print(f"raw  nbdcopy | zstd -T0 -3       median {mr:7.2f} s  (runs: {runs(r)})  output {raw_size / 2**20:.0f} MiB")
print(f"pluck backup --mode volumes      median {mv:7.2f} s  (runs: {runs(v)})  repository {vol_size / 2**20:.0f} MiB")
print(f"pluck backup, a 5% folder        median {mf:7.2f} s  (runs: {runs(f)})")
print(f"ratio volumes / raw: {mv / mr:.2f} (target <= 0.5)")
print(f"ratio files / raw:   {mf / mr:.2f} (target <= 0.1)")
PY
