#!/bin/bash
# timeout: 2400
# Contract clause 6 under load, the long run: tests/e2e/concurrent_
# instances_leave_no_device_behind.sh, the same script and checks, for 30
# minutes (LOOPFS_STRESS_SECONDS=1800) instead of make check's 40 s.
export LOOPFS_STRESS_SECONDS=${LOOPFS_STRESS_SECONDS:-1800}
export TEST_NAME=${TEST_NAME:-stress_half_hour_leaves_no_device_behind}
exec "$(dirname "$0")/../e2e/concurrent_instances_leave_no_device_behind.sh"
