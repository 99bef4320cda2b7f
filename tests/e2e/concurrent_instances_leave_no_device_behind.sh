#!/bin/bash
# timeout: 240
# Contract clauses 6.1 and 6.3 under concurrency, 1.7 and 5.1/5.3/5.5
# afterwards: tests/tools/loopfs-stress runs 8 instances (about half attached
# in its own mount namespace) with threads that add, bind (LOOP_CONFIGURE on
# small tmpfs files), write/fsync/read back, detach, unlink, remove, recycle
# whole instances under the others, and a holder that keeps O_PATH fds,
# detached and bind mounts of nodes (loopN, loopNpM), adds and deletes
# partitions with BLKPG and reopens held nodes through /proc/self/fd/N while
# the remover removes held devices and re-adds held indexes.  Asserted: no
# data mismatch, no violation (a held node of a gone device or partition
# that opens or fails otherwise than with ENXIO, a held number reused,
# LOOP_CTL_ADD of a held index that succeeds), every device and partition it
# used gone from /sys/block and /sys/class/block once all is closed, and then
# (loopfs-stress --limit-check) with /proc/sys/user/max_loop_devices=3 a
# fresh instance adds exactly 3 devices and the 4th add fails with ENOSPC,
# and partitions are charged the same way: every charge was given back.
# LOOPFS_STRESS_SEED=S seeds the threads (a run does not repeat exactly).
. "$(dirname "$0")/../lib.sh"

require_root
require_loopfs
STRESS=$PROJECT/build/tools/loopfs-stress
[ -x "$STRESS" ] || skip "not built: $STRESS (scripts/build-selftests.sh)"
[ -w /proc/sys/user/max_loop_devices ] || fail "no /proc/sys/user/max_loop_devices"

SECS=${LOOPFS_STRESS_SECONDS:-40}
SEED=${LOOPFS_STRESS_SEED:-$(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ^ $$ ))}
read -r before </proc/sys/user/max_loop_devices
info "loopfs-stress $SECS s, seed $SEED"
"$STRESS" "$SECS" 3 "$SEED" 10 >stress.out 2>&1
rc=$?
print_file stress.out
[ $rc -eq 0 ] || fail "loopfs-stress exited $rc (seed $SEED)"
line=$(file_last_match stress.out '^stress: .* write\+fsync\+read back') || fail "no summary from loopfs-stress"
io=${line##*read back }
io=${io%% *}
assert_num "$io" "I/O rounds"
[ "$io" -ge 5 ] || fail "only $io I/O rounds in $SECS s"
ok "$io write+fsync+read back rounds without a mismatch"
rec=$(file_last_match stress.out 'instances recycled [0-9]+') || fail "no 'instances recycled N' in stress.out"
rec=${rec##*instances recycled }
assert_num "$rec" "instances recycled"
[ "$rec" -ge 5 ] || fail "only $rec instances recycled"
ok "$rec instances torn down under the threads"
check_holds stress.out stress "$SEED"

loop_list_to now
[ "$now" = "$_LIB_BASELINE" ] || fail "loop devices left over: $(lines_not_in "$now" "$_LIB_BASELINE" | tr '\n' ' ')"
ok "no loop device left over"

"$STRESS" --limit-check 3 >limit.out 2>&1
rc=$?
print_file limit.out
[ $rc -eq 0 ] || fail "limit check failed: a charge was not given back (or the limit does not hold)"
file_last_match limit.out 'max_loop_devices=3: 3 adds succeeded, then ENOSPC' >/dev/null || fail "limit check output"
ok "max_loop_devices=3: exactly 3 adds in a fresh instance, then ENOSPC"
file_last_match limit.out '^limit: partitions: BLKPG add at the limit: ENOSPC; after a device was removed: ok, then ENOSPC; after a delete: ok' >/dev/null ||
	fail "partition charge check output"
ok "partitions charged against max_loop_devices, and given back"
read -r after </proc/sys/user/max_loop_devices
assert_eq "$after" "$before" "max_loop_devices restored"
