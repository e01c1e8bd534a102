#!/usr/bin/env bash
# gpt-mixed: a GPT disk like a Linux server's.
#   p1 BIOS boot (boot-code pattern)   p2 EFI system, FAT32 "EFI"
#   p3 ext4 "root" from a seeded tree  p4 Linux swap "swap0"
#   p5 LVM PV of VG vg0: home (ext4 "home", seeded tree), swap (swap
#      "lvswap"), data (NTFS "data", seeded tree)
# The MBR boot-code area holds a pattern too, as a real boot loader would.
#
# usage: build-gpt-mixed.sh OUT [SECTOR_SIZE]   (512, or 4096 for a 4Kn disk)
source "$(dirname "$0")/lib.sh"
need sgdisk sfdisk mkfs.ext4 mkfs.vfat mcopy mkswap mkntfs ntfs-3g pvcreate vgcreate lvcreate
OUT=$1
SECTOR=${2:-512}
mkdir -p "$OUT"
work_dir "$OUT"
DISK=$OUT/disk.img
rm -f "$DISK"

if [ "$SECTOR" = 4096 ]; then
  ESP_MIB=260   # FAT32 needs 65525 clusters: 260 MiB on a 4Kn disk, as Windows uses
  DISK_MIB=800
  EXT_OPTS=(-b 4096)
else
  ESP_MIB=64
  DISK_MIB=512
  EXT_OPTS=()
fi
truncate -s "${DISK_MIB}M" "$DISK"
# Fixed ids the root's /etc/fstab names, as an installer would write them.
ESP_PARTUUID=6b4e1c3a-52d1-4a8e-9c2f-1d0e5f7a8b90
SWAP_UUID=dc759184-bb28-4f7f-8485-389eb148d67a

loop_attach DISKDEV "$DISK" "$SECTOR"
sgdisk -a $((MiB / SECTOR)) \
  -n 1:0:+1M   -t 1:EF02 -c 1:bios \
  -n 2:0:+${ESP_MIB}M -t 2:EF00 -c 2:"EFI system" -u 2:$ESP_PARTUUID \
  -n 3:0:+160M -t 3:8300 -c 3:root \
  -n 4:0:+16M  -t 4:8200 -c 4:swap \
  -n 5:0:+200M -t 5:8E00 -c 5:lvm \
  "$DISKDEV" >/dev/null
loop_detach "$DISKDEV"
# Boot code where a boot loader puts it: MBR bytes 0-439 and the BIOS boot partition.
python3 -c "import random,sys; sys.stdout.buffer.write(random.Random(7).randbytes(440))" > "$WORK/bootcode"
dd if="$WORK/bootcode" of="$DISK" conv=notrunc status=none
P1=$(part_offset "$DISK" 1 "$SECTOR")
python3 -c "import random,sys; sys.stdout.buffer.write(random.Random(8).randbytes(65536))" > "$WORK/core"
place "$WORK/core" "$DISK" "$P1"

part() { # part N VAR: attaches partition N as VAR
  loop_attach "$2" "$DISK" "$SECTOR" "$(part_offset "$DISK" "$1" "$SECTOR")" "$(part_size "$DISK" "$1" "$SECTOR")"
}

# p2: the EFI system partition, filled with mtools from a small tree.
part 2 ESP
mkfs.vfat -F 32 -S "$SECTOR" -n EFI "$ESP" >/dev/null
mkdir -p "$WORK/esp/EFI/BOOT" "$WORK/esp/EFI/debian"
python3 -c "import random,sys; sys.stdout.buffer.write(random.Random(9).randbytes(150000))" > "$WORK/esp/EFI/BOOT/BOOTX64.EFI"
python3 -c "import random,sys; sys.stdout.buffer.write(random.Random(10).randbytes(90000))" > "$WORK/esp/EFI/debian/grubx64.efi"
printf 'configfile $prefix/grub.cfg\n' > "$WORK/esp/EFI/debian/grub.cfg"
MTOOLS_SKIP_CHECK=1 mcopy -s -m -i "$ESP" "$WORK/esp/EFI" ::/
# FAT has no kernel driver here: the oracle is the source tree mcopy copied
# (paths, sizes, contents; FAT keeps mtimes to 2 s and has no owners).
walk "$WORK/esp" p2 "$OUT"

