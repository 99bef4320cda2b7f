#!/bin/bash
# timeout: 600
# Contract clauses 1.2, 3.3, 3.4 and 8: the image-building sandbox.
#
# An unprivileged user (uid 4000), inside `unshare --user --map-root-user
# --mount`, builds a partitioned disk image with unmodified tools through a
# private loopfs instance mounted in its own /dev: `losetup -fP --show`,
# `sfdisk` (which re-reads the table with BLKRRPART from the user namespace),
# `mkfs.ext4` and `mkfs.vfat` on the partition nodes of the instance.  A
# privileged helper outside does the one thing that needs real root (clause
# 8): it mounts the two partitions inside the sandbox's mount namespace.  The
# sandbox copies a tree in, the helper unmounts, the sandbox detaches the
# device (its partition nodes go).  The host then checks the image with fsck
# and reads every file back.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds unshare setpriv nsenter losetup sfdisk mkfs.ext4 mkfs.vfat \
	e2fsck fsck.vfat diff
require_loopfs

SB_UID=4000
W=$SCRATCH/work
mkdir -p "$W/p1" "$W/p2" "$SCRATCH/tree/sub/deeper"
chmod 755 "$SCRATCH"
chown -R "$SB_UID:$SB_UID" "$W"

# The tree the sandbox puts into both filesystems.
mkdata "tree/data.bin" 1024
mkdata "tree/sub/more.bin" 300
echo "built in a sandbox" > "$SCRATCH/tree/README"
for i in 1 2 3 4 5; do echo "file $i" > "$SCRATCH/tree/sub/deeper/f$i.txt"; done
chmod -R a+rX "$SCRATCH/tree"

