#!/bin/bash
# soak.sh: make soak.  The soak suite (tests/soak/*.sh: the ioctl fuzzer,
# full instance cycles, the half-hour stress run) in two boots side by side
# (nothing here is timed against anything else): the benchmark kernel
# without debugging options (build/kernel-bench-loopfs: 1,000,000 fuzz
# operations, 10,000 full cycles) and the debugging kernel
# (build/kernel-loopfs: KASAN, lockdep, kmemleak; 100,000 fuzz operations).
# Results in build/results/soak-bench and build/results/soak-debug; each
# boot's log must be free of splats and kmemleak must find nothing
# (logcheck).  SOAK_TIMEOUT (14400 s) bounds each boot.  Exit 1 when a
# test, a boot or a log check failed.
set -uo pipefail
cd "$(dirname "$0")/.."
boot() { # NAME KERNEL_DIR
	local r=build/results/soak-$1 start=$SECONDS
	scripts/run-guest.sh "$2/arch/x86/boot/bzImage" "$r" soak "${SOAK_TIMEOUT:-14400}" >/dev/null
	echo "soak: $1 boot: $(cat "$r/status" 2>/dev/null) after $((SECONDS - start)) s"
}
boot bench build/kernel-bench-loopfs &
boot debug build/kernel-loopfs &
wait
rc=0
for b in bench debug; do
	r=build/results/soak-$b
	echo "== $b"
	cat "$r/results.txt" 2>/dev/null || { echo "no results"; rc=1; }
	grep -q '^FAIL' "$r/results.txt" 2>/dev/null && rc=1
	[ "$(cat "$r/status" 2>/dev/null)" = done ] || rc=1
	scripts/logcheck.sh "$r/console.log" || rc=1
	# the figures each long run printed
	grep -hE '^ *(\.\. |ok )?(fuzz:|cycles:|stress:|loopfs-fuzz)' "$r"/logs/*.log 2>/dev/null
done
exit $rc
