#!/bin/bash
# timeout: 900
# Contract clause 7.1 (loopfs-on side): with CONFIG_BLK_DEV_LOOPFS=y the
# filesystem type loopfs is registered (nodev) and mountable, and the loop
# driver is still there (/dev/loop-control).  The loopfs-off side is
# tests/stock/loopfs_absent_when_compiled_out.sh.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds mountpoint stat findmnt awk

line=$(grep -w loopfs /proc/filesystems) || fail "loopfs not in /proc/filesystems"
assert_eq "$(echo "$line" | awk '{print $1}')" nodev "loopfs is a nodev filesystem in /proc/filesystems"
got=$(node_devnum /dev/loop-control) || fail "no device number for /dev/loop-control"
assert_eq "$got" "$LOOP_CONTROL_DEVNUM" "host /dev/loop-control"
mount_instance "$SCRATCH/a"
mountpoint -q "$SCRATCH/a" || fail "not a mount point after mount -t loopfs"
assert_eq "$(findmnt -n -o FSTYPE "$SCRATCH/a")" loopfs "fstype of the mount"
info "statfs type of loopfs: 0x$(stat -f -c %t "$SCRATCH/a")"
[ "$(stat -f -c %t "$SCRATCH/a")" != 0 ] || fail "statfs f_type is 0"
umount "$SCRATCH/a" || fail "umount"
