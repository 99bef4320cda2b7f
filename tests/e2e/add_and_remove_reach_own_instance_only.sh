#!/bin/bash
# timeout: 900
# Contract clauses: 2.2 (LOOP_CTL_ADD(n) on an instance adds device n to it;
# EEXIST where n is taken anywhere), 2.3 (LOOP_CTL_REMOVE(n) removes a device
# of the instance, EBUSY where bound or open; a device of the host or of
# another instance is treated as absent: ENODEV, left untouched), 3.5.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds losetup
require_loopfs
need_loopctl

A=$SCRATCH/a
B=$SCRATCH/b
mount_instance "$A"
mount_instance "$B"

# a host device to poke at: the first one with a node in the host's /dev
h=
loop_list_to all
for d in $all; do
	[ -b "/dev/$d" ] && { h=${d#loop}; break; }
done
if [ -z "$h" ]; then
	h=$(lctl /dev/loop-control get_free) || fail "lctl /dev/loop-control get_free: $h"
	assert_num "$h" "host GET_FREE"
	if [ -n "$h" ]; then
		defer lctl /dev/loop-control remove "$h"
	fi
fi
info "host device: loop$h"

# 2.2: ADD of a free number
f=$(free_index 200)
got=$(lctl "$A/loop-control" add "$f") || fail "lctl $A/loop-control add $f: $got"
assert_eq "$got" "$f" "ADD($f) on a"
assert_blk "$A/loop$f" "a/loop$f created by ADD"
assert_absent "$B/loop$f" "b does not show a's new device"
assert_absent "/dev/loop$f" "no host /dev node for a's new device"
loop_sys_exists "$f" || fail "/sys/block/loop$f missing after ADD"
got=$(node_devnum "$A/loop$f") || fail "no device number for $A/loop$f"
assert_eq "$got" "$(loop_devnum "$f")" "a/loop$f device number"

# 2.2: EEXIST where the number is taken anywhere
expect_errno EEXIST "ADD($f) on a again" lctl "$A/loop-control" add "$f"
expect_errno EEXIST "ADD($f) on b (taken in a)" lctl "$B/loop-control" add "$f"
expect_errno EEXIST "ADD($h) on a (host device)" lctl "$A/loop-control" add "$h"
assert_absent "$A/loop$h" "failed ADD of the host's number made no node"
nb=$(lctl "$B/loop-control" get_free) || fail "lctl $B/loop-control get_free: $nb"
assert_num "$nb" "GET_FREE on b"
expect_errno EEXIST "ADD($nb) on a (taken in b)" lctl "$A/loop-control" add "$nb"
assert_eq "$(instance_devices "$A" | tr '\n' ' ')" "loop$f " "a holds only loop$f"

# 2.3: other instances' and the host's devices are absent for a
expect_errno ENODEV "REMOVE($nb) on a (b's device)" lctl "$A/loop-control" remove "$nb"
assert_blk "$B/loop$nb" "b's device untouched"
loop_sys_exists "$nb" || fail "loop$nb gone after a's REMOVE"
expect_errno ENODEV "REMOVE($h) on a (host device)" lctl "$A/loop-control" remove "$h"
loop_sys_exists "$h" || fail "host loop$h gone after a's REMOVE"
assert_blk "/dev/loop$h" "host node of loop$h untouched"
expect_errno ENODEV "REMOVE($f) on b (a's device)" lctl "$B/loop-control" remove "$f"
assert_blk "$A/loop$f" "a's device untouched by b's REMOVE"

# 2.3: EBUSY while bound, EBUSY while open
mkimg img 8
losetup "$A/loop$f" img || fail "losetup $A/loop$f img"
defer losetup -d "$A/loop$f"
expect_errno EBUSY "REMOVE($f) on a while bound" lctl "$A/loop-control" remove "$f"
losetup -d "$A/loop$f" || fail "losetup -d $A/loop$f"
exec 4<"$A/loop$f" || fail "open $A/loop$f"
expect_errno EBUSY "REMOVE($f) on a while open" lctl "$A/loop-control" remove "$f"
exec 4<&-

# 2.3: REMOVE of an unbound, closed device of the instance
got=$(lctl "$A/loop-control" remove "$f") || fail "lctl $A/loop-control remove $f: $got"
assert_eq "$got" "$f" "REMOVE($f) on a"
wait_gone "$A/loop$f" 5 || fail "a/loop$f still there after REMOVE"
ok "a/loop$f node gone"
wait_gone "/sys/block/loop$f" 5 || fail "/sys/block/loop$f still there after REMOVE"
ok "loop$f gone from /sys/block"
expect_errno ENODEV "REMOVE($f) on a again" lctl "$A/loop-control" remove "$f"

# the number is free again
got=$(lctl "$A/loop-control" add "$f") || fail "lctl $A/loop-control add $f: $got"
assert_eq "$got" "$f" "ADD($f) on a after its removal"
got=$(lctl "$A/loop-control" remove "$f") || fail "lctl $A/loop-control remove $f: $got"
assert_eq "$got" "$f" "REMOVE($f) on a"
