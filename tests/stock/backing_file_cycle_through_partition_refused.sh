#!/bin/bash
# timeout: 300
# Stock loop (both kernels) refuses a backing file that would make a loop
# device back itself through one of its partitions, whatever number the
# partition has (extended, major 259, with max_part=0 or beyond max_part):
#   - LOOP_CHANGE_FD of read-only loopA to its own partition loopAp1: EBADF;
#   - loopB bound to loopAp1, then LOOP_CHANGE_FD of loopA to loopB: EBADF.
# Before the fix both succeeded (the cycle check knew loop devices by
# major 7 and loopA by its exact number) and I/O to loopA then recursed
# through the loop workers.  Each time loopA still reads its own image.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds losetup sfdisk cmp dd
need_loopctl

mkimg img 16
defer detach_file "$SCRATCH/img"
printf 'label: dos\nstart=2048, size=8192, type=83\n' |
	sfdisk -q img >sfdisk.out 2>&1 || { cat sfdisk.out; fail "sfdisk img"; }
mkdata other 8192
truncate -s 16M other || fail "truncate other"
head -c 1048576 img >img.head

a=$(losetup -r -P -f --show img) || fail "losetup -r -P -f --show img"
wait_present "${a}p1" 5 || fail "${a}p1 did not appear"
info "loopA $a, partition ${a}p1 is $(node_devnum "${a}p1")"

expect_errno EBADF "LOOP_CHANGE_FD of $a to its own partition" \
	"$LOOPCTL" "$a" change_fd "${a}p1"
dd if="$a" bs=1M count=1 status=none of=a.head || fail "read $a"
cmp a.head img.head || fail "$a no longer reads img"
ok "$a still reads img"

b=$(losetup -r -f --show "${a}p1") || fail "losetup -r -f --show ${a}p1"
defer losetup -d "$b"
expect_errno EBADF "LOOP_CHANGE_FD of $a to $b, which is bound to ${a}p1" \
	"$LOOPCTL" "$a" change_fd "$b"
dd if="$a" bs=1M count=1 status=none of=a.head2 || fail "read $a"
cmp a.head2 img.head || fail "$a no longer reads img"
ok "$a still reads img"

# the check refuses cycles only: another read-only file of the same size is taken
expect_ok "LOOP_CHANGE_FD of $a to a plain file of the same size" \
	"$LOOPCTL" "$a" change_fd other
dd if="$a" bs=1M count=1 status=none of=a.head3 || fail "read $a"
head -c 1048576 other >other.head
cmp a.head3 other.head || fail "$a does not read the new backing file"
ok "$a reads the new backing file"
losetup -d "$b" || fail "losetup -d $b"
losetup -d "$a" || fail "losetup -d $a"
