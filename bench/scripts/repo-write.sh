#!/usr/bin/env bash
# Repository write throughput against `zstd -T0 -3` writing the same bytes to a file, in one run,
# for incompressible and for compressible data; and restore read throughput.
#
# Makes (once, cached in $PLUCK_BENCH_DIR, default /var/tmp/pluck-bench) SIZE MiB of random
# bytes and SIZE MiB of text-like bytes, then, RUNS times each, alternated: pluck writes the
# file as a snapshot into a fresh repository (zstd:3, 1 MiB chunks, packs fsynced) and reads it
# back; zstd -T0 -3 compresses it to a file (then sync). Prints medians in MB/s and the ratio
# pluck / zstd (target >= 1.0).
#
# usage: bench/scripts/repo-write.sh [SIZE_MIB] [RUNS]    (needs zstd)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
size=${1:-1024}
runs=${2:-3}
work=${PLUCK_BENCH_DIR:-/var/tmp/pluck-bench}
mkdir -p "$work"
command -v zstd >/dev/null || { echo "repo-write.sh: needs zstd (apt-get install zstd)" >&2; exit 1; }
random=$work/random-$size.bin
text=$work/text-$size.bin
[ -f "$random" ] || head -c $((size * 1048576)) /dev/urandom > "$random"
[ -f "$text" ] || python3 - "$text" "$size" <<'PY'
import random, sys
path, size = sys.argv[1], int(sys.argv[2]) << 20
rng = random.Random(7)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
with open(path, "w") as f:
    written = 0
    while written < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(5, 15))) + "\n"
        f.write(line)
        written += len(line)
PY
(cd "$root" && mvn -B -q -Dstyle.color=never -DskipTests -pl bench -am package) >&2
cp="$root/cli/target/pluck.jar:$root/bench/target/classes"
results=()
for i in $(seq "$runs"); do
  for kind in random text; do
    input=$work/$kind-$size.bin
    rm -rf "$work/repo"
    out=$(java -XX:+UseSerialGC -cp "$cp" dev.pluck.bench.RepoWrite "$work/repo" "$input" zstd:3)
    w=$(echo "$out" | awk '/^write/ {print $2}')
    r=$(echo "$out" | awk '/^read/ {print $2}')
    stored=$(du -sb "$work/repo" | cut -f1)
    start=$(date +%s.%N)
    zstd -q -T0 -3 -f "$input" -o "$work/out.zst" && sync "$work/out.zst"
    z=$(python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$start" "$(date +%s.%N)")
    zsize=$(stat -c %s "$work/out.zst")
    results+=("$kind $w $r $z $stored $zsize")
  done
done
rm -rf "$work/repo" "$work/out.zst"
printf '%s\n' "${results[@]}" | python3 -c "
import statistics, sys
size = $size * 1048576
rows = [l.split() for l in sys.stdin if l.strip()]
print(f'repository write of {size >> 20} MiB, zstd:3, $runs runs each, alternated with zstd -T0 -3')
for kind in ('random', 'text'):
    r = [x for x in rows if x[0] == kind]
    w = statistics.median(float(x[1]) for x in r); rd = statistics.median(float(x[2]) for x in r)
    z = statistics.median(float(x[3]) for x in r)
    print(f'{kind:6}  pluck write {size / w / 1e6:7.0f} MB/s  zstd {size / z / 1e6:7.0f} MB/s  ratio {z / w:.2f} (target >= 1.0)'
          f'  stored {int(r[0][4]) / size:.2f} of input (zstd {int(r[0][5]) / size:.2f})  restore read {size / rd / 1e6:7.0f} MB/s')
"
