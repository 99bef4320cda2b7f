# shellcheck shell=bash
# tests/containers.sh - what the tests of real container managers share
# (crun, runc and LXC: e2e/crun_container_*.sh, e2e/runc_container_*.sh,
# e2e/lxc_container_*.sh): the containers' root and OCI bundle, running a
# container, the hook's refusals, the node linker seen from the host, and,
# inside a container, the checks of /dev and the partitioned disk that the
# containers make and the host reads back.  Source it after lib.sh:
#
#     . "$(dirname "$0")/../lib.sh"
#     . "$(dirname "$0")/../containers.sh"
#
# and in a container's script (the project is bound on /project):
#
#     . /project/tests/lib.sh
#     . /project/tests/containers.sh
#     me=NAME
#
# The helpers meant for a container's script start their messages with
# "[$me]".  Like lib.sh's, helpers that can fail are never run inside $(...)
# (they set variables instead of printing results), except linker_of, whose
# output is taken as `v=$(linker_of PID) || fail ...`.

# statfs magic of loopfs (stat -f -c %t)
LOOPFS_MAGIC=6c706673

# ------------------------------------------------------------------ the host

# ct_rootfs DIR [SUBDIR...]: the containers' root at DIR (CT_ROOT): empty
# usr, etc, proc, sys, dev, tmp, ct and project (and the SUBDIRs), bin,
# sbin, lib and lib64 -> usr/...; the runtime binds the host's /usr and
# /etc, the project and the container's own directory there.  The scratch
# directory (0700) is made 0755: a container's root, an unprivileged host
# uid, must get to DIR and to its own directory.
ct_rootfs() {
	local d=$1 l
	shift
	chmod 755 "$SCRATCH" || fail "chmod 755 $SCRATCH"
	mkdir -p "$d"/{usr,etc,proc,sys,dev,tmp,ct,project} || fail "mkdir $d"
	for l in "$@"; do
		mkdir -p "$d/$l" || fail "mkdir $d/$l"
	done
	for l in bin sbin lib lib64; do
		ln -s "usr/$l" "$d/$l" || fail "ln -s usr/$l $d/$l"
	done
	CT_ROOT=$d
}

# The device cgroup rules README.md gives a runtime with a device cgroup
# for loopfs (rw on loop-control, the loop devices and their partitions),
# as members of an OCI "devices" list
OCI_LOOPFS_DEVICES='{ "allow": true, "type": "c", "major": 10, "minor": 237, "access": "rw" },
			{ "allow": true, "type": "b", "major": 7, "access": "rw" },
			{ "allow": true, "type": "b", "major": 259, "access": "rw" }'

# The capabilities of the containers unless a test says otherwise
OCI_CAPS="CAP_SYS_ADMIN CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_KILL"

