#!/bin/bash
# run-suite.sh SUITE: run one suite in the guest, as real root.
#   loopfs: build/selftests/* (kselftest TAP), tests/e2e/*.sh and the
#           benchmark smoke run (tests/bench/smoke.sh)
#   selftests: build/selftests/* only
#   stock:  tests/stock/*.sh
#   soak:   tests/soak/*.sh (long runs, not in make check)
#   bench:  tests/bench/*.sh, every benchmark (not in make check)
#   demo:   tests/demo.sh
#   one=PATH[:PATH...]: only these, relative to the project (scripts or
#           selftest binaries)
# Each test gets a fresh scratch dir on tmpfs (cwd and TMPDIR) and a timeout
# (TEST_TIMEOUT, default 300s; a script may say `# timeout: N` on a line of
# its own).  Exit 0 = PASS, 77 = SKIP, else FAIL.  Result lines `PASS name`,
# `FAIL name`, `SKIP name` are printed and appended to $RESULTS/results.txt;
# output goes to $RESULTS/logs/NAME.log.  Exits 1 if anything failed.
set -uo pipefail
suite=${1:?usage: run-suite.sh SUITE}
PROJECT=${PROJECT:-$(cd "$(dirname "$0")/.." && pwd)}
RESULTS=${RESULTS:-/tmp/results}
mkdir -p "$RESULTS/logs" || exit 2
failed=0

result() {  # result PASS|FAIL|SKIP NAME
	echo "$1 $2"
	echo "$1 $2" >> "$RESULTS/results.txt"
	[ "$1" != FAIL ] || failed=1
}
announce() {
	echo "=== test $1"
	echo "=== test $1" > /dev/kmsg 2>/dev/null
}
# Show the end of a failed test's log; the `| ` prefix keeps test output
# apart from kernel messages for logcheck.sh.
show_tail() {
	echo "--- $1: $2; last 30 lines of logs/${3##*/}:"
	tail -n 30 "$3" | sed 's/^/    | /'
}
# run_in_scratch LOG TIMEOUT LIVE CMD...: run CMD in a fresh scratch dir.
run_in_scratch() {
	local log=$1 t=$2 live=$3 rc; shift 3
	local scratch; scratch=$(mktemp -d /tmp/scratch.XXXXXX) || return 2
	if [ "$live" = 1 ]; then
		(cd "$scratch" && TMPDIR=$scratch exec timeout -k 5 "$t" "$@") 2>&1 | tee "$log"
	else
		(cd "$scratch" && TMPDIR=$scratch exec timeout -k 5 "$t" "$@") >"$log" 2>&1
	fi
	rc=$?
	# Undo what the test left mounted below its scratch dir, then remove it.
	awk -v d="$scratch" '$2 == d || index($2, d "/") == 1 { print $2 }' \
		/proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf --one-file-system "$scratch"
	return $rc
}
why() { case $1 in 124|137) echo "timeout";; *) echo "exit $1";; esac; }

run_script() {  # run_script NAME PATH [LIVE]
	local name=$1 path=$2 log=$RESULTS/logs/$1.log t rc
	if [ ! -x "$path" ]; then
		echo "--- $name: $path is missing or not executable"
		result FAIL "$name"; return
	fi
	t=$(sed -n 's/^# timeout: *\([0-9][0-9]*\) *$/\1/p' "$path" | head -n1)
	announce "$name"
	run_in_scratch "$log" "${t:-${TEST_TIMEOUT:-300}}" "${3:-0}" "$path"
	rc=$?
	case $rc in
	0) result PASS "$name" ;;
	77) result SKIP "$name" ;;
	*) show_tail "$name" "$(why $rc)" "$log"; result FAIL "$name" ;;
	esac
}

run_scripts() {  # every executable DIR/*.sh, in name order
	local f
	for f in "$1"/*.sh; do
		[ -f "$f" ] && [ -x "$f" ] && run_script "$(basename "$f" .sh)" "$f"
	done
}

# kselftest_harness binary: one result line per TAP `ok`/`not ok` line, plus
# a FAIL for the binary itself if it crashed or the plan does not add up.
run_selftest() {
	local bin=$1 b; b=$(basename "$1")
	local log=$RESULTS/logs/selftest-$b.log rc plan n=0 line rest name dir
	announce "selftest/$b"
	run_in_scratch "$log" "${TEST_TIMEOUT:-300}" 0 "$bin"
	rc=$?
	# Parse a copy on tmpfs: reading the 9p log line by line is slow.
	local tap; tap=$(mktemp /tmp/tap.XXXXXX)
	cp "$log" "$tap"
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$tap" | head -n1)
	while IFS= read -r line; do
		[[ $line =~ ^(not\ )?ok\ ([0-9]+)\ (.*)$ ]] || continue
		n=$((n + 1)) rest=${BASH_REMATCH[3]}
		name=${rest%% # *} dir=
		[ "$name" = "$rest" ] || dir=${rest#* # }
		if [ -n "${BASH_REMATCH[1]}" ]; then
			result FAIL "selftest/$b/$name"
		elif [[ ${dir^^} == SKIP* ]]; then
			result SKIP "selftest/$b/$name"
		else
			result PASS "selftest/$b/$name"
		fi
	done < "$tap"
	rm -f "$tap"
	if [ $rc != 0 ] && [ $rc != 1 ] && [ $rc != 4 ]; then
		show_tail "selftest/$b" "$(why $rc)" "$log"; result FAIL "selftest/$b"
	elif [ -z "$plan" ] || [ "$plan" != $n ]; then
		show_tail "selftest/$b" "TAP plan ${plan:-missing}, $n results" "$log"
		result FAIL "selftest/$b"
	elif grep -q '^not ok' "$log"; then
		show_tail "selftest/$b" "failures" "$log"
	fi
}

case $suite in
loopfs)
	for f in "$PROJECT"/build/selftests/*; do
		[ -f "$f" ] && [ -x "$f" ] && run_selftest "$f"
	done
	run_scripts "$PROJECT/tests/e2e"
	run_script bench-smoke "$PROJECT/tests/bench/smoke.sh" ;;
selftests)
	for f in "$PROJECT"/build/selftests/*; do
		[ -f "$f" ] && [ -x "$f" ] && run_selftest "$f"
	done ;;
stock) run_scripts "$PROJECT/tests/stock" ;;
soak) run_scripts "$PROJECT/tests/soak" ;;
bench)
	for f in "$PROJECT"/tests/bench/*.sh; do
		[ -x "$f" ] && run_script "bench-$(basename "$f" .sh)" "$f"
	done ;;
demo) run_script demo "$PROJECT/tests/demo.sh" 1 ;;
one=*)
	IFS=: read -ra only <<<"${suite#one=}"
	for f in "${only[@]}"; do
		case $f in
		*.sh) run_script "$(basename "$f" .sh)" "$PROJECT/$f" 1 ;;
		*) run_selftest "$PROJECT/$f" ;;
		esac
	done ;;
*) echo "run-suite: unknown suite '$suite'" >&2; exit 2 ;;
esac
[ -s "$RESULTS/results.txt" ] || echo "run-suite: suite $suite ran no tests"
exit $failed
