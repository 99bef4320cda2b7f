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

require_root
require_cmds crun losetup dd cmp truncate mknod
require_loopfs

HOOK=${LOOPFS_OCI_HOOK:-$PROJECT/build/userspace/loopfs-oci-hook}
[ -x "$HOOK" ] || fail "no OCI hook $HOOK (make userspace)"
[ -e /sys/fs/cgroup/cgroup.controllers ] || fail "no cgroup v2 at /sys/fs/cgroup"
CRUN=(crun --root "$SCRATCH/crun" --cgroup-manager=cgroupfs)

mkimg host.img 4
hdev=$(losetup -f --show host.img) || fail "losetup -f --show host.img"
defer losetup -d "$hdev"
hn=$(num_of_dev "$hdev") || fail "host losetup printed '$hdev'"

chmod 755 "$SCRATCH"
R=$SCRATCH/rootfs
mkdir -p "$R"/{usr,etc,proc,sys,dev,tmp,ct,project} || fail "mkdir rootfs"
for l in bin sbin lib lib64; do
	ln -s "usr/$l" "$R/$l" || fail "ln -s usr/$l"
done

# Docker's default capabilities less CAP_MKNOD
CAPS="CAP_CHOWN CAP_DAC_OVERRIDE CAP_FSETID CAP_FOWNER CAP_NET_RAW CAP_SETGID
CAP_SETUID CAP_SETFCAP CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_SYS_CHROOT CAP_KILL
CAP_AUDIT_WRITE"

make_bundle() { # NAME CAPS
	local b=$SCRATCH/bundle-$1 caps c
	caps=$(for c in $2; do printf '"%s", ' "$c"; done)
	caps="[ ${caps%, } ]"
	mkdir -p "$b" "$SCRATCH/$1" || fail "mkdir $b"
	echo "$hn" >"$SCRATCH/$1/host-num" || fail "host-num"
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
		"capabilities": { "bounding": $caps, "effective": $caps, "permitted": $caps },
		"noNewPrivileges": true
	},
	"root": { "path": "$R", "readonly": true },
	"hostname": "ct-$1",
	"annotations": { "run.oci.hooks.stderr": "$SCRATCH/hook-$1.err" },
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
		"namespaces": [ { "type": "mount" }, { "type": "pid" }, { "type": "ipc" },
				{ "type": "uts" }, { "type": "network" } ],
		"cgroupsPath": "/loopfs-test-$1",
		"resources": { "devices": [
			{ "allow": false, "access": "rwm" },
			{ "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm" },
			{ "allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm" },
			{ "allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm" },
			{ "allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm" },
			{ "allow": true, "type": "c", "major": 10, "minor": 237, "access": "rw" },
			{ "allow": true, "type": "b", "major": 7, "access": "rw" },
			{ "allow": true, "type": "b", "major": 259, "access": "rw" }
		] }
	}
}
EOF
}

cat >"$SCRATCH/ct.sh" <<'EOF' || fail "writing ct.sh"
. /project/tests/lib.sh
me=$1
hn=$(cat /ct/host-num)
read -r f hu c </proc/self/uid_map
assert_eq "$f $hu $c" "0 0 4294967295" "[$me] no user namespace (uid_map)"
assert_eq "$(stat -f -c %t /dev/loopfs)" 6c706673 "[$me] /dev/loopfs is a loopfs instance"
assert_absent "/dev/loop$hn" "[$me] no /dev node of the host's loop$hn"
assert_absent "/dev/loopfs/loop$hn" "[$me] no instance node of the host's loop$hn"

mkdata /ct/raw.bin 512
truncate -s 8M /ct/disk.img || fail "[$me] truncate"
dev=$(losetup -f --show /ct/disk.img) || fail "[$me] losetup -f --show"
n=$(num_of_dev "$dev") || fail "[$me] losetup printed '$dev'"
assert_eq "$(readlink "/dev/loop$n")" "loopfs/loop$n" "[$me] /dev/loop$n is the linker's link"
dd if=/ct/raw.bin of="$dev" bs=64k oflag=direct conv=notrunc,fsync status=none || fail "[$me] dd to $dev"
dd if="$dev" bs=64k count=8 iflag=direct status=none | cmp - /ct/raw.bin ||
	fail "[$me] data does not read back from $dev"
ok "[$me] 512 KiB written to $dev read back (direct I/O, through the device cgroup's b 7:* rw)"

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
cp "$SCRATCH/ct.sh" "$SCRATCH/$c/ct.sh" || fail "cp ct.sh"
"${CRUN[@]}" run --bundle "$SCRATCH/bundle-$c" "lfs-$c" >"ct-$c.log" 2>&1 </dev/null
rc=$?
print_file "ct-$c.log"
"${CRUN[@]}" delete -f "lfs-$c" >/dev/null 2>&1
if [ $rc -ne 0 ] || [ ! -e "$SCRATCH/$c/done" ]; then
	[ -e "$SCRATCH/hook-$c.err" ] && print_file "$SCRATCH/hook-$c.err"
	fail "container $c failed (status $rc)"
fi
n=$(cat "$SCRATCH/$c/num")
wait_gone "/sys/block/loop$n" 20 || fail "loop$n of $c is left after it ended"
ok "$c: its loop$n went with it"

# With CAP_MKNOD: the hook refuses the container
make_bundle mknod "$CAPS CAP_MKNOD"
cp "$SCRATCH/ct.sh" "$SCRATCH/mknod/ct.sh" || fail "cp ct.sh"
"${CRUN[@]}" run --bundle "$SCRATCH/bundle-mknod" lfs-mknod >ct-mknod.log 2>&1 </dev/null
rc=$?
"${CRUN[@]}" delete -f lfs-mknod >/dev/null 2>&1
[ $rc -ne 0 ] || { print_file ct-mknod.log; fail "a container with CAP_MKNOD and no user namespace ran"; }
[ ! -e "$SCRATCH/mknod/done" ] || fail "the CAP_MKNOD container's script ran"
file_has "$SCRATCH/hook-mknod.err" "no user namespace and keeps CAP_MKNOD" ||
	{ print_file ct-mknod.log; print_file "$SCRATCH/hook-mknod.err"; fail "the hook did not refuse CAP_MKNOD"; }
ok "a container without a user namespace that keeps CAP_MKNOD: refused by the hook ($(file_last_match "$SCRATCH/hook-mknod.err" CAP_MKNOD))"
