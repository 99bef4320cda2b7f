#!/bin/bash
# timeout: 900
# The mount supervisor (userspace/loopfs-mountd) does the final mount(2)
# for a container in a user namespace (contract clause 8), from the
# container's own loopfs nodes only, and the container cannot take the
# mount's nosuid and nodev away.
#
# The host (real root) runs loopfs-mountd on a socket; the container runs
# under tests/tools/seccomp-launch (the stand-in for an OCI runtime with
# linux.seccomp.listenerPath), which hands the supervisor the seccomp
# listener of everything in it: `unshare --user --map-root-user --mount
# --pid --net --fork` with its own /dev holding a loopfs instance it mounted
# itself, the node linker, and its own sysfs (util-linux reads a loop
# device's autoclear flag there; an instance's devices are not listed in the
# host's sysfs, and without it umount(8) of a `mount -o loop` tries to detach
# the autocleared device itself and fails with ENXIO after unmounting).  In
# the container, with unmodified tools:
#   - losetup -fP, sfdisk (two partitions), mkfs.ext4 and mkfs.vfat;
#   - `mount /dev/loopNp1 DIR` and `mount -t vfat /dev/loopNp2 DIR` are done
#     by the supervisor: the mounts are there, nosuid,nodev, with the
#     source the container named; a file is written; umount works from the
#     container's user namespace;
#   - `mount -o loop IMG DIR` (util-linux sets up a device of the instance);
#   - the flags stay locked: remount,bind without nosuid (EPERM), a full
#     remount (EPERM), mount_setattr() clearing nosuid/nodev (EPERM), the
#     same on a bind of the mount and from a nested mount namespace;
#     remount,bind,ro and back to rw still work.  As a baseline, a mount
#     real root makes in the container's namespace itself (nsenter) loses
#     nosuid,nodev to the same remount,bind: the locking is what stops it;
#   - refused, each with its errno and nothing mounted afterwards: a node of
#     another instance the host mounted where the container sees it (EPERM),
#     a host loop device's devtmpfs node bind-mounted in (EPERM), a symlink
#     to it (EPERM), a symlink to the host node's path that only resolves
#     on the host (ENOENT), one climbing with .. (ENOENT), a path through a
#     /proc magic link (ELOOP), a regular file (EPERM), a relative source
#     (EINVAL), a stale node (a bind of a removed device's node: ENXIO), a
#     caller without CAP_SYS_ADMIN (EPERM); a type not in the list (ext3 is
#     passed on and the kernel says EPERM; btrfs, not built, ENODEV);
#   - a bind of its own node is passed on and mountable; a bind of the host
#     node is passed on and refused.
# Afterwards the host checks the images (e2fsck -fn, fsck.vfat -n) and reads
# the written files back; the supervisor's log names each refusal.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds unshare nsenter setpriv losetup sfdisk mkfs.ext4 mkfs.vfat \
	e2fsck fsck.vfat mount umount
require_loopfs
need_loopctl

MOUNTD=${MOUNTD:-$PROJECT/build/userspace/loopfs-mountd}
LAUNCH=${LAUNCH:-$PROJECT/build/tools/seccomp-launch}
MOUNTCALL=${MOUNTCALL:-$PROJECT/build/tools/mountcall}
[ -x "$MOUNTD" ] || skip "no $MOUNTD (make userspace)"
[ -x "$LAUNCH" ] || skip "no $LAUNCH (scripts/build-selftests.sh)"
[ -x "$MOUNTCALL" ] || skip "no $MOUNTCALL (scripts/build-selftests.sh)"

W=$SCRATCH/w
SOCK=$SCRATCH/mountd.sock
LOG=$SCRATCH/mountd.log
mkdir -p "$W"/m1 "$W"/m2 "$W"/m3 "$W"/m4 "$W"/base "$SCRATCH/ct/dev/loopfs" || fail "mkdir"
export W MOUNTCALL

