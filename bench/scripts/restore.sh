#!/usr/bin/env bash
# pluck restores vs their peers, in one run:
#   one file:  pluck restore of a 1 GiB file from a snapshot  vs  icat of the same file from the raw image
#   a volume:  pluck restore --volume --image of a 2 GiB ext4  vs  nbdcopy of the original export to a file
#
# Builds (once, cached) a 2 GiB ext4 image holding /big.bin (1 GiB: half random,
# half text-like, as fill-folder.py makes data) and 700 MiB more of files, backs it
# up twice (files mode, volumes mode) into repositories in the work directory,
# then times each pair as whole processes, alternating, RUNS times each, with the
# page cache warm for both sides, and prints the medians and the ratios
# (pluck / peer: below 1 is faster than the peer).
#
# usage: bench/scripts/restore.sh [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-3}
for t in qemu-nbd nbdcopy icat mkfs.ext4 losetup python3 debugfs; do
  command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }
done

work=${PLUCK_BENCH_DIR:-/var/tmp/pluck-bench}
mkdir -p "$work"
image=$work/restore-2g.raw
if [ ! -f "$image" ]; then
  echo "making $image (2 GiB ext4: a 1 GiB file and 700 MiB of others)..." >&2
  rm -f "$image.tmp"
  truncate -s 2G "$image.tmp"
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$image.tmp"
  loop=$(losetup --find --show "$image.tmp")
  mnt=$(mktemp -d)
  trap 'umount "$mnt" 2>/dev/null; losetup -d "$loop" 2>/dev/null; rmdir "$mnt"' EXIT
  mount "$loop" "$mnt"
  python3 - "$mnt/big.bin" <<'PY'
import random, sys
rnd = random.Random(7)
words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 12))) for _ in range(5000)]
with open(sys.argv[1], "wb") as f:
    for i in range(1024):  # 1 MiB at a time, alternately random and text-like
        if i % 2:
            f.write(rnd.randbytes(1 << 20))
        else:
            t = bytearray()
            while len(t) < 1 << 20:
                t += b" ".join(rnd.choice(words) for _ in range(200)) + b"\n"
            f.write(t[:1 << 20])
PY
  python3 "$root/bench/scripts/fill-folder.py" "$mnt/other" 700 8
  umount "$mnt"; losetup -d "$loop"; rmdir "$mnt"; trap - EXIT
  mv "$image.tmp" "$image"
fi
"$root/pluck" --version >/dev/null  # build first, outside the timing

files_repo=$work/restore-files.repo
volumes_repo=$work/restore-volumes.repo
if [ ! -d "$volumes_repo" ]; then
  rm -rf "$files_repo" "$volumes_repo"
  "$root/pluck" init --repo "$files_repo" >/dev/null
  "$root/pluck" backup --repo "$files_repo" "$image" >/dev/null
  "$root/pluck" init --repo "$volumes_repo.tmp" >/dev/null
  "$root/pluck" backup --repo "$volumes_repo.tmp" --mode volumes "$image" >/dev/null
  mv "$volumes_repo.tmp" "$volumes_repo"
fi
inode=$(debugfs -R "stat /big.bin" "$image" 2>/dev/null | sed -n 's/^Inode: \([0-9]*\).*/\1/p')
size=$(debugfs -R "stat /big.bin" "$image" 2>/dev/null | sed -n 's/.*Size: \([0-9]*\).*/\1/p' | head -1)

sock=$(mktemp -u /tmp/pluck-bench-XXXXXX.sock)
qemu-nbd --read-only --persistent --shared=8 --format=raw --socket="$sock" "$image" &
qpid=$!
out=$(mktemp -d "$work/out.XXXXXX")
trap 'kill $qpid 2>/dev/null; rm -f "$sock"; rm -rf "$out"' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
uri="nbd+unix:///?socket=$sock"
cat "$image" "$files_repo"/data/*/* "$volumes_repo"/data/*/* > /dev/null 2>&1 || true  # page cache warm for all

seconds() {  # runs "$@" with stdout to /dev/null, prints the seconds it took
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  python3 -c "print($end - $start)"
}
icat_one() { icat "$image" "$inode" > "$out/icat.bin"; }
pluck_one() { rm -rf "$out/r1"; "$root/pluck" restore --repo "$files_repo" latest --volume disk /big.bin --target "$out/r1"; }
nbdcopy_vol() { rm -f "$out/copy.img"; nbdcopy "$uri" "$out/copy.img"; }
pluck_vol() { rm -f "$out/vol.img"; "$root/pluck" restore --repo "$volumes_repo" latest --volume disk --image "$out/vol.img"; }

icat_t=(); one_t=(); copy_t=(); vol_t=()
for i in $(seq "$runs"); do
  icat_t+=("$(seconds icat_one)")
  one_t+=("$(seconds pluck_one)")
  copy_t+=("$(seconds nbdcopy_vol)")
  vol_t+=("$(seconds pluck_vol)")
done
cmp "$out/icat.bin" "$out/r1/big.bin"
python3 - "${icat_t[*]}" "${one_t[*]}" "${copy_t[*]}" "${vol_t[*]}" "$size" "$(nproc)" <<'PY'
import statistics, sys
i, o, c, v = ([float(x) for x in a.split()] for a in sys.argv[1:5])
size, cores = int(sys.argv[5]), sys.argv[6]
mi, mo, mc, mv = (statistics.median(x) for x in (i, o, c, v))
runs = lambda xs: " ".join(f"{x:.2f}" for x in xs)
print(f"image: 2 GiB ext4, /big.bin of {size / 2**30:.2f} GiB (half random, half text) and 700 MiB of other files; {cores} cores; {len(i)} runs each, alternated")
print(f"icat IMAGE INODE > file                  median {mi:6.2f} s  (runs: {runs(i)})")
print(f"pluck restore /big.bin from a snapshot   median {mo:6.2f} s  (runs: {runs(o)})")
print(f"nbdcopy of the original export           median {mc:6.2f} s  (runs: {runs(c)})")
print(f"pluck restore --volume --image           median {mv:6.2f} s  (runs: {runs(v)})")
print(f"ratio one file / icat:     {mo / mi:.2f}")
print(f"ratio volume / nbdcopy:    {mv / mc:.2f}")
PY
