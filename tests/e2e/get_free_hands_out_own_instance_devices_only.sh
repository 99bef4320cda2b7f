#!/bin/bash
# timeout: 900
# Contract clauses: 2.1 (GET_FREE on an instance's loop-control returns a
# device of that instance only, reusing its unbound device), 2.4 (the host's
# /dev/loop-control never hands out, reuses or removes instance devices), 3.5
# (no node in the host's devtmpfs), 1.6 (device numbers are global: loopN is
# 7:N everywhere), 1.4 (loop-control has the host's device number 10:237).
#
# Two instances side by side in the test's own namespace.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds losetup stat
require_loopfs
need_loopctl

mount_instance "$SCRATCH/a"
mount_instance "$SCRATCH/b"
loop_list_to baseline
defer host_remove_new_devices "$baseline"

# 1.4: loop-control is the host's loop-control device number
assert_eq "$(stat -c %F "$SCRATCH/a/loop-control")" "character special file" "a/loop-control type"
got=$(node_devnum "$SCRATCH/a/loop-control") || fail "no device number for $SCRATCH/a/loop-control"
assert_eq "$got" "$LOOP_CONTROL_DEVNUM" "a/loop-control device number"
host=$(node_devnum /dev/loop-control) || fail "no device number for /dev/loop-control"
assert_eq "$got" "$host" "same number as host /dev/loop-control"

# 2.1: distinct devices, each only in its own instance
na=$(lctl "$SCRATCH/a/loop-control" get_free) || fail "lctl $SCRATCH/a/loop-control get_free: $na"
assert_num "$na" "GET_FREE on a"
nb=$(lctl "$SCRATCH/b/loop-control" get_free) || fail "lctl $SCRATCH/b/loop-control get_free: $nb"
assert_num "$nb" "GET_FREE on b"
assert_ne "$na" "$nb" "GET_FREE in two instances"
assert_blk "$SCRATCH/a/loop$na" "a has its device"
assert_blk "$SCRATCH/b/loop$nb" "b has its device"
assert_absent "$SCRATCH/b/loop$na" "b does not have a's device"
assert_absent "$SCRATCH/a/loop$nb" "a does not have b's device"
assert_eq "$(instance_devices "$SCRATCH/a" | tr '\n' ' ')" "loop$na " "a lists exactly its device"
assert_eq "$(instance_devices "$SCRATCH/b" | tr '\n' ' ')" "loop$nb " "b lists exactly its device"
# an unbound device of the instance is returned again, nothing new is added
got=$(lctl "$SCRATCH/a/loop-control" get_free) || fail "lctl $SCRATCH/a/loop-control get_free: $got"
assert_eq "$got" "$na" "GET_FREE on a again (unbound device reused)"
assert_eq "$(instance_devices "$SCRATCH/a" | wc -l)" 1 "a still holds one device"

# 3.5: not in the host's devtmpfs
assert_absent "/dev/loop$na" "host /dev node of a's device"
assert_absent "/dev/loop$nb" "host /dev node of b's device"

# 1.6: global names and numbers
loop_sys_exists "$na" || fail "/sys/block/loop$na missing"
got=$(node_devnum "$SCRATCH/a/loop$na") || fail "no device number for $SCRATCH/a/loop$na"
assert_eq "$got" "$(loop_devnum "$na")" "a/loop$na is 7:N"
got=$(node_devnum "$SCRATCH/b/loop$nb") || fail "no device number for $SCRATCH/b/loop$nb"
assert_eq "$got" "$(loop_devnum "$nb")" "b/loop$nb is 7:N"
assert_eq "$(cat "/sys/block/loop$na/dev")" "$(loop_devnum "$na")" "/sys/block/loop$na/dev"

# 2.4: the host's loop-control neither removes nor re-adds them
expect_errno ENODEV "host REMOVE of a's device" lctl /dev/loop-control remove "$na"
expect_errno EEXIST "host ADD of a's number" lctl /dev/loop-control add "$na"
assert_blk "$SCRATCH/a/loop$na" "a's device survives the host's REMOVE"
loop_sys_exists "$na" || fail "loop$na gone after the host's REMOVE"

# 2.4: the host's GET_FREE never hands out a's or b's (unbound) device.
# Bind every unbound host device in turn with the unmodified `losetup -f
# --show` (which uses GET_FREE), then once more: that last one must be a new
# host device, not one of the instances' unbound ones.
mkimg tiny.img 1
defer detach_file "$SCRATCH/tiny.img"
unbound=0
loop_list_to all
for d in $all; do
	n=${d#loop}
	[ "$n" = "$na" ] || [ "$n" = "$nb" ] && continue
	loop_bound "$n" || unbound=$((unbound + 1))
done
rounds=$((unbound + 2))
[ $rounds -le 64 ] || rounds=64
info "host has $unbound unbound devices; $rounds host losetup -f --show calls"
for ((i = 0; i < rounds; i++)); do
	dev=$(losetup -f --show "$SCRATCH/tiny.img") || fail "host losetup -f --show (round $i)"
	n=$(num_of_dev "$dev") || fail "host losetup printed '$dev'"
	[ "$n" != "$na" ] && [ "$n" != "$nb" ] || fail "host losetup -f handed out instance device $dev"
	[ -b "$dev" ] || fail "host device $dev has no node in /dev"
done
ok "host losetup -f --show never returned loop$na or loop$nb ($rounds calls)"
hf=$(lctl /dev/loop-control get_free) || fail "lctl /dev/loop-control get_free: $hf"
assert_num "$hf" "host GET_FREE"
[ "$hf" != "$na" ] && [ "$hf" != "$nb" ] || fail "host GET_FREE returned instance device $hf"
ok "host GET_FREE -> $hf, a host device"
assert_blk "/dev/loop$hf" "host GET_FREE's device has a host node"
detach_file "$SCRATCH/tiny.img"
got=$(lctl "$SCRATCH/a/loop-control" get_free) || fail "lctl $SCRATCH/a/loop-control get_free: $got"
assert_eq "$got" "$na" "a's GET_FREE still returns its device"
got=$(lctl "$SCRATCH/b/loop-control" get_free) || fail "lctl $SCRATCH/b/loop-control get_free: $got"
assert_eq "$got" "$nb" "b's GET_FREE still returns its device"
