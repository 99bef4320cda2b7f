#!/bin/bash
# timeout: 600
# Contract clauses 7.1 / 7.2: stock /dev/loop-control: LOOP_CTL_GET_FREE
# returns an unbound device (the same one until it is bound), LOOP_CTL_ADD(n)
# creates device n with a node in /dev (EEXIST when taken), LOOP_CTL_REMOVE(n)
# removes it (EBUSY when bound or open, ENODEV when absent).  Runs on both
# kernels.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds losetup
need_loopctl

CTL=/dev/loop-control
loop_list_to baseline
defer host_remove_new_devices "$baseline"
mkimg img 4
defer detach_file "$SCRATCH/img"

got=$(node_devnum $CTL) || fail "no device number for $CTL"
assert_eq "$got" "$LOOP_CONTROL_DEVNUM" "/dev/loop-control is 10:237"

# GET_FREE
f=$(lctl $CTL get_free) || fail "lctl $CTL get_free: $f"
assert_num "$f" "GET_FREE"
loop_sys_exists "$f" || fail "/sys/block/loop$f missing"
loop_bound "$f" && fail "GET_FREE returned bound loop$f"
assert_blk "/dev/loop$f" "node of the free device"
got=$(lctl $CTL get_free) || fail "lctl $CTL get_free: $got"
assert_eq "$got" "$f" "GET_FREE again returns the same unbound device"
losetup "/dev/loop$f" img || fail "losetup /dev/loop$f img"
g=$(lctl $CTL get_free) || fail "lctl $CTL get_free: $g"
assert_num "$g" "GET_FREE after binding loop$f"
assert_ne "$g" "$f" "GET_FREE skips the bound device"
expect_errno EBUSY "REMOVE of bound loop$f" lctl $CTL remove "$f"
losetup -d "/dev/loop$f" || fail "losetup -d"

# ADD / REMOVE
x=$(free_index 600)
got=$(lctl $CTL add "$x") || fail "lctl $CTL add $x: $got"
assert_eq "$got" "$x" "ADD($x)"
wait_present "/dev/loop$x" 5 || fail "/dev/loop$x did not appear"
assert_blk "/dev/loop$x" "node of ADDed loop$x"
loop_sys_exists "$x" || fail "/sys/block/loop$x missing"
got=$(node_devnum "/dev/loop$x") || fail "no device number for /dev/loop$x"
assert_eq "$got" "$(loop_devnum "$x")" "loop$x device number"
expect_errno EEXIST "ADD($x) again" lctl $CTL add "$x"
expect_errno EEXIST "ADD($f) (existing)" lctl $CTL add "$f"
close4() { exec 4<&-; }
exec 4<"/dev/loop$x" || fail "open /dev/loop$x"
defer close4
expect_errno EBUSY "REMOVE of open loop$x" lctl $CTL remove "$x"
close4
got=$(lctl $CTL remove "$x") || fail "lctl $CTL remove $x: $got"
assert_eq "$got" "$x" "REMOVE($x)"
wait_gone "/sys/block/loop$x" 5 || fail "/sys/block/loop$x still there"
wait_gone "/dev/loop$x" 5 || fail "/dev/loop$x still there"
ok "loop$x removed (sysfs and /dev)"
expect_errno ENODEV "REMOVE($x) again" lctl $CTL remove "$x"

# ADD makes the new device the one GET_FREE may hand out; bound ones are
# never handed out: bind everything free until GET_FREE creates a device
mkimg tiny 1
defer detach_file "$SCRATCH/tiny"
for ((i = 0; i < 64; i++)); do
	loop_list_to before
	d=$(lctl $CTL get_free) || fail "lctl $CTL get_free: $d"
	assert_num "$d" "GET_FREE (round $i)"
	loop_bound "$d" && fail "GET_FREE returned bound loop$d"
	grep -qx "loop$d" <<<"$before" || { ok "GET_FREE created loop$d once all devices were bound"; break; }
	losetup "/dev/loop$d" tiny || fail "losetup /dev/loop$d tiny"
done
[ $i -lt 64 ] || fail "GET_FREE never created a device"
detach_file "$SCRATCH/tiny"