# oci_bundle NAME [--userns HOSTID] [--caps "CAP..."]
#            [--no-new-privileges true|false] [--annotations MEMBERS]
#            [--hook-args ITEMS] [--linux MEMBERS]
# $SCRATCH/bundle-NAME/config.json, for the container NAME: it runs
# `/bin/bash /ct.sh NAME` (ct.sh in CT_ROOT, see ct_rootfs) as uid 0 with
# the capabilities CAP... (default OCI_CAPS) and no new privileges (default
# true), in the root CT_ROOT (read-only) with /proc, its own sysfs on /sys
# (read-only), tmpfs on /dev and /tmp, the host's /usr and /etc and the
# project on /project (read-only binds) and $SCRATCH/NAME on /ct (made,
# read-write, cwd and HOME; owned by HOSTID with --userns); lib.sh's
# variables set for a container.  Its createContainer hook is the loopfs OCI
# hook $HOOK (argv ITEMS, JSON strings; default "loopfs-oci-hook", "-v"),
# with its standard error in $SCRATCH/hook-NAME.err (crun's
# run.oci.hooks.stderr annotation, after the annotations MEMBERS).  Its
# namespaces: mount, pid, ipc, uts, network, and with --userns a user
# namespace whose root is HOSTID (65536 ids mapped); MEMBERS of --linux are
# added to "linux" (cgroupsPath, resources, seccomp, ...).
oci_bundle() {
	local name=$1 b=$SCRATCH/bundle-$1 hostid= caps=$OCI_CAPS nnp=true ann=
	local hargs='"loopfs-oci-hook", "-v"' linux= maps= userns= c jcaps=
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--userns) hostid=$2 ;;
		--caps) caps=$2 ;;
		--no-new-privileges) nnp=$2 ;;
		--annotations) ann="$2," ;;
		--hook-args) hargs=$2 ;;
		--linux) linux=",
		$2" ;;
		*) fail "oci_bundle: unknown option $1" ;;
		esac
		shift 2
	done
	for c in $caps; do
		jcaps+="\"$c\", "
	done
	jcaps="[ ${jcaps%, } ]"
	if [ -n "$hostid" ]; then
		maps="\"uidMappings\": [ { \"containerID\": 0, \"hostID\": $hostid, \"size\": 65536 } ],
		\"gidMappings\": [ { \"containerID\": 0, \"hostID\": $hostid, \"size\": 65536 } ],"
		userns='{ "type": "user" }, '
	fi
	mkdir -p "$b" "$SCRATCH/$name" || fail "mkdir $b $SCRATCH/$name"
	if [ -n "$hostid" ]; then
		chown -R "$hostid:$hostid" "$SCRATCH/$name" || fail "chown $SCRATCH/$name"
	fi
	cat >"$b/config.json" <<EOF || fail "writing $b/config.json"
{
	"ociVersion": "1.0.2",
	"process": {
		"terminal": false,
		"user": { "uid": 0, "gid": 0 },
		"args": [ "/bin/bash", "/ct.sh", "$name" ],
		"env": [ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			 "LIB_IN_CONTAINER=1", "PROJECT=/project", "SCRATCH=/ct",
			 "TEST_NAME=${TEST_NAME}[$name]", "HOME=/ct", "LC_ALL=C" ],
		"cwd": "/ct",
		"capabilities": { "bounding": $jcaps, "effective": $jcaps, "permitted": $jcaps },
		"noNewPrivileges": $nnp
	},
	"root": { "path": "$CT_ROOT", "readonly": true },
	"hostname": "ct-$name",
	"annotations": { $ann
		"run.oci.hooks.stderr": "$SCRATCH/hook-$name.err" },
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
		{ "destination": "/ct", "type": "bind", "source": "$SCRATCH/$name", "options": [ "rbind", "rw" ] }
	],
	"hooks": { "createContainer": [ { "path": "$HOOK", "args": [ $hargs ] } ] },
	"linux": { $maps
		"namespaces": [ $userns{ "type": "mount" }, { "type": "pid" }, { "type": "ipc" },
				{ "type": "uts" }, { "type": "network" } ]$linux
	}
}
EOF
}

# oci_run NAME RUNTIME...: `RUNTIME... run` of the bundle of oci_bundle NAME
# as container lfs-NAME, its output in $SCRATCH/ct-NAME.log, then
# `RUNTIME... delete -f lfs-NAME`; returns the run's exit status.
oci_run() {
	local name=$1 rc
	shift
	"$@" run --bundle "$SCRATCH/bundle-$name" "lfs-$name" >"$SCRATCH/ct-$name.log" 2>&1 </dev/null
	rc=$?
	"$@" delete -f "lfs-$name" >/dev/null 2>&1
	return $rc
}

