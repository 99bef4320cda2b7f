#!/bin/bash
# timeout: 1200
# Benchmark (not pass/fail on its figures): the slab memory an empty loopfs
# instance costs, and what is left of it once the instance is gone.
#
# A round (tests/tools/cyclebench.c instances, in C: one exec a round)
# reads Slab (= SReclaimable + SUnreclaim) and Percpu from /proc/meminfo
# before K empty instances are made, while they exist and after they are
# unmounted; before each reading it drops the caches, shrinks every slab
# cache and folds the per-cpu counters, and reads again until Slab stops
# falling (RCU-deferred frees).  The instances are mounted with mount(2) on
# K directories made beforehand, in a private mount namespace of the tool:
# the way a container manager mounts one on a container's /dev/loopfs, and
# it costs the instance alone (a detached mount held as an fd costs a
# struct file and an anonymous mount namespace more, and making K mounts
# with mount(8) would cost K execs).  Then the same with detached mounts
# (fsopen/fsmount) held as K fds by the tool, the other usual way
# (BENCH_SLAB_MODE: both, attached or detached).
#
# Per round: bytes per instance = (Slab with - Slab before) / K, and the
# leak hint (Slab after - Slab before) / K, about 0 when an instance's end
# gives back what it took.  Prints each round's readings, the slab caches
# that grew most per instance (from /proc/slabinfo, first round) and the
# table row
#     slab_per_instance  (attached; median of the rounds, bytes; noise =
#                        half their spread over the median; aim <= 4096)
# plus slab_per_instance_detached, slab_left_per_instance and
# slab_left_per_instance_detached (reported only) and the Percpu figures
# (printed).  /proc/slabinfo needs CONFIG_SLUB_DEBUG: the bench kernel has
# none, the debug kernel's objects carry KASAN's metadata.
#
# Knobs (environment): BENCH_SLAB_INSTANCES (1000), BENCH_SLAB_ROUNDS (3),
# BENCH_SLAB_MODE (both).  Output goes to stdout and
# to $RESULTS/bench-slab.txt; exit 0 when it ran, 1 when it could not.
. "$(dirname "$0")/../lib.sh"

CYCLEBENCH=${CYCLEBENCH:-$PROJECT/build/tools/cyclebench}
[ -x "$CYCLEBENCH" ] || cannot_run "cyclebench tool not built: $CYCLEBENCH"
bench_require awk sort

K=${BENCH_SLAB_INSTANCES:-1000}
ROUNDS=${BENCH_SLAB_ROUNDS:-3}
MODE=${BENCH_SLAB_MODE:-both}
case $MODE in
attached | detached) MODES=$MODE ;;
both) MODES="attached detached" ;;
*) cannot_run "BENCH_SLAB_MODE=$MODE: attached, detached or both" ;;
esac

bench_output bench-slab.txt
bench_start "slab bench"
emit "# $K empty instances a round, $ROUNDS rounds ($MODES)"

# field LINE KEY: KEY's value in cyclebench's KEY=VALUE line LINE
field() {
	local kv
	for kv in $1; do
		[ "${kv%%=*}" = "$2" ] && { echo "${kv#*=}"; return 0; }
	done
	echo NA
}

# growers OUT: the slab caches that grew most from OUT.before to OUT.with,
# per instance (objects and bytes: active objects times object size), and
# the sum over all caches (bytes of objects, where Slab counts pages)
growers() {
	local prog='FNR == 1 { f++ } /^#|^slabinfo/ { next } f == 1 { a[$1] = $2 }'
	local b name o t
	if [ ! -s "$1.before" ] || [ ! -s "$1.with" ]; then
		emit "#   (/proc/slabinfo not readable)"
		return 0
	fi
	awk -v k="$K" "$prog"' f == 2 { d = $2 - a[$1]; if (d > 0) printf "%d %s %.2f\n", d * $4, $1, d / k }' \
		"$1.before" "$1.with" | sort -rn | head -n 12 >"$1.grow"
	while read -r b name o; do
		emit "#   $name: +$o objects, +$((b / K)) bytes per instance"
	done <"$1.grow"
	t=$(awk -v k="$K" "$prog"' f == 2 { t += ($2 - a[$1]) * $4 } END { printf "%+.0f", t / k }' \
		"$1.before" "$1.with")
	emit "#   all caches: $t bytes of objects per instance"
}

key=slab_per_instance lkey=slab_left_per_instance aim="<=4096"
for mode in $MODES; do
	SLAB='' LEFT='' PCPU=''
	for ((r = 0; r < ROUNDS; r++)); do
		out=$SCRATCH/slab.$mode.$r
		dir=
		if [ "$mode" = attached ]; then
			dir=$SCRATCH/mnt
			mkdir -p "$dir"
		fi
		"$CYCLEBENCH" instances "$K" "$out" $dir >"$out.txt" 2>&1 ||
			{ print_file "$out.txt"; cannot_run "cyclebench instances ($mode, round $r)"; }
		b=$(file_last_match "$out.txt" '^before ')
		w=$(file_last_match "$out.txt" '^with ')
		a=$(file_last_match "$out.txt" '^after ')
		t=$(file_last_match "$out.txt" '^instances=')
		[ -n "$b" ] && [ -n "$w" ] && [ -n "$a" ] ||
			{ print_file "$out.txt"; cannot_run "cyclebench instances: no readings"; }
		s0=$(field "$b" slab_kb) s1=$(field "$w" slab_kb) s2=$(field "$a" slab_kb)
		p0=$(field "$b" percpu_kb) p1=$(field "$w" percpu_kb) p2=$(field "$a" percpu_kb)
		per=$(((s1 - s0) * 1024 / K)) left=$(((s2 - s0) * 1024 / K))
		pc=$(((p1 - p0) * 1024 / K)) pcl=$(((p2 - p0) * 1024 / K))
		SLAB+=" $per" LEFT+=" $left" PCPU+=" $pc"
		emit "round $r ($mode): slab per instance $per bytes, left after $left bytes; percpu per instance $pc bytes, left after $pcl bytes"
		emit "  $b"
		emit "  $w"
		emit "  $a"
		emit "  $t"
		if [ $r -eq 0 ]; then
			emit "# slab caches grown most with $K instances ($mode, round 0):"
			growers "$out"
		fi
	done
	read -r med noise <<<"$(stats $SLAB)"
	read -r lmed lnoise <<<"$(stats $LEFT)"
	read -r pmed pnoise <<<"$(stats $PCPU)"
	emit "$key ($mode): rounds$SLAB; left after:$LEFT; percpu:$PCPU"
	emit "percpu_per_instance_$mode=$pmed (noise $pnoise%)"
	table "$key" "slab bytes per empty instance ($mode mounts, $K at once)" \
		"$med" "$noise" "$aim" "Slab from /proc/meminfo; Percpu $pmed bytes more"
	table "$lkey" "slab bytes per instance left after all $K were unmounted (leak hint)" \
		"$lmed" "$lnoise" - "about 0 when nothing leaks"
	# (with both modes, the second is reported only)
	key=slab_per_instance_detached lkey=slab_left_per_instance_detached aim=-
done
emit "bench_slab_total_s=$((($(now_ms) - T0) / 1000))"