# ------------------------------------------------------------------ sandbox
sandbox_side() {
	set -u
	# A /dev of its own: the host's null, the instance, loop-control.
	touch "$W/null" && mount --bind /dev/null "$W/null" ||
		fail "[sandbox] bind /dev/null"
	mount -t tmpfs -o mode=0755 sbdev /dev || fail "[sandbox] tmpfs on /dev"
	touch /dev/null && mount --bind "$W/null" /dev/null ||
		fail "[sandbox] /dev/null"
	mkdir /dev/loopfs || fail "[sandbox] mkdir /dev/loopfs"
	mount -t loopfs none /dev/loopfs ||
		fail "[sandbox] mount -t loopfs as root of a user namespace"
	ok "[sandbox] uid $(id -u) in its user namespace mounted loopfs"
	ln -s loopfs/loop-control /dev/loop-control || fail "[sandbox] link"
	# What a container manager runs next to it: the node linker, which
	# links the instance's nodes where util-linux looks for them.
	ct_start_linker

	truncate -s 64M "$W/disk.img" || fail "[sandbox] truncate"
	dev=$(losetup -fP --show "$W/disk.img") || fail "[sandbox] losetup -fP --show"
	n=${dev#/dev/loop}
	assert_num "$n" "[sandbox] device number from losetup"
	assert_blk "/dev/loopfs/loop$n" "[sandbox] instance node of $dev"
	ok "[sandbox] losetup -fP --show -> $dev"
	assert_eq "$(readlink "/dev/loop$n")" "loopfs/loop$n" "[sandbox] /dev/loop$n made by the linker"

	printf 'label: dos\nstart=2048, size=61440, type=83\nstart=63488, type=c\n' |
		sfdisk -q "$dev" || fail "[sandbox] sfdisk (BLKRRPART in a user namespace)"
	wait_present "/dev/loopfs/loop${n}p1" 10 || fail "[sandbox] no loop${n}p1 node after sfdisk"
	wait_present "/dev/loopfs/loop${n}p2" 10 || fail "[sandbox] no loop${n}p2 node after sfdisk"
	assert_blk "/dev/loopfs/loop${n}p1" "[sandbox] partition 1 node"
	assert_blk "/dev/loopfs/loop${n}p2" "[sandbox] partition 2 node"
	ok "[sandbox] sfdisk wrote two partitions; their nodes are in the instance"
	assert_blk "/dev/loop${n}p1" "[sandbox] /dev/loop${n}p1 (linker) reaches partition 1"
	assert_blk "/dev/loop${n}p2" "[sandbox] /dev/loop${n}p2 (linker) reaches partition 2"
	expect_fail "[sandbox] unlink of a partition node" rm "/dev/loopfs/loop${n}p1"

	mkfs.ext4 -q -L sandbox-ext4 "/dev/loop${n}p1" ||
		fail "[sandbox] mkfs.ext4 on loop${n}p1"
	mkfs.vfat -n SANDBOXFAT "/dev/loop${n}p2" >/dev/null ||
		fail "[sandbox] mkfs.vfat on loop${n}p2"
	ok "[sandbox] mkfs.ext4 and mkfs.vfat on the partition nodes"

	# The one mount that needs real root is the helper's.
	echo "$n" > "$W/num"
	echo $$ > "$W/pid"
	touch "$W/ready"
	wait_file "$W/mounted" 120 || fail "[sandbox] helper never mounted"
	cp -r "$SCRATCH/tree/." "$W/p1/" || fail "[sandbox] copy into ext4"
	cp -r "$SCRATCH/tree/." "$W/p2/" || fail "[sandbox] copy into vfat"
	sync
	ok "[sandbox] tree copied into both filesystems"
	touch "$W/copied"
	wait_file "$W/unmounted" 120 || fail "[sandbox] helper never unmounted"

	losetup -d "$dev" || fail "[sandbox] losetup -d $dev"
	wait_gone "/dev/loopfs/loop${n}p1" 10 || fail "[sandbox] loop${n}p1 node stays after the detach"
	wait_gone "/dev/loopfs/loop${n}p2" 10 || fail "[sandbox] loop${n}p2 node stays after the detach"
	ok "[sandbox] detached; the partition nodes went with the partitions"
	rm "/dev/loopfs/loop$n" || fail "[sandbox] unlink loop$n"
	ok "[sandbox] done"
}
export -f sandbox_side
export W SCRATCH

LIB_IN_CONTAINER=1 setpriv --reuid=$SB_UID --regid=$SB_UID --clear-groups \
	unshare --user --map-root-user --mount --propagation private \
	bash -c '. "$LIB_SH" && sandbox_side' > sandbox.log 2>&1 &
sb=$!
defer kill "$sb"

# ------------------------------------------------------------------- helper
wait_file_while "$W/ready" 300 "$sb" || { cat sandbox.log; fail "sandbox not ready ($WAIT_WHY)"; }
n=$(cat "$W/num")
pid=$(cat "$W/pid")
# 3.5: the sandbox's device and partitions have no node on the host.
assert_absent "/dev/loop$n" "host /dev has no node for the sandbox's device"
assert_absent "/dev/loop${n}p1" "host /dev has no node for its partition"
in_sb() { nsenter -t "$pid" -m -- "$@"; }
in_sb mount "/dev/loopfs/loop${n}p1" "$W/p1" || fail "helper: mount ext4 partition"
in_sb chown "$SB_UID:$SB_UID" "$W/p1" || fail "helper: hand the ext4 root to the sandbox"
in_sb mount -t vfat -o "uid=$SB_UID,gid=$SB_UID" "/dev/loopfs/loop${n}p2" "$W/p2" ||
	fail "helper: mount vfat partition"
ok "helper mounted loop${n}p1 (ext4) and loop${n}p2 (vfat) in the sandbox"
touch "$W/mounted"
wait_file_while "$W/copied" 300 "$sb" || { cat sandbox.log; fail "sandbox did not copy ($WAIT_WHY)"; }
in_sb umount "$W/p1" || fail "helper: umount ext4"
in_sb umount "$W/p2" || fail "helper: umount vfat"
touch "$W/unmounted"

wait "$sb"
rc=$?
cat sandbox.log
[ $rc -eq 0 ] || fail "sandbox failed (exit $rc)"
wait_gone "/sys/block/loop$n" 20 || fail "loop$n still exists after the sandbox ended"
ok "the sandbox's device is gone"

# ------------------------------------------------------- the image, on the host
image_fsck "$W/disk.img"
hdev=$IMG_DEV
mkdir -p m1 m2
mount -o ro "${hdev}p1" m1 || fail "host: mount ext4 partition"
defer umount m1
mount -o ro "${hdev}p2" m2 || fail "host: mount vfat partition"
defer umount m2
diff -r -x lost+found "$SCRATCH/tree" m1 > diff1.log 2>&1 || { cat diff1.log; fail "ext4 partition differs from the tree"; }
diff -r "$SCRATCH/tree" m2 > diff2.log 2>&1 || { cat diff2.log; fail "vfat partition differs from the tree"; }
ok "every file of the tree reads back from both partitions of the image"
