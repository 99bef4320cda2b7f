#!/bin/bash
# timeout: 400
# Contract clauses 4.1 (sysfs shows a container its own devices and the
# host's, never another container's; the host never sees a container's),
# 4.2 (lsblk and losetup -l read /sys/block; /proc/partitions, as the
# reader sees it) and 3.1 (mount -o loop through an instance), with
# unmodified util-linux.
#
# Two containers, each in its own user (root mapped), network, mount and
# pid namespaces, with its own sysfs on /sys, its own proc, and a /dev of
# its own (a directory bind-mounted on /dev) holding a loopfs instance it
# mounted itself at /dev/loopfs and /dev/loop-control -> loopfs/loop-control.
# The host binds a device of its own to host.img.  Then, for A and then for
# B, the container manager (the host's root, entering the container's mount
# and pid namespaces: block filesystems are not mountable in a user
# namespace) runs the unmodified `mount -o loop,ro IMG MNT` with the SAME
# image path IMG and mount point MNT for both.  libmount looks through
# /sys/block for a loop device already bound to IMG to reuse: B must not
# find A's, so each container gets a device of its own instance.  Then in
# each container:
#   - the mount's source is a device of its own instance;
#   - `losetup -l` lists its device (on IMG), not the other container's
#     (losetup lists only the devices of /sys/block that have a node in the
#     caller's /dev, so it cannot tell sysfs isolation apart: this checks
#     that the container's own device works with it);
#   - `lsblk` (which lists what /sys/block shows, nodes or not) lists its
#     device mounted on MNT and the host's, not the other's;
#   - /proc/partitions lists its device and the host's, not the other's;
#   - the file in the image reads back through its mount.
# On the host: /sys/block and `lsblk` show neither container's device, and
# `losetup -l` still lists the host's.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds unshare nsenter losetup lsblk mkfs.ext4 cp
require_loopfs

# ------------------------------------------------------------ the container

# ctu_setup: (inside the container) its /dev, instance and sysfs
ctu_setup() {
	local me=$1
	mount --rbind "$SCRATCH/ct-$me/dev" /dev || fail "[$me] bind mount of its /dev"
	mount -t loopfs none /dev/loopfs || fail "[$me] mount -t loopfs none /dev/loopfs"
	mount -t sysfs sysfs /sys || fail "[$me] mount -t sysfs sysfs /sys"
	ct_start_linker
}

