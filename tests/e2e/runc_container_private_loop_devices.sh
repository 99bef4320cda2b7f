#!/bin/bash
# timeout: 900
# runc (Debian 12's 1.1.5) with the loopfs OCI hook: a container in its own
# user namespace (root mapped to host uid 500000), cgroup v2 with runc's
# device filter (a BPF program: runc's default device list plus what the
# config allows).
#
#   - runc runs createContainer hooks from its own process, outside the
#     container, with the container's pid in the state: the hook joins the
#     container's user, mount and pid namespaces and makes the instance
#     there (the container's root owns it: losetup and BLKRRPART work);
#   - "allowed": the config allows rw on c 10:237, b 7:* and b 259:*, as
#     the README says for runtimes with a device cgroup: inside,
#     `losetup -fP --show` on a partitioned image, the linker's
#     /dev/loopNp1, data written through it and read back with direct I/O,
#     losetup -d; the host does not list the device while it runs, and it
#     goes with the container;
#   - "default": the same container without those rules: runc's device
#     filter refuses to open the instance's loop-control (EPERM): the rules
#     are needed, and the container gets no loop device.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../containers.sh"

require_root
require_cmds runc losetup sfdisk blockdev dd cmp truncate
require_loopfs

HOOK=${LOOPFS_OCI_HOOK:-$PROJECT/build/userspace/loopfs-oci-hook}
[ -x "$HOOK" ] || fail "no OCI hook $HOOK (make userspace)"
[ -e /sys/fs/cgroup/cgroup.controllers ] || fail "no cgroup v2 at /sys/fs/cgroup"
RUNC=(runc --root "$SCRATCH/runc")
HOSTID=500000

R=$SCRATCH/rootfs
ct_rootfs "$R"

# The bundles (oci_bundle): runc's device cgroup with and without the rules
# for loopfs (OCI_LOOPFS_DEVICES)
for c in allowed default; do
	rules='{ "allow": false, "access": "rwm" }'
	[ $c = default ] || rules+=", $OCI_LOOPFS_DEVICES"
	oci_bundle "$c" --userns "$HOSTID" --linux "\"cgroupsPath\": \"/loopfs-test-runc-$c\",
		\"resources\": { \"devices\": [ $rules ] }"
done

cat >"$R/ct.sh" <<'EOF' || fail "writing ct.sh"
. /project/tests/lib.sh
. /project/tests/containers.sh
me=$1
assert_uid_map "0 500000 65536"
assert_dev_instance "[$me]"
truncate -s 32M /ct/disk.img || fail "[$me] truncate"
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q /ct/disk.img || fail "[$me] sfdisk"
if [ "$me" = default ]; then
	out=$(losetup -fP --show /ct/disk.img 2>&1) &&
		fail "[$me] losetup -fP --show worked without the device rules: $out"
	expect_errno EPERM "[$me] opening /dev/loopfs/loop-control under runc's default device list" \
		"$LOOPCTL" /dev/loop-control get_free
	ok "[$me] losetup -fP --show fails: $out"
	echo ok >/ct/done
	exit 0
fi
dev=$(losetup -fP --show /ct/disk.img) || fail "[$me] losetup -fP --show"
n=$(num_of_dev "$dev") || fail "[$me] losetup printed '$dev'"
assert_eq "$(readlink "/dev/loop$n")" "loopfs/loop$n" "[$me] /dev/loop$n is the linker's link"
assert_eq "$(blockdev --getsize64 "/dev/loop${n}p1")" $((63488 * 512)) "[$me] blockdev --getsize64 /dev/loop${n}p1"
ct_direct_io "/dev/loop${n}p1"
echo "$n" >/ct/num
touch /ct/ready
wait_file /ct/go 300 || fail "[$me] the host never said go"
losetup -d "$dev" || fail "[$me] losetup -d $dev"
echo ok >/ct/done
EOF

for c in allowed default; do
	if [ "$c" = allowed ]; then
		(
			wait_file "$SCRATCH/$c/ready" 300 || exit 1
			n=$(cat "$SCRATCH/$c/num")
			rc=0
			loop_sys_exists "$n" && { echo "host sysfs lists loop$n"; rc=1; }
			[ -e "/dev/loop$n" ] && { echo "host /dev has loop$n"; rc=1; }
			grep -q "[[:space:]]loop$n\$" /proc/partitions && { echo "host /proc/partitions lists loop$n"; rc=1; }
			touch "$SCRATCH/$c/go"
			exit $rc
		) >"host-$c.log" 2>&1 &
		hostpid=$!
	fi
	oci_run_ok "$c" "${RUNC[@]}"
	if [ "$c" = allowed ]; then
		wait "$hostpid" || { print_file "host-$c.log"; fail "the host saw $c's device"; }
		n=$(cat "$SCRATCH/$c/num")
		ok "while $c ran, the host's sysfs, /dev and /proc/partitions did not list its loop$n"
		wait_gone "/sys/block/loop$n" 20 || fail "loop$n of $c is left after it ended"
		ok "$c: its loop$n went with it"
	fi
done
