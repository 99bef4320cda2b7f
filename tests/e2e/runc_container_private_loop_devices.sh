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

require_root
require_cmds runc losetup sfdisk blockdev dd cmp truncate
require_loopfs

HOOK=${LOOPFS_OCI_HOOK:-$PROJECT/build/userspace/loopfs-oci-hook}
[ -x "$HOOK" ] || fail "no OCI hook $HOOK (make userspace)"
[ -e /sys/fs/cgroup/cgroup.controllers ] || fail "no cgroup v2 at /sys/fs/cgroup"
RUNC=(runc --root "$SCRATCH/runc")
HOSTID=500000

chmod 755 "$SCRATCH"
R=$SCRATCH/rootfs
mkdir -p "$R"/{usr,etc,proc,sys,dev,tmp,ct,project} || fail "mkdir rootfs"
for l in bin sbin lib lib64; do
	ln -s "usr/$l" "$R/$l" || fail "ln -s usr/$l"
done

make_bundle() { # NAME DEVICE_RULES
	local b=$SCRATCH/bundle-$1
	mkdir -p "$b" "$SCRATCH/$1" || fail "mkdir $b"
	cat >"$b/config.json" <<EOF || fail "writing $b/config.json"
{
	"ociVersion": "1.0.2",
	"process": {
		"terminal": false,
		"user": { "uid": 0, "gid": 0 },
		"args": [ "/bin/bash", "/ct/ct.sh", "$1" ],
		"env": [ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			 "LIB_IN_CONTAINER=1", "PROJECT=/project", "SCRATCH=/ct",
			 "TEST_NAME=${TEST_NAME}[$1]", "HOME=/ct", "LC_ALL=C" ],
		"cwd": "/ct",
		"capabilities": {
			"bounding": [ "CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL" ],
			"effective": [ "CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL" ],
			"permitted": [ "CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL" ]
		},
		"noNewPrivileges": true
	},
	"root": { "path": "$R", "readonly": true },
	"hostname": "ct-$1",
	"mounts": [
		{ "destination": "/proc", "type": "proc", "source": "proc" },
		{ "destination": "/sys", "type": "sysfs", "source": "sysfs",
		  "options": [ "nosuid", "noexec", "nodev", "ro" ] },
		{ "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
		  "options": [ "nosuid", "strictatime", "mode=755", "size=4m" ] },
		{ "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
		  "options": [ "nosuid", "nodev", "size=16m" ] },
		{ "destination": "/usr", "type": "bind", "source": "/usr", "options": [ "rbind", "ro" ] },
		{ "destination": "/etc", "type": "bind", "source": "/etc", "options": [ "rbind", "ro" ] },
		{ "destination": "/project", "type": "bind", "source": "$PROJECT", "options": [ "rbind", "ro" ] },
		{ "destination": "/ct", "type": "bind", "source": "$SCRATCH/$1", "options": [ "rbind", "rw" ] }
	],
	"hooks": { "createContainer": [ { "path": "$HOOK", "args": [ "loopfs-oci-hook", "-v" ] } ] },
	"linux": {
		"uidMappings": [ { "containerID": 0, "hostID": $HOSTID, "size": 65536 } ],
		"gidMappings": [ { "containerID": 0, "hostID": $HOSTID, "size": 65536 } ],
		"namespaces": [ { "type": "user" }, { "type": "mount" }, { "type": "pid" },
				{ "type": "ipc" }, { "type": "uts" }, { "type": "network" } ],
		"cgroupsPath": "/loopfs-test-runc-$1",
		"resources": { "devices": [ { "allow": false, "access": "rwm" } $2 ] }
	}
}
EOF
	chown -R "$HOSTID:$HOSTID" "$SCRATCH/$1" || fail "chown"
}
make_bundle allowed ',
			{ "allow": true, "type": "c", "major": 10, "minor": 237, "access": "rw" },
			{ "allow": true, "type": "b", "major": 7, "access": "rw" },
			{ "allow": true, "type": "b", "major": 259, "access": "rw" }'
make_bundle default ""

cat >"$SCRATCH/ct.sh" <<'EOF' || fail "writing ct.sh"
. /project/tests/lib.sh
me=$1
read -r f hu c </proc/self/uid_map
assert_eq "$f $hu $c" "0 500000 65536" "[$me] root of a user namespace (uid_map)"
assert_eq "$(stat -f -c %t /dev/loopfs)" 6c706673 "[$me] /dev/loopfs is a loopfs instance"
assert_eq "$(readlink /dev/loop-control)" loopfs/loop-control "[$me] /dev/loop-control link"
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
mkdata /ct/raw.bin 512
dd if=/ct/raw.bin of="/dev/loop${n}p1" bs=64k oflag=direct conv=notrunc,fsync status=none ||
	fail "[$me] dd to /dev/loop${n}p1"
dd if="/dev/loop${n}p1" bs=64k count=8 iflag=direct status=none | cmp - /ct/raw.bin ||
	fail "[$me] data does not read back from /dev/loop${n}p1"
ok "[$me] 512 KiB written to /dev/loop${n}p1 read back (direct I/O)"
echo "$n" >/ct/num
touch /ct/ready
wait_file /ct/go 300 || fail "[$me] the host never said go"
losetup -d "$dev" || fail "[$me] losetup -d $dev"
echo ok >/ct/done
EOF

for c in allowed default; do
	cp "$SCRATCH/ct.sh" "$SCRATCH/$c/ct.sh" || fail "cp ct.sh"
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
	"${RUNC[@]}" run --bundle "$SCRATCH/bundle-$c" "lfs-runc-$c" >"ct-$c.log" 2>&1 </dev/null
	rc=$?
	print_file "ct-$c.log"
	"${RUNC[@]}" delete -f "lfs-runc-$c" >/dev/null 2>&1
	[ $rc -eq 0 ] && [ -e "$SCRATCH/$c/done" ] || fail "runc container $c failed (status $rc)"
	if [ "$c" = allowed ]; then
		wait "$hostpid" || { print_file "host-$c.log"; fail "the host saw $c's device"; }
		n=$(cat "$SCRATCH/$c/num")
		ok "while $c ran, the host's sysfs, /dev and /proc/partitions did not list its loop$n"
		wait_gone "/sys/block/loop$n" 20 || fail "loop$n of $c is left after it ended"
		ok "$c: its loop$n went with it"
	fi
done
