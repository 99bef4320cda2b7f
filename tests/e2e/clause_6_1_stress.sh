#!/bin/bash
# timeout: 240
# Contract clauses 6.1 and 6.3 under concurrency, and 5.1/5.3 afterwards:
# tests/tools/loopfs-stress runs 8 detached instances with threads that add,
# bind (LOOP_CONFIGURE on small tmpfs files), write/fsync/read back, detach,
# unlink, remove, and recycle whole instances under the others.  Asserted:
# no data mismatch, every device it used gone from /sys/block once all is
# closed, and then (loopfs-stress --limit-check) with
# /proc/sys/user/max_loop_devices=3 a fresh instance adds exactly 3 devices
# and the 4th add fails with ENOSPC: every charge was given back.
. "$(dirname "$0")/../lib.sh"

require_root
require_loopfs
STRESS=$PROJECT/build/tools/loopfs-stress
[ -x "$STRESS" ] || skip "not built: $STRESS (scripts/build-selftests.sh)"
[ -w /proc/sys/user/max_loop_devices ] || fail "no /proc/sys/user/max_loop_devices"

SECS=${LOOPFS_STRESS_SECONDS:-40}
read -r before </proc/sys/user/max_loop_devices
"$STRESS" "$SECS" 3 >stress.out 2>&1
rc=$?
print_file stress.out
[ $rc -eq 0 ] || fail "loopfs-stress exited $rc"
line=$(file_last_match stress.out '^stress: .* write\+fsync\+read back') || fail "no summary from loopfs-stress"
io=${line##*read back }
io=${io%% *}
assert_num "$io" "I/O rounds"
[ "$io" -ge 5 ] || fail "only $io I/O rounds in $SECS s"
ok "$io write+fsync+read back rounds without a mismatch"
rec=$(file_last_match stress.out 'instances recycled [0-9]+')
rec=${rec##*instances recycled }
assert_num "$rec" "instances recycled"
[ "$rec" -ge 5 ] || fail "only $rec instances recycled"
ok "$rec instances torn down under the threads"

loop_list_to now
[ "$now" = "$_LIB_BASELINE" ] || fail "loop devices left over: $(lines_not_in "$now" "$_LIB_BASELINE" | tr '\n' ' ')"
ok "no loop device left over"

"$STRESS" --limit-check 3 >limit.out 2>&1
rc=$?
print_file limit.out
[ $rc -eq 0 ] || fail "limit check failed: a charge was not given back (or the limit does not hold)"
file_last_match limit.out 'max_loop_devices=3: 3 adds succeeded, then ENOSPC' >/dev/null || fail "limit check output"
ok "max_loop_devices=3: exactly 3 adds in a fresh instance, then ENOSPC"
read -r after </proc/sys/user/max_loop_devices
assert_eq "$after" "$before" "max_loop_devices restored"