# oci_run_ok NAME RUNTIME...: oci_run, the container's output shown; fails
# (with the hook's standard error) unless it exited 0 and its script got to
# the end (wrote /ct/done)
oci_run_ok() {
	local name=$1 rc
	oci_run "$@"
	rc=$?
	print_file "$SCRATCH/ct-$name.log"
	if [ $rc -ne 0 ] || [ ! -e "$SCRATCH/$name/done" ]; then
		[ ! -e "$SCRATCH/hook-$name.err" ] || print_file "$SCRATCH/hook-$name.err"
		fail "container $name failed (status $rc)"
	fi
}

# hook_refuses WHAT WANT DIR CMD...: CMD (the OCI hook given bad input)
# exits 1 saying WANT and leaves DIR (the container's /dev) empty
hook_refuses() {
	local what=$1 want=$2 dir=$3 out rc left
	shift 3
	out=$("$@" 2>&1)
	rc=$?
	[ $rc -eq 1 ] || fail "$what: exit status $rc, want 1 ($out)"
	[[ $out == *"$want"* ]] || fail "$what: said '$out', want '$want'"
	left=$(ls -A "$dir")
	[ -z "$left" ] || fail "$what: left '$left' in $dir"
	ok "$what: exit 1, nothing changed: ${out//$'\n'/ | }"
}

