#!/bin/bash
# timeout: 1200
# A real container manager: crun (Debian 12's 1.8.1) runs containers with
# their own user, mount, pid, ipc, uts and network namespaces (root mapped
# to an unprivileged host range) and our OCI createContainer hook
# (userspace/loopfs-oci-hook), which gives each a private loopfs instance
# at /dev/loopfs, /dev/loop-control -> loopfs/loop-control and the node
# linker in the container's pid namespace.  Inside, unmodified tools only.
#
#   - malformed or bad input to the hook: a clear error, exit status 1,
#     nothing changed (a kernel refusal of the options too, with the
#     kernel's message);
#   - after `crun create`, from the host: the instance is on the
#     container's /dev/loopfs, the linker lives in the container's pid, user
#     and mount namespaces, a child of its init; crun ran the hook in the
#     container's namespaces with "pid": 0 in the state (the hook says so);
#   - container A, as root of its user namespace (host uid 200000): /dev has
#     no block node, none of the host's loop devices (whose sysfs entry it
#     sees) and no mknod (4.6); sfdisk on an image, `losetup -fP --show`,
#     blockdev --getsize64 of /dev/loopNp1 and p2 (the linker's links,
#     org.loopfs.parts=4 of them), losetup -l, mkfs.ext4 and mkfs.vfat (file
#     systems smaller than the partitions), a file written into the ext4
#     with debugfs, raw data written behind each file system with dd and
#     read back with direct I/O, losetup -d (the partition nodes go);
#   - A's final mounts through the real runtime path: A's config gives
#     mount(2) SCMP_ACT_NOTIFY with linux.seccomp.listenerPath, crun hands
#     its listener to loopfs-mountd (run by the host) during `crun create`,
#     and A's unmodified mount(8) mounts its ext4 (`mount /dev/loopNp1
#     /mnt1`) and its vfat (/mnt2), nosuid,nodev; a file written to each
#     reads back; umount; `mount -o loop,ro` of an ext4 image the host made
#     with mkfs.ext4 -d works the same way, its file reads back, and umount
#     leaves the autoclear device to the kernel (A has its own sysfs).
#     Refused by loopfs-mountd, nothing mounted: B's device number through
#     a symlink A makes in its /dev (no such node in A's instance, ENOENT)
#     and B's own node, which the host binds into A's /dev (a node of
#     another instance, EPERM; A cannot open it either).  B runs without
#     seccomp: the plain hook path;
#   - container B (host uid 300000) at the same time: its own device, data
#     written and read back;
#   - while both run: the host's /sys/block, /dev and /proc/partitions show
#     neither container's devices; each container sees only its own nodes,
#     its sysfs and /proc/partitions list only its own device (and the
#     host's), and opening the other's number through its own /dev fails;
#   - the linker's rescan after an inotify queue overflow works after
#     pivot_root (fs.inotify.max_queued_events=1 while the linkers start;
#     A stops its linker, removes three devices, continues it): it opens the
#     instance through its /dev fd;
#   - after the containers end and `crun delete`: no loop device of theirs
#     is left (one of A's was still bound when it ended);
#   - on the host, through a read-only losetup -P of A's image: e2fsck -fn
#     and fsck.vfat -n are clean, and A's file and raw data are there, with
#     the files A wrote through the mounts (debugfs, a read-only mount);
#     loopfs-mountd's log has A's mounts and the two refusals, and never
#     heard of B;
#   - the hook run from outside a container (as a runtime that gives the
#     container's pid would), for an unprivileged user's user, mount and pid
#     namespaces, with the root path from BUNDLE/config.json: it joins them,
#     the container's losetup -f works on the instance and the linker's
#     link, the host does not list the device, and it goes with the
#     container.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../containers.sh"

require_root
require_cmds crun losetup sfdisk blockdev mkfs.ext4 mkfs.vfat debugfs e2fsck \
	fsck.vfat blkid cmp dd truncate mount umount python3
require_loopfs

HOOK=${LOOPFS_OCI_HOOK:-$PROJECT/build/userspace/loopfs-oci-hook}
[ -x "$HOOK" ] || fail "no OCI hook $HOOK (gcc -O2 -o build/userspace/loopfs-oci-hook userspace/loopfs-oci-hook.c)"
[ -x "${HOOK%/*}/loopfs-link" ] || fail "no node linker next to the hook: ${HOOK%/*}/loopfs-link"
MOUNTD=${MOUNTD:-$PROJECT/build/userspace/loopfs-mountd}
[ -x "$MOUNTD" ] || fail "no mount supervisor $MOUNTD (make userspace)"
MOUNTD_SOCK=$SCRATCH/mountd.sock
MOUNTD_LOG=$SCRATCH/mountd.log
CRUN=(crun --root "$SCRATCH/crun" --cgroup-manager=disabled)

