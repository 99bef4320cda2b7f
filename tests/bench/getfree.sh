#!/bin/bash
# timeout: 3600
# kernels: any
# Benchmark: what LOOP_CTL_GET_FREE costs while many bound devices exist
# elsewhere (contract 2.1: an instance's GET_FREE looks at its own devices).
#
# Two curves, each a ramp of bound devices (bound read-only to one 1 MiB
# file on tmpfs) at the levels BENCH_GETFREE_LEVELS, up and then down again:
#   instance  (loopfs kernel) GET_FREE on an instance's loop-control whose
#             one free device has a high number, while the devices of the
#             ramp belong to another instance and have lower numbers;
#   host      (both kernels) GET_FREE on /dev/loop-control, whose one free
#             device has a high number, while the ramp's devices are the
#             host's own (the devices there before are bound too, so that
#             none below is free).
# At each level (on the way up and on the way down) BENCH_GETFREE_ROUNDS
# rounds each call GET_FREE for BENCH_GETFREE_MS milliseconds, then
# getppid() for as long (tests/tools/getfree-bench.c); a round's figure is
# the quotient of their times per call, so that the machine's speed of the
# moment cancels.  The value at a level is
# the median of its rounds' figures over the median at level 0, its noise
# their spread (stats in lib.sh).
#
# Output: curve points getfree/instance and getfree/host (relative cost,
# log scale), table rows getfree_instance_MAX (aim <= 1.05) and
# getfree_host_MAX (reported: the host scans every device below its free
# one), and the raw ns per call at level 0 and MAX.
#
# Knobs: BENCH_GETFREE_LEVELS ("0 250 500 1000 2000 3000 4000"; commas for
# spaces on a kernel command line),
# BENCH_GETFREE_MS (200), BENCH_GETFREE_ROUNDS (5), BENCH_ADDERS (2),
# BENCH_REMOVERS (16).  Output to $RESULTS/bench-getfree.txt.
. "$(dirname "$0")/../lib.sh"

GFB=${GFB:-$PROJECT/build/tools/getfree-bench}
[ -x "$GFB" ] || cannot_run "getfree-bench tool not built: $GFB"
bench_require_any split sort awk

LEVELS=${BENCH_GETFREE_LEVELS:-"0 250 500 1000 2000 3000 4000"}
MS=${BENCH_GETFREE_MS:-200}
ROUNDS=${BENCH_GETFREE_ROUNDS:-5}
PAR=${BENCH_ADDERS:-2}
RPAR=${BENCH_REMOVERS:-16}
read -ra levels <<<"${LEVELS//,/ }"
[ "${levels[0]}" = 0 ] || cannot_run "BENCH_GETFREE_LEVELS must start at 0"
MAX=${levels[-1]}

bench_output bench-getfree.txt
bench_start "GET_FREE bench"

BACK=$SCRATCH/back.img
truncate -s 1M "$BACK" || cannot_run "truncate $BACK"
top=$(((1 << 20) - 64))

# ramp state: CTL (where the ramp's devices are added), DIR (their nodes),
# RAMP_LIST (their numbers, in the order added), BENCH_CTL (the loop-control
# measured), LABEL
ramp_held() { wc -l <"$RAMP_LIST"; }

add_part() { # P COUNT OFFSET
	lctl "$CTL" add_many "$2" $((NEXT + $3)) >"$SCRATCH/added.$1" 2>"$SCRATCH/added.$1.err"
}

# grow_to LEVEL: add and bind devices until the ramp holds LEVEL
grow_to() {
	local need=$(($1 - $(ramp_held))) out
	[ $need -gt 0 ] || return 0
	bench_split "$need" "$PAR" add_part || {
		cat "$SCRATCH"/added.*.err >&2
		cat "$SCRATCH"/added.[0-9]* | grep -E '^[0-9]+$' >>"$RAMP_LIST"
		cannot_run "adding devices for level $1 ($LABEL)"
	}
	cat "$SCRATCH"/added.[0-9]* | grep -E '^[0-9]+$' >"$SCRATCH/new.list"
	rm -f "$SCRATCH"/added.*
	cat "$SCRATCH/new.list" >>"$RAMP_LIST"
	NEXT=$((NEXT + PAR * ((need + PAR - 1) / PAR)))
	out=$("$GFB" bind "$DIR" "$BACK" <"$SCRATCH/new.list") ||
		cannot_run "binding devices for level $1 ($LABEL): $(echo "$out" | head -3 | tr '\n' ' ')"
}

# shrink_to LEVEL: unbind and remove the last devices added until the ramp
# holds LEVEL
shrink_to() {
	local n=$(($(ramp_held) - $1)) out
	[ $n -gt 0 ] || return 0
	tail -n "$n" "$RAMP_LIST" >"$SCRATCH/gone.list"
	head -n "$1" "$RAMP_LIST" >"$SCRATCH/keep.list"
	out=$("$GFB" unbind "$DIR" <"$SCRATCH/gone.list") ||
		cannot_run "unbinding devices for level $1 ($LABEL): $(echo "$out" | head -3 | tr '\n' ' ')"
	remove_listed "$CTL" "$SCRATCH/gone.list" "$RPAR"
	[ "$REMOVE_FAILED" = 0 ] ||
		cannot_run "removing devices for level $1 ($LABEL): $(head -3 "$SCRATCH/remove.err" | tr '\n' ' ')"
	mv "$SCRATCH/keep.list" "$RAMP_LIST"
}

