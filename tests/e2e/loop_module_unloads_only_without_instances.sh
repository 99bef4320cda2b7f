#!/bin/bash
# timeout: 600
# loopfs is part of the loop module (CONFIG_BLK_DEV_LOOP=m, as distributions
# build it): an instance keeps the module loaded, whether it is mounted or
# only held by an open file after a lazy umount; once no instance is left
# the module unloads, mounting loopfs loads it again, modprobe options
# (max_part=) still apply, and an administrator's max_loop_devices survives
# the reload.  Skipped on a kernel with the loop driver built in.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds modprobe rmmod losetup sfdisk
require_loopfs
need_loopctl
[ -e /sys/module/loop/initstate ] || skip "the loop driver is built in"

LIMIT=/proc/sys/user/max_loop_devices
read -r max_part </sys/module/loop/parameters/max_part
read -r limit <"$LIMIT"
# A host device beyond the ones loading makes (max_loop), as an
# administrator adds them.  Unloading removes every host device; the test
# adds back the ones loading does not make, this one included.
x=$(free_index) || fail "no free index"
got=$(lctl /dev/loop-control add "$x") || fail "host add of loop$x: $got"
assert_eq "$got" "$x" "host LOOP_CTL_ADD of loop$x"
defer eval "[ ! -e /sys/block/loop$x ] || $LOOPCTL /dev/loop-control remove $x"
loop_list_to host_before
# Whatever happens, leave the module loaded as the boot had it.
defer modprobe loop

module_state() { cat /sys/module/loop/initstate 2>/dev/null || echo absent; }
in_proc_filesystems() { grep -qw loopfs /proc/filesystems && echo yes || echo no; }
unloaded() { rmmod loop 2>/dev/null; [ ! -e /sys/module/loop ]; }

# An administrator's setting, which loading the module must not undo.
echo $((limit + 1)) >"$LIMIT" || fail "cannot write $LIMIT"
defer eval "echo $limit >$LIMIT"

A=$SCRATCH/a
mount_instance "$A"
n=$(lctl "$A/loop-control" get_free) || fail "GET_FREE in the instance: $n"
assert_num "$n" "GET_FREE in the instance"
expect_fail "rmmod loop with an instance mounted" rmmod loop
assert_eq "$(module_state)" "live" "the module after the refused rmmod"
assert_exists "$A/loop$n" "the instance's device after the refused rmmod"

# Held only by an open file: the mount is gone, the instance is not.
exec 3<"$A/loop-control"
umount -l "$A" || fail "umount -l $A"
got=$(lctl /proc/self/fd/3 get_free) || fail "GET_FREE through the held file: $got"
assert_eq "$got" "$n" "GET_FREE through the held file"
expect_fail "rmmod loop with an instance held by a file" rmmod loop
assert_eq "$(module_state)" "live" "the module while the file is held"
exec 3<&-
# The instance's devices go at its end, some asynchronously: retry.
wait_until 20 unloaded || fail "rmmod loop still refused after the instance ended"
ok "the module unloaded once no instance was left"
assert_eq "$(in_proc_filesystems)" "no" "loopfs in /proc/filesystems without the module"
assert_absent /dev/loop-control "/dev/loop-control without the module"

# Mounting loopfs loads the module (fs-loopfs alias).
B=$SCRATCH/b
mount_instance "$B"
assert_eq "$(module_state)" "live" "the module after mount -t loopfs"
assert_eq "$(in_proc_filesystems)" "yes" "loopfs in /proc/filesystems after the mount"
assert_eq "$(cat "$LIMIT")" "$((limit + 1))" "max_loop_devices after the module loaded again"
mkimg "$SCRATCH/img" 4
printf 'loop module reloaded\n' >"$SCRATCH/data"
dd if="$SCRATCH/data" of="$SCRATCH/img" conv=notrunc status=none || fail "dd"
m=$(lctl "$B/loop-control" get_free) || fail "GET_FREE after the reload: $m"
assert_num "$m" "GET_FREE after the reload"
losetup "$B/loop$m" "$SCRATCH/img" || fail "losetup $B/loop$m"
assert_eq "$(head -c 21 "$B/loop$m")" "loop module reloaded" "bytes read through the instance's device"
losetup -d "$B/loop$m" || fail "losetup -d $B/loop$m"
umount "$B" || fail "umount $B"

# Options given to modprobe apply to the module loaded again.
wait_until 20 unloaded || fail "rmmod loop refused after the second instance ended"
modprobe loop max_part=7 || fail "modprobe loop max_part=7"
assert_eq "$(cat /sys/module/loop/parameters/max_part)" "7" "max_part given to modprobe"
# A partitioned device of an instance, its partition node used, then the
# instance ended and the module unloaded.
C=$SCRATCH/c
mount_instance "$C"
k=$(lctl "$C/loop-control" get_free) || fail "GET_FREE with max_part=7: $k"
assert_num "$k" "GET_FREE with max_part=7"
got=$(node_devnum "$C/loop$k") || fail "no device number for $C/loop$k"
assert_eq "$got" "$(loop_devnum "$k")" "loop$k's node with max_part=7"
mkimg "$SCRATCH/parts" 4
echo 'start=2048, size=4096, type=83' | sfdisk -q "$SCRATCH/parts" || fail "sfdisk"
printf 'partition one\n' | dd of="$SCRATCH/parts" bs=512 seek=2048 conv=notrunc status=none ||
	fail "dd into the partition"
losetup -P "$C/loop$k" "$SCRATCH/parts" || fail "losetup -P $C/loop$k"
assert_blk "$C/loop${k}p1" "the partition's node in the instance"
assert_eq "$(head -c 14 "$C/loop${k}p1")" "partition one" "bytes read through the partition's node"
umount "$C" || fail "umount $C (devices still bound)"
wait_until 20 unloaded || fail "rmmod loop refused after the third instance ended"
modprobe loop || fail "modprobe loop"
assert_eq "$(cat /sys/module/loop/parameters/max_part)" "$max_part" "max_part as the boot had it"
assert_exists /dev/loop-control "/dev/loop-control after modprobe"
assert_absent "/sys/block/loop$x" "host loop$x after the reload (loading makes only the first max_loop)"
for d in $host_before; do
	[ -e "/sys/block/$d" ] && continue
	got=$(lctl /dev/loop-control add "${d#loop}") || fail "adding back host $d: $got"
	info "host $d added back"
done
assert_exists "/sys/block/loop$x" "host loop$x added back"
