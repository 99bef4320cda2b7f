#!/bin/bash
# timeout: 900
# Contract clause 3.1: an instance device is a real loop device: losetup,
# mount, mkfs, fsck, blockdev and sfdisk work unmodified on its node through
# any path to it: the node itself, a bind mount of it, a symlink to it, and
# /proc/self/fd/N.  (Partition scanning, 3.4, is not checked here: sfdisk
# only writes and reads back a table.)  Also LOOP_SET_CAPACITY (losetup -c)
# and the deferred detach of an open device (losetup -d) of 3.2.
#
# Runs in a container whose instance is at /dev/loopfs: util-linux shows a
# device's status (losetup DEV, losetup -j) only for names under /dev, for
# host devices as well, so the instance has to live there for that part.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds unshare losetup blockdev mkfs.ext4 e2fsck fsck sfdisk mount cmp od
require_loopfs

ct_tools() {
	local n NODE BIND SYM FD p out parts
	n=$(losetup -f) || fail "losetup -f"
	n=$(num_of_dev "$n") || fail "losetup -f printed '$n'"
	NODE=/dev/loopfs/loop$n
	assert_blk "$NODE" "instance node"
	mkimg img 64

	BIND=$SCRATCH/bindnode
	: >"$BIND"
	mount --bind "$NODE" "$BIND" || fail "mount --bind $NODE $BIND"
	defer umount "$BIND"
	SYM=$SCRATCH/symnode
	ln -s "$NODE" "$SYM"
	exec 5<>"$NODE" || fail "open $NODE"
	FD=/proc/self/fd/5
	[ -b "$BIND" ] && [ -b "$SYM" ] && [ -b "$FD" ] || fail "the paths are not block devices"
	for p in "$BIND" "$SYM" "$FD"; do
		got=$(node_devnum "$p") || fail "no device number for $p"
		assert_eq "$got" "$(loop_devnum "$n")" "device number through $p"
	done

	# losetup attaches through the symlink, shows the status through the node
	losetup "$SYM" img || fail "losetup $SYM img"
	defer losetup -d "$NODE"
	out=$(losetup "$NODE" 2>&1) || fail "losetup $NODE: $out"
	case $out in
	*"$SCRATCH/img"*) ok "losetup $NODE shows the backing file" ;;
	*) fail "losetup $NODE: '$out' does not name $SCRATCH/img" ;;
	esac
	assert_eq "$(losetup -n -O NAME -j img)" "/dev/loop$n" "losetup -j img (through the /dev/loop$n link)"
	assert_eq "$(bound_devices_of "$SCRATCH/img")" "loop$n" "sysfs: loop$n bound to img"

	# blockdev
	for p in "$NODE" "$BIND" "$SYM" "$FD"; do
		assert_eq "$(blockdev --getsize64 "$p")" 67108864 "blockdev --getsize64 $p"
	done
	assert_eq "$(blockdev --getss "$SYM")" 512 "blockdev --getss $SYM"

	# mkfs through the bind mount, fsck through the symlink and the fd
	mkfs.ext4 -q -F "$BIND" || fail "mkfs.ext4 $BIND"
	ok "mkfs.ext4 through the bind mount"
	e2fsck -fn "$SYM" >fsck1 2>&1 || { cat fsck1; fail "e2fsck -fn $SYM"; }
	ok "e2fsck -fn through the symlink"
	e2fsck -fn "$FD" >fsck2 2>&1 || { cat fsck2; fail "e2fsck -fn $FD"; }
	ok "e2fsck -fn through /proc/self/fd/5"
	fsck -n "$BIND" >fsck3 2>&1 || { cat fsck3; fail "fsck -n $BIND"; }
	ok "fsck -n through the bind mount"

	# mount through the fd path, write; mount through the symlink, read back
	mkdata data 1024
	mkdir -p m
	mount "$FD" m || fail "mount $FD m"
	defer umount m
	{ cp data m/data && sync; } || fail "write to the ext4"
	umount m || fail "umount m"
	mount "$SYM" m || fail "mount $SYM m"
	echo 3 >/proc/sys/vm/drop_caches
	cmp data m/data || fail "data read back through the symlink mount differs"
	ok "mount through /proc/self/fd/5 and the symlink, data read back"
	umount m || fail "umount m"
	e2fsck -fn "$NODE" >fsck4 2>&1 || { cat fsck4; fail "e2fsck -fn after the mounts"; }

	# sfdisk: write a two-partition table through the symlink, read it
	# through the bind mount and the fd
	printf 'label: dos\n,16MiB,L\n,,L\n' |
		sfdisk -q --no-reread --no-tell-kernel "$SYM" >sfdisk.out 2>&1 ||
		{ cat sfdisk.out; fail "sfdisk $SYM"; }
	ok "sfdisk wrote a table through the symlink"
	for p in "$BIND" "$FD"; do
		parts=$(sfdisk -d "$p" 2>/dev/null | grep -c 'start=')
		assert_eq "$parts" 2 "sfdisk -d $p lists the two partitions"
	done
	sync
	assert_eq "$(od -An -tx1 -j510 -N2 img | tr -d ' ')" 55aa "MBR signature in the backing file"

	# LOOP_SET_CAPACITY through the bind mount
	truncate -s 80M img
	losetup -c "$BIND" || fail "losetup -c $BIND"
	assert_eq "$(blockdev --getsize64 "$SYM")" 83886080 "size after losetup -c"

	# detach through /proc/self/fd/5: the device is open (fd 5), so, as
	# stock, it is marked autoclear and detached at its last close
	umount "$BIND" || fail "umount $BIND"
	losetup -d "$FD" || fail "losetup -d $FD"
	exec 5<&-
	wait_until 5 eval "! loop_bound $n" || fail "loop$n still bound after losetup -d $FD and the last close"
	ok "losetup -d through /proc/self/fd/5"
	assert_blk "$NODE" "the node stays (detach is not removal)"
	echo "$n" >"$SCRATCH/dev.num"
}
export -f ct_tools

ct_run ct_tools || fail "in the container"
n=$(cat dev.num)
wait_gone "/sys/block/loop$n" 10 || fail "loop$n outlived its container"
ok "loop$n gone with the container"
