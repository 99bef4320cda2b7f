#!/bin/bash
# timeout: 300
# Contract clause 6.3 (with 2.5, 6.1, 6.2): tearing an instance down under
# running I/O neither hangs, crashes nor leaks.  fio runs direct random I/O
# on an instance device while (1) the instance is lazily unmounted, (2) the
# device's node is unlinked, (3) the process holding a detached instance
# (tests/tools/loopfs-holder, with an ext4 mounted from one of its devices)
# is killed, with fio on its raw device (through /proc/PID/fd/N) and on a
# file in its ext4 (through /proc/PID/root).  Asserted each time: fio ends
# on its own (whatever its status) well before the timeout, the devices are
# gone from /sys/block afterwards, and in (3) the ext4 image is clean.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds fio losetup mkfs.ext4 e2fsck
require_loopfs
need_loopctl
HOLDER=$PROJECT/build/tools/loopfs-holder
[ -x "$HOLDER" ] || skip "not built: $HOLDER (scripts/build-selftests.sh)"

RUNTIME=6
# fio_bg NAME FILENAME [EXTRA...]: time-based direct random I/O in the background
fio_bg() {
	local name=$1 file=$2
	shift 2
	timeout -k 5 90 fio --name="$name" --filename="$file" --rw=randrw --bs=4k \
		--direct=1 --ioengine=psync --numjobs=2 --time_based --runtime=$RUNTIME \
		--size=4m --group_reporting "$@" >"fio-$name.out" 2>&1 &
	FIO_PID=$!
}
# fio_end NAME: wait for fio; it must end by itself (not by timeout)
fio_end() {
	local rc start=$SECONDS
	wait "$FIO_PID"
	rc=$?
	[ $rc -ne 124 ] && [ $rc -ne 137 ] || { cat "fio-$1.out"; fail "$1: fio hung (killed by timeout)"; }
	info "$1: fio ended with status $rc $((SECONDS - start)) s after the teardown"
	grep -E 'err=|io=|IOPS' "fio-$1.out" | head -n 4 | sed 's/^/    /'
	ok "$1: fio ended"
}

mkimg b1.img 8
mkimg b2.img 8

# 1: lazy umount of the instance under I/O
mount_instance "$SCRATCH/i1"
n1=$(lctl "$SCRATCH/i1/loop-control" get_free)
assert_num "$n1" "GET_FREE (1)"
losetup "$SCRATCH/i1/loop$n1" b1.img || fail "losetup loop$n1"
fio_bg umount "$SCRATCH/i1/loop$n1"
nap 2
umount -l "$SCRATCH/i1" || fail "umount -l of the instance"
fio_end umount
wait_gone "/sys/block/loop$n1" 15 || fail "loop$n1 outlived its lazily unmounted instance and fio"
ok "umount: loop$n1 gone"

# 2: unlink of the node under I/O
mount_instance "$SCRATCH/i2"
n2=$(lctl "$SCRATCH/i2/loop-control" get_free)
assert_num "$n2" "GET_FREE (2)"
losetup "$SCRATCH/i2/loop$n2" b2.img || fail "losetup loop$n2"
fio_bg unlink "$SCRATCH/i2/loop$n2"
nap 2
rm "$SCRATCH/i2/loop$n2" || fail "unlink of loop$n2"
assert_absent "$SCRATCH/i2/loop$n2" "node unlinked under I/O"
fio_end unlink
wait_gone "/sys/block/loop$n2" 15 || fail "loop$n2 outlived its unlinked node and fio"
ok "unlink: loop$n2 gone"

# 3: the holder of a detached instance killed under I/O
mkimg fs.img 32
mkimg raw.img 8
mkfs.ext4 -q fs.img || fail "mkfs.ext4"
mkdata data 64
"$HOLDER" "$SCRATCH/fs.img" "$SCRATCH/raw.img" "$SCRATCH/data" "$SCRATCH/ready" 2>holder.err &
hpid=$!
defer kill -9 "$hpid"
wait_file ready 120 || { cat holder.err; fail "the holder did not get ready"; }
read -r a b c fa fb mnt <ready
assert_num "$a" "holder's devices"
fio_bg kill_raw "/proc/$hpid/fd/$fb"
raw_pid=$FIO_PID
fio_bg kill_ext4 "/proc/$hpid/root$mnt/fio.file" --direct=0 --ioengine=psync --fsync=16
ext4_pid=$FIO_PID
nap 2
kill -9 "$hpid"
wait "$hpid" 2>/dev/null
FIO_PID=$raw_pid fio_end kill_raw
FIO_PID=$ext4_pid fio_end kill_ext4
for n in "$a" "$b" "$c"; do
	wait_gone "/sys/block/loop$n" 15 || fail "loop$n outlived its killed holder and fio"
done
ok "kill: loop$a, loop$b, loop$c gone"
e2fsck -fn fs.img >fsck.out 2>&1 || { cat fsck.out; fail "e2fsck -fn fs.img after teardown under I/O"; }
ok "e2fsck -fn fs.img clean"