# linker_of PID: the host pid of the loopfs-link in PID's pid namespace
linker_of() {
	local d c lp=""
	for d in /proc/[0-9]*; do
		[ "$d/ns/pid" -ef "/proc/$1/ns/pid" ] || continue
		c=
		read -r c 2>/dev/null <"$d/comm"
		[ "$c" = loopfs-link ] && lp=${d#/proc/}
	done
	[ -n "$lp" ] && echo "$lp"
}

# assert_linker_of PID WHAT NS...: the node linker of the container whose
# init is PID (host pids) is in its pid namespace and in its NS namespaces
# (/proc/PID/ns/NS), none of them the host's, is a child of its init and
# has no capability; sets LINKER_PID
assert_linker_of() {
	local pid=$1 what=$2 lp ns st got
	shift 2
	lp=$(linker_of "$pid") || fail "$what: no loopfs-link in the container's pid namespace"
	for ns in "$@"; do
		[ "/proc/$lp/ns/$ns" -ef "/proc/$pid/ns/$ns" ] ||
			fail "$what: the linker is not in the container's $ns namespace"
		[ ! "/proc/$lp/ns/$ns" -ef "/proc/self/ns/$ns" ] ||
			fail "$what: the linker is in the host's $ns namespace"
	done
	read -r st <"/proc/$lp/stat" || fail "$what: no /proc/$lp/stat"
	st=${st##*) }
	st=${st#* }
	assert_eq "${st%% *}" "$pid" "$what: the linker (host pid $lp), in the container's pid and $* namespaces, is a child of its init"
	got=$(file_last_match "/proc/$lp/status" '^CapPrm:') || fail "$what: no CapPrm in /proc/$lp/status"
	assert_eq "$got" $'CapPrm:\t0000000000000000' "$what: the linker has no capability"
	LINKER_PID=$lp
}

# check_filled_disk DEV DIR WHAT: (the host) the partitions DEVp1 and DEVp2
# of the disk ct_fill_disk filled hold what it wrote (DIR: the container's
# /ct): /data1.bin in the ext4 and the raw data behind each file system
check_filled_disk() {
	local dev=$1 dir=$2 i
	debugfs -R "cat /data1.bin" "${dev}p1" 2>/dev/null | cmp - "$dir/data1.bin" ||
		fail "$3: the file the container wrote with debugfs is not in the ext4"
	ok "$3: the file the container wrote into the ext4 with debugfs is there"
	for i in 1 2; do
		dd if="${dev}p$i" bs=1M skip=24 count=1 status=none | cmp - "$dir/raw$i.bin" ||
			fail "$3: the container's raw data is not in partition $i"
	done
	ok "$3: the container's raw data is in both partitions"
}

# ------------------------------------------------------- inside a container

# assert_uid_map WANT: the first line of our uid_map is WANT ("0 HOSTID
# 65536" for the root of a user namespace, "0 0 4294967295" for none)
assert_uid_map() {
	local f h c
	read -r f h c </proc/self/uid_map || fail "[$me] no /proc/self/uid_map"
	assert_eq "$f $h $c" "$1" "[$me] uid_map"
}

# assert_dev_instance WHAT [PID [OPT...]]: the /dev of process PID (a host
# pid, or self; default: ours) is as the OCI hook and the LXC include make
# it: a loopfs instance on /dev/loopfs, mounted nosuid,noexec (and with the
# options OPT...), and /dev/loop-control -> loopfs/loop-control
assert_dev_instance() {
	local what=$1 root= mi=/proc/self/mountinfo line o
	if [ $# -ge 2 ]; then
		root=/proc/$2/root mi=/proc/$2/mountinfo
		shift
	fi
	shift
	assert_eq "$(stat -f -c %t "$root/dev/loopfs")" $LOOPFS_MAGIC "$what: /dev/loopfs is a loopfs instance"
	assert_eq "$(readlink "$root/dev/loop-control")" loopfs/loop-control "$what: /dev/loop-control link"
	line=$(file_last_match "$mi" ' /dev/loopfs .* - loopfs ') ||
		fail "$what: no loopfs mount on /dev/loopfs in its mountinfo"
	for o in nosuid noexec "$@"; do
		[[ $line =~ [\ ,]$o([\ ,]|$) ]] || fail "$what: the mount on /dev/loopfs lacks $o: $line"
	done
	ok "$what: /dev/loopfs mounted nosuid,noexec${*:+ with $*}: ${line#* - }"
}

# assert_no_block_node: no block node in our /dev outside the instance
assert_no_block_node() {
	local f
	for f in /dev/* /dev/.[!.]*; do
		if [ -b "$f" ] && [ ! -L "$f" ]; then
			fail "[$me] block node $f in /dev"
		fi
	done
	ok "[$me] no block node in /dev outside the instance"
}

# assert_host_loop_unreachable N: the host's loopN is listed in our sysfs,
# but we have no node of it, in /dev or in the instance, and cannot make one
assert_host_loop_unreachable() {
	local hn=$1 minor
	assert_exists "/sys/block/loop$hn" "[$me] the host's loop$hn is listed in our sysfs"
	assert_absent "/dev/loop$hn" "[$me] no /dev node of the host's loop$hn"
	assert_absent "/dev/loopfs/loop$hn" "[$me] no instance node of the host's loop$hn"
	minor=$(loop_devnum "$hn") || fail "[$me] loop_devnum $hn"
	expect_fail "[$me] mknod of the host's loop$hn" mknod /dev/hostloop b 7 "${minor#*:}"
	assert_absent /dev/hostloop "[$me] no node made"
}

# ct_disk IMG: a 64 MiB disk image IMG with two partitions (30 MiB of type
# 83 at sector 2048, the rest, 33 MiB, of type c), set up by `losetup -fP
# --show`; checks the device's name, the linker's link, its instance node
# and the partitions' sizes (blockdev --getsize64 through the linker's
# /dev/loopNp1 and p2), and that losetup -l lists it; sets DEV (/dev/loopN)
# and N
ct_disk() {
	local img=$1 line
	truncate -s 64M "$img" || fail "[$me] truncate $img"
	printf 'label: dos\nstart=2048, size=61440, type=83\nstart=63488, type=c\n' |
		sfdisk -q "$img" || fail "[$me] sfdisk $img"
	DEV=$(losetup -fP --show "$img") || fail "[$me] losetup -fP --show $img"
	N=$(num_of_dev "$DEV") || fail "[$me] losetup printed '$DEV'"
	assert_eq "$DEV" "/dev/loop$N" "[$me] losetup -fP --show names /dev/loopN"
	assert_eq "$(readlink "/dev/loop$N")" "loopfs/loop$N" "[$me] /dev/loop$N is the linker's link"
	assert_blk "/dev/loopfs/loop$N" "[$me] instance node"
	assert_eq "$(blockdev --getsize64 "/dev/loop${N}p1")" $((61440 * 512)) "[$me] blockdev --getsize64 /dev/loop${N}p1"
	assert_eq "$(blockdev --getsize64 "/dev/loop${N}p2")" $((67584 * 512)) "[$me] blockdev --getsize64 /dev/loop${N}p2"
	line=$(losetup -l -n --raw -O NAME,BACK-FILE) || fail "[$me] losetup -l"
	[[ $'\n'$line$'\n' == *$'\n'"/dev/loop$N $img"$'\n'* ]] ||
		fail "[$me] losetup -l does not list /dev/loop$N $img: $line"
	ok "[$me] losetup -l lists /dev/loop$N $img"
}

# ct_fill_disk N EXT4_LABEL VFAT_LABEL HOSTID: on the partitions of ct_disk's
# loopN, mkfs.ext4 (16 MiB, its root owned by HOSTID: the final mount is
# not idmapped, the ids on disk are the host's) on p1 and mkfs.vfat (16 MiB)
# on p2; /ct/data1.bin written into the ext4 with debugfs and read back;
# /ct/raw1.bin and raw2.bin (1 MiB each) written behind each file system
# with dd and read back, direct I/O.  check_filled_disk checks them on the
# host.
ct_fill_disk() {
	local n=$1 i
	mkfs.ext4 -q -L "$2" -E "root_owner=$4:$4" "/dev/loop${n}p1" 16M ||
		fail "[$me] mkfs.ext4 /dev/loop${n}p1"
	mkfs.vfat -n "$3" "/dev/loop${n}p2" 16384 >mkfs.vfat.log 2>&1 ||
		{ print_file mkfs.vfat.log; fail "[$me] mkfs.vfat /dev/loop${n}p2"; }
	ok "[$me] mkfs.ext4 (16 MiB) on /dev/loop${n}p1, mkfs.vfat (16 MiB) on /dev/loop${n}p2"
	mkdata /ct/data1.bin 300
	debugfs -w -R "write /ct/data1.bin data1.bin" "/dev/loop${n}p1" >debugfs.log 2>&1 ||
		{ print_file debugfs.log; fail "[$me] debugfs write"; }
	debugfs -R "cat /data1.bin" "/dev/loop${n}p1" 2>/dev/null | cmp - /ct/data1.bin ||
		fail "[$me] data1.bin does not read back from the ext4"
	ok "[$me] a file written into the ext4 with debugfs reads back"
	for i in 1 2; do
		mkdata "/ct/raw$i.bin" 1024
		dd if="/ct/raw$i.bin" of="/dev/loop${n}p$i" bs=1M seek=24 oflag=direct conv=notrunc,fsync status=none ||
			fail "[$me] dd to /dev/loop${n}p$i"
		dd if="/dev/loop${n}p$i" bs=1M skip=24 count=1 iflag=direct status=none | cmp - "/ct/raw$i.bin" ||
			fail "[$me] raw data of /dev/loop${n}p$i does not read back"
	done
	ok "[$me] 1 MiB written behind each file system with dd reads back (direct I/O)"
}

# ct_direct_io DEV [WHAT]: 512 KiB of random data (/ct/raw.bin) written to
# the block device DEV and read back, direct I/O
ct_direct_io() {
	mkdata /ct/raw.bin 512
	dd if=/ct/raw.bin of="$1" bs=64k oflag=direct conv=notrunc,fsync status=none ||
		fail "[$me] dd to $1"
	dd if="$1" bs=64k count=8 iflag=direct status=none | cmp - /ct/raw.bin ||
		fail "[$me] data does not read back from $1"
	ok "[$me] 512 KiB written to $1 read back (direct I/O${2:+, $2})"
}
