#!/bin/bash
# timeout: 10800
# Contract clauses 6.3 and 1.7, the long run: tests/e2e/ioctl_fuzz_neither_
# crashes_nor_leaks.sh, the same script and checks (every device gone,
# every index free again, every charge given back, holds never reach
# another device), with 1,000,000 operations on a kernel without the
# debugging options (make soak's benchmark kernel boot) and 100,000 on the
# debugging kernel (KASAN, lockdep, kmemleak: about 50 times slower), all
# of them required.  The seed is printed; LOOPFS_FUZZ_SEED=S repeats a run.
if [ -e /sys/kernel/debug/kmemleak ]; then
	ops=100000
else
	ops=1000000
fi
export LOOPFS_FUZZ_OPS=${LOOPFS_FUZZ_OPS:-$ops}
export LOOPFS_FUZZ_MIN=${LOOPFS_FUZZ_MIN:-$LOOPFS_FUZZ_OPS}
export LOOPFS_FUZZ_SECONDS=${LOOPFS_FUZZ_SECONDS:-10000}
export TEST_NAME=${TEST_NAME:-ioctl_fuzz_long_run_neither_crashes_nor_leaks}
exec "$(dirname "$0")/../e2e/ioctl_fuzz_neither_crashes_nor_leaks.sh"
