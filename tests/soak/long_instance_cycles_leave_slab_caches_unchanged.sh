#!/bin/bash
# timeout: 480
# Contract clause 6.1, the long run: tests/e2e/instance_cycles_leave_slab_
# caches_unchanged.sh, the same script and checks, with the long budget
# instead of make check's short one: up to 10,000 create-use-destroy
# cycles in 240 s, at least 1,000 of them (about 165 s on the debugging
# kernel under TCG), then the slab caches compared with their tolerance
# for that many cycles.
export LOOPFS_CYCLES=${LOOPFS_CYCLES:-10000}
export LOOPFS_CYCLES_BUDGET=${LOOPFS_CYCLES_BUDGET:-240}
export LOOPFS_CYCLES_MIN=${LOOPFS_CYCLES_MIN:-1000}
export TEST_NAME=${TEST_NAME:-long_instance_cycles_leave_slab_caches_unchanged}
exec "$(dirname "$0")/../e2e/instance_cycles_leave_slab_caches_unchanged.sh"
