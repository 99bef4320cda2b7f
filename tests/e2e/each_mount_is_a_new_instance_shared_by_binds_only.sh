#!/bin/bash
# timeout: 900
# Contract clauses: 1.1 (every mount -t loopfs makes a new, empty instance;
# only bind mounts of it and open files on it share it), 6.1 (the instance
# ends when its last mount and its last open file are gone; then its devices
# are removed).
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds mountpoint
require_loopfs
need_loopctl

A=$SCRATCH/a
B=$SCRATCH/b
A2=$SCRATCH/a2
mount_instance "$A"
assert_eq "$(ls -A "$A" | tr '\n' ' ')" "loop-control " "new instance a is empty"
na=$(lctl "$A/loop-control" get_free) || fail "lctl $A/loop-control get_free: $na"
assert_num "$na" "GET_FREE on a"

mount_instance "$B"
assert_eq "$(ls -A "$B" | tr '\n' ' ')" "loop-control " "new instance b is empty (a has loop$na)"

# a bind mount shares the instance
mkdir -p "$A2"
mount --bind "$A" "$A2" || fail "mount --bind a a2"
defer umount -l "$A2"
assert_blk "$A2/loop$na" "bind mount shows a's device"
got=$(lctl "$A2/loop-control" get_free) || fail "lctl $A2/loop-control get_free: $got"
assert_eq "$got" "$na" "GET_FREE through the bind mount returns a's device"
f=$(free_index 500)
got=$(lctl "$A2/loop-control" add "$f") || fail "lctl $A2/loop-control add $f: $got"
assert_eq "$got" "$f" "ADD($f) through the bind mount"
assert_blk "$A/loop$f" "device added through the bind mount shows in a"
assert_absent "$B/loop$f" "and not in b"

# the instance outlives its first mount while the bind mount remains
umount "$A" || fail "umount a"
nap 0.5
loop_sys_exists "$na" || fail "loop$na removed while the bind mount a2 holds the instance"
assert_blk "$A2/loop$na" "a2 still shows loop$na after a's umount"
umount "$A2" || fail "umount a2"
wait_gone "/sys/block/loop$na" 5 || fail "loop$na not removed when the instance's last mount went"
wait_gone "/sys/block/loop$f" 5 || fail "loop$f not removed when the instance's last mount went"
ok "devices removed with the instance's last mount"

# an open file keeps the instance: the loop-control fd
C=$SCRATCH/c
mount_instance "$C"
nc=$(lctl "$C/loop-control" get_free) || fail "lctl $C/loop-control get_free: $nc"
assert_num "$nc" "GET_FREE on c"
close5() { exec 5<&-; }
exec 5<>"$C/loop-control" || fail "open c/loop-control"
defer close5
umount -l "$C" || fail "umount -l c"
mountpoint -q "$C" && fail "c still mounted"
nap 0.5
loop_sys_exists "$nc" || fail "loop$nc removed while an open loop-control keeps the instance"
ok "open loop-control keeps the instance (loop$nc exists)"
# the open file still is that instance's loop-control
got=$(lctl /proc/self/fd/5 get_free) || fail "lctl /proc/self/fd/5 get_free: $got"
assert_eq "$got" "$nc" "GET_FREE through the open fd returns c's device"
close5
wait_gone "/sys/block/loop$nc" 5 || fail "loop$nc not removed when the instance's last open file went"
ok "loop$nc removed with the instance's last open file"
