#!/usr/bin/env bash
# pluck nbd copy vs nbdcopy on one export, in one run.
#
# Serves a fully allocated export of random data (default 8 GiB) with
# qemu-nbd over a unix socket, then times, as whole processes and
# alternating, `pluck nbd copy URI -` (to /dev/null) and `nbdcopy URI null:`,
# RUNS times each, and prints the medians and the throughput ratio
# (pluck / nbdcopy; >= 1.0 means pluck is at least as fast).
#
# 8 GiB by default, a small VM disk: the target is the copy's throughput, and
# pluck's process start (JVM, picocli, Netty: ~0.16 s against nbdcopy's
# ~0.01 s) is a fixed cost that weighs a fifth of a 2 GiB run
# (docs/PERFORMANCE.md has both sizes).
#
# usage: bench/scripts/nbd-copy.sh [SIZE_GIB=8] [RUNS=5]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
size_gib=${1:-8}
runs=${2:-5}
for t in qemu-nbd nbdcopy python3; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }; done

work=${PLUCK_BENCH_DIR:-/var/tmp/pluck-bench}
mkdir -p "$work"
image=$work/random-${size_gib}g.raw
if [ ! -f "$image" ] || [ "$(stat -c %s "$image")" != $((size_gib << 30)) ]; then
  echo "making $image ($size_gib GiB of random data)..." >&2
  head -c $((size_gib << 30)) /dev/urandom > "$image.tmp" && mv "$image.tmp" "$image"
fi
"$root/pluck" --version >/dev/null  # build first, outside the timing

sock=$(mktemp -u /tmp/pluck-bench-XXXXXX.sock)
qemu-nbd --read-only --persistent --shared=8 --format=raw --socket="$sock" "$image" &
qpid=$!
trap 'kill $qpid 2>/dev/null; rm -f "$sock"' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
uri="nbd+unix:///?socket=$sock"
cat "$image" > /dev/null  # page cache warm for both

time_of() {  # prints seconds of one run of the command
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null
  end=$(date +%s.%N)
  python3 -c "print($end - $start)"
}

# The launcher records the classes of a verb's first run after a build (class-data sharing) as it
# exits: one untimed copy first, so no timed run pays for that.
"$root/pluck" nbd copy "$uri" - > /dev/null
pluck_times=()
nbdcopy_times=()
for i in $(seq "$runs"); do
  nbdcopy_times+=("$(time_of nbdcopy "$uri" null:)")
  pluck_times+=("$(time_of "$root/pluck" nbd copy "$uri" -)")
done
python3 - "$size_gib" "${pluck_times[*]}" "${nbdcopy_times[*]}" <<'PY'
import statistics, sys
size = int(sys.argv[1]) << 30
p = [float(x) for x in sys.argv[2].split()]
n = [float(x) for x in sys.argv[3].split()]
mp, mn = statistics.median(p), statistics.median(n)
print(f"export: {size >> 30} GiB of random data, qemu-nbd --shared=8, unix socket; {len(p)} runs each, alternated")
print(f"pluck nbd copy URI -   median {mp:.3f} s  {size / mp / 1e6:8.0f} MB/s  (runs: {' '.join(f'{x:.2f}' for x in p)})")
print(f"nbdcopy URI null:      median {mn:.3f} s  {size / mn / 1e6:8.0f} MB/s  (runs: {' '.join(f'{x:.2f}' for x in n)})")
print(f"ratio (pluck throughput / nbdcopy throughput): {mn / mp:.2f}")
PY