# p3: ext4 root from a seeded tree.
gen_tree 1 3000 "$WORK/root" --max-bytes $((56 * MiB)) > "$WORK/root.counts"
# A Linux root: /etc/fstab in the forms distros write (LABEL=, PARTUUID=, UUID=,
# /dev/mapper/VG-LV, /dev/VG/LV), and the empty directories it mounts on.
mkdir -p "$WORK/root/etc" "$WORK/root/home" "$WORK/root/srv/data" "$WORK/root/boot/efi"
cat > "$WORK/root/etc/fstab" <<FSTAB
# /etc/fstab: static file system information.
# <file system>          <mount point>  <type>   <options>           <dump> <pass>
LABEL=root               /              ext4     errors=remount-ro   0      1
PARTUUID=$ESP_PARTUUID   /boot/efi      vfat     umask=0077          0      1
/dev/mapper/vg0-home     /home          ext4     defaults,nodev      0      2
/dev/vg0/data            /srv/data      ntfs-3g  defaults            0      0
UUID=$SWAP_UUID          none           swap     sw                  0      0
/dev/mapper/vg0-swap     none           swap     sw                  0      0
FSTAB
printf 'web1\n' > "$WORK/root/etc/hostname"
part 3 ROOT
mkfs.ext4 -q -F -L root "${EXT_OPTS[@]}" -d "$WORK/root" "$ROOT"
facts_put "$OUT" tree-p3 "$(cat "$WORK/root.counts")"
mount_ext "$ROOT" "$WORK/m3"
walk "$WORK/m3" p3 "$OUT"
unmount "$WORK/m3"

# p4: swap partition.
part 4 SWAP
mkswap -L swap0 -U "$SWAP_UUID" "$SWAP" >/dev/null

# p5: LVM. LVM writes its label and metadata through the loop device; LV
# contents are written afterwards at the offsets LVM reports.
P5=$(part_offset "$DISK" 5 "$SECTOR")
part 5 PV
LVM_DEVICES=$PV
lvm_run pvcreate -q "$PV" >/dev/null
lvm_run vgcreate -q -s 4M vg0 "$PV" >/dev/null
for lv in "home 64M" "swap 16M" "data 96M"; do
  set -- $lv
  lvm_run lvcreate -q --driverloaded n -an -Zn -L "$2" -n "$1" vg0 >/dev/null 2>&1
done
python3 "$SCRIPTS/lvmap.py" layout --vg vg0 --pv "$PV=0:$P5" --devices "$PV" > "$OUT/lvm-layout.jsonl"
loop_detach "$PV"

truncate -s 64M "$WORK/home.img"
gen_tree 2 1500 "$WORK/home" --max-bytes $((24 * MiB)) > "$WORK/home.counts"
mkfs.ext4 -q -F -L home "${EXT_OPTS[@]}" -d "$WORK/home" "$WORK/home.img"
facts_put "$OUT" tree-vg0/home "$(cat "$WORK/home.counts")"
python3 "$SCRIPTS/lvmap.py" write "$OUT/lvm-layout.jsonl" vg0/home "$WORK/home.img" "$DISK"

truncate -s 16M "$WORK/lvswap.img"
mkswap -L lvswap "$WORK/lvswap.img" >/dev/null 2>&1
python3 "$SCRIPTS/lvmap.py" write "$OUT/lvm-layout.jsonl" vg0/swap "$WORK/lvswap.img" "$DISK"

truncate -s 96M "$WORK/data.img"
mkntfs -F -q -Q -L data -s "$SECTOR" "$WORK/data.img" >/dev/null 2>&1
gen_tree 3 400 "$WORK/data" --max-bytes $((16 * MiB)) --no-owners > "$WORK/data.counts"
facts_put "$OUT" tree-vg0/data "$(cat "$WORK/data.counts")"
mount_ntfs "$WORK/data.img" "$WORK/md" rw
cp -rP --preserve=timestamps,links "$WORK/data/." "$WORK/md/"
unmount_ntfs "$WORK/md"
python3 "$SCRIPTS/lvmap.py" write "$OUT/lvm-layout.jsonl" vg0/data "$WORK/data.img" "$DISK"

# The oracle of the LVs, read back from the disk image at LVM's offsets.
for lv in home swap data; do
  python3 "$SCRIPTS/lvmap.py" read "$OUT/lvm-layout.jsonl" vg0/$lv "$WORK/lv-$lv" "$DISK"
done
mount_ext "$WORK/lv-home" "$WORK/mh"
walk "$WORK/mh" vg0/home "$OUT"
unmount "$WORK/mh"
mount_ntfs "$WORK/lv-data" "$WORK/mdr" ro
walk "$WORK/mdr" vg0/data "$OUT" --ntfs
unmount_ntfs "$WORK/mdr"

# Partition table and volumes, as sfdisk and blkid see them.
sfdisk_json "$DISK" "$SECTOR" > "$OUT/partitions.json"
: > "$OUT/volumes.jsonl"
for n in 1 2 3 4 5; do
  python3 "$SCRIPTS/volinfo.py" --id p$n --kind partition --file "$DISK" \
    --offset "$(part_offset "$DISK" $n "$SECTOR")" --size "$(part_size "$DISK" $n "$SECTOR")" >> "$OUT/volumes.jsonl"
done
for lv in home swap data; do
  python3 "$SCRIPTS/volinfo.py" --id vg0/$lv --kind lv --file "$WORK/lv-$lv" --layout "$OUT/lvm-layout.jsonl" >> "$OUT/volumes.jsonl"
done
facts_put "$OUT" sectorSize "$SECTOR"
cp "$WORK/bootcode" "$OUT/mbr-bootcode.bin"
finish "$OUT" gpt-mixed
