#!/bin/bash
# timeout: 600
# Contract clauses 7.1 (loopfs compiled out: stock loop behaviour) and 7.2
# (loopfs compiled in, no instance mounted: host loop behaviour unchanged).
# Stock loop through unmodified util-linux on the host's /dev:
# losetup -f --show / -d (LOOP_CTL_GET_FREE + LOOP_CONFIGURE, which
# util-linux >= 2.36 uses to attach), read-only, offset and size limit,
# sector size, capacity change, data through the device, mount -o loop with
# autoclear.  Runs on both kernels.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds losetup blockdev mkfs.ext4 cmp dd findmnt od

mkimg img 32
mkdata pat 1024
defer detach_file "$SCRATCH/img"

backing() { cat "/sys/block/loop$1/loop/backing_file" 2>/dev/null; }

# --- losetup -f --show, data through the device, losetup -d
dev=$(losetup -f --show img) || fail "losetup -f --show img"
n=$(num_of_dev "$dev") || fail "losetup -f --show printed '$dev'"
ok "losetup -f --show -> $dev"
assert_blk "$dev" "host node of the new device"
got=$(node_devnum "$dev") || fail "no device number for $dev"
assert_eq "$got" "$(loop_devnum "$n")" "$dev device number"
assert_eq "$(backing "$n")" "$SCRATCH/img" "backing_file in sysfs"
assert_eq "$(losetup -n -O NAME -j img)" "$dev" "losetup -j img"
assert_eq "$(blockdev --getsize64 "$dev")" 33554432 "blockdev --getsize64"
dd if=pat of="$dev" bs=64k oflag=direct conv=fsync status=none || fail "write to $dev"
dd if=img bs=64k count=16 status=none | cmp - pat || fail "data written to $dev not in the backing file"
ok "data written through $dev is in the backing file"
mkdata pat2 1024
dd if=pat2 of=img bs=64k seek=16 conv=notrunc status=none
dd if="$dev" bs=64k skip=16 count=16 iflag=direct status=none | cmp - pat2 || fail "backing file data not read through $dev"
ok "data of the backing file read through $dev"
if command -v strace >/dev/null 2>&1; then
	dev2=$(strace -f -o strace.out -e trace=ioctl losetup -f --show img) || fail "losetup under strace"
	losetup -d "$dev2"
	grep -q LOOP_CONFIGURE strace.out || { cat strace.out; fail "losetup did not use LOOP_CONFIGURE"; }
	grep -q 'LOOP_CONFIGURE.*= 0' strace.out || { cat strace.out; fail "LOOP_CONFIGURE failed"; }
	ok "losetup attached with LOOP_CONFIGURE"
fi
losetup -d "$dev" || fail "losetup -d $dev"
loop_bound "$n" && fail "$dev still bound after losetup -d"
assert_eq "$(losetup -n -O NAME -j img | wc -l)" 0 "nothing bound to img after losetup -d"
ok "losetup -d"

# --- read-only
dev=$(losetup -r -f --show img) || fail "losetup -r -f --show img"
assert_eq "$(blockdev --getro "$dev")" 1 "blockdev --getro of a -r device"
n=$(num_of_dev "$dev") || fail "losetup printed '$dev'"
assert_eq "$(cat "/sys/block/loop$n/ro")" 1 "sysfs ro"
expect_fail "write to a read-only loop device" dd if=pat of="$dev" bs=64k count=1 oflag=direct status=none
losetup -d "$dev" || fail "losetup -d $dev"

# --- offset and size limit
dev=$(losetup -o 1048576 --sizelimit 4194304 -f --show img) || fail "losetup -o --sizelimit"
n=$(num_of_dev "$dev") || fail "losetup printed '$dev'"
assert_eq "$(blockdev --getsize64 "$dev")" 4194304 "size with --sizelimit 4M"
assert_eq "$(cat "/sys/block/loop$n/loop/offset")" 1048576 "sysfs offset"
dd if="$dev" bs=64k count=16 iflag=direct status=none | cmp - pat2 || fail "data at offset 1M not at the device's start"
ok "offset 1M maps to the device's start"
losetup -d "$dev" || fail "losetup -d $dev"

# --- sector size (LOOP_CONFIGURE block_size, then LOOP_SET_BLOCK_SIZE)
dev=$(losetup -b 4096 -f --show img) || fail "losetup -b 4096"
assert_eq "$(blockdev --getss "$dev")" 4096 "logical sector size 4096"
losetup -b 512 "$dev" || fail "losetup -b 512 on the bound device (LOOP_SET_BLOCK_SIZE)"
assert_eq "$(blockdev --getss "$dev")" 512 "logical sector size back to 512"

# --- capacity change (LOOP_SET_CAPACITY)
truncate -s 48M img
losetup -c "$dev" || fail "losetup -c"
assert_eq "$(blockdev --getsize64 "$dev")" 50331648 "size after losetup -c"
losetup -d "$dev" || fail "losetup -d $dev"

# --- mount -o loop: autoclear
mkfs.ext4 -q -F img || fail "mkfs.ext4 img"
mkdir -p m
mount -o loop img m || fail "mount -o loop img m"
defer umount m
src=$(findmnt -n -o SOURCE m)
n=$(num_of_dev "$src") || fail "mount -o loop source '$src'"
assert_eq "$(cat "/sys/block/loop$n/loop/autoclear")" 1 "mount -o loop sets autoclear"
cp pat m/pat && sync || fail "write to the ext4"
umount m || fail "umount m"
wait_until 5 eval '! loop_bound '"$n" || fail "loop$n still bound after umount (autoclear)"
ok "autoclear detached loop$n at umount"
mount -o loop,ro img m || fail "mount -o loop,ro img m"
cmp pat m/pat || fail "data read back"
ok "data read back through a second mount -o loop"
umount m || fail "umount m"
