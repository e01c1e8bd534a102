#!/usr/bin/env bash
# pluck ls -R --json vs The Sleuth Kit's fls on one filesystem holding many files, in one run.
#
# Builds (once, cached in $PLUCK_BENCH_DIR, default /var/tmp/pluck-bench) an
# image of FS (ext4 or ntfs) filled with a seeded tree of FILES files, then
# times as whole processes, alternated, RUNS times each:
# `pluck ls IMG --volume disk -R --json`, `fls -l -r -p IMG` (names, sizes and
# times, as pluck lists them) and `fls -r -p IMG` (names only); prints the
# medians, the ratio pluck / fls -l (target <= 0.5), and peak memory.
#
# usage: bench/scripts/ls-vs-fls.sh ext4|ntfs [FILES] [RUNS]   (ntfs needs root: an ntfs-3g mount fills it)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fs=${1:?usage: ls-vs-fls.sh ext4|ntfs [FILES] [RUNS]}
files=${2:-200000}
runs=${3:-3}
work=${PLUCK_BENCH_DIR:-/var/tmp/pluck-bench}
mkdir -p "$work"
image=$work/$fs-$files.img
if [ ! -f "$image" ]; then
  echo "making $image with $files files..." >&2
  rm -rf "$work/tree"
  python3 "$root/testdata/scripts/gen-tree.py" --seed 99 --files "$files" --out "$work/tree" \
    --max-bytes $((files * 2048)) --no-owners >/dev/null
  truncate -s $(( (files * 8192 / 1048576 + 512) ))M "$image.tmp"
  case "$fs" in
    ext4)
      mkfs.ext4 -q -F -N $((files * 2)) -d "$work/tree" "$image.tmp" ;;
    ntfs)
      mkntfs -F -q -Q "$image.tmp" >/dev/null
      mkdir -p "$work/mnt"
      ntfs-3g -o rw,big_writes "$image.tmp" "$work/mnt"
      cp -r "$work/tree/." "$work/mnt/"
      umount "$work/mnt" ;;
    *) echo "unknown filesystem $fs" >&2; exit 2 ;;
  esac
  mv "$image.tmp" "$image"
  rm -rf "$work/tree"
fi
"$root/pluck" --version >/dev/null
"$root/pluck" ls "$image" --volume disk >/dev/null   # the verb's CDS archive, outside the timing

measure() {  # prints "seconds peak-KiB" of one run
  /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" > /dev/null
  cat "$work/time.out"
}
p=(); l=(); n=()
for i in $(seq "$runs"); do
  p+=("$(measure "$root/pluck" ls "$image" --volume disk -R --json)")
  l+=("$(measure fls -l -r -p "$image")")
  n+=("$(measure fls -r -p "$image")")
done
python3 - "$fs" "$files" "${p[*]}" "${l[*]}" "${n[*]}" <<'PY'
import statistics, sys
fs, files = sys.argv[1], int(sys.argv[2])
def parse(s):
    v = s.split()
    return [float(x) for x in v[0::2]], [int(x) for x in v[1::2]]
(pt, pm), (lt, lm), (nt, nm) = parse(sys.argv[3]), parse(sys.argv[4]), parse(sys.argv[5])
mp, ml, mn = statistics.median(pt), statistics.median(lt), statistics.median(nt)
print(f"{fs} with {files} files, {len(pt)} runs each, alternated")
print(f"pluck ls -R --json   median {mp:7.2f} s  peak {max(pm) / 1024:7.1f} MiB")
print(f"fls -l -r -p         median {ml:7.2f} s  peak {max(lm) / 1024:7.1f} MiB")
print(f"fls -r -p            median {mn:7.2f} s  peak {max(nm) / 1024:7.1f} MiB")
print(f"ratio pluck / fls -l: {mp / ml:.2f} (target <= 0.5); pluck / fls names-only: {mp / mn:.2f}")
PY
