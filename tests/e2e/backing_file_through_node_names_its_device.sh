#!/bin/bash
# timeout: 300
# A device bound to a node of an instance is bound to the block device the
# node stands for (so that it does not hold the instance's mount); sysfs
# loop/backing_file names that device as /dev/loopN rather than an empty
# or "(deleted)" path.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds losetup
require_loopfs
need_loopctl

mount_instance "$SCRATCH/i"
mkimg img 8
a=$(lctl "$SCRATCH/i/loop-control" get_free) || fail "GET_FREE: $a"
losetup "$SCRATCH/i/loop$a" img || fail "losetup loop$a img"
b=$(lctl "$SCRATCH/i/loop-control" get_free) || fail "GET_FREE: $b"
losetup "$SCRATCH/i/loop$b" "$SCRATCH/i/loop$a" || fail "losetup loop$b on loop$a's node"
read -r bf </sys/block/loop$b/loop/backing_file || fail "no backing_file for loop$b"
assert_eq "$bf" "/dev/loop$a" "loop$b's backing_file"
losetup -d "$SCRATCH/i/loop$b" || fail "losetup -d loop$b"
losetup -d "$SCRATCH/i/loop$a" || fail "losetup -d loop$a"