# ramp_cleanup: what a ramp still holds, unbound and removed
ramp_cleanup() {
	[ -s "${RAMP_LIST:-}" ] || return 0
	shrink_to 0
}

# measure LEVEL: ROUNDS rounds at LEVEL; each round's GET_FREE / control
# quotient appended to $SCRATCH/LABEL.q as "LEVEL Q"
measure() {
	local out
	out=$("$GFB" rounds "$BENCH_CTL" "$MS" "$ROUNDS") ||
		cannot_run "GET_FREE rounds at level $1 ($LABEL)"
	case $out in
	*"dev=$BENCH_DEV"*) ;;
	*) cannot_run "GET_FREE returned another device than $BENCH_DEV: $out" ;;
	esac
	echo "$out" | awk -v l="$1" '{
		split($1, g, "="); split($2, c, "=")
		if (c[2] > 0) printf "%d %.6f %s %s\n", l, g[2] / c[2], g[2], c[2] }' >>"$SCRATCH/$LABEL.q"
}

# ramp: up through the levels and down again, measuring at each; then the
# curve, the raw figures and the table row
ramp() {
	local i level base st aim
	: >"$SCRATCH/$LABEL.q"
	for level in "${levels[@]}"; do
		grow_to "$level"
		measure "$level"
	done
	for ((i = ${#levels[@]} - 1; i >= 0; i--)); do
		shrink_to "${levels[i]}"
		[ "$i" = $((${#levels[@]} - 1)) ] || measure "${levels[i]}"
	done
	base=$(awk '$1 == 0 { print $2 }' "$SCRATCH/$LABEL.q")
	read -r base _ <<<"$(stats $base)"
	for level in "${levels[@]}"; do
		st=$(stats $(awk -v l="$level" -v b="$base" '$1 == l { print $2 / b }' "$SCRATCH/$LABEL.q"))
		emit "getfree_${LABEL}_$level=${st% *} noise=${st#* }% ns_per_call=$(awk -v l="$level" \
			'$1 == l { s += $3; n++ } END { printf "%.0f", s / n }' "$SCRATCH/$LABEL.q")"
		curve getfree "LOOP_CTL_GET_FREE: cost with N bound devices elsewhere" \
			"bound devices (N)" "cost relative to N = 0 (log scale)" "$LABEL" "$level" "${st% *}"
	done
	aim=-
	[ "$LABEL" = instance ] && aim="<=1.05"
	table "getfree_${LABEL}_$MAX" "GET_FREE on the $LABEL's loop-control, $MAX bound devices elsewhere vs none" \
		"${st% *}" "${st#* }" "$aim"
}

# ------------------------------------------------------------ instance
if [ "$HAVE_LOOPFS" = 1 ]; then
	LABEL=instance
	mount_instance "$SCRATCH/bench"
	mount_instance "$SCRATCH/hold"
	CTL=$SCRATCH/hold/loop-control DIR=$SCRATCH/hold RAMP_LIST=$SCRATCH/instance.list
	: >"$RAMP_LIST"
	defer ramp_cleanup
	BENCH_CTL=$SCRATCH/bench/loop-control
	BENCH_DEV=$(free_index "$top")
	out=$(lctl "$BENCH_CTL" add "$BENCH_DEV") || cannot_run "ADD($BENCH_DEV) on the bench instance: $out"
	defer lctl "$BENCH_CTL" remove "$BENCH_DEV"
	NEXT=0
	ramp
	ramp_cleanup
fi

# ----------------------------------------------------------------- host
LABEL=host
CTL=/dev/loop-control DIR=/dev RAMP_LIST=$SCRATCH/host.list
: >"$RAMP_LIST"
# the host's free devices from before: bound for the run (not counted in
# the levels: 8 at most), unbound at its end
: >"$SCRATCH/pre.list"
for d in /sys/block/loop*; do
	[ -e "$d" ] || continue
	n=${d##*/loop}
	[ -e "$d/loop/backing_file" ] || echo "$n" >>"$SCRATCH/pre.list"
done
if [ -s "$SCRATCH/pre.list" ]; then
	out=$("$GFB" bind /dev "$BACK" <"$SCRATCH/pre.list") || cannot_run "binding the host's free devices: $out"
	defer eval "\"$GFB\" unbind /dev <\"$SCRATCH/pre.list\" >/dev/null"
fi
emit "# host devices there before, bound for the run: $(wc -l <"$SCRATCH/pre.list")"
BENCH_CTL=/dev/loop-control
BENCH_DEV=$(free_index "$top")
out=$(lctl /dev/loop-control add "$BENCH_DEV") || cannot_run "ADD($BENCH_DEV) on the host: $out"
defer lctl /dev/loop-control remove "$BENCH_DEV"
defer ramp_cleanup
NEXT=0
ramp
ramp_cleanup
emit "bench_getfree_total_s=$((($(now_ms) - T0) / 1000))"
