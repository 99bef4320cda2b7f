#!/bin/bash
# timeout: 600
# Contract clauses 7.1 / 7.2: stock partition handling on host loop devices.
# losetup -P on an image with a two-partition (sfdisk) table gives
# /dev/loopNp1 and p2, /sys/block/loopN/loopNp1 and p2 and the right sizes in
# /proc/partitions; without -P there are no partitions and BLKRRPART fails;
# detaching removes the partitions.  Runs on both kernels.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds losetup sfdisk blockdev mkfs.ext4 cmp

mkimg img 64
defer detach_file "$SCRATCH/img"
printf 'label: dos\nstart=2048, size=32768, type=83\nstart=34816, size=65536, type=83\n' |
	sfdisk -q img >sfdisk.out 2>&1 || { cat sfdisk.out; fail "sfdisk img"; }
assert_eq "$(sfdisk -d img | grep -c 'start=')" 2 "two partitions in the image"

# --- without -P: no partitions, BLKRRPART refused
dev=$(losetup -f --show img) || fail "losetup -f --show img"
n=$(num_of_dev "$dev") || fail "losetup printed '$dev'"
nap 0.2
assert_absent "${dev}p1" "no partition node without -P"
assert_absent "/sys/block/loop$n/loop${n}p1" "no sysfs partition without -P"
expect_fail "blockdev --rereadpt without PARTSCAN" blockdev --rereadpt "$dev"
losetup -d "$dev" || fail "losetup -d $dev"

# --- with -P
dev=$(losetup -P -f --show img) || fail "losetup -P -f --show img"
n=$(num_of_dev "$dev") || fail "losetup printed '$dev'"
wait_present "${dev}p2" 5 || fail "${dev}p2 did not appear"
assert_blk "${dev}p1" "partition 1 node"
assert_blk "${dev}p2" "partition 2 node"
assert_exists "/sys/block/loop$n/loop${n}p1" "sysfs partition 1"
assert_exists "/sys/block/loop$n/loop${n}p2" "sysfs partition 2"
assert_eq "$(cat "/sys/block/loop$n/loop${n}p1/start")" 2048 "p1 start (sectors)"
assert_eq "$(cat "/sys/block/loop$n/loop${n}p2/size")" 65536 "p2 size (sectors)"
assert_eq "$(awk -v p="loop${n}p1" '$4 == p {print $3}' /proc/partitions)" 16384 "/proc/partitions p1 (KiB)"
assert_eq "$(awk -v p="loop${n}p2" '$4 == p {print $3}' /proc/partitions)" 32768 "/proc/partitions p2 (KiB)"
assert_eq "$(blockdev --getsize64 "${dev}p1")" 16777216 "blockdev --getsize64 p1"
assert_eq "$(cat "/sys/block/loop$n/loop/partscan")" 1 "partscan flag in sysfs"

# a filesystem on p2 lands at the partition's offset in the image
mkfs.ext4 -q "${dev}p2" || fail "mkfs.ext4 ${dev}p2"
mkdata data 512
mkdir -p m
mount "${dev}p2" m || fail "mount ${dev}p2"
defer umount m
cp data m/data && sync || fail "write to p2"
umount m || fail "umount m"
dd if=img bs=512 skip=34816 count=65536 status=none >p2.img
e2fsck -fn p2.img >fsck.out 2>&1 || { cat fsck.out; fail "ext4 at p2's offset of the image"; }
ok "ext4 made on p2 sits at p2's offset in the image"

# BLKRRPART on a PARTSCAN device after changing the table: p2 goes away
printf 'label: dos\nstart=2048, size=32768, type=83\n' |
	sfdisk -q --no-reread "$dev" >sfdisk2.out 2>&1 || { cat sfdisk2.out; fail "sfdisk $dev"; }
blockdev --rereadpt "$dev" 2>/dev/null
wait_gone "${dev}p2" 5 || fail "${dev}p2 still there after the table lost it"
assert_blk "${dev}p1" "p1 still there"
ok "re-read table: p2 gone"

losetup -d "$dev" || fail "losetup -d $dev"
wait_gone "${dev}p1" 5 || fail "${dev}p1 still there after losetup -d"
wait_gone "/sys/block/loop$n/loop${n}p1" 5 || fail "sysfs p1 still there after losetup -d"
grep -qw "loop${n}p1" /proc/partitions && fail "/proc/partitions still lists loop${n}p1"
ok "partitions gone after losetup -d"
