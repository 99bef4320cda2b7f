#!/bin/bash
# bench.sh: make bench.  Boots the two benchmark kernels (configs/bench*.config:
# no debugging options; loopfs on, then off) one after the other, each running
# the bench suite (tests/bench/*.sh; on the stock kernel only those marked
# "# kernels: any"), results in build/results/bench-loopfs and
# build/results/bench-stock; then scripts/bench-report.sh writes the table,
# the plots and report.md to build/bench/.
# The boots do not run side by side: the host-listing figures are compared
# across the two boots, and a second guest would load the machine for one
# boot and not the other.
# BENCH="NAME ..." runs only tests/bench/NAME.sh of each; BENCH_APPEND adds
# words to both kernel command lines (a benchmark's knobs: BENCH_X=Y words
# reach the guest's environment).
# Exit 1 when a boot or a benchmark failed or a figure missed its aim.
set -uo pipefail
cd "$(dirname "$0")/.."
suite=bench
if [ -n "${BENCH:-}" ]; then
	suite=one=
	for b in $BENCH; do
		[ -x "tests/bench/$b.sh" ] || { echo "bench: no tests/bench/$b.sh" >&2; exit 2; }
		suite+="tests/bench/$b.sh:"
	done
	suite=${suite%:}
fi
rc=0
for k in loopfs stock; do
	r=build/results/bench-$k
	start=$SECONDS
	GUEST_APPEND=${BENCH_APPEND:-} scripts/run-guest.sh \
		"build/kernel-bench-$k/arch/x86/boot/bzImage" "$r" "$suite" \
		"${BENCH_TIMEOUT:-7200}" || rc=1
	cat "$r/results.txt" 2>/dev/null
	grep -q '^FAIL' "$r/results.txt" 2>/dev/null && rc=1
	scripts/logcheck.sh "$r/console.log" || rc=1
	echo "bench: $k boot took $((SECONDS - start)) s"
done
scripts/bench-report.sh build/bench build/results/bench-loopfs build/results/bench-stock || rc=1
exit $rc