# ------------------------------------------------------- bad input, directly
# The hook, run by hand in the host's namespaces: every bad input fails
# with a clear message before anything is changed in bad/rootfs/dev.
mkdir -p bad/rootfs/dev
echo '{ "root": { "path": "rootfs" }, "linux": { "namespaces": [ { "type": "user" } ] } }' \
	>bad/config.json || fail "bad/config.json"
hook_state() { printf '%s' "$1" | "$HOOK"; }
bad_state() { # WHAT WANT_IN_MESSAGE STATE
	hook_refuses "hook, $1" "$2" bad/rootfs/dev hook_state "$3"
}
B0='"pid": 0, "bundle": "'"$SCRATCH"/bad'", "root": "rootfs"'
bad_state "truncated state" "not valid JSON at byte" "{$B0, \"annotations\": {"
bad_state "state of 1.1 MB" "larger than 1048576 bytes" "{$B0, \"x\": \"$(printf '%1100000s' '')\"}"
bad_state "a ';' in org.loopfs.options" 'org.loopfs.options="max=8;x"' \
	"{$B0, \"annotations\": {\"org.loopfs.options\": \"max=8;x\"}}"
bad_state "org.loopfs.parts=300" 'org.loopfs.parts="300"' \
	"{$B0, \"annotations\": {\"org.loopfs.parts\": \"300\"}}"
bad_state "a NUL in an annotation" "holds a NUL character" \
	"{$B0, \"annotations\": {\"org.loopfs.options\": \"max=8\\u0000\"}}"
bad_state "pid of no process" "state pid 999999999" \
	'{"pid": 999999999, "bundle": "'"$SCRATCH"/bad'", "root": "rootfs"}'
# (the characters are fine, the value is not: the kernel says why)
bad_state "org.loopfs.options=max=abc" "kernel: " \
	"{$B0, \"annotations\": {\"org.loopfs.options\": \"max=abc\"}}"

# ------------------------------------------------------------------ set-up
# A host loop device: the containers see its sysfs entry but must not reach it.
host_device host.img 4
hn=$HOST_NUM

# The containers' root (ct_rootfs): /mnt1../mnt3 are where A mounts.
R=$SCRATCH/rootfs
ct_rootfs "$R" mnt1 mnt2 mnt3
declare -A CT_UID=([a]=200000 [b]=300000) CT_PID=()
# For A's `mount -o loop,ro`: a small ext4 image holding a file, made here
mkdir -p "$SCRATCH/a" "$SCRATCH/b" img2.d || fail "mkdir img2.d"
mkdata img2.d/hello.bin 64
mkfs.ext4 -q -L ct-img2 -d img2.d "$SCRATCH/a/img2.ext4" 8M >mkfs-img2.log 2>&1 ||
	{ print_file mkfs-img2.log; fail "mkfs.ext4 -d img2.d img2.ext4"; }
cp img2.d/hello.bin "$SCRATCH/a/img2-hello.bin" || fail "cp hello.bin"
for c in a b; do
	echo "$hn" >"$SCRATCH/$c/host-num" || fail "$c's directory"
done

# The bundles (oci_bundle, which gives each container's root its directory):
# the annotations enable the hook and give its options; A's hook is verbose.
# A's mount(2) calls go to loopfs-mountd: crun 1.8.1 takes listenerPath as
# it is (no listenerMetadata, no architectures: the native one).  crun
# connects to the socket at the start of `crun create` and sends the state
# and the listener when the container's init installs the filter: with
# noNewPrivileges (as here), only at `crun start`, after the exec fifo, so
# loopfs-mountd must keep an idle connection as long as it takes (the test
# waits more than its 10 s for a begun state between create and start).
oci_bundle a --userns "${CT_UID[a]}" \
	--annotations '"org.loopfs.enable": "true", "org.loopfs.options": "max=8", "org.loopfs.parts": "4"' \
	--linux '"seccomp": { "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "'"$MOUNTD_SOCK"'",
		     "syscalls": [ { "names": [ "mount" ], "action": "SCMP_ACT_NOTIFY" } ] }'
oci_bundle b --userns "${CT_UID[b]}" --hook-args '"loopfs-oci-hook"' \
	--annotations '"org.loopfs.enable": "true", "org.loopfs.options": "max=2,mode=0660"'

# ------------------------------------------------------ the containers' side
cat >"$R/ct.sh" <<'EOF' || fail "writing ct.sh"
# ct.sh a|b: the process of container a or b (bash, unmodified tools)
. /project/tests/lib.sh
. /project/tests/containers.sh
me=$1

# /dev as the hook left it: the instance, the link, no block node, no way
# to a host loop device (4.6: no mknod)
check_dev() { # OPTIONS_WANTED...
	local hn
	assert_dev_instance "[$me]" self "$@"
	assert_absent /dev/.loopfs-link.ready "[$me] the linker's ready file was removed"
	assert_no_block_node
	assert_uid_map "0 $CT_HOSTID 65536"
	read -r hn </ct/host-num || fail "[$me] no /ct/host-num"
	assert_host_loop_unreachable "$hn"
}