# --------------------------------------------------------- what the host shows
# Another instance, where the container will see it, with an ext4 device.
mount_instance "$SCRATCH/other"
on=$(lctl "$SCRATCH/other/loop-control" get_free) || fail "other instance: GET_FREE: $on"
mkimg other.img 8
mkfs.ext4 -q other.img || fail "mkfs.ext4 other.img"
losetup "$SCRATCH/other/loop$on" other.img || fail "losetup of the other instance's loop$on"
defer losetup -d "$SCRATCH/other/loop$on"
# A host loop device with an ext4 image, its devtmpfs node bound into $W.
mkimg host.img 8
mkfs.ext4 -q host.img || fail "mkfs.ext4 host.img"
hdev=$(losetup -f --show host.img) || fail "losetup -f --show host.img"
defer losetup -d "$hdev"
touch "$W/hostnode" && mount --bind "$hdev" "$W/hostnode" || fail "bind $hdev on $W/hostnode"
defer umount "$W/hostnode"
echo "$on $hdev" >"$W/host.info"

# The container's /dev: null, zero, urandom, the instance's mount point.
cp -a /dev/null /dev/zero /dev/urandom "$SCRATCH/ct/dev/" || fail "device nodes for the container"
ln -s loopfs/loop-control "$SCRATCH/ct/dev/loop-control" || fail "loop-control link"

# ------------------------------------------------------------ the supervisor
start_mountd "$LOG" "$SOCK" "$MOUNTD" -v -s "$SOCK" -i /dev/loopfs -t ext4,vfat
mpid=$MOUNTD_PID

# ------------------------------------------------------------- the container
# refused ERRNO WHAT SRC [TYPE]: the supervisor refuses to mount SRC on
# $W/m4 with ERRNO, and nothing is mounted there
refused() {
	expect_errno "$1" "$2" "$MOUNTCALL" mount "$3" "$W/m4" "${4:-ext4}" 0
	assert_not_mounted "$W/m4" "$2"
}

# the flags of the supervisor's mount on $1 cannot be cleared
assert_flags_stay() {
	local m=$1 what=$2
	expect_errno EPERM "$what: remount,bind without nosuid,nodev" \
		"$MOUNTCALL" mount - "$m" - remount,bind
	expect_errno EPERM "$what: remount,bind,nosuid without nodev" \
		"$MOUNTCALL" mount - "$m" - remount,bind,nosuid
	expect_errno EPERM "$what: full remount without nosuid,nodev" \
		"$MOUNTCALL" mount - "$m" - remount
	expect_errno EPERM "$what: mount_setattr clearing nosuid,nodev" \
		"$MOUNTCALL" setattr "$m" 0 nosuid,nodev
	expect_errno EPERM "$what: mount_setattr clearing nodev" \
		"$MOUNTCALL" setattr "$m" 0 nodev
	mnt_get "$m" || fail "$what: the mount on $m is gone"
	has_opt "$MNT_OPTS" nosuid && has_opt "$MNT_OPTS" nodev ||
		fail "$what: options now $MNT_OPTS"
	ok "$what: still $MNT_OPTS"
}

