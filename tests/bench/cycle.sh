#!/bin/bash
# timeout: 1800
# Benchmark (not pass/fail on its figures): the life cycle of a device
# through a loopfs instance against the same through the host's loop
# devices, in one boot of the same kernel.
#
# One cycle (tests/tools/cyclebench.c, timed in C): LOOP_CTL_ADD(N), open
# the node loopN, LOOP_CONFIGURE on a 1 MiB file in the scratch tmpfs,
# LOOP_CLR_FD, close, LOOP_CTL_REMOVE(N); through the instance's
# loop-control and its node, or through /dev/loop-control and /dev/loopN
# (devtmpfs).  Both use the same free index N.  A round is one cyclebench
# run of BENCH_CYCLES cycles a side (after 3 untimed ones), the two sides
# taking turns cycle by cycle as A B B A A B ... (the guest's speed under
# TCG follows the load on the machine: cycles side by side see the same
# load), the host as A in even rounds and the instance in odd ones.  A
# round's ratio is the instance's median time per cycle over the host's.
# Prints each round's figures (median and mean ns per cycle, and the mean
# per step: add, bind = open + LOOP_CONFIGURE, unbind = LOOP_CLR_FD +
# close, remove), the median ratio of each step, and the table row
#     cycle_add_bind_remove  (median of the rounds' ratios instance/host,
#                            noise = half their spread over the median;
#                            aim <= 1.1)
#
# Knobs (environment): BENCH_CYCLE_ROUNDS (7), BENCH_CYCLES (200 cycles a
# round and side; the debug kernel takes ~0.5 s a cycle under TCG, use 10
# there).  Output goes to stdout and to $RESULTS/bench-cycle.txt; exit 0
# when it ran, 1 when it could not.
. "$(dirname "$0")/../lib.sh"

CYCLEBENCH=${CYCLEBENCH:-$PROJECT/build/tools/cyclebench}
[ -x "$CYCLEBENCH" ] || cannot_run "cyclebench tool not built: $CYCLEBENCH"
bench_require awk

ROUNDS=${BENCH_CYCLE_ROUNDS:-7}
CYCLES=${BENCH_CYCLES:-200}

bench_output bench-cycle.txt
bench_start "cycle bench"

INST=$SCRATCH/inst
mount_instance "$INST"
[ -c /dev/loop-control ] || cannot_run "no /dev/loop-control"
N=$(free_index 2000)
# (a failed run may leave N behind: remove it from both sides at exit)
defer lctl /dev/loop-control remove "$N"
defer lctl "$INST/loop-control" remove "$N"
emit "# device index $N, $CYCLES cycles a round and side, $ROUNDS rounds"

# field LINE KEY: KEY's value in cyclebench's KEY=VALUE line LINE
field() {
	local kv
	for kv in $1; do
		[ "${kv%%=*}" = "$2" ] && { echo "${kv#*=}"; return 0; }
	done
	echo NA
}

STEPS="median_ns ns_per_cycle add_ns bind_ns unbind_ns remove_ns"
HOST="/dev/loop-control /dev"
INSTANCE="$INST/loop-control $INST"
declare -A RAT
for ((r = 0; r < ROUNDS; r++)); do
	if [ $((r % 2)) -eq 0 ]; then
		first=host sides="$HOST $INSTANCE"
	else
		first=instance sides="$INSTANCE $HOST"
	fi
	# shellcheck disable=SC2086 # (two sides: CONTROL NODEDIR each)
	out=$("$CYCLEBENCH" cycle "$N" "$CYCLES" 3 $sides 2>&1) ||
		cannot_run "cyclebench (round $r): $out"
	a=${out%%$'\n'*} b=${out#*$'\n'}
	[[ $a == side=1* && $b == side=2* ]] || cannot_run "cyclebench (round $r) printed: $out"
	if [ "$first" = host ]; then
		hout=$a iout=$b
	else
		iout=$a hout=$b
	fi
	line="round $r ($first first):"
	for s in $STEPS; do
		ra=$(ratio "$(field "$iout" "$s")" "$(field "$hout" "$s")")
		RAT[$s]+=" $ra"
		line+=" ${s%_ns}=$ra"
	done
	emit "$line"
	emit "  instance: ${iout#side=? }"
	emit "  host:     ${hout#side=? }"
done

for s in $STEPS; do
	emit "cycle_ratio_${s%_ns}: $(stats ${RAT[$s]}) (median, noise %; rounds:${RAT[$s]})"
done
read -r med noise <<<"$(stats ${RAT[median_ns]})"
table cycle_add_bind_remove "device add + LOOP_CONFIGURE + LOOP_CLR_FD + remove: instance / host median time per cycle" \
	"$med" "$noise" "<=1.1" "$CYCLES cycles x $ROUNDS rounds"
emit "bench_cycle_total_s=$((($(now_ms) - T0) / 1000))"
