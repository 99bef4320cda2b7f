#!/bin/bash
# run-suite.sh SUITE: run one suite in the guest, as real root.
#   loopfs: the kselftests, tests/e2e/*.sh and the benchmark smoke run
#           (tests/bench/smoke.sh); shard=N/M on the kernel command line
#           runs one shard of them (see assign_shards)
#   selftests: the kselftests only
#   stock:  tests/stock/*.sh
#   soak:   tests/soak/*.sh (long runs, not in make check)
#   bench:  tests/bench/*.sh, every benchmark (not in make check)
#   demo:   tests/demo.sh
#   one=PATH[:PATH...]: only these, relative to the project: scripts (*.sh)
#           or kselftest binaries, named by their installed path
#           build/selftests/COLLECTION/BINARY (build/selftests/BINARY, the
#           path before the kselftest install, still works)
# The kselftests are what scripts/build-selftests.sh installed in
# build/selftests/ with the kselftest Makefiles; each binary listed in
# kselftest-list.txt is run by the installed run_kselftest.sh, one binary per
# run, in a copy of build/selftests/ in its scratch dir.
# Each test gets a fresh scratch dir on tmpfs (cwd and TMPDIR) and a timeout
# (TEST_TIMEOUT, default 300s; a script may say `# timeout: N` on a line of
# its own; for a kselftest binary it is run_kselftest.sh's --override-timeout,
# over the settings file).  Exit 0 = PASS, 77 = SKIP, else FAIL.  Result lines
# `PASS name`, `FAIL name`, `SKIP name` are printed and appended to
# $RESULTS/results.txt; output goes to $RESULTS/logs/NAME.log (for a kselftest
# binary: `selftest/BINARY/TEST` for each test, `FAIL selftest/BINARY` if the
# binary crashed, timed out or its TAP plan does not add up; the runner's
# whole output in logs/selftest-BINARY.log).  Exits 1 if anything failed.
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
	local name=$1 path=$2 log=$RESULTS/logs/$1.log t rc start
	if [ ! -x "$path" ]; then
		echo "--- $name: $path is missing or not executable"
		result FAIL "$name"; return
	fi
	t=$(sed -n 's/^# timeout: *\([0-9][0-9]*\) *$/\1/p' "$path" | head -n1)
	announce "$name"
	start=$SECONDS
	run_in_scratch "$log" "${t:-${TEST_TIMEOUT:-300}}" "${3:-0}" "$path"
	rc=$?
	took "$name" "$start"
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

# A kselftest binary, run as the kselftest runner runs it: the installed
# run_kselftest.sh, in a copy of build/selftests/ in the scratch dir (the
# runner cds into the binary's directory: the guest's / is read-only), with
# TEST_TIMEOUT as --override-timeout; the scratch timeout, a minute longer,
# catches a runner that hangs.  Its output goes through a pipe: the runner
# writes the test's output through an O_APPEND fd of /dev/stdout next to its
# own, which, were stdout the log file itself, would write over it.
run_selftest() {  # run_selftest COLLECTION BINARY
	local coll=$1 b=$2 log=$RESULTS/logs/selftest-$2.log t=${TEST_TIMEOUT:-300} rc start
	announce "selftest/$b"
	start=$SECONDS
	# The runner writes to /dev/stdout, which the guest's bare devtmpfs
	# lacks: without the link its output would go to a file of that name.
	[ -L /dev/stdout ] || ln -sfn /proc/self/fd/1 /dev/stdout
	run_in_scratch "$log" $((t + 60)) 0 bash -c 'set -o pipefail
		cp -a "$1" kselftest &&
		kselftest/run_kselftest.sh --override-timeout "$2" --test "$3" 2>&1 | cat' \
		run-kselftest "$PROJECT/build/selftests" "$t" "$coll:$b"
	rc=$?
	took "selftest/$b" "$start"
	parse_kselftest "$coll" "$b" "$log" $rc
}

