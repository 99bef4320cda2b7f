#!/bin/bash
# timeout: 900
# Contract clauses: 1.5 (options uid=, gid=, mode= for the device nodes,
# default 0600 root:root; max=N; remount may change max and mode; a bad or
# unknown option fails the mount with EINVAL and a message in the fs_context
# log), 5.2 (max= caps the instance: ENOSPC), 5.3 (a failed add creates
# nothing: no device, no node, no index).
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds losetup stat mountpoint unshare
require_loopfs
need_loopctl

perm() { stat -c '%a %u %g' "$1"; }

# --- defaults: 0600 root:root
mount_instance "$SCRATCH/def"
n=$(lctl "$SCRATCH/def/loop-control" get_free) || fail "lctl $SCRATCH/def/loop-control get_free: $n"
assert_num "$n" "GET_FREE (defaults)"
assert_eq "$(perm "$SCRATCH/def/loop$n")" "600 0 0" "default mode and owner of loop$n"
info "loop-control with default options: $(perm "$SCRATCH/def/loop-control")"

# --- mode=0660,uid=1234,gid=5678
mount_instance "$SCRATCH/own" mode=0660,uid=1234,gid=5678
n=$(lctl "$SCRATCH/own/loop-control" get_free) || fail "lctl $SCRATCH/own/loop-control get_free: $n"
assert_num "$n" "GET_FREE (mode/uid/gid)"
assert_eq "$(perm "$SCRATCH/own/loop$n")" "660 1234 5678" "mode=0660,uid=1234,gid=5678 on loop$n"
f=$(free_index 300)
got=$(lctl "$SCRATCH/own/loop-control" add "$f") || fail "lctl $SCRATCH/own/loop-control add $f: $got"
assert_eq "$got" "$f" "ADD($f)"
assert_eq "$(perm "$SCRATCH/own/loop$f")" "660 1234 5678" "mode/uid/gid on ADDed loop$f"
info "loop-control with mode=0660,uid=1234,gid=5678: $(perm "$SCRATCH/own/loop-control")"

# --- max=2
M=$SCRATCH/max
mount_instance "$M" max=2
mkimg i1 4
mkimg i2 4
mkimg i3 4
defer detach_file "$SCRATCH/i1"
n1=$(lctl "$M/loop-control" get_free) || fail "lctl $M/loop-control get_free: $n1"
assert_num "$n1" "GET_FREE 1 (max=2)"
losetup "$M/loop$n1" i1 || fail "losetup $M/loop$n1"
defer losetup -d "$M/loop$n1"
n2=$(lctl "$M/loop-control" get_free) || fail "lctl $M/loop-control get_free: $n2"
assert_num "$n2" "GET_FREE 2 (max=2)"
assert_ne "$n2" "$n1" "second device"
losetup "$M/loop$n2" i2 || fail "losetup $M/loop$n2"
defer losetup -d "$M/loop$n2"
loop_list_to before_sys
before_nodes=$(instance_devices "$M")
expect_errno ENOSPC "GET_FREE past max=2" lctl "$M/loop-control" get_free
f=$(free_index 400)
expect_errno ENOSPC "ADD($f) past max=2" lctl "$M/loop-control" add "$f"
# 5.3: nothing was created
loop_list_to after_sys
assert_eq "$after_sys" "$before_sys" "no device added by the failed calls (/sys/block)"
assert_eq "$(instance_devices "$M")" "$before_nodes" "no node added by the failed calls"
assert_absent "$M/loop$f" "no node for the refused ADD($f)"
got=$(lctl /dev/loop-control add "$f") || fail "lctl /dev/loop-control add $f: $got"
assert_eq "$got" "$f" "index $f was not consumed (host ADD)"
got=$(lctl /dev/loop-control remove "$f") || fail "lctl /dev/loop-control remove $f: $got"
assert_eq "$got" "$f" "host REMOVE $f"

# --- remount may change max and mode
mount -o remount,max=4,mode=0640 "$M" || fail "mount -o remount,max=4,mode=0640"
ok "remount max=4,mode=0640"
n3=$(lctl "$M/loop-control" get_free) || fail "lctl $M/loop-control get_free: $n3"
assert_num "$n3" "GET_FREE after remount to max=4"
assert_eq "$(perm "$M/loop$n3")" "640 0 0" "mode=0640 after remount on the new loop$n3"
losetup "$M/loop$n3" i3 || fail "losetup $M/loop$n3"
defer losetup -d "$M/loop$n3"
n4=$(lctl "$M/loop-control" get_free) || fail "lctl $M/loop-control get_free: $n4"
assert_num "$n4" "GET_FREE 4 (max=4)"
expect_errno ENOSPC "ADD past max=4" lctl "$M/loop-control" add "$(free_index 400)"
rm "$M/loop$n4" || fail "rm $M/loop$n4"
losetup -d "$M/loop$n3" && losetup -d "$M/loop$n2" && losetup -d "$M/loop$n1" || fail "detach"

# --- max=2 in a container: the unmodified losetup -f --show fails on the third
ct_max() {
	local i d
	for i in 1 2; do
		d=$(losetup -f --show "$SCRATCH/i$i") || fail "container: losetup -f --show i$i (max=2)"
		ok "container: losetup -f --show i$i -> $d"
	done
	expect_fail "container: third losetup -f --show with max=2" losetup -f --show "$SCRATCH/i3"
	assert_eq "$(instance_devices /dev/loopfs | wc -l)" 2 "container instance holds 2 devices"
	for d in /dev/loopfs/loop[0-9]*; do
		losetup -d "$d"
	done
}
export -f ct_max
ct_run --opts max=2 ct_max || fail "container with max=2"

# --- bad and unknown options fail the mount
mkdir -p bad
defer umount -l "$SCRATCH/bad"
for o in bogus bogus=1 max=abc max=-1 mode=xyz mode=99999 uid=abc gid=abc; do
	expect_fail "mount -o $o" mount -t loopfs -o "$o" none bad
	expect_errno EINVAL "mount(2) with '$o'" lctl --mount bad "$o"
done
mountpoint -q bad && fail "a mount with a bad option left a mount behind"
# the message in the fs_context log (through fsopen/fsconfig)
out=$(lctl --fsconfig bogus=1)
case $out in
*"failed-key=bogus"*"errno=EINVAL"*) ok "fsconfig(bogus=1) -> EINVAL" ;;
*) fail "fsconfig(bogus=1): '$out', want EINVAL" ;;
esac
case $out in
*"log: e "*) ok "fs_context log: $(echo "$out" | grep '^log:' | head -n1)" ;;
*) fail "no error message in the fs_context log for bogus=1: '$out'" ;;
esac
