#!/bin/bash
# timeout: 240
# Contract clause 6.3 (and 2.3, 2.5, 6.1): random ioctls, bad arguments and
# teardown in any order on detached instances neither crash nor leak.
# tests/tools/loopfs-fuzz drives up to four detached instances with every
# LOOP_* / LOOP_CTL_* command, block ioctls, random command numbers, NULL,
# kernel and half-mapped pointers, huge numbers, bad fds and fds of other
# instances' devices, interleaved with unlinkat() of nodes, new instances and
# closes of mount fds.  With them go the moves of clause 1.7 (a node is an
# identity, not a number): holds on nodes (O_PATH fds, detached and bind
# mounts of loopN and loopNpM, the instances attached in the tool's own
# mount namespace), removal and unlinking of held devices, BLKPG add/delete
# of partitions and opens of them by name, LOOP_CTL_ADD of held and recently
# removed indexes, and reopens of held nodes through /proc/self/fd/N.  It
# fails on a result that is neither >= 0 nor -1 with an errno, on an
# instance naming a device that existed before the run, on a violation (a
# held node of a gone device or partition that opens or fails otherwise than
# with ENXIO, a held number reused, LOOP_CTL_ADD of a held index that
# succeeds), on a partition that does not open by name right after its
# BLKPG add, on a device or partition left in /sys/block or /sys/class/block
# after everything was closed, on an index that cannot be added again in a
# fresh instance, and on a charge not given back (max_loop_devices=3 in a
# fresh instance: exactly 3 devices, and partitions charged).  The guest log
# must stay free of splats (logcheck).  LOOPFS_FUZZ_SEED=S repeats a run.
# Knobs (make soak's long run sets them): LOOPFS_FUZZ_OPS (8000),
# LOOPFS_FUZZ_SECONDS (90: a backstop for a slower machine, the tool says
# when it stopped early), LOOPFS_FUZZ_MIN (2000: ops that must be done).
. "$(dirname "$0")/../lib.sh"

require_root
require_loopfs
FUZZ=$PROJECT/build/tools/loopfs-fuzz
[ -x "$FUZZ" ] || skip "not built: $FUZZ (scripts/build-selftests.sh)"

OPS=${LOOPFS_FUZZ_OPS:-8000}
SECS=${LOOPFS_FUZZ_SECONDS:-90}
MIN=${LOOPFS_FUZZ_MIN:-2000}
SEED=${LOOPFS_FUZZ_SEED:-$(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ^ $$ ))}
# the op count bounds the run; SECS is a backstop for a slower machine
# (the tool says when it stopped early; MIN ops at least must be done)
info "loopfs-fuzz $OPS ops, seed $SEED"
"$FUZZ" "$OPS" "$SEED" "$SECS" >fuzz.out 2>&1
rc=$?
print_file fuzz.out
[ $rc -eq 0 ] || fail "loopfs-fuzz exited $rc (seed $SEED): see above"
line=$(file_last_match fuzz.out '^fuzz: [0-9]+ ops, seed') || fail "no summary line from loopfs-fuzz"
n=${line#fuzz: }
n=${n%% *}
assert_num "$n" "ops done"
[ "$n" -ge "$MIN" ] || fail "only $n ops done, $MIN wanted (seed $SEED)"
ok "$n fuzz ops, seed $SEED"
case $line in
*EINVAL=*) ok "errno histogram printed" ;;
*) fail "errno histogram without EINVAL: $line" ;;
esac
file_last_match fuzz.out '^fuzz: [0-9]+ of [0-9]+ indexes re-added' >/dev/null || fail "no index check"
ok "every device gone, indexes free again"
file_last_match fuzz.out '^limit: max_loop_devices=3: 3 adds succeeded, then ENOSPC' >/dev/null ||
	fail "no charge check (seed $SEED)"
file_last_match fuzz.out '^limit: partitions: BLKPG add at the limit: ENOSPC; after a device was removed: ok, then ENOSPC; after a delete: ok' >/dev/null ||
	fail "no partition charge check (seed $SEED)"
ok "charges given back, partitions charged"
check_holds fuzz.out fuzz "$SEED"