# parse_kselftest COLLECTION BINARY LOG RUNNER_RC: the runner's KTAP, nested:
#   TAP version 13 / 1..1 / `# ` + each line of the binary's output /
#   ok 1 selftests: COLLECTION: BINARY [# SKIP]
#   not ok 1 selftests: COLLECTION: BINARY # exit=N | # TIMEOUT N seconds
# One result line per `# ok`/`# not ok` of the binary (kselftest_harness
# TAP), plus a FAIL for the binary itself if it crashed (an exit other than
# 0, 1 = some test failed, 4 = all skipped), timed out, exited 1 with no
# failed test, its plan does not add up, or the runner gave no verdict.
parse_kselftest() {
	local coll=$1 b=$2 log=$3 rrc=$4 line rest name dir plan= n=0 nfail=0
	local top= verdict= rc
	# Parse a copy on tmpfs: reading the 9p log line by line is slow.
	local tap; tap=$(mktemp /tmp/tap.XXXXXX)
	cp "$log" "$tap"
	while IFS= read -r line; do
		if [[ $line != "# "* ]]; then
			# The runner's own line: the binary's verdict.
			[[ $line =~ ^(not\ )?ok\ [0-9]+\ (.*)$ ]] || continue
			rest=${BASH_REMATCH[2]}
			[ "${rest%% # *}" = "selftests: $coll: $b" ] || continue
			top=${BASH_REMATCH[1]:-ok} verdict=
			[ "${rest%% # *}" = "$rest" ] || verdict=${rest#* # }
			continue
		fi
		line=${line#"# "}
		if [ -z "$plan" ] && [[ $line =~ ^1\.\.([0-9]+) ]]; then
			plan=${BASH_REMATCH[1]}
			continue
		fi
		[[ $line =~ ^(not\ )?ok\ ([0-9]+)\ (.*)$ ]] || continue
		n=$((n + 1)) rest=${BASH_REMATCH[3]}
		name=${rest%% # *} dir=
		[ "$name" = "$rest" ] || dir=${rest#* # }
		if [ -n "${BASH_REMATCH[1]}" ]; then
			nfail=$((nfail + 1))
			result FAIL "selftest/$b/$name"
		elif [[ ${dir^^} == SKIP* ]]; then
			result SKIP "selftest/$b/$name"
		else
			result PASS "selftest/$b/$name"
		fi
	done < "$tap"
	rm -f "$tap"
	# The binary's exit status, as the runner reported it.
	case $top in
	ok) if [[ ${verdict^^} == SKIP* ]]; then rc=4; else rc=0; fi ;;
	not*) case $verdict in
		exit=[0-9]*) rc=${verdict#exit=} ;;
		TIMEOUT*) rc=124 ;;
		*) rc="not ok${verdict:+ # $verdict}" ;;
		esac ;;
	*) rc="no verdict from run_kselftest.sh"
		case $rrc in 124|137) rc+=" (killed after $((${TEST_TIMEOUT:-300} + 60))s)";; esac ;;
	esac
	if [ "$rrc" != 0 ] && [ -n "$top" ]; then
		show_tail "selftest/$b" "run_kselftest.sh: $(why "$rrc")" "$log"
		result FAIL "selftest/$b"
	elif [ "$rc" != 0 ] && [ "$rc" != 1 ] && [ "$rc" != 4 ]; then
		case $rc in [0-9]*) rc=$(why "$rc");; esac
		show_tail "selftest/$b" "$rc" "$log"; result FAIL "selftest/$b"
	elif [ -z "$plan" ] || [ "$plan" != $n ]; then
		show_tail "selftest/$b" "TAP plan ${plan:-missing}, $n results" "$log"
		result FAIL "selftest/$b"
	elif [ $nfail -gt 0 ]; then
		show_tail "selftest/$b" "failures" "$log"
	elif [ "$rc" = 1 ]; then
		show_tail "selftest/$b" "exit 1, yet no test failed" "$log"
		result FAIL "selftest/$b"
	fi
}

# The loopfs suite in shards (check.sh boots them side by side): with
# shard=N/M on the kernel command line, only the tests that fall to shard N
# of M.  Tests go to shards longest first, each to the least loaded one
# (their times in tests/durations.txt, 60 s for a test not listed there;
# shard_bias=S1,S2,... books seconds that the shards' lanes spend in other
# boots), so that every guest computes the same split.  Each test's time is
# written to $RESULTS/durations.txt, in the format of tests/durations.txt.
shard=${shard:-1/1}
shard_n=${shard%/*} shard_m=${shard#*/}
if ! [[ $shard_n =~ ^[1-9][0-9]*$ && $shard_m =~ ^[1-9][0-9]*$ ]] ||
	[ "$shard_n" -gt "$shard_m" ]; then
	echo "run-suite: bad shard=$shard (N/M, 1 <= N <= M)" >&2; exit 2
