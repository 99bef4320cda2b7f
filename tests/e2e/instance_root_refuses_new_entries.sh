#!/bin/bash
# timeout: 900
# Contract clause 1.4: the instance root holds loop-control (a character device
# with the host's /dev/loop-control number) and one block node loopN per device;
# nothing else can be created in it: create, mkdir, mknod, symlink, link and
# rename fail with EPERM ("Operation not permitted").
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds stat mknod
require_loopfs
need_loopctl

A=$SCRATCH/a
mount_instance "$A"
assert_eq "$(ls -A "$A" | tr '\n' ' ')" "loop-control " "a new instance holds only loop-control"
assert_eq "$(stat -c %F "$A/loop-control")" "character special file" "loop-control type"
got=$(node_devnum "$A/loop-control") || fail "no device number for $A/loop-control"
assert_eq "$got" "$LOOP_CONTROL_DEVNUM" "loop-control device number"
n=$(lctl "$A/loop-control" get_free) || fail "lctl $A/loop-control get_free: $n"
assert_num "$n" "GET_FREE"
assert_eq "$(stat -c %F "$A/loop$n")" "block special file" "loop$n type"

EPERM="Operation not permitted"
expect_fail_msg "$EPERM" "mkdir" mkdir "$A/dir"
expect_fail_msg "$EPERM" "touch (create)" touch "$A/file"
expect_fail_msg "$EPERM" "create by redirection" bash -c ": >'$A/file2'"
expect_fail_msg "$EPERM" "mknod b" mknod "$A/loop999999" b 7 0
expect_fail_msg "$EPERM" "mknod c" mknod "$A/null" c 1 3
expect_fail_msg "$EPERM" "mknod p" mknod "$A/fifo" p
expect_fail_msg "$EPERM" "ln -s" ln -s /dev/null "$A/sym"
expect_fail_msg "$EPERM" "ln (hard link of loop$n)" ln "$A/loop$n" "$A/hard"
expect_fail_msg "$EPERM" "mv loop$n (rename)" mv "$A/loop$n" "$A/loop-renamed"
expect_fail_msg "$EPERM" "mv loop-control (rename)" mv "$A/loop-control" "$A/ctl"
expect_fail_msg "$EPERM" "rename onto loop-control" mv -f "$A/loop$n" "$A/loop-control"

assert_eq "$(ls -A "$A" | tr '\n' ' ')" "$(printf '%s\n' loop-control "loop$n" | sort | tr '\n' ' ')" "nothing was created, renamed or replaced"
got=$(node_devnum "$A/loop$n") || fail "no device number for $A/loop$n"
assert_eq "$got" "$(loop_devnum "$n")" "loop$n unchanged"
got=$(node_devnum "$A/loop-control") || fail "no device number for $A/loop-control"
assert_eq "$got" "$LOOP_CONTROL_DEVNUM" "loop-control unchanged"