# The linker: in our pid namespace, moved to our root by pivot_root,
# holding nothing of the instance
find_linker() {
	local d c fds
	LINKER=
	for d in /proc/[0-9]*; do
		c=
		read -r c 2>/dev/null <"$d/comm"
		[ "$c" = loopfs-link ] || continue
		[ -z "$LINKER" ] || fail "[$me] two linkers: $LINKER and ${d#/proc/}"
		LINKER=${d#/proc/}
	done
	[ -n "$LINKER" ] || fail "[$me] no loopfs-link in our pid namespace"
	ok "[$me] the linker is pid $LINKER in our pid namespace"
	got=$(file_last_match "/proc/$LINKER/status" '^CapPrm:') ||
		fail "[$me] no CapPrm in /proc/$LINKER/status"
	assert_eq "$got" $'CapPrm:\t0000000000000000' "[$me] the linker has no capability"
	assert_eq "$(readlink "/proc/$LINKER/root")" / "[$me] the linker's root is ours (pivot_root moved it)"
	assert_eq "$(readlink "/proc/$LINKER/cwd")" / "[$me] the linker's cwd"
	fds=$(ls -l "/proc/$LINKER/fd") || fail "[$me] ls /proc/$LINKER/fd"
	[[ $fds != *loopfs* ]] || fail "[$me] the linker holds a file of the instance: $fds"
	ok "[$me] the linker holds no file of the instance"
}

partitions_list() { file_last_match /proc/partitions "[[:space:]]loop$1\$" >/dev/null; }

# The other container's device: not here, by any path we have
probe_other() { # N
	local n=$1
	assert_absent "/dev/loopfs/loop$n" "[$me] no node of the other container's loop$n"
	assert_absent "/dev/loop$n" "[$me] no /dev/loop$n"
	assert_absent "/sys/block/loop$n" "[$me] our sysfs does not list loop$n (4.1)"
	! partitions_list "$n" || fail "[$me] /proc/partitions lists loop$n (4.2)"
	ok "[$me] /proc/partitions does not list loop$n"
	ln -s "loopfs/loop$n" "/dev/loop$n" || fail "[$me] ln -s"
	expect_fail "[$me] blockdev on /dev/loop$n (the other's number)" blockdev --getsize64 "/dev/loop$n"
	expect_fail "[$me] losetup /dev/loop$n" losetup "/dev/loop$n"
	rm "/dev/loop$n"
	assert_eq "$(instance_devices /dev/loopfs | tr '\n' ' ')" "loop$OWN " "[$me] our instance holds our device only"
	partitions_list "$OWN" || fail "[$me] /proc/partitions does not list our loop$OWN"
	ok "[$me] /proc/partitions lists our loop$OWN"
}

handshake() { # [STEP: run with the other's number after probe_other]
	echo "$OWN" >/ct/num && touch /ct/ready || fail "[$me] /ct/ready"
	wait_file /ct/other 600 || fail "[$me] never got the other's number"
	probe_other "$(cat /ct/other)"
	[ $# = 0 ] || "$1" "$(cat /ct/other)"
	touch /ct/probed
	wait_file /ct/go 600 || fail "[$me] the host never said go"
}

# A's final mounts, made by loopfs-mountd through crun's seccomp listener
# (mount(8) of util-linux, unmodified).  loopfs-mountd's mounts are not
# idmapped: the ids on disk are the host's, so A's root (host uid
# $CT_HOSTID) owns the ext4's root because mkfs.ext4 said so (root_owner),
# and the vfat's files because the mount says so (uid=, gid=).
a_mounts() { # N: our loop device
	local n=$1 m k
	got=$(file_last_match /proc/self/status '^Seccomp:') || fail "[a] no Seccomp in /proc/self/status"
	assert_eq "$got" $'Seccomp:\t2' "[a] under crun's seccomp filter"

	mount "/dev/loop${n}p1" /mnt1 || fail "[a] mount /dev/loop${n}p1 /mnt1"
	assert_locked_mount /mnt1 ext4 "/dev/loopfs/loop${n}p1" "[a] mount /dev/loop${n}p1 /mnt1 (by loopfs-mountd)"
	mount -o "uid=$CT_HOSTID,gid=$CT_HOSTID" "/dev/loop${n}p2" /mnt2 ||
		fail "[a] mount -o uid=$CT_HOSTID,gid=$CT_HOSTID /dev/loop${n}p2 /mnt2"
	assert_locked_mount /mnt2 vfat "/dev/loopfs/loop${n}p2" "[a] mount /dev/loop${n}p2 /mnt2 (by loopfs-mountd)"
	for m in 1 2; do
		assert_eq "$(stat -c %u:%g "/mnt$m")" 0:0 "[a] our root owns /mnt$m's root"
		mkdata "/ct/mnt$m.bin" 200
		cp "/ct/mnt$m.bin" "/mnt$m/mnt$m.bin" && sync "/mnt$m/mnt$m.bin" ||
			fail "[a] writing /mnt$m/mnt$m.bin"
		cmp "/mnt$m/mnt$m.bin" "/ct/mnt$m.bin" || fail "[a] /mnt$m/mnt$m.bin does not read back"
	done
	ok "[a] a file written into each mount reads back"
	umount /mnt1 || fail "[a] umount /mnt1"
	umount /mnt2 || fail "[a] umount /mnt2"
	assert_not_mounted /mnt1 "[a] umount /mnt1"
	assert_not_mounted /mnt2 "[a] umount /mnt2"

	# mount -o loop: util-linux sets up a device of our instance (through
	# the linker's /dev/loopK), autoclear, and loopfs-mountd mounts it
	mount -o loop,ro /ct/img2.ext4 /mnt3 || fail "[a] mount -o loop,ro /ct/img2.ext4 /mnt3"
	mnt_get /mnt3 || fail "[a] nothing on /mnt3 after mount -o loop,ro"
	k=$(num_of_dev "$MNT_SRC") || fail "[a] mount -o loop: source '$MNT_SRC'"
	assert_ne "$k" "$n" "[a] mount -o loop's device"
	assert_blk "/dev/loopfs/loop$k" "[a] mount -o loop used loop$k of our instance"
	assert_locked_mount /mnt3 ext4 "$MNT_SRC" "[a] mount -o loop,ro /ct/img2.ext4 /mnt3 (by loopfs-mountd)"
	has_opt "$MNT_OPTS" ro || fail "[a] /mnt3 is not read-only: $MNT_OPTS"
	echo "$MNT_SRC" >/ct/loop-src
	cmp /mnt3/hello.bin /ct/img2-hello.bin || fail "[a] /mnt3/hello.bin does not read back"
	ok "[a] the file in img2.ext4 reads back through mount -o loop,ro"
	umount /mnt3 || fail "[a] umount /mnt3 (autoclear loop$k)"
	assert_not_mounted /mnt3 "[a] umount /mnt3"
	wait_until 20 _a_unbound "$k" || fail "[a] loop$k is still bound after umount (autoclear)"
	ok "[a] loop$k detached itself (autoclear) after umount"
	# remove it: our instance holds our disk's device only, as before
	rm "/dev/loopfs/loop$k" || fail "[a] rm /dev/loopfs/loop$k"
	wait_gone "/dev/loop$k" 20 || fail "[a] /dev/loop$k stays after loop$k went"
	ok "[a] loop$k removed"
}
_a_unbound() { ! loop_bound "$1"; }

# Refused by loopfs-mountd: B's device number by what we can reach
a_refusals() { # N: B's device
	local n=$1
	ln -s "loopfs/loop$n" /dev/other-loop || fail "[a] ln -s loopfs/loop$n /dev/other-loop"
	expect_fail "[a] mount -t ext4 of B's number through a symlink in our /dev" \
		mount -t ext4 /dev/other-loop /mnt1
	assert_not_mounted /mnt1 "[a] the symlink to B's number"
	rm /dev/other-loop || fail "[a] rm /dev/other-loop"

	# B's own node: the host binds it on /dev/other-node
	: >/dev/other-node && touch /ct/want-node || fail "[a] /dev/other-node"
	wait_file /ct/node-bound 300 || fail "[a] the host never bound B's node"
	assert_blk /dev/other-node "[a] B's node, bound in our /dev by the host"
	got=$(node_devnum /dev/other-node) || fail "[a] no device number for /dev/other-node"
	assert_eq "$got" "$(cat /ct/other-devnum)" "[a] /dev/other-node is B's loop$n"
	expect_fail "[a] opening B's node (B's root's, 0660)" blockdev --getsize64 /dev/other-node
	expect_fail "[a] mount -t ext4 of B's node" mount -t ext4 /dev/other-node /mnt1
	assert_not_mounted /mnt1 "[a] B's node"
	umount /dev/other-node && rm /dev/other-node || fail "[a] umount, rm /dev/other-node"
}

ct_a() {
	local dev n x xs=() i
	check_dev max=8
	find_linker

	ct_disk /ct/disk.img
	dev=$DEV n=$N
	OWN=$n
	[ -L "/dev/loop${n}p4" ] && [ ! -L "/dev/loop${n}p5" ] ||
		fail "[a] want links loop${n}p1..p4 only (org.loopfs.parts=4)"
	ok "[a] partition links loop${n}p1..p4, no p5 (org.loopfs.parts=4)"
	ct_fill_disk "$n" ct-ext4 CTFAT "$CT_HOSTID"

	a_mounts "$n"
	handshake a_refusals

	# Rescan after an overflow of the linker's inotify queue (one event):
	# three devices removed while it is stopped, the links of all go.
	for i in 1 2 3; do
		truncate -s 1M "/ct/x$i.img" || fail "[a] truncate"
		x=$(losetup -f --show "/ct/x$i.img") || fail "[a] losetup -f --show x$i.img"
		x=$(num_of_dev "$x") || fail "[a] losetup printed '$x'"
		xs+=("$x")
	done
	for x in "${xs[@]}"; do
		losetup -d "/dev/loop$x" || fail "[a] losetup -d /dev/loop$x"
	done
	kill -STOP "$LINKER" || fail "[a] kill -STOP the linker"
	for x in "${xs[@]}"; do
		rm "/dev/loopfs/loop$x" || fail "[a] rm /dev/loopfs/loop$x"
	done
	kill -CONT "$LINKER" || fail "[a] kill -CONT the linker"
	for x in "${xs[@]}"; do
		wait_gone "/dev/loop$x" 20 || fail "[a] /dev/loop$x stays after its device went (rescan after the overflow failed?)"
		wait_gone "/dev/loop${x}p1" 20 || fail "[a] /dev/loop${x}p1 stays after its device went"
	done
	ok "[a] links of 3 devices removed while the linker was stopped are gone (${xs[*]/#/loop})"

	losetup -d "$dev" || fail "[a] losetup -d $dev"
	wait_gone "/dev/loopfs/loop${n}p1" 10 || fail "[a] loop${n}p1 node stays after losetup -d"
	wait_gone "/dev/loopfs/loop${n}p2" 10 || fail "[a] loop${n}p2 node stays after losetup -d"
	ok "[a] losetup -d $dev: the partition nodes went"
	# leave a device bound: the container's end must remove it
	truncate -s 4M /ct/keep.img || fail "[a] truncate"
	dev=$(losetup -f --show /ct/keep.img) || fail "[a] losetup -f --show keep.img"
	echo "${dev#/dev/loop}" >/ct/keep-num
	ok "[a] $dev left bound to keep.img at the end"
}

ct_b() {
	local dev n
	check_dev max=2 mode=660
	find_linker
	truncate -s 8M /ct/b.img || fail "[b] truncate"
	dev=$(losetup -f --show /ct/b.img) || fail "[b] losetup -f --show"
	n=$(num_of_dev "$dev") || fail "[b] losetup printed '$dev'"
	OWN=$n
	assert_eq "$(readlink "/dev/loop$n")" "loopfs/loop$n" "[b] /dev/loop$n is the linker's link"
	[ -L "/dev/loop${n}p15" ] && [ ! -L "/dev/loop${n}p16" ] ||
		fail "[b] want links loop${n}p1..p15 only (default)"
	ok "[b] partition links loop${n}p1..p15 (default), no p16"
	ct_direct_io "$dev"
	handshake
}

case $me in
a) CT_HOSTID=200000 ct_a ;;
b) CT_HOSTID=300000 ct_b ;;
*) fail "ct.sh: want a or b" ;;
esac
echo ok >/ct/done
EOF