# mount_source MNT: the source of the mount at MNT (/proc/self/mountinfo)
mount_source() {
	local a b c d mp rest fstype src
	while read -r a b c d mp rest; do
		[ "$mp" = "$1" ] || continue
		rest=${rest#* - }
		read -r fstype src _ <<<"$rest"
		echo "$src"
		return 0
	done </proc/self/mountinfo
	return 1
}

# has_first TEXT WORD: a line of TEXT has WORD as its first field
has_first() {
	local l _
	while read -r l _; do
		[ "$l" = "$2" ] && return 0
	done <<<"$1"
	return 1
}

# show TITLE TEXT: TEXT, indented (no sed: an exec costs seconds)
show() {
	local l
	echo "$1"
	while IFS= read -r l; do
		echo "    $l"
	done <<<"$2"
}

# has_line TEXT PATTERN: a line of TEXT matches the glob PATTERN
has_line() {
	local l
	while IFS= read -r l; do
		# shellcheck disable=SC2053
		[[ $l == $2 ]] && return 0
	done <<<"$1"
	return 1
}

ctu_side() {
	local me=$1 other=$2 src n on hn out msg
	ctu_setup "$me"
	info "[$me] /dev/loopfs: $(echo /dev/loopfs/*)"
	touch "$SCRATCH/$me.ready"
	wait_file "$SCRATCH/$me.mounted" || fail "[$me] the manager never mounted the image"

	src=$(mount_source "$SCRATCH/mnt") || fail "[$me] nothing mounted on $SCRATCH/mnt"
	n=$(num_of_dev "$src") || fail "[$me] the mount's source is '$src'"
	assert_blk "/dev/loopfs/loop$n" "[$me] mount -o loop used a device of its instance ($src)"
	echo "$n" >"$SCRATCH/$me.num"
	touch "$SCRATCH/$me.up"
	wait_file "$SCRATCH/$other.up" || fail "[$me] container $other never got its mount"
	read -r on <"$SCRATCH/$other.num"
	read -r hn <"$SCRATCH/host.num"
	assert_ne "$on" "$n" "[$me] the containers have distinct devices"

	# losetup -l
	out=$(losetup -l -n -O NAME,BACK-FILE 2>&1) || fail "[$me] losetup -l: $out"
	show "[$me] losetup -l:" "$out"
	has_line "$out" "/dev/loop$n *$SCRATCH/shared.img" ||
		fail "[$me] losetup -l does not list its own loop$n on shared.img"
	has_line "$out" "/dev/loop$on *" &&
		fail "[$me] losetup -l lists container $other's loop$on"
	ok "[$me] losetup -l: own loop$n on shared.img, not loop$on"

	# lsblk
	out=$(lsblk -r -n -o NAME,MOUNTPOINT 2>&1) || fail "[$me] lsblk: $out"
	show "[$me] lsblk:" "$out"
	has_line "$out" "loop$n $SCRATCH/mnt" || fail "[$me] lsblk does not show loop$n on $SCRATCH/mnt"
	has_first "$out" "loop$hn" || fail "[$me] lsblk does not list the host's loop$hn"
	has_first "$out" "loop$on" && fail "[$me] lsblk lists container $other's loop$on"
	ok "[$me] lsblk: own loop$n mounted, the host's loop$hn, not loop$on"

	# /sys and /proc/partitions directly
	assert_exists "/sys/block/loop$hn" "[$me] the host's device in its sysfs"
	assert_absent "/sys/block/loop$on" "[$me] container $other's device in its sysfs"
	assert_absent "/sys/class/block/loop$on" "[$me] container $other's device in class/block"
	out=$(</proc/partitions)
	has_line "$out" "* loop$n" || fail "[$me] /proc/partitions does not list loop$n"
	has_line "$out" "* loop$hn" || fail "[$me] /proc/partitions does not list loop$hn"
	has_line "$out" "* loop$on" && fail "[$me] /proc/partitions lists loop$on"
	ok "[$me] /proc/partitions: loop$n and loop$hn, not loop$on"

	# the data, through its own device
	msg=
	read -r msg <"$SCRATCH/mnt/hello" || fail "[$me] cannot read $SCRATCH/mnt/hello"
	assert_eq "$msg" "hello from the image" "[$me] file read through the loop mount"

	touch "$SCRATCH/$me.checked"
	wait_file "$SCRATCH/host.done" || fail "[$me] the host never finished"
	ok "[$me] done"
}
export -f ctu_setup mount_source has_first show has_line ctu_side

# ctu_run ME OTHER: the container, in the background; sets CT_PID
ctu_run() {
	LIB_IN_CONTAINER=1 unshare --user --map-root-user --net --mount --pid --fork \
		--kill-child --mount-proc --propagation private \
		bash -c '. "$LIB_SH" && ctu_side "$@"' container "$@" >"$1.log" 2>&1 &
	CT_PID=$!
}

# manager_mount ME PID: the unmodified mount -o loop in the container's
# mount and pid namespaces, as the host's root
manager_mount() {
	local out
	out=$(nsenter --mount="/proc/$2/ns/mnt" --pid="/proc/$2/ns/pid_for_children" \
		mount -o loop,ro "$SCRATCH/shared.img" "$SCRATCH/mnt" 2>&1) ||
		fail "manager: mount -o loop,ro shared.img in container $1: $out"
	ok "manager: mount -o loop,ro $SCRATCH/shared.img $SCRATCH/mnt in container $1"
	touch "$1.mounted"
}

# --------------------------------------------------------------------- host

mkdir -p src mnt ct-a/dev/loopfs ct-b/dev/loopfs || fail "mkdir"
echo "hello from the image" >src/hello
mkfs.ext4 -q -d src shared.img 8M >mkfs.out 2>&1 || { cat mkfs.out; fail "mkfs.ext4 -d src shared.img"; }
cp -a /dev/null /dev/zero /dev/urandom ct-a/dev/ || fail "device nodes for container a"
ln -s loopfs/loop-control ct-a/dev/loop-control || fail "loop-control link"
cp -a ct-a/dev/. ct-b/dev/ || fail "/dev for container b"

host_device host.img 1
hdev=$HOST_DEV
echo "$HOST_NUM" >host.num
ok "host device $hdev on host.img"

ctu_run a b
pid_a=$CT_PID
defer kill "$pid_a"
ctu_run b a
pid_b=$CT_PID
defer kill "$pid_b"

wait_or_die() { # FILE WHAT
	wait_file_while "$1" 300 "$pid_a" "$pid_b" ||
		{ cat a.log b.log; fail "waiting for $2: $WAIT_WHY"; }
}

wait_or_die a.ready "container a set up"
manager_mount a "$pid_a"
wait_or_die b.ready "container b set up"
manager_mount b "$pid_b"
wait_or_die a.checked "container a's checks"
wait_or_die b.checked "container b's checks"

na=$(<a.num)
nb=$(<b.num)
assert_absent "/sys/block/loop$na" "host sysfs: container a's device"
assert_absent "/sys/block/loop$nb" "host sysfs: container b's device"
out=$(losetup -l -n -O NAME,BACK-FILE 2>&1) || fail "host: losetup -l: $out"
has_line "$out" "$hdev *$SCRATCH/host.img" || fail "host: losetup -l does not list $hdev: $out"
has_line "$out" "/dev/loop$na *" && fail "host: losetup -l lists container a's loop$na: $out"
has_line "$out" "/dev/loop$nb *" && fail "host: losetup -l lists container b's loop$nb: $out"
ok "host: losetup -l lists $hdev, neither loop$na nor loop$nb"
out=$(lsblk -r -n -o NAME 2>&1) || fail "host: lsblk: $out"
has_first "$out" "${hdev#/dev/}" || fail "host: lsblk does not list $hdev: $out"
has_first "$out" "loop$na" && fail "host: lsblk lists container a's loop$na: $out"
has_first "$out" "loop$nb" && fail "host: lsblk lists container b's loop$nb: $out"
ok "host: lsblk lists ${hdev#/dev/}, neither loop$na nor loop$nb"
touch host.done

wait_containers a:"$pid_a" b:"$pid_b"
info "test time: ${SECONDS}s"
