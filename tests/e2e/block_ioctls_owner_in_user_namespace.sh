#!/bin/bash
# timeout: 600
# The block ioctls that administer one device work for the root of the
# instance's user namespace with unmodified blockdev(8), and stay refused
# (EACCES) on a host device opened from the same user namespace:
#   BLKRASET / BLKFRASET (blockdev --setra / --setfra), BLKBSZSET
#   (--setbsz), BLKROSET (--setro / --setrw), BLKFLSBUF (--flushbufs),
#   BLKRRPART (--rereadpt).
# The container is root of a new user namespace (mapped to real root's
# uid, so DAC lets it open the host node: only the capability check can
# refuse) with its own mount namespace and an instance it mounted itself.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds unshare losetup blockdev sfdisk
require_loopfs
need_loopctl

mkimg img 16
printf 'label: dos\nstart=2048, size=8192, type=83\n' |
	sfdisk -q img >sfdisk.out 2>&1 || { cat sfdisk.out; fail "sfdisk img"; }
mkimg host.img 16
hdev=$(losetup -f --show host.img) || fail "losetup -f --show host.img"
defer losetup -d "$hdev"
hra=$(blockdev --getra "$hdev") || fail "blockdev --getra $hdev"
hbsz=$(blockdev --getbsz "$hdev") || fail "blockdev --getbsz $hdev"
echo "$hdev" >host.dev

# in_container: (root of a new user namespace)
in_container() {
	local dev n hdev v fd
	read -r hdev <"$SCRATCH/host.dev"
	mkdir -p "$SCRATCH/inst"
	mount -t loopfs none "$SCRATCH/inst" || fail "mount -t loopfs in the user namespace"
	n=$(lctl "$SCRATCH/inst/loop-control" get_free) || fail "GET_FREE: $n"
	dev=$SCRATCH/inst/loop$n
	losetup -P "$dev" "$SCRATCH/img" || fail "losetup -P $dev img"

	blockdev --setra 1024 "$dev" || fail "blockdev --setra 1024 on its own device"
	assert_eq "$(blockdev --getra "$dev")" 1024 "read-ahead set by BLKRASET"
	blockdev --setfra 2048 "$dev" || fail "blockdev --setfra 2048 on its own device"
	assert_eq "$(blockdev --getfra "$dev")" 2048 "read-ahead set by BLKFRASET"
	# (the soft block size is reset at the first open: hold one)
	exec {fd}<"$dev" || fail "open $dev"
	blockdev --setbsz 2048 "$dev" || fail "blockdev --setbsz 2048 on its own device"
	assert_eq "$(blockdev --getbsz "$dev")" 2048 "soft block size set by BLKBSZSET"
	exec {fd}<&-
	blockdev --setro "$dev" || fail "blockdev --setro on its own device"
	assert_eq "$(blockdev --getro "$dev")" 1 "read-only set by BLKROSET"
	blockdev --setrw "$dev" || fail "blockdev --setrw on its own device"
	assert_eq "$(blockdev --getro "$dev")" 0 "read-write set by BLKROSET"
	expect_ok "blockdev --flushbufs (BLKFLSBUF) on its own device" blockdev --flushbufs "$dev"
	expect_ok "blockdev --rereadpt (BLKRRPART) on its own device" blockdev --rereadpt "$dev"
	assert_blk "${dev}p1" "partition node after BLKRRPART"

	for op in "--setra 4096" "--setfra 4096" "--setbsz 1024" "--setro" "--flushbufs"; do
		# shellcheck disable=SC2086
		if v=$(blockdev $op "$hdev" 2>&1); then
			fail "blockdev $op on the host's $hdev succeeded"
		fi
		[[ $v == *"Permission denied"* ]] ||
			fail "blockdev $op on the host's $hdev: '$v', want Permission denied (EACCES)"
		ok "blockdev $op on the host's $hdev: EACCES"
	done
	losetup -d "$dev" || fail "losetup -d $dev"
}
export -f in_container

LIB_IN_CONTAINER=1 unshare --user --map-root-user --mount --propagation private \
	bash -c '. "$LIB_SH" && in_container' || fail "in the user namespace"

assert_eq "$(blockdev --getra "$hdev")" "$hra" "the host device's read-ahead is unchanged"
assert_eq "$(blockdev --getbsz "$hdev")" "$hbsz" "the host device's block size is unchanged"
assert_eq "$(blockdev --getro "$hdev")" 0 "the host device is still read-write"