# ------------------------------------------------------------- host helpers

ct_show() { # NAME: the container's output and the hook's standard error
	echo "--- container $1 output:"
	print_file "$SCRATCH/ct-$1.log"
	echo "--- hook-$1.err:"
	[ -e "$SCRATCH/hook-$1.err" ] && print_file "$SCRATCH/hook-$1.err"
	if [ "$1" = a ]; then
		echo "--- loopfs-mountd's log so far:"
		print_file "$MOUNTD_LOG"
	fi
	echo "---"
}

ct_wait_file() { # NAME FILE
	wait_file_while "$SCRATCH/$1/$2" 600 "${CT_PID[$1]}" ||
		{ ct_show "$1"; fail "container $1: no $2 ($WAIT_WHY)"; }
}

ct_create() { # NAME
	local out
	"${CRUN[@]}" create --bundle "$SCRATCH/bundle-$1" "lfs-$1" \
		>"$SCRATCH/ct-$1.log" 2>&1 </dev/null ||
		{ ct_show "$1"; fail "crun create lfs-$1"; }
	defer "${CRUN[@]}" delete -f "lfs-$1"
	out=$("${CRUN[@]}" state "lfs-$1") || fail "crun state lfs-$1"
	[[ $out =~ \"pid\":\ *([0-9]+) ]] || fail "no pid in crun state: $out"
	CT_PID[$1]=${BASH_REMATCH[1]}
	[[ $out == *'"status": "created"'* ]] || fail "lfs-$1 is not created: $out"
	ok "crun create lfs-$1: init pid ${CT_PID[$1]}"
}

# The linker of container NAME, seen from the host: in the container's pid,
# user, mount, network, ipc and uts namespaces, a child of its init.  (The
# hook, which forked it, joins no namespace when the state's pid is 0: these
# are the namespaces crun ran the hook in.)
host_check_linker() { # NAME
	linker_of "${CT_PID[$1]}" >/dev/null ||
		{ ct_show "$1"; fail "no loopfs-link in lfs-$1's pid namespace"; }
	assert_linker_of "${CT_PID[$1]}" "lfs-$1" user mnt net ipc uts
}

# ------------------------------------------------------ the mount supervisor
start_mountd "$MOUNTD_LOG" "$MOUNTD_SOCK" "$MOUNTD" -v -s "$MOUNTD_SOCK" -i /dev/loopfs -t ext4,vfat

# -------------------------------------------------------------- create, start
# One queued inotify event per linker: the linkers made now get queue
# overflows (and rescan) whenever two events come before they read.
# B first (it used to shorten A's create, when loopfs-mountd gave an idle
# connection only 10 s; the order does not matter any more).
read -r oldq </proc/sys/fs/inotify/max_queued_events || fail "max_queued_events"
echo 1 >/proc/sys/fs/inotify/max_queued_events || fail "setting max_queued_events"
defer eval "echo $oldq >/proc/sys/fs/inotify/max_queued_events"
ct_create b
t0=$EPOCHREALTIME
ct_create a
t1=$EPOCHREALTIME
echo "$oldq" >/proc/sys/fs/inotify/max_queued_events || fail "restoring max_queued_events"
t0=${t0/./} t1=${t1/./}
info "crun create lfs-a (and crun state) took $(((t1 - t0) / 1000)) ms"

# crun ran the hook in the container's namespaces (state pid 0), and the
# hook did its work before `crun create` returned
file_has "$SCRATCH/hook-a.err" "state pid 0: in the container's namespaces already" ||
	{ ct_show a; fail "the hook did not run with state pid 0"; }
file_has "$SCRATCH/hook-a.err" "the linker is ready" || { ct_show a; fail "the hook's linker"; }
ok "crun ran the hook with \"pid\": 0, in the container's namespaces: $(file_last_match "$SCRATCH/hook-a.err" 'started')"
for c in a b; do
	assert_dev_instance "lfs-$c" "${CT_PID[$c]}"
	host_check_linker "$c"
done

# crun holds an idle connection to loopfs-mountd from A's create to its
# start: longer than the 10 s a begun state gets must be fine.
nap 11
for c in a b; do
	"${CRUN[@]}" start "lfs-$c" || { ct_show "$c"; fail "crun start lfs-$c"; }
done
ok "crun start lfs-a, lfs-b"
# with noNewPrivileges, crun hands A's listener over at `crun start`
wait_until 20 file_has "$MOUNTD_LOG" "container lfs-a (pid " ||
	{ ct_show a; fail "loopfs-mountd never got lfs-a's seccomp listener"; }
mountd_log_has "container lfs-a (pid "
! file_has "$MOUNTD_LOG" "refused a container process state" ||
	{ print_file "$MOUNTD_LOG"; fail "loopfs-mountd refused a container process state"; }
ct_wait_file a ready
ct_wait_file b ready
na=$(cat a/num) nb=$(cat b/num)
assert_num "$na" "lfs-a's device"
assert_num "$nb" "lfs-b's device"
assert_ne "$na" "$nb" "the containers' devices"

# ------------------------------------------------------ seen from the host
for n in "$na" "$nb"; do
	assert_absent "/sys/block/loop$n" "host sysfs does not list a container's loop$n (4.1)"
	assert_absent "/dev/loop$n" "host /dev has no node of loop$n (3.5)"
	! file_last_match /proc/partitions "[[:space:]]loop$n\$" >/dev/null ||
		fail "host /proc/partitions lists loop$n (4.2)"
done
assert_absent "/sys/class/block/loop${na}p1" "host sysfs does not list lfs-a's partition"
assert_absent "/dev/loop${na}p1" "host /dev has no node of lfs-a's partition"
assert_exists "/sys/block/loop$hn" "the host's own loop$hn is still listed"

# ------------------------------------------------------ each probes the other
# (and A tries to mount B's device; for that the host binds B's node, from
# B's mount namespace, on A's /dev/other-node)
node_devnum "/proc/${CT_PID[b]}/root/dev/loopfs/loop$nb" >a/other-devnum ||
	fail "the number of B's node"
cat >xbind.py <<'XBIND'
# xbind.py SRC_PID SRC DST_PID DST: clone the mount at SRC (a file) in
# SRC_PID's mount namespace (open_tree) and attach it on DST in DST_PID's
# (move_mount)
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def chk(r, what):
    if r < 0:
        sys.exit("xbind: %s: %s" % (what, os.strerror(ctypes.get_errno())))
    return r
sp, src, dp, dst = sys.argv[1:5]
sns = os.open("/proc/%s/ns/mnt" % sp, os.O_RDONLY)
dns = os.open("/proc/%s/ns/mnt" % dp, os.O_RDONLY)
chk(libc.setns(sns, 0x20000), "setns to the mount namespace of " + sp)
t = chk(libc.syscall(428, -100, src.encode(), 1 | os.O_CLOEXEC), "open_tree " + src)
chk(libc.setns(dns, 0x20000), "setns to the mount namespace of " + dp)
chk(libc.syscall(429, t, b"", -100, dst.encode(), 4), "move_mount to " + dst)
XBIND
echo "$nb" >a/other && echo "$na" >b/other || fail "writing the numbers"
ct_wait_file a want-node
python3 xbind.py "${CT_PID[b]}" "/dev/loopfs/loop$nb" "${CT_PID[a]}" /dev/other-node ||
	fail "binding B's node on A's /dev/other-node"
touch a/node-bound || fail "touch a/node-bound"
ok "B's /dev/loopfs/loop$nb bound on A's /dev/other-node"
ct_wait_file a probed
ct_wait_file b probed
touch a/go b/go || fail "touch go"

for c in a b; do
	wait_until 600 pid_gone "${CT_PID[$c]}" || { ct_show "$c"; fail "lfs-$c does not end"; }
done
for c in a b; do
	ct_show "$c"
	[ "$(cat "$c/done" 2>/dev/null)" = ok ] || fail "container $c failed (see its output above)"
done
ok "both containers did all their steps"

# The linkers rescanned after their queue overflowed, through their /dev fd
file_has "$SCRATCH/hook-a.err" "inotify queue overflow" ||
	fail "lfs-a's linker never had a queue overflow: the rescan was not tested"
! file_has "$SCRATCH/hook-a.err" "cannot read" || fail "lfs-a's linker could not rescan its instance"
for c in a b; do
	! file_has "$SCRATCH/hook-$c.err" "inherited fd" || fail "lfs-$c's linker inherited a file of the instance"
done
ok "lfs-a's linker rescanned after queue overflows, after pivot_root"

# ------------------------------------------------------------- crun delete
keep=$(cat a/keep-num)
for c in a b; do
	expect_ok "crun delete lfs-$c" "${CRUN[@]}" delete "lfs-$c"
	expect_fail "lfs-$c is gone" "${CRUN[@]}" state "lfs-$c"
done
for n in "$na" "$nb" "$keep"; do
	wait_gone "/sys/block/loop$n" 20 || fail "loop$n is left after crun delete"
done
ok "no loop device of the containers is left (loop$na, loop$nb, loop$keep: was bound)"

# ------------------------------------------------------- loopfs-mountd's log
# A's mounts and the refusals, as loopfs-mountd saw them; B, without a
# seccomp profile, never reached it
wait_until 20 file_has "$MOUNTD_LOG" "container lfs-a (pid " ||
	fail "no lfs-a in loopfs-mountd's log"
wait_until 20 file_has "$MOUNTD_LOG" "): gone" ||
	{ print_file "$MOUNTD_LOG"; fail "loopfs-mountd did not see lfs-a go"; }
kill "$MOUNTD_PID" && wait "$MOUNTD_PID"
echo "--- loopfs-mountd's log:"
print_file "$MOUNTD_LOG"
echo "---"
read -r ksrc <a/loop-src || fail "no a/loop-src"
mountd_log_has "container lfs-a (pid "
mountd_log_has ": mounted /dev/loopfs/loop${na}p1 on /mnt1 type ext4 "
mountd_log_has ": mounted /dev/loopfs/loop${na}p2 on /mnt2 type vfat "
mountd_log_has ": mounted $ksrc on /mnt3 type ext4 "
mountd_log_has ": refused mount of /dev/other-loop on /mnt1 type ext4: looking the source up in the caller's root: No such file or directory (ENOENT)"
mountd_log_has ": refused mount of /dev/other-node on /mnt1 type ext4: a node of another loopfs instance"
file_last_match "$MOUNTD_LOG" 'container lfs-a \(pid [0-9]+\): gone$' >/dev/null ||
	fail "loopfs-mountd's log does not say lfs-a is gone"
ok "loopfs-mountd's log: lfs-a is gone"
! file_has "$MOUNTD_LOG" "lfs-b" || fail "loopfs-mountd's log names lfs-b, which has no seccomp profile"
ok "loopfs-mountd never heard of lfs-b"

# ---------------------------------------------------- A's image, on the host
image_fsck "$SCRATCH/a/disk.img"
idev=$IMG_DEV
assert_eq "$(blkid -o value -s LABEL "${idev}p1")" ct-ext4 "the ext4's label"
assert_eq "$(blkid -o value -s LABEL "${idev}p2")" CTFAT "the vfat's label"
check_filled_disk "$idev" a "lfs-a's image"
debugfs -R "cat /mnt1.bin" "${idev}p1" 2>/dev/null | cmp - a/mnt1.bin ||
	fail "the file lfs-a wrote through its ext4 mount is not in the image"
ok "the file lfs-a wrote through its ext4 mount (/mnt1) is in the image"
out=$(debugfs -R "stat /mnt1.bin" "${idev}p1" 2>/dev/null)
[[ $out =~ User:\ *([0-9]+) ]] &&
	info "its owner on disk is uid ${BASH_REMATCH[1]}: loopfs-mountd's mounts are not idmapped"
mkdir -p r2 || fail "mkdir r2"
mount -o ro "${idev}p2" r2 || fail "host: mount -o ro ${idev}p2 r2"
defer umount r2
cmp r2/mnt2.bin a/mnt2.bin || fail "the file lfs-a wrote through its vfat mount is not in the image"
ok "the file lfs-a wrote through its vfat mount (/mnt2) is in the image"
umount r2 || fail "host: umount r2"

# ------------------------------------- the hook run from outside a container
# A runtime that runs createContainer hooks outside the container gives the
# container's pid in the state; the hook joins its user, mount and pid
# namespaces.  The "container": uid 4000 as root of its own user namespace,
# with its own mount and pid namespaces and a tmpfs on x/rootfs/dev; the
# state has no "root", x/config.json has root.path.
X=$SCRATCH/x
outside_ct() {
	local st dev n
	mount -t tmpfs -o mode=0755 xdev "$X/rootfs/dev" || fail "[x] tmpfs on rootfs/dev"
	touch "$X/rootfs/dev/null" && mount --bind /dev/null "$X/rootfs/dev/null" ||
		fail "[x] rootfs/dev/null"
	read -r st </proc/self/stat	# (the host's /proc: our host pid)
	echo "${st%% *}" >"$X/pid" && touch "$X/ready" || fail "[x] ready"
	wait_file "$X/hooked" 300 || fail "[x] the hook never ran"
	assert_eq "$(stat -f -c %t "$X/rootfs/dev/loopfs")" 6c706673 "[x] rootfs/dev/loopfs is a loopfs instance"
	mount --rbind "$X/rootfs/dev" /dev || fail "[x] mount --rbind rootfs/dev /dev"
	truncate -s 4M "$X/x.img" || fail "[x] truncate"
	dev=$(losetup -f --show "$X/x.img") || fail "[x] losetup -f --show"
	n=$(num_of_dev "$dev") || fail "[x] losetup printed '$dev'"
	assert_eq "$(readlink "/dev/loop$n")" "loopfs/loop$n" "[x] /dev/loop$n is the linker's link"
	assert_eq "$(blockdev --getsize64 "$dev")" 4194304 "[x] blockdev --getsize64 $dev"
	echo "$n" >"$X/num" && touch "$X/added" || fail "[x] added"
	wait_file "$X/checked" 300 || fail "[x] the host never checked"
}
export -f outside_ct
export X
mkdir -p "$X/rootfs/dev" || fail "mkdir $X"
printf '{ "ociVersion": "1.0.2", "root": { "path": "rootfs", "readonly": true } }\n' >"$X/config.json"
chown -R 4000:4000 "$X" || fail "chown $X"
SCRATCH=$X LIB_IN_CONTAINER=1 setpriv --reuid=4000 --regid=4000 --clear-groups \
	unshare --user --map-root-user --mount --pid --fork --propagation private \
	bash -c '. "$LIB_SH" && outside_ct' >x.log 2>&1 &
xp=$!
defer kill "$xp"
wait_file_while "$X/ready" 300 "$xp" || { print_file x.log; fail "x: not ready ($WAIT_WHY)"; }
xpid=$(cat "$X/pid")
printf '{"ociVersion": "1.0.2", "id": "x", "status": "creating", "pid": %d, "bundle": "%s", "annotations": {"org.loopfs.options": "max=1"}}' \
	"$xpid" "$X" | "$HOOK" -v >hook-x.err 2>&1 || { print_file hook-x.err; fail "hook with pid $xpid"; }
print_file hook-x.err
for ns in user mnt pid; do
	file_has hook-x.err "joined the $ns namespace of pid $xpid" || fail "the hook did not join x's $ns namespace"
done
lp=$(linker_of "$xpid") || { print_file x.log; fail "no loopfs-link in x's pid namespace"; }
for ns in user mnt; do
	[ "/proc/$lp/ns/$ns" -ef "/proc/$xpid/ns/$ns" ] || fail "x's linker is not in x's $ns namespace"
done
ok "the hook, given x's pid, joined its user, mount and pid namespaces; the linker (host pid $lp) is in them"
touch "$X/hooked"
wait_file_while "$X/added" 300 "$xp" || { print_file x.log; fail "x: no device ($WAIT_WHY)"; }
xn=$(cat "$X/num")
assert_num "$xn" "x's device"
assert_absent "/sys/block/loop$xn" "host sysfs does not list x's loop$xn: the instance is its user namespace's"
touch "$X/checked"
wait "$xp"
rc=$?
print_file x.log
[ $rc -eq 0 ] || fail "x failed (exit $rc)"
wait_until 20 pid_gone "$lp" || fail "x's linker outlives x's pid namespace"
wait_gone "/sys/block/loop$xn" 20 || fail "x's loop$xn outlives x"
ok "x's linker and loop$xn went with x"