ct_side() {
	local dev n on hdev msg k
	read -r on hdev <"$W/host.info"

	# Its /dev and its own instance (every mount here goes through the
	# supervisor too, and is passed on to the kernel).
	mount --rbind "$SCRATCH/ct/dev" /dev || fail "[ct] bind mount of its /dev"
	mount -t loopfs none /dev/loopfs || fail "[ct] mount -t loopfs in the user namespace"
	mount -t sysfs sysfs /sys || fail "[ct] mount -t sysfs in its network namespace"
	ct_start_linker
	ok "[ct] root of a user namespace, own loopfs instance at /dev/loopfs, under seccomp"

	# The image: two partitions, ext4 and vfat.
	truncate -s 64M "$W/disk.img" || fail "[ct] truncate"
	dev=$(losetup -fP --show "$W/disk.img") || fail "[ct] losetup -fP --show"
	n=${dev#/dev/loop}
	assert_num "$n" "[ct] device number from losetup"
	echo "$n" >"$W/num"
	printf 'label: dos\nstart=2048, size=61440, type=83\nstart=63488, type=c\n' |
		sfdisk -q "$dev" || fail "[ct] sfdisk"
	wait_present "/dev/loop${n}p1" 10 || fail "[ct] no /dev/loop${n}p1"
	wait_present "/dev/loop${n}p2" 10 || fail "[ct] no /dev/loop${n}p2"
	mkfs.ext4 -q -L ct-ext4 "/dev/loop${n}p1" || fail "[ct] mkfs.ext4"
	mkfs.vfat -n CTFAT "/dev/loop${n}p2" >/dev/null || fail "[ct] mkfs.vfat"
	ok "[ct] $dev: two partitions, ext4 and vfat"

	# ---- the supervisor's mounts
	mount "/dev/loop${n}p1" "$W/m1" || fail "[ct] mount /dev/loop${n}p1 $W/m1"
	assert_locked_mount "$W/m1" ext4 "/dev/loopfs/loop${n}p1" "[ct] mount /dev/loop${n}p1"
	echo "written by the container" >"$W/m1/hello.txt" || fail "[ct] write into the ext4 mount"
	ok "[ct] wrote $W/m1/hello.txt"

	assert_flags_stay "$W/m1" "[ct] ext4 mount"
	expect_fail "[ct] mount -o remount,bind,suid,dev (unmodified mount)" \
		mount -o remount,bind,suid,dev "$W/m1"
	expect_errno EPERM "[ct] remount,bind from a nested mount namespace" \
		unshare --mount --propagation unchanged "$MOUNTCALL" mount - "$W/m1" - remount,bind
	mount --bind "$W/m1" "$W/m3" || fail "[ct] bind of the mount"
	assert_flags_stay "$W/m3" "[ct] bind of the ext4 mount"
	umount "$W/m3" || fail "[ct] umount of the bind"
	# what stays possible
	mount -o remount,bind,ro "$W/m1" || fail "[ct] mount -o remount,bind,ro"
	mnt_get "$W/m1" && has_opt "$MNT_OPTS" ro || fail "[ct] not read-only after remount,ro: $MNT_OPTS"
	expect_fail "[ct] write to the read-only remount" sh -c "echo x >'$W/m1/ro.txt'"
	mount -o remount,bind,rw "$W/m1" || fail "[ct] mount -o remount,bind,rw"
	mnt_get "$W/m1" && has_opt "$MNT_OPTS" rw && has_opt "$MNT_OPTS" nosuid ||
		fail "[ct] after remount,rw: $MNT_OPTS"
	ok "[ct] remount,bind,ro and back to rw work, nosuid,nodev stay ($MNT_OPTS)"

	umount "$W/m1" || fail "[ct] umount $W/m1 from the container's user namespace"
	assert_not_mounted "$W/m1" "[ct] umount by the container"

	mount -t vfat "/dev/loop${n}p2" "$W/m2" || fail "[ct] mount -t vfat /dev/loop${n}p2 $W/m2"
	assert_locked_mount "$W/m2" vfat "/dev/loopfs/loop${n}p2" "[ct] mount -t vfat /dev/loop${n}p2"
	echo "written by the container" >"$W/m2/hello.txt" || fail "[ct] write into the vfat mount"
	umount "$W/m2" || fail "[ct] umount $W/m2"
	assert_not_mounted "$W/m2" "[ct] vfat unmounted"

	mkfs.ext4 -q "$W/loop.img" 8M || fail "[ct] mkfs.ext4 loop.img"
	mount -o loop "$W/loop.img" "$W/m3" || fail "[ct] mount -o loop $W/loop.img $W/m3"
	mnt_get "$W/m3" || fail "[ct] nothing on $W/m3 after mount -o loop"
	k=$(num_of_dev "$MNT_SRC") || fail "[ct] mount -o loop: source '$MNT_SRC'"
	assert_blk "/dev/loopfs/loop$k" "[ct] mount -o loop used loop$k of its instance"
	assert_locked_mount "$W/m3" ext4 "$MNT_SRC" "[ct] mount -o loop"
	echo "written through mount -o loop" >"$W/m3/hello.txt" || fail "[ct] write into the loop mount"
	umount "$W/m3" || fail "[ct] umount $W/m3"
	assert_not_mounted "$W/m3" "[ct] loop mount unmounted"

	# ---- refusals
	refused EPERM "[ct] a node of another instance" "$SCRATCH/other/loop$on"
	refused EPERM "[ct] the host's $hdev (devtmpfs node bound in)" "$W/hostnode"
	ln -s "$W/hostnode" "$W/link-hostnode" || fail "[ct] ln -s"
	refused EPERM "[ct] a symlink to the bound host node" "$W/link-hostnode"
	ln -s "$hdev" "$W/link-hostpath" || fail "[ct] ln -s"
	refused ENOENT "[ct] a symlink to $hdev, which only the host has" "$W/link-hostpath"
	ln -s "../../../../../../../../../..$hdev" "$W/link-climb" || fail "[ct] ln -s"
	refused ENOENT "[ct] a symlink climbing out with .." "$W/link-climb"
	refused ELOOP "[ct] its own node through a /proc magic link" \
		"/proc/1/root/dev/loopfs/loop${n}p1"
	refused EPERM "[ct] a regular file" "$W/disk.img"
	cd /dev || fail "[ct] cd /dev"
	refused EINVAL "[ct] a relative source" "loopfs/loop${n}p1"
	cd "$SCRATCH" || fail "[ct] cd $SCRATCH"
	expect_errno EPERM "[ct] a caller without CAP_SYS_ADMIN" \
		setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin \
		"$MOUNTCALL" mount "/dev/loopfs/loop${n}p1" "$W/m4" ext4 0
	assert_not_mounted "$W/m4" "[ct] a caller without CAP_SYS_ADMIN"
	# types not in -t are passed on: the kernel refuses them here
	refused EPERM "[ct] -t ext3 on its own node (passed on)" "/dev/loopfs/loop${n}p1" ext3
	refused ENODEV "[ct] -t btrfs on its own node (passed on)" "/dev/loopfs/loop${n}p1" btrfs
	# a stale node: bind of a device's node, then the device removed
	msg=$(losetup -f --show "$W/loop.img") || fail "[ct] losetup -f loop.img: $msg"
	k=${msg#/dev/loop}
	touch "$W/stale" && mount --bind "/dev/loopfs/loop$k" "$W/stale" ||
		fail "[ct] bind of /dev/loopfs/loop$k"
	losetup -d "/dev/loop$k" || fail "[ct] losetup -d /dev/loop$k"
	rm "/dev/loopfs/loop$k" || fail "[ct] rm /dev/loopfs/loop$k"
	echo "$k" >"$W/stale.num"
	refused ENXIO "[ct] a bind of the node of removed loop$k" "$W/stale"
	umount "$W/stale" || fail "[ct] umount $W/stale"

	# ---- binds of nodes are the kernel's business
	touch "$W/bindnode" "$W/bindhost"
	mount --bind "/dev/loopfs/loop${n}p1" "$W/bindnode" || fail "[ct] mount --bind of its own node"
	mount "$W/bindnode" "$W/m4" || fail "[ct] mount of the bind of its own node"
	assert_locked_mount "$W/m4" ext4 "$W/bindnode" "[ct] mount through a bind of its own node"
	umount "$W/m4" && umount "$W/bindnode" || fail "[ct] umount"
	mount --bind "$W/hostnode" "$W/bindhost" || fail "[ct] mount --bind of the host node"
	refused EPERM "[ct] a bind of the host node" "$W/bindhost"
	umount "$W/bindhost" || fail "[ct] umount $W/bindhost"

	# ---- baseline: a mount real root makes here itself is not locked
	touch "$W/base.wanted"
	wait_file "$W/base.mounted" 120 || fail "[ct] the host never mounted $W/base"
	mnt_get "$W/base" && has_opt "$MNT_OPTS" nosuid || fail "[ct] no nosuid tmpfs on $W/base"
	expect_errno EPERM "[ct] baseline: full remount of root's tmpfs" \
		"$MOUNTCALL" mount - "$W/base" - remount
	expect_ok "[ct] baseline: remount,bind without nosuid,nodev of root's tmpfs" \
		"$MOUNTCALL" mount - "$W/base" - remount,bind
	mnt_get "$W/base" || fail "[ct] baseline: $W/base is gone"
	has_opt "$MNT_OPTS" nosuid && fail "[ct] baseline: nosuid stayed ($MNT_OPTS)"
	ok "[ct] baseline: real root's unlocked mount lost nosuid,nodev ($MNT_OPTS)"
	umount "$W/base" || fail "[ct] umount $W/base"

	losetup -d "$dev" || fail "[ct] losetup -d $dev"
	ok "[ct] done"
}
export -f ct_side refused \
	assert_flags_stay

LIB_IN_CONTAINER=1 "$LAUNCH" "$SOCK" -- \
	unshare --user --map-root-user --mount --pid --net --fork --kill-child \
	--mount-proc --propagation private \
	bash -c '. "$LIB_SH" && ct_side' >ct.log 2>&1 &
ct=$!
defer kill "$ct"

# The baseline mount, by real root in the container's mount namespace: the
# container's first process is the one the supervisor was told about.
# (if the container ended, the wait below reports it)
wait_file_while "$W/base.wanted" 300 "$ct"
[ $? != 2 ] || { cat ct.log; fail "container not ready for the baseline"; }
if [ -e "$W/base.wanted" ]; then
	line=$(file_last_match "$LOG" 'container test \(pid [0-9]+\)') ||
		{ cat "$LOG"; fail "the supervisor did not log the container"; }
	[[ $line =~ \(pid\ ([0-9]+)\) ]] || fail "no pid in '$line'"
	ctpid=${BASH_REMATCH[1]}
	nsenter --mount="/proc/$ctpid/ns/mnt" mount -t tmpfs -o nosuid,nodev,size=64k base "$W/base" ||
		fail "host: tmpfs on $W/base in the container's mount namespace"
	touch "$W/base.mounted"
fi
wait "$ct"
rc=$?
cat ct.log
[ $rc -eq 0 ] || { cat "$LOG"; fail "the container failed (exit $rc)"; }

# ------------------------------------------------------- the supervisor's log
read -r n <"$W/num" || fail "no device number from the container"
read -r k <"$W/stale.num" || fail "no stale device number from the container"
kill "$mpid" && wait "$mpid"
print_file "$LOG"
assert_absent "$SOCK" "the socket, after SIGTERM"
mountd_log_has "mounted /dev/loopfs/loop${n}p1 on $W/m1 type ext4 "
mountd_log_has "mounted /dev/loopfs/loop${n}p2 on $W/m2 type vfat "
mountd_log_has "mounted $W/bindnode on $W/m4 type ext4 "
mountd_log_has "refused mount of $SCRATCH/other/loop$on on $W/m4 type ext4: a node of another loopfs instance"
mountd_log_has "refused mount of $W/hostnode on $W/m4 type ext4: not a node of a loopfs instance"
mountd_log_has "refused mount of $W/link-hostnode on $W/m4 type ext4: not a node of a loopfs instance"
mountd_log_has "refused mount of $W/link-hostpath on $W/m4 type ext4: looking the source up in the caller's root: No such file or directory (ENOENT)"
mountd_log_has "refused mount of $W/link-climb on $W/m4 type ext4: looking the source up in the caller's root: No such file or directory (ENOENT)"
mountd_log_has "refused mount of /proc/1/root/dev/loopfs/loop${n}p1 on $W/m4 type ext4: looking the source up in the caller's root: Too many levels of symbolic links (ELOOP)"
mountd_log_has "refused mount of $W/disk.img on $W/m4 type ext4: not a block device node (EPERM)"
mountd_log_has "refused mount of loopfs/loop${n}p1 on $W/m4 type ext4: the source is not an absolute path (EINVAL)"
mountd_log_has "refused mount of /dev/loopfs/loop${n}p1 on $W/m4 type ext4: the caller has no CAP_SYS_ADMIN"
mountd_log_has "refused mount of $W/stale on $W/m4 type ext4: opening the node: No such device or address (ENXIO)"
mountd_log_has "refused mount of $W/bindhost on $W/m4 type ext4: not a node of a loopfs instance"
mountd_log_has "mount(2) continued: not a filesystem type we mount"

# ------------------------------------------------------- the images, on the host
image_fsck "$W/disk.img"
hd=$IMG_DEV
e2fsck -fn "$W/loop.img" >fsck3.log 2>&1 || { cat fsck3.log; fail "e2fsck -fn loop.img"; }
ok "e2fsck -fn: loop.img is clean"
mkdir -p r1 r2 r3
mount -o ro "${hd}p1" r1 || fail "host: mount ext4 partition"
defer umount r1
mount -o ro "${hd}p2" r2 || fail "host: mount vfat partition"
defer umount r2
mount -o loop,ro "$W/loop.img" r3 || fail "host: mount -o loop,ro loop.img"
defer umount r3
for f in r1 r2 r3; do
	msg=
	read -r msg <"$f/hello.txt" || fail "host: cannot read $f/hello.txt"
	case $f in
	r3) assert_eq "$msg" "written through mount -o loop" "host: the file written in loop.img" ;;
	*) assert_eq "$msg" "written by the container" "host: the file written in $f" ;;
	esac
done
