#!/usr/bin/env bash
# A backup of a volume with 1,000,000 files in a 512 MiB heap: a full backup,
# then one carried over from it (the parent's catalog is read back), both with
# -Xmx512m; prints their times and peak resident memory.
#
# The ext4 (1,000 folders of 1,000 files; most empty, one in eight with a
# few dozen bytes inline) is built once and cached.
#
# usage: bench/scripts/million-files.sh [FILES=1000000]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
files=${1:-1000000}
for t in mkfs.ext4 losetup python3; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }; done
work=${PLUCK_BENCH_DIR:-/var/tmp/pluck-bench}
mkdir -p "$work"
image=$work/files-$files.ext4
if [ ! -f "$image" ]; then
  echo "making $image ($files files)..." >&2
  rm -f "$image.tmp"
  truncate -s 2G "$image.tmp"
  mkfs.ext4 -q -O inline_data -I 256 -N $((files + 20000)) -E lazy_itable_init=0 "$image.tmp"
  mnt=$(mktemp -d)
  mount -o loop "$image.tmp" "$mnt"
  trap 'umount "$mnt" 2>/dev/null; rmdir "$mnt"' EXIT
  python3 - "$mnt" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
per = 1000
for d in range((n + per - 1) // per):
    folder = os.path.join(root, f"d{d:04d}")
    os.mkdir(folder)
    for f in range(min(per, n - d * per)):
        with open(os.path.join(folder, f"file-{f:04d}.txt"), "wb") as out:
            if f % 8 == 0:
                out.write(b"a few dozen bytes of content, inline %d\n" % f)
PY
  umount "$mnt"; rmdir "$mnt"; trap - EXIT
  mv "$image.tmp" "$image"
fi
"$root/pluck" --version >/dev/null
repo=$(mktemp -d "$work/repo.XXXXXX")
trap 'rm -rf "$repo"' EXIT
"$root/pluck" init --repo "$repo" >/dev/null
run() {  # label [source args...]: one backup with -Xmx512m, its wall time and peak RSS
  local label=$1 log
  shift
  log=$(mktemp)
  PLUCK_JAVA_OPTS=-Xmx512m /usr/bin/time -f "%e %M" -o "$log" "$root/pluck" backup --repo "$repo" "${@:-$image}" --json > "$log.out"
  read -r secs rss < "$log"
  python3 - "$label" "$secs" "$rss" "$log.out" <<'PY'
import json, sys
label, secs, rss, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = json.load(open(out))
f = r["files"]
print(f"{label:12s} {secs:7.1f} s  peak RSS {rss / 1024:6.0f} MiB  files new {f['new']}, changed {f['changed']}, unchanged {f['unchanged']}; "
      f"read {r['bytesRead']['metadata'] / 2**20:.0f} MiB of metadata; complete: {r['complete']}")
PY
  rm -f "$log" "$log.out"
}
echo "ext4 with $files files, -Xmx512m, $(nproc) cores"
run full
run incremental

# The same image behind qemu-storage-daemon with a dirty bitmap, as a VM's chain is read: the
# first backup keeps the metadata it reads, the next (no writes) takes it from the repository.
if command -v qemu-storage-daemon >/dev/null; then
  sock=$(mktemp -u /tmp/pluck-bench-XXXXXX.sock)
  qemu-storage-daemon --blockdev driver=file,node-name=file0,filename="$image",read-only=on \
    --blockdev driver=raw,node-name=fmt0,file=file0,read-only=on \
    --nbd-server addr.type=unix,addr.path="$sock" \
    --chardev socket,id=mon,path="$sock.qmp",server=on,wait=off --monitor chardev=mon &
  qsd=$!
  trap 'kill $qsd 2>/dev/null; rm -f "$sock" "$sock.qmp"; rm -rf "$repo"' EXIT
  for _ in $(seq 100); do [ -S "$sock.qmp" ] && break; sleep 0.05; done
  python3 - "$sock.qmp" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
f.readline()
for cmd in [{"execute": "qmp_capabilities"},
            {"execute": "block-dirty-bitmap-add", "arguments": {"node": "fmt0", "name": "b0"}},
            {"execute": "block-export-add", "arguments": {"type": "nbd", "id": "e0", "node-name": "fmt0", "name": "x",
                                                          "bitmaps": ["b0"]}}]:
    f.write(json.dumps(cmd) + "\n"); f.flush()
    r = json.loads(f.readline())
    if "error" in r:
        sys.exit(f"{cmd['execute']}: {r['error']}")
PY
  uri="nbd+unix:///x?socket=$sock"
  run "chain full" "$uri" --bitmap b0 --chain bench
  run "chain incr" "$uri" --bitmap b0 --chain bench
fi
