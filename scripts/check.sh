#!/bin/bash
# check.sh: run scripts/lint.sh (checkpatch, sparse, kernel-doc on the final
# tree), then boot kernel-loopfs with suite loopfs, again with loop.max_part=15
# and suite selftests, and kernel-stock with suite stock, one after the
# other; print every result, judge each guest log and boot, and end with
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
# A boot: NAME KERNEL SUITE [KERNEL PARAMETERS].  Results of boots other than
# the first of a kernel are prefixed with NAME/.
boots=("loopfs loopfs loopfs"
       "maxpart15 loopfs selftests loop.max_part=15"
       "stock stock stock")
for boot in "${boots[@]}"; do
	read -r flavour kernel suite append <<<"$boot"
	out=build/results/$flavour
	GUEST_APPEND=$append scripts/run-guest.sh \
		"build/kernel-$kernel/arch/x86/boot/bzImage" \
		"$out" "$suite" "${GUEST_TIMEOUT:-3600}" >&2 || true
	if [ -f "$out/results.txt" ]; then
		if [ "$flavour" = "$kernel" ]; then
			count < "$out/results.txt"
		else
			sed "s|^\([A-Z]*\) |\1 $flavour/|" "$out/results.txt" | count
		fi
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
[ $fail -eq 0 ] || echo "check: logs in build/results/{loopfs,maxpart15,stock}/ (console.log, logs/NAME.log)"
echo "$skip skipped"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $tests_passed -gt 0 ]
