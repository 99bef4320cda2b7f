#!/bin/bash
# timeout: 900
# Contract 4.6: a container without a user namespace, set up as loopfs.rst
# says (no CAP_MKNOD; device cgroup rw on c 10:237, b 7:*, b 259:*; no
# mount of a file system with device nodes), run by crun (cgroup v2, its
# device filter a BPF program) with the loopfs OCI hook.  The capabilities
# are a default Docker container's less CAP_MKNOD.  crun, like runc and
# LXC, allows mknod ("m") of every block and char device in its default
# device rules, so the missing CAP_MKNOD is what stops the container here.
#
#   - inside, `losetup -f --show`, data written through /dev/loopN and
#     read back with direct I/O (the rules' b 7:* rw), losetup -d;
#   - the host's loop device has no node in /dev or in the instance;
#     mknod of it fails with EPERM, and so does mknod of the container's
#     own device number and of a partition number (259); so does mknod in
#     a user namespace the container makes for itself (unshare -U: every
#     capability there, none over device nodes), where a loopfs instance
#     of its own holds only its own devices;
#   - mount of devtmpfs and of a second loopfs instance fail (EPERM);
#   - after the container: its device is gone;
#   - the same container with CAP_MKNOD (as a default Docker container has
#     it): the hook refuses it, naming CAP_MKNOD, and crun does not start it
#     (with the runtime's default "b *:* m" it could make and open a node of
#     any loop device of the machine).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../containers.sh"

require_root
require_cmds crun losetup dd cmp truncate mknod
require_loopfs

HOOK=${LOOPFS_OCI_HOOK:-$PROJECT/build/userspace/loopfs-oci-hook}
[ -x "$HOOK" ] || fail "no OCI hook $HOOK (make userspace)"
[ -e /sys/fs/cgroup/cgroup.controllers ] || fail "no cgroup v2 at /sys/fs/cgroup"
CRUN=(crun --root "$SCRATCH/crun" --cgroup-manager=cgroupfs)

host_device host.img 4
hn=$HOST_NUM

R=$SCRATCH/rootfs
ct_rootfs "$R"

# Docker's default capabilities less CAP_MKNOD
CAPS="CAP_CHOWN CAP_DAC_OVERRIDE CAP_FSETID CAP_FOWNER CAP_NET_RAW CAP_SETGID
CAP_SETUID CAP_SETFCAP CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_SYS_CHROOT CAP_KILL
CAP_AUDIT_WRITE"

# make_bundle NAME CAPS: no user namespace; a device cgroup of null, zero,
# random, urandom and the rules for loopfs (OCI_LOOPFS_DEVICES)
make_bundle() {
	oci_bundle "$1" --caps "$2" --linux "\"cgroupsPath\": \"/loopfs-test-$1\",
		\"resources\": { \"devices\": [
			{ \"allow\": false, \"access\": \"rwm\" },
			{ \"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3, \"access\": \"rwm\" },
			{ \"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 5, \"access\": \"rwm\" },
			{ \"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 8, \"access\": \"rwm\" },
			{ \"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 9, \"access\": \"rwm\" },
			$OCI_LOOPFS_DEVICES
		] }"
	echo "$hn" >"$SCRATCH/$1/host-num" || fail "host-num"
}

cat >"$R/ct.sh" <<'EOF' || fail "writing ct.sh"
. /project/tests/lib.sh
. /project/tests/containers.sh
me=$1
read -r hn </ct/host-num || fail "[$me] no /ct/host-num"
assert_uid_map "0 0 4294967295"
assert_dev_instance "[$me]"
assert_absent "/dev/loop$hn" "[$me] no /dev node of the host's loop$hn"
assert_absent "/dev/loopfs/loop$hn" "[$me] no instance node of the host's loop$hn"

truncate -s 8M /ct/disk.img || fail "[$me] truncate"
dev=$(losetup -f --show /ct/disk.img) || fail "[$me] losetup -f --show"
n=$(num_of_dev "$dev") || fail "[$me] losetup printed '$dev'"
assert_eq "$(readlink "/dev/loop$n")" "loopfs/loop$n" "[$me] /dev/loop$n is the linker's link"
ct_direct_io "$dev" "through the device cgroup's b 7:* rw"

# mknod: EPERM, whatever the number
mk() { # WHAT TYPE MAJOR MINOR
	local out
	out=$(mknod /dev/x "$2" "$3" "$4" 2>&1) &&
		fail "[$me] mknod of $1 ($2 $3:$4) worked"
	[[ $out == *"Operation not permitted"* ]] ||
		fail "[$me] mknod of $1: '$out', want EPERM"
	assert_absent /dev/x "[$me] no node for $1"
	ok "[$me] mknod of $1 ($2 $3:$4): EPERM"
}
mk "the host's loop$hn" b 7 "$(loop_devnum "$hn" | cut -d: -f2)"
mk "our own loop$n" b $(loop_devnum "$n" | tr : ' ')
mk "a partition number" b 259 0
# A user namespace of its own: all capabilities there, still no mknod
out=$(unshare -Ur mknod /tmp/x b 7 "$(loop_devnum "$hn" | cut -d: -f2)" 2>&1) &&
	fail "[$me] mknod in a user namespace of our own worked"
[[ $out == *"Operation not permitted"* ]] || fail "[$me] unshare -Ur mknod: '$out', want EPERM"
assert_absent /tmp/x "[$me] no node made in a user namespace of our own"
ok "[$me] mknod of the host's loop$hn in a user namespace of our own: EPERM"
out=$(unshare -Urm sh -c 'mount -t loopfs none /tmp && ls -A /tmp') ||
	fail "[$me] a loopfs instance in a user namespace of our own: $out"
assert_eq "$out" loop-control "[$me] a loopfs instance made in a user namespace of our own holds loop-control only"
expect_fail "[$me] mount -t devtmpfs" mount -t devtmpfs none /tmp
expect_fail "[$me] mount -t loopfs (a second instance)" mount -t loopfs none /tmp
# CAP_MKNOD is capability 27
eff=$(file_last_match /proc/self/status '^CapEff:') || fail "[$me] no CapEff"
assert_eq "$(((0x${eff#*$'\t'} >> 27) & 1))" 0 "[$me] no CAP_MKNOD ($eff)"
losetup -d "$dev" || fail "[$me] losetup -d $dev"
echo "$n" >/ct/num
echo ok >/ct/done
EOF

c=documented
make_bundle "$c" "$CAPS"
oci_run_ok "$c" "${CRUN[@]}"
n=$(cat "$SCRATCH/$c/num")
wait_gone "/sys/block/loop$n" 20 || fail "loop$n of $c is left after it ended"
ok "$c: its loop$n went with it"

# With CAP_MKNOD: the hook refuses the container
make_bundle mknod "$CAPS CAP_MKNOD"
oci_run mknod "${CRUN[@]}"
rc=$?
[ $rc -ne 0 ] || { print_file ct-mknod.log; fail "a container with CAP_MKNOD and no user namespace ran"; }
[ ! -e "$SCRATCH/mknod/done" ] || fail "the CAP_MKNOD container's script ran"
file_has "$SCRATCH/hook-mknod.err" "no user namespace and keeps CAP_MKNOD" ||
	{ print_file ct-mknod.log; print_file "$SCRATCH/hook-mknod.err"; fail "the hook did not refuse CAP_MKNOD"; }
ok "a container without a user namespace that keeps CAP_MKNOD: refused by the hook ($(file_last_match "$SCRATCH/hook-mknod.err" CAP_MKNOD))"
