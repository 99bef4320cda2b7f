#!/bin/bash
# timeout: 300
# Contract clause 6.3 (with 2.5, 6.1, 6.2): tearing an instance down under
# running I/O neither hangs, crashes nor leaks.  One fio run does direct
# random I/O on four targets at once: (1) a device of a mounted instance,
# (2) a device of another mounted instance, (3) the raw device of a process
# holding a detached instance (tests/tools/loopfs-holder, through
# /proc/PID/fd/N) and (4) a file in the ext4 that holder mounted from
# another of its devices (through /proc/PID/root).  Once fio's jobs run,
# instance (1) is lazily unmounted, the node of (2) is unlinked and the
# holder is killed (SIGKILL).  Asserted: fio ends on its own (whatever its
# status) before its timeout, every device is gone from /sys/block
# afterwards, and the ext4 image is clean (e2fsck -fn).
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds fio losetup mkfs.ext4 e2fsck timeout truncate
require_loopfs
need_loopctl
HOLDER=$PROJECT/build/tools/loopfs-holder
[ -x "$HOLDER" ] || skip "not built: $HOLDER (scripts/build-selftests.sh)"

# (few execs: each costs seconds on the debug guest)
truncate -s 8M b1.img b2.img || fail "truncate"
mkfs.ext4 -q fs.img 32M || fail "mkfs.ext4"

mount_instance "$SCRATCH/i1"
n1=$(lctl "$SCRATCH/i1/loop-control" get_free) || fail "lctl $SCRATCH/i1/loop-control get_free: $n1"
assert_num "$n1" "GET_FREE (instance 1)"
losetup "$SCRATCH/i1/loop$n1" b1.img || fail "losetup loop$n1"
mount_instance "$SCRATCH/i2"
n2=$(lctl "$SCRATCH/i2/loop-control" get_free) || fail "lctl $SCRATCH/i2/loop-control get_free: $n2"
assert_num "$n2" "GET_FREE (instance 2)"
losetup "$SCRATCH/i2/loop$n2" b2.img || fail "losetup loop$n2"

"$HOLDER" "$SCRATCH/fs.img" "$SCRATCH/raw.img" /dev/null "$SCRATCH/ready" 2>holder.err &
hpid=$!
defer kill -9 "$hpid"
wait_file_while ready 120 "$hpid" || { print_file holder.err; fail "the holder did not get ready ($WAIT_WHY)"; }
read -r a b c fa fb mnt <ready
assert_num "$a" "holder's devices"
info "targets: loop$n1 (instance i1), loop$n2 (instance i2), loop$b raw and loop$a ext4 of holder $hpid"

timeout -k 5 150 fio --rw=randrw --bs=4k --direct=1 --ioengine=psync --time_based \
	--runtime=8 --size=4m --eta=always --eta-newline=1 \
	--name=umount --filename="$SCRATCH/i1/loop$n1" \
	--name=unlink --filename="$SCRATCH/i2/loop$n2" \
	--name=kill_raw --filename="/proc/$hpid/fd/$fb" \
	--name=kill_ext4 --filename="/proc/$hpid/root$mnt/fio.file" --direct=0 --fsync=16 \
	>fio.out 2>&1 &
fio_pid=$!
wait_until 120 file_has fio.out '(f=4)' || { print_file fio.out; fail "fio's jobs did not start"; }
ok "fio runs on all four targets"
start=$SECONDS
umount -l "$SCRATCH/i1" || fail "umount -l of instance i1"
rm "$SCRATCH/i2/loop$n2" || fail "unlink of loop$n2"
assert_absent "$SCRATCH/i2/loop$n2" "node unlinked under I/O"
kill -9 "$hpid"
wait "$hpid" 2>/dev/null
ok "teardowns done: umount -l, unlink, SIGKILL"
wait "$fio_pid"
rc=$?
while IFS= read -r l; do
	[[ $l =~ err=|^\ +(READ|WRITE): ]] && printf '    %s\n' "$l"
done <fio.out
[ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "fio hung (killed by timeout)"
ok "fio ended by itself with status $rc, $((SECONDS - start)) s after the teardowns"
for n in "$n1" "$n2" "$a" "$b" "$c"; do
	wait_gone "/sys/block/loop$n" 15 || fail "loop$n outlived its teardown and fio"
done
ok "loop$n1, loop$n2, loop$a, loop$b, loop$c gone"
assert_eq "$(bound_devices_of "$SCRATCH/fs.img")" "" "nothing bound to fs.img"
e2fsck -fn fs.img >fsck.out 2>&1 || { print_file fsck.out; fail "e2fsck -fn fs.img after teardown under I/O"; }
ok "e2fsck -fn fs.img clean"
