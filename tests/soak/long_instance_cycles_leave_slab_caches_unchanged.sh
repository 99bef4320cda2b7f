#!/bin/bash
# timeout: 7200
# Contract clause 6.1, the long run: tests/e2e/instance_cycles_leave_slab_
# caches_unchanged.sh, the same script and checks, with 10,000 full
# create-use-destroy cycles (instance, device, bind, I/O, remove: every
# cycle full, LOOPFS_CYCLES_FULL_EVERY=1) instead of make check's short
# budget, all of them required, then the slab caches and memory compared
# with their tolerance for that many cycles.  On the debugging kernel a
# full cycle costs 0.2-0.5 s under TCG: there the budget takes what fits
# (at least 1,000).
if [ -e /sys/kernel/debug/kmemleak ]; then
	min=1000
else
	min=10000
fi
export LOOPFS_CYCLES=${LOOPFS_CYCLES:-10000}
export LOOPFS_CYCLES_FULL_EVERY=${LOOPFS_CYCLES_FULL_EVERY:-1}
export LOOPFS_CYCLES_BUDGET=${LOOPFS_CYCLES_BUDGET:-3600}
export LOOPFS_CYCLES_MIN=${LOOPFS_CYCLES_MIN:-$min}
export TEST_NAME=${TEST_NAME:-long_instance_cycles_leave_slab_caches_unchanged}
exec "$(dirname "$0")/../e2e/instance_cycles_leave_slab_caches_unchanged.sh"