fi
declare -A shard_of
assign_shards() {  # assign_shards NAME...
	local -A dur
	local -a load
	local n w i best
	IFS=, read -ra load <<<"${shard_bias:-}"
	for ((i = 0; i < shard_m; i++)); do
		[[ ${load[i]:-} =~ ^[0-9]+$ ]] || load[i]=0
	done
	while read -r n w; do
		[[ $n != \#* && $w =~ ^[0-9]+$ ]] && dur[$n]=$w
	done < "$PROJECT/tests/durations.txt"
	while read -r w n; do
		best=0
		for ((i = 1; i < shard_m; i++)); do
			[ "${load[i]}" -lt "${load[best]}" ] && best=$i
		done
		shard_of[$n]=$((best + 1))
		load[best]=$((load[best] + w))
	# (a here-string, not a process substitution: the guest has no /dev/fd)
	done <<<"$(for n; do echo "${dur[$n]:-60} $n"; done | sort -k1,1nr -k2,2)"
}
mine() {  # mine NAME: does test NAME fall to this shard?
	[ "$shard_m" = 1 ] || [ "${shard_of[$1]:-}" = "$shard_n" ]
}
took() {  # took NAME START: write NAME's time since START (SECONDS)
	echo "$1 $((SECONDS - $2))" >> "$RESULTS/durations.txt"
}
# Every COLLECTION:BINARY that build-selftests.sh installed (in this shard).
run_selftests() {
	local list=$PROJECT/build/selftests/kselftest-list.txt entries e
	if [ ! -s "$list" ]; then
		echo "--- selftests: no $list (scripts/build-selftests.sh)"
		result FAIL selftests; return
	fi
	mapfile -t entries < "$list"
	for e in "${entries[@]}"; do
		mine "selftest/${e#*:}" && run_selftest "${e%%:*}" "${e#*:}"
	done
}

# one=PATH of a kselftest binary: build/selftests/COLLECTION/BINARY, or any
# path ending in a BINARY that kselftest-list.txt names.
run_selftest_path() {
	local b=${1##*/} d=${1%/*} list=$PROJECT/build/selftests/kselftest-list.txt e
	d=${d##*/}
	if grep -qxF "$d:$b" "$list" 2>/dev/null; then
		run_selftest "$d" "$b"
	elif e=$(awk -F: -v b="$b" '$2 == b { print; exit }' "$list" 2>/dev/null) &&
		[ -n "$e" ]; then
		run_selftest "${e%%:*}" "$b"
	else
		echo "--- selftest/$b: $1 is not in $list (scripts/build-selftests.sh)"
		result FAIL "selftest/$b"
	fi
}

run_loopfs() {
	local f names=() list=$PROJECT/build/selftests/kselftest-list.txt e
	if [ "$shard_m" != 1 ]; then
		while IFS= read -r e; do names+=("selftest/${e#*:}"); done < "$list"
		for f in "$PROJECT"/tests/e2e/*.sh; do names+=("$(basename "$f" .sh)"); done
		assign_shards "${names[@]}" bench-smoke
	fi
	run_selftests
	for f in "$PROJECT"/tests/e2e/*.sh; do
		[ -f "$f" ] && [ -x "$f" ] && mine "$(basename "$f" .sh)" &&
			run_script "$(basename "$f" .sh)" "$f"
	done
	! mine bench-smoke ||
		run_script bench-smoke "$PROJECT/tests/bench/smoke.sh"
}

case $suite in
loopfs) run_loopfs ;;
selftests) run_selftests ;;
stock) run_scripts "$PROJECT/tests/stock" ;;
soak) run_scripts "$PROJECT/tests/soak" ;;
bench)
	# On a kernel without loopfs (make bench's stock boot) only the
	# benchmarks that say "# kernels: any" run: they measure the host's
	# devices there, to compare with the loopfs kernel.
	for f in "$PROJECT"/tests/bench/*.sh; do
		[ -x "$f" ] || continue
		grep -qw loopfs /proc/filesystems || grep -qx '# kernels: any' "$f" || continue
		run_script "bench-$(basename "$f" .sh)" "$f"
	done ;;
demo) run_script demo "$PROJECT/tests/demo.sh" 1 ;;
one=*)
	IFS=: read -ra only <<<"${suite#one=}"
	for f in "${only[@]}"; do
		case $f in
		*.sh) run_script "$(basename "$f" .sh)" "$PROJECT/$f" 1 ;;
		*) run_selftest_path "$f" ;;
		esac
	done ;;
*) echo "run-suite: unknown suite '$suite'" >&2; exit 2 ;;
esac
# A suite (or shard) that ran nothing is a failure of the harness.
[ -s "$RESULTS/results.txt" ] || result FAIL "run-suite/$suite-ran-no-tests"
exit $failed
