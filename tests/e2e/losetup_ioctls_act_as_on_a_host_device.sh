#!/bin/bash
# timeout: 900
# Contract clause 3.2 (as real root; the full ioctl set is covered by the
# kselftests): the loop ioctls util-linux uses behave on an instance device
# exactly as on a host device.  The same sequence of unmodified losetup
# calls runs against a host device and an instance device, and what sysfs and
# blockdev report after each step must be the same (and right):
#   LOOP_CONFIGURE with offset, size limit, read-only, block size, PARTSCAN;
#   LOOP_SET_BLOCK_SIZE, LOOP_SET_DIRECT_IO, LOOP_SET_CAPACITY, LOOP_CLR_FD.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds losetup blockdev dd cmp truncate
require_loopfs
need_loopctl

A=$SCRATCH/a
mount_instance "$A"

sysv() { # N ATTR: /sys/block/loopN/ATTR or "-"
	local v=-
	read -r v 2>/dev/null <"/sys/block/loop$1/$2"
	echo "$v"
}

# exercise PATH N IMG: the losetup sequence on device loopN at PATH;
# prints one line per observation
exercise() {
	local p=$1 n=$2 img=$3
	truncate -s 32M "$img"
	losetup -o 1048576 --sizelimit 4194304 -r "$p" "$img" || echo "configure-ro: failed"
	echo "configure-ro: size=$(blockdev --getsize64 "$p") ro=$(blockdev --getro "$p") offset=$(sysv "$n" loop/offset) sizelimit=$(sysv "$n" loop/sizelimit) sysro=$(sysv "$n" ro)"
	if dd if=/dev/zero of="$p" bs=4k count=1 oflag=direct status=none 2>/dev/null; then
		echo "write-ro: allowed"
	else
		echo "write-ro: refused"
	fi
	losetup -d "$p" || echo "clr_fd: failed"
	echo "clr_fd: bound=$(loop_bound "$n" && echo yes || echo no)"

	losetup -b 4096 -P "$p" "$img" || echo "configure-4k: failed"
	echo "configure-4k: ss=$(blockdev --getss "$p") partscan=$(sysv "$n" loop/partscan) size=$(blockdev --getsize64 "$p")"
	losetup -b 512 "$p" || echo "set_block_size: failed"
	echo "set_block_size: ss=$(blockdev --getss "$p")"
	losetup --direct-io=on "$p" 2>/dev/null
	echo "set_direct_io: rc=$? dio=$(sysv "$n" loop/dio)"
	losetup --direct-io=off "$p" 2>/dev/null
	echo "clear_direct_io: rc=$? dio=$(sysv "$n" loop/dio)"
	truncate -s 48M "$img"
	losetup -c "$p" || echo "set_capacity: failed"
	echo "set_capacity: size=$(blockdev --getsize64 "$p")"
	dd if=pat of="$p" bs=64k seek=100 oflag=direct conv=fsync status=none || echo "write: failed"
	if dd if="$img" bs=64k skip=100 count=16 status=none | cmp -s - pat; then
		echo "write: in backing file"
	else
		echo "write: not in backing file"
	fi
	losetup -d "$p" || echo "clr_fd-2: failed"
	echo "clr_fd-2: bound=$(loop_bound "$n" && echo yes || echo no)"
}

mkdata pat 1024

# host device: one that GET_FREE hands out, with its /dev node
loop_list_to baseline
defer host_remove_new_devices "$baseline"
h=$(lctl /dev/loop-control get_free) || fail "lctl /dev/loop-control get_free: $h"
assert_num "$h" "host GET_FREE"
defer detach_file "$SCRATCH/host.img"
exercise "/dev/loop$h" "$h" "$SCRATCH/host.img" >host.out 2>&1

i=$(lctl "$A/loop-control" get_free) || fail "lctl $A/loop-control get_free: $i"
assert_num "$i" "instance GET_FREE"
defer losetup -d "$A/loop$i"
exercise "$A/loop$i" "$i" "$SCRATCH/inst.img" >inst.out 2>&1

echo "---- host device loop$h"
cat host.out
echo "---- instance device loop$i"
cat inst.out
echo "----"
[ "$(cat host.out)" = "$(cat inst.out)" ] || fail "the instance device behaves differently from the host device"
ok "same observations on the host and the instance device"

# and the observations are the expected ones (so that two equal failures
# cannot pass)
grep -qx 'configure-ro: size=4194304 ro=1 offset=1048576 sizelimit=4194304 sysro=1' inst.out || fail "LOOP_CONFIGURE offset/sizelimit/read-only"
grep -qx 'write-ro: refused' inst.out || fail "read-only device accepted a write"
grep -qx 'clr_fd: bound=no' inst.out || fail "LOOP_CLR_FD"
grep -qx 'configure-4k: ss=4096 partscan=1 size=33554432' inst.out || fail "LOOP_CONFIGURE block size / PARTSCAN"
grep -qx 'set_block_size: ss=512' inst.out || fail "LOOP_SET_BLOCK_SIZE"
grep -qx 'clear_direct_io: rc=0 dio=0' inst.out || fail "LOOP_SET_DIRECT_IO off"
grep -qx 'set_capacity: size=50331648' inst.out || fail "LOOP_SET_CAPACITY"
grep -qx 'write: in backing file' inst.out || fail "data through the device"
grep -qx 'clr_fd-2: bound=no' inst.out || fail "LOOP_CLR_FD (2)"
ok "observations as expected"
