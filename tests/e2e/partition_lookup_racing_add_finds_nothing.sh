#!/bin/bash
# timeout: 120
# Contract clause 1.7 and 3.4: a lookup of loopNp1 that races with
# LOOP_CTL_ADD(N) and LOOP_CTL_REMOVE(N) in the same instance finds nothing
# (ENOENT) and never a half-added device: tests/tools/loopfs-lookup-race
# runs both for 15 s in a detached instance. A device in the middle of
# being added once counted as a member and the lookup oopsed on its
# missing disk; the guest log must stay free of splats (logcheck).
. "$(dirname "$0")/../lib.sh"

require_root
require_loopfs
RACE=$PROJECT/build/tools/loopfs-lookup-race
[ -x "$RACE" ] || skip "not built: $RACE (scripts/build-selftests.sh)"

"$RACE" 15 >race.out 2>&1
rc=$?
print_file race.out
[ $rc -eq 0 ] || fail "loopfs-lookup-race exited $rc"
line=$(file_last_match race.out '^lookup-race: [0-9]+ adds') || fail "no summary line"
ok "$line"
