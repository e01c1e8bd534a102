#!/usr/bin/env bash
# ntfs-features: a bare NTFS filesystem (volume "disk") made by mkntfs and
# filled through ntfs-3g with what a Windows volume holds:
#   /fragmented.bin  scattered clusters, $DATA spread over extension records
#                    through an $ATTRIBUTE_LIST
#   /tree            a deep seeded tree          /many   5,000 files in one directory
#   /compressed      LZNT1-compressed files (not on 64 KiB clusters: NTFS
#                    cannot compress there)
#   /sparse.bin      sparse runs                 /streams  alternate data streams
#   /links           hard links, an Interix symlink (ntfs-3g's ln -s), a
#                    reparse-point symlink and a junction
#   /names           unicode and odd names       /pagefile.sys /hiberfil.sys
# usage: build-ntfs-features.sh OUT CLUSTER_SIZE   (4096 or 65536)
source "$(dirname "$0")/lib.sh"
need mkntfs ntfs-3g setfattr
OUT=$1
CLUSTER=$2
mkdir -p "$OUT"
work_dir "$OUT"
IMG=$OUT/disk.img
rm -f "$IMG"
truncate -s 256M "$IMG"
mkntfs -F -q -Q -c "$CLUSTER" -L "ntfs-$CLUSTER" "$IMG" >/dev/null 2>&1
COMPRESS=$([ "$CLUSTER" -le 4096 ] && echo yes || echo no)

M=$WORK/m
mount_ntfs "$IMG" "$M" rw "$([ $COMPRESS = yes ] && echo compression)"

# First, while the volume is empty enough to be filled: the fragmented file.
python3 "$SCRIPTS/ntfs-fragment.py" "$M" fragmented.bin "$CLUSTER" 400 51

gen_tree 41 600 "$WORK/tree" --max-bytes $((16 * MiB)) --no-owners > "$WORK/tree.counts"
facts_put "$OUT" tree-disk/tree "$(cat "$WORK/tree.counts")"
mkdir "$M/tree"
cp -rP --preserve=timestamps,links "$WORK/tree/." "$M/tree/"

mkdir "$M/many"
python3 -c "
for i in range(5000):
    with open(f'$M/many/file-{i:04d}.dat', 'wb') as f:
        f.write(b'%d\n' % i * (i % 7))"

if [ $COMPRESS = yes ]; then
  mkdir "$M/compressed"
  setfattr -h -v 0x00000800 -n system.ntfs_attrib_be "$M/compressed"
  python3 - "$M/compressed" <<'PY'
import random, sys
d = sys.argv[1]
rng = random.Random(42)
words = b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do".split()
with open(f"{d}/text.txt", "wb") as f:
    f.write(b" ".join(rng.choice(words) for _ in range(200000)))
with open(f"{d}/random.bin", "wb") as f:
    f.write(rng.randbytes(300000))
with open(f"{d}/mixed.bin", "wb") as f:
    for _ in range(20):
        f.write(b"\0" * 70000 + rng.randbytes(5000) + b"abc" * 10000)
with open(f"{d}/small.txt", "wb") as f:
    f.write(b"small compressed file\n" * 10)
PY
fi

python3 - "$M/sparse.bin" <<'PY'
import random, sys
rng = random.Random(43)
with open(sys.argv[1], "wb") as f:
    for off in (0, 3 << 20, (9 << 20) + 4097):
        f.seek(off); f.write(rng.randbytes(70000))
    f.truncate(16 << 20)
PY

mkdir -p "$M/streams/dir-with-stream"
printf 'main stream\n' > "$M/streams/file.txt"
printf 'first alternate stream\n' > "$M/streams/file.txt:one"
python3 -c "import random; open('$M/streams/file.txt:big','wb').write(random.Random(44).randbytes(200000))"
printf '[ZoneTransfer]\r\nZoneId=3\r\n' > "$M/streams/file.txt:Zone.Identifier"
: > "$M/streams/empty-main.txt"
printf 'only the stream has data\n' > "$M/streams/empty-main.txt:data"
printf 'a stream on a directory\n' > "$M/streams/dir-with-stream:dirstream"

mkdir -p "$M/links/target-dir"
printf 'link target\n' > "$M/links/target.txt"
ln "$M/links/target.txt" "$M/links/hard-link.txt"
ln "$M/links/target.txt" "$M/links/target-dir/hard-link-2.txt"
ln -s target.txt "$M/links/interix-symlink"
: > "$M/links/reparse-symlink"
mkdir "$M/links/junction"
python3 - "$M/links" <<'PY'
import struct, subprocess, sys
d = sys.argv[1]
def u(s): return s.encode("utf-16le")
# IO_REPARSE_TAG_SYMLINK, relative (flags 1): SymbolicLinkReparseBuffer.
sub, pr = u("target.txt"), u("target.txt")
buf = struct.pack("<HHHHI", 0, len(sub), len(sub), len(pr), 1) + sub + pr
sym = struct.pack("<IHH", 0xA000000C, len(buf), 0) + buf
# IO_REPARSE_TAG_MOUNT_POINT: MountPointReparseBuffer, NUL-terminated names.
sub, pr = u("\\??\\C:\\Users\\Public"), u("C:\\Users\\Public")
buf = struct.pack("<HHHH", 0, len(sub), len(sub) + 2, len(pr)) + sub + b"\0\0" + pr + b"\0\0"
junction = struct.pack("<IHH", 0xA0000003, len(buf), 0) + buf
for name, data in (("reparse-symlink", sym), ("junction", junction)):
    subprocess.run(["setfattr", "-h", "-n", "system.ntfs_reparse_data", "-v", "0x" + data.hex(),
                    f"{d}/{name}"], check=True)
PY

mkdir -p "$M/names"
for n in "with space" "ünïcödé-名前" "emoji-🎉" "-leading-dash" "UPPER-lower" "$(printf 'n%.0s' $(seq 1 255))"; do
  printf '%s\n' "$n" > "$M/names/$n"
done
printf 'read-only\n' > "$M/names/readonly.txt"
setfattr -h -v 0x00000021 -n system.ntfs_attrib_be "$M/names/readonly.txt"

python3 - "$M" <<'PY'
import random, sys
m = sys.argv[1]
rng = random.Random(45)
with open(f"{m}/pagefile.sys", "wb") as f:
    f.write(rng.randbytes(8 << 20))
with open(f"{m}/hiberfil.sys", "wb") as f:
    f.write(b"HIBR" + rng.randbytes(4096 - 4) + b"\0" * ((4 << 20) - 4096))
PY
setfattr -h -v 0x00000026 -n system.ntfs_attrib_be "$M/pagefile.sys"
setfattr -h -v 0x00000026 -n system.ntfs_attrib_be "$M/hiberfil.sys"
unmount_ntfs "$M"

mount_ntfs "$IMG" "$WORK/r" ro
walk "$WORK/r" disk "$OUT" --ntfs
unmount_ntfs "$WORK/r"
python3 "$SCRIPTS/volinfo.py" --id disk --kind disk --file "$IMG" > "$OUT/volumes.jsonl"
facts_put "$OUT" clusterSize "$CLUSTER"
facts_put "$OUT" compression "$([ $COMPRESS = yes ] && echo true || echo false)"
finish "$OUT" "ntfs-features-$CLUSTER"
