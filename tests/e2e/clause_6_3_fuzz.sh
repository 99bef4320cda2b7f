#!/bin/bash
# timeout: 240
# Contract clause 6.3 (and 2.3, 2.5, 6.1): random ioctls, bad arguments and
# teardown in any order on detached instances neither crash nor leak.
# tests/tools/loopfs-fuzz drives up to four detached instances with every
# LOOP_* / LOOP_CTL_* command, block ioctls, random command numbers, NULL,
# kernel and half-mapped pointers, huge numbers, bad fds and fds of other
# instances' devices, interleaved with unlinkat() of nodes, new instances and
# closes of mount fds.  It fails on a result that is neither >= 0 nor -1 with
# an errno, on an instance naming a device that existed before the run, on a
# device left in /sys/block after everything was closed, and on an index
# that cannot be added again in a fresh instance.  The guest log must stay
# free of splats (logcheck).  LOOPFS_FUZZ_SEED=S repeats a run.
. "$(dirname "$0")/../lib.sh"

require_root
require_loopfs
FUZZ=$PROJECT/build/tools/loopfs-fuzz
[ -x "$FUZZ" ] || skip "not built: $FUZZ (scripts/build-selftests.sh)"

OPS=${LOOPFS_FUZZ_OPS:-8000}
SEED=${LOOPFS_FUZZ_SEED:-$(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ^ $$ ))}
# the op count bounds the run; 90 s is a backstop for a slower machine
# (the tool says when it stopped early; 2000 ops at least must be done)
"$FUZZ" "$OPS" "$SEED" 90 >fuzz.out 2>&1
rc=$?
print_file fuzz.out
[ $rc -eq 0 ] || fail "loopfs-fuzz exited $rc (seed $SEED): see above"
line=$(file_last_match fuzz.out '^fuzz: [0-9]+ ops, seed') || fail "no summary line from loopfs-fuzz"
n=${line#fuzz: }
n=${n%% *}
assert_num "$n" "ops done"
[ "$n" -ge 2000 ] || fail "only $n ops done (seed $SEED)"
ok "$n fuzz ops, seed $SEED"
case $line in
*EINVAL=*) ok "errno histogram printed" ;;
*) fail "errno histogram without EINVAL: $line" ;;
esac
file_last_match fuzz.out '^fuzz: [0-9]+ of [0-9]+ indexes re-added' >/dev/null || fail "no index check"
ok "every device gone, indexes free again"
