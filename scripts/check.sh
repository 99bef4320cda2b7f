#!/bin/bash
# check.sh: run scripts/lint.sh (checkpatch, sparse, kernel-doc on the final
# tree), then boot kernel-loopfs with suite loopfs (in two shards), again
# with loop.max_part=15 and suite selftests, and kernel-stock with suite
# stock, two boots at a time (see boots below); print every result, judge
# each guest log and boot, and end with
# `N passed, N failed`.  Exits non-zero on any failure or
# if no test passed.  GUEST_TIMEOUT (seconds, default 3600) bounds each boot.
set -euo pipefail
cd "$(dirname "$0")/.."
pass=0 fail=0 skip=0 tests_passed=0
count() {  # count < result lines
	local r n
	while read -r r n; do
		echo "$r $n"
		case $r in
		PASS) pass=$((pass + 1)) ;;
		FAIL) fail=$((fail + 1)) ;;
		SKIP) skip=$((skip + 1)) ;;
		esac
	done
}
# Static checks of the final tree first (checkpatch, sparse, kernel-doc).
mkdir -p build/results
scripts/lint.sh >build/results/lint.txt 2>&1 || true
while IFS= read -r line; do
	case $line in
	PASS\ *|FAIL\ *) count <<<"$line" ;;
	*) echo "$line" ;;
	esac
done <build/results/lint.txt
# The boots: NAME KERNEL SUITE LANE [KERNEL PARAMETERS].  The lanes run side
# by side, each its boots one after the other: a guest keeps about one of
# the machine's cores busy (its tests are mostly one process at a time), so
# two lanes halve the time on 2 cores.  CHECK_LANES=1 boots everything one
# after the other, the loopfs suite in a single boot.  Results of a boot
# named other than its kernel (or KERNEL-N, a shard) are prefixed with NAME/.
if [ "${CHECK_LANES:-2}" = 1 ]; then
	boots=("loopfs loopfs loopfs 1"
	       "maxpart15 loopfs selftests 1 loop.max_part=15"
	       "stock stock stock 1")
else
	# shard_bias: the seconds each lane spends in its other boot (stock
	# about 50, maxpart15 about 470), so that the lanes end together
	bias=shard_bias=50,470
	boots=("loopfs-1 loopfs loopfs 1 shard=1/2 $bias"
	       "loopfs-2 loopfs loopfs 2 shard=2/2 $bias"
	       "maxpart15 loopfs selftests 2 loop.max_part=15"
	       "stock stock stock 1")
fi
boot() {  # boot NAME KERNEL SUITE [PARAMETERS]
	GUEST_APPEND=$4 scripts/run-guest.sh \
		"build/kernel-$2/arch/x86/boot/bzImage" \
		"build/results/$1" "$3" "${GUEST_TIMEOUT:-3600}" || true
}
lanes=$(for b in "${boots[@]}"; do read -r _ _ _ l _ <<<"$b"; echo "$l"; done | sort -u)
for lane in $lanes; do
	for b in "${boots[@]}"; do
		read -r flavour kernel suite l append <<<"$b"
		[ "$l" = "$lane" ] && boot "$flavour" "$kernel" "$suite" "$append"
	done >&2 &
done
wait
for b in "${boots[@]}"; do
	read -r flavour kernel suite _ _ <<<"$b"
	out=build/results/$flavour
	if [ -f "$out/results.txt" ]; then
		case $flavour in
		"$kernel"|"$kernel"-[0-9]*) count < "$out/results.txt" ;;
		*) sed "s|^\([A-Z]*\) |\1 $flavour/|" "$out/results.txt" | count ;;
		esac
		tests_passed=$((tests_passed + $(grep -c '^PASS ' "$out/results.txt" || true)))
	fi
	if lc=$(scripts/logcheck.sh "$out/console.log" 2>&1); then
		count <<< "PASS guest-log/$flavour"
	else
		echo "$lc" | sed 's/^/    /'
		count <<< "FAIL guest-log/$flavour"
	fi
	status=$(cat "$out/status" 2>/dev/null || echo "no status")
	if [ "$status" != "done" ]; then
		echo "    $status; see $out/console.log"
		count <<< "FAIL boot/$flavour"
	fi
done
[ $tests_passed -gt 0 ] || echo "check: no test passed"
[ $fail -eq 0 ] || echo "check: logs in build/results/NAME/ (console.log, logs/TEST.log) of each boot"
echo "$skip skipped"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $tests_passed -gt 0 ]
