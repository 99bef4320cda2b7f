#!/bin/bash
# timeout: 900
# Contract clauses: 1.1 (each mount is a new, private instance), 2.1 (GET_FREE
# on the instance's loop-control gives a device of that instance only), 3.1
# (unmodified losetup, mkfs.ext4, mount -o loop, mount, e2fsck work on
# instance devices), 3.5 (instance devices get no node in the host's /dev),
# 6.1 (devices go when the instance ends, with the container).
#
# The demo scenario as a test: two containers (unshare --mount --pid --fork),
# each with a private loopfs instance in its own tmpfs /dev, run unmodified
# util-linux and e2fsprogs:
#   A: losetup -f --show IMG_A, mkfs.ext4 -q, mount of the node
#   B: losetup -f --show IMG_B, mkfs.ext4 -q, losetup -d, mount -o loop IMG_B
# each writes random data, syncs, remounts and reads it back.  While both hold
# their devices: each container's /dev/loopfs lists its own device and not the
# other's; the host's /dev has neither.  Afterwards the data is read back from
# the backing files on the host (debugfs, and a host loop mount), e2fsck is
# clean, and both devices are gone from /sys/block.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds unshare losetup mkfs.ext4 e2fsck debugfs findmnt cmp
require_loopfs

# ---------------------------------------------------------------- container

ct_side() {
	local me=$1 other=$2 img=$SCRATCH/$1.img mnt=$SCRATCH/mnt-$1 dev n on src
	mkdir -p "$mnt"

	info "[$me] /dev/loopfs after setup: $(ls /dev/loopfs | tr '\n' ' ')"
	[ -c /dev/loop-control ] || fail "[$me] /dev/loop-control is not a char device"
	dev=$(losetup -f --show "$img") || fail "[$me] losetup -f --show $img failed"
	n=$(num_of_dev "$dev") || fail "[$me] losetup printed '$dev'"
	ok "[$me] losetup -f --show -> $dev"
	assert_blk "/dev/loopfs/loop$n" "[$me] instance node of the new device"
	mkfs.ext4 -q "$dev" || fail "[$me] mkfs.ext4 $dev"
	ok "[$me] mkfs.ext4 $dev"

	if [ "$me" = a ]; then
		mount "$dev" "$mnt" || fail "[$me] mount $dev"
		ok "[$me] mount $dev"
	else
		losetup -d "$dev" || fail "[$me] losetup -d $dev"
		mount -o loop "$img" "$mnt" || fail "[$me] mount -o loop $img"
		src=$(findmnt -n -o SOURCE "$mnt") || fail "[$me] findmnt"
		n=$(num_of_dev "$src") || fail "[$me] mount -o loop source '$src'"
		dev=/dev/loop$n
		assert_blk "/dev/loopfs/loop$n" "[$me] mount -o loop used an instance device"
	fi

	cp "$SCRATCH/$me.data" "$mnt/data.bin" || fail "[$me] write"
	sync
	umount "$mnt" || fail "[$me] umount"
	# read back through the device after a remount
	if [ "$me" = a ]; then
		mount "$dev" "$mnt" || fail "[$me] remount $dev"
	else
		mount -o loop "$img" "$mnt" || fail "[$me] remount -o loop"
		src=$(findmnt -n -o SOURCE "$mnt")
		n=$(num_of_dev "$src") || fail "[$me] mount -o loop source '$src'"
	fi
	echo 3 >/proc/sys/vm/drop_caches
	cmp "$SCRATCH/$me.data" "$mnt/data.bin" || fail "[$me] data read back differs"
	ok "[$me] data read back intact"

	echo "$n" >"$SCRATCH/$me.num"
	touch "$SCRATCH/$me.ready"
	wait_file "$SCRATCH/$other.ready" || fail "[$me] container $other never got ready"
	on=$(cat "$SCRATCH/$other.num")

	info "[$me] /dev/loopfs: $(ls /dev/loopfs | tr '\n' ' ')"
	assert_blk "/dev/loopfs/loop$n" "[$me] own device listed"
	assert_eq "$(instance_devices /dev/loopfs | tr '\n' ' ')" "loop$n " "[$me] /dev/loopfs lists exactly its one device"
	assert_absent "/dev/loopfs/loop$on" "[$me] the other container's device"
	assert_absent "/dev/loop$on" "[$me] the other container's device in /dev"
	ls /dev/loopfs | grep -qx "loop$on" && fail "[$me] ls /dev/loopfs lists loop$on"
	expect_fail "[$me] losetup cannot reach the other device" losetup "/dev/loop$on"

	touch "$SCRATCH/$me.checked"
	wait_file "$SCRATCH/host.checked" || fail "[$me] host checks never finished"
	wait_file "$SCRATCH/$other.checked" || fail "[$me] container $other never finished its checks"

	umount "$mnt" || fail "[$me] final umount"
	if [ "$me" = a ]; then
		losetup -d "$dev" || fail "[$me] losetup -d $dev"
	fi
	ok "[$me] done"
}
export -f ct_side

# --------------------------------------------------------------------- host

for s in a b; do
	mkimg "$s.img" 32
	mkdata "$s.data" 2048
done

ct_run ct_side a b >a.log 2>&1 &
pid_a=$!
ct_run ct_side b a >b.log 2>&1 &
pid_b=$!
defer kill "$pid_a" "$pid_b"

both_ready() { [ -e a.ready ] && [ -e b.ready ]; }
wait_while_alive 600 "$pid_a $pid_b" both_ready ||
	{ cat a.log b.log; fail "containers not ready: $WAIT_WHY"; }

na=$(cat a.num)
nb=$(cat b.num)
assert_num "$na" "container a device"
assert_num "$nb" "container b device"
assert_ne "$na" "$nb" "the two containers got distinct devices"
# 3.5: no node in the host's devtmpfs
assert_absent "/dev/loop$na" "host /dev has no node for container a's device"
assert_absent "/dev/loop$nb" "host /dev has no node for container b's device"
# they are real, bound loop devices
loop_bound "$na" || fail "loop$na is not bound according to /sys/block"
loop_bound "$nb" || fail "loop$nb is not bound according to /sys/block"
ok "both devices bound (sysfs)"
touch host.checked

wait_containers a:"$pid_a" b:"$pid_b"

# 6.1: the containers (and with them the instances) are gone: so are the devices
wait_gone "/sys/block/loop$na" 20 || fail "loop$na still exists after its container ended"
wait_gone "/sys/block/loop$nb" 20 || fail "loop$nb still exists after its container ended"
ok "devices gone with their containers"

# the data, read on the host from the backing files
for s in a b; do
	e2fsck -fn "$s.img" >"$s.fsck" 2>&1 || { cat "$s.fsck"; fail "e2fsck -fn $s.img"; }
	ok "e2fsck -fn $s.img clean"
	debugfs -R 'cat /data.bin' "$s.img" >"$s.debugfs" 2>/dev/null
	cmp "$s.data" "$s.debugfs" || fail "debugfs cat of $s.img differs from the data written"
	ok "debugfs reads container $s's data from $s.img"
done
mkdir -p hostmnt
mount -o loop,ro a.img hostmnt || fail "host mount -o loop,ro a.img"
defer umount hostmnt
cmp a.data hostmnt/data.bin || fail "host loop mount of a.img: data differs"
ok "host loop mount of a.img reads the data"
umount hostmnt || fail "umount hostmnt"
