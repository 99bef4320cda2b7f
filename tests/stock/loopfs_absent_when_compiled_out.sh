#!/bin/bash
# timeout: 600
# Contract clause 7.1: with CONFIG_BLK_DEV_LOOPFS=n the loopfs code is not
# compiled at all: no loopfs in /proc/filesystems, mount -t loopfs fails
# (ENODEV: unknown filesystem type), and the stock loop driver is there.
#
# Only meaningful on the loopfs-off kernel.  The harness sets
# LOOPFS_KERNEL=1 when it runs the stock suite on the loopfs-on kernel
# (clause 7.2); then this test skips (its counterpart there is
# tests/e2e/loopfs_registered_when_built_in.sh).
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds mountpoint

if [ "${LOOPFS_KERNEL:-0}" = 1 ]; then
	skip "LOOPFS_KERNEL=1: this is the loopfs-on kernel"
fi

grep -w loopfs /proc/filesystems && fail "loopfs is in /proc/filesystems on the loopfs-off kernel"
ok "loopfs absent from /proc/filesystems"
mkdir -p d
expect_fail_msg "unknown filesystem type" "mount -t loopfs" mount -t loopfs none d
mountpoint -q d && fail "mount -t loopfs mounted something"
grep -qw loop /proc/devices || fail "no loop driver in /proc/devices"
got=$(node_devnum /dev/loop-control) || fail "no device number for /dev/loop-control"
assert_eq "$got" "$LOOP_CONTROL_DEVNUM" "/dev/loop-control present"
