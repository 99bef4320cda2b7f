#!/bin/bash
# timeout: 900
# Benchmark smoke run (not pass/fail on figures): proves the benchmarks still
# work and prints ratios measured side by side in one boot.
#
#  1. LOOP_CTL_GET_FREE latency on a loopfs instance's loop-control while 0,
#     1000 and 4000 devices are held elsewhere (by another instance, at lower
#     indexes than the benchmarked instance's own device, so that a scan of
#     the global index sees them all):
#         getfree_ratio_1000=<ns/op with 1000 held / ns/op with 0 held>
#         getfree_ratio_4000=...
#     (contract 2.1: GET_FREE returns a device of this instance only; the
#     ratio shows how its cost grows with the devices of others)
#  2. 4 KiB psync I/O with fio (direct=1) through an instance device against
#     a host device on the same backing file, sequential and random, read and
#     write:   io_ratio_seq_read=<instance IOPS / host IOPS>, ... (1.0 = same)
#
# Output goes to stdout and to $RESULTS/bench.txt.  Exit 0 when it ran, 1 when
# it could not run.  All devices it made are removed at the end (lib.sh's
# leak check fails the run otherwise).
#
# Where 4000 held devices do not fit the time budget or the memory (the
# debug kernel under TCG adds about 7 devices a second), both ratios are
# printed as NA with the reason, and the same 1:4 curve is measured at the
# largest levels that fit, as getfree_ratio_<N>=...
#
# Knobs (environment): BENCH_GETFREE_OPS (2000 calls a round),
# BENCH_GETFREE_ROUNDS (5, best round counts), BENCH_HELD_LEVELS
# ("1000 4000"), BENCH_HELD_BUDGET_S (40: seconds for adding and removing the
# held devices), BENCH_CALIBRATE (20 devices added first to measure their
# cost), BENCH_IO_RUNTIME (3 s per fio job), BENCH_IO_REPEAT (1 run per
# workload and device; 2 halves the noise), BENCH_IO_SIZE_MB (64),
# BENCH_ADDERS (4 parallel adders), BENCH_REMOVERS (32 parallel removers:
# removal waits for RCU grace periods).
. "$(dirname "$0")/../lib.sh"

bench_require fio losetup awk split

OPS=${BENCH_GETFREE_OPS:-2000}
ROUNDS=${BENCH_GETFREE_ROUNDS:-5}
LEVELS=${BENCH_HELD_LEVELS:-"1000 4000"}
BUDGET=${BENCH_HELD_BUDGET_S:-40}
CAL=${BENCH_CALIBRATE:-20}
IO_RUNTIME=${BENCH_IO_RUNTIME:-3}
IO_REPEAT=${BENCH_IO_REPEAT:-1}
IO_SIZE_MB=${BENCH_IO_SIZE_MB:-64}
PAR=${BENCH_ADDERS:-4}
RPAR=${BENCH_REMOVERS:-32}

bench_output bench.txt

bench_start "bench smoke"

# ------------------------------------------------------------- GET_FREE
BENCH=$SCRATCH/bench
mount_instance "$BENCH"
hold_start "$SCRATCH/hold" held

# the benchmarked instance's own device, at a high index (above all held)
mp=$(cat /sys/module/loop/parameters/max_part 2>/dev/null || echo 0)
shift_bits=0
if [ "${mp:-0}" -gt 0 ]; then
	while [ $((1 << shift_bits)) -le "$mp" ]; do shift_bits=$((shift_bits + 1)); done
fi
top=$(((1 << (20 - shift_bits)) - 64))
idx=$(free_index "$top")
out=$(lctl "$BENCH/loop-control" add "$idx") || cannot_run "ADD($idx) on the bench instance: $out"

bench_getfree() { # prints ns/op (best of ROUNDS rounds of OPS calls)
	local o
	o=$(lctl "$BENCH/loop-control" bench_get_free "$OPS" "$ROUNDS") || return 1
	case $o in
	*"dev=$idx"*) ;;
	*) echo "GET_FREE on the bench instance returned another device: $o" >&2; return 1 ;;
	esac
	o=${o#ns_per_op=}
	echo "${o%% *}"
}

# add_held N: add N devices to the holder instance (parallel adders, each on
# its own range of numbers below the bench device); sets ADD_MS and adds to
# held / HELD_LIST
held=0
next_start=0
add_part() { # P COUNT OFFSET
	lctl "$HOLD/loop-control" add_many "$2" $((next_start + $3)) \
		>"$SCRATCH/added.$1" 2>"$SCRATCH/added.$1.err"
}
add_held() {
	local need=$1 addfail=0 got errs t
	t=$(now_ms)
	bench_split "$need" "$PAR" add_part || addfail=1
	cat "$SCRATCH"/added.[0-9]* | grep -E '^[0-9]+$' >>"$HELD_LIST"
	errs=$(cat "$SCRATCH"/added.[0-9]* | grep errno= | sort -u | tr '\n' ' ')
	rm -f "$SCRATCH"/added.*
	ADD_MS=$(($(now_ms) - t))
	got=$(($(wc -l <"$HELD_LIST") - held))
	held=$((held + got))
	next_start=$((next_start + PAR * ((need + PAR - 1) / PAR)))
	[ $got -gt 0 ] || cannot_run "could not add any device to the holder instance: $errs"
	[ $addfail -eq 0 ] || emit "# adding to the holder instance stopped at $held devices: $errs"
	return 0
}

base=$(bench_getfree) || cannot_run "GET_FREE benchmark on the instance"
emit "getfree_ns_0=$base"

# calibrate: the cost (time, memory) of a held device on this kernel, to
# scale the levels down where 4000 would not fit the time budget (a debug
# kernel under TCG) or the memory
max_level=0
for level in $LEVELS; do
	[ "$level" -gt "$max_level" ] && max_level=$level
done
mem0=$(mem_avail_kb)
add_held "$CAL"
ms_per_dev=$(((ADD_MS + held - 1) / held))
bench_fit "$max_level" "$held" "$ms_per_dev" "$mem0"
emit "held_add_ms_per_dev=$ms_per_dev held_kb_per_dev=$KB_PER_DEV (from $held devices)"
fit=$FIT fit_time=$FIT_TIME fit_mem=$FIT_MEM
levels=$LEVELS
if [ $fit -lt $max_level ]; then
	for level in $LEVELS; do
		emit "getfree_ratio_$level=NA # $max_level held devices do not fit (time budget ${BUDGET}s: ~$fit_time devices; memory: ~$fit_mem devices)"
	done
	# keep the curve's shape: the largest level at least 4 times the
	# calibration count, the others scaled from it
	[ "$fit" -ge $((4 * CAL)) ] || fit=$((4 * CAL))
	levels=
	prev=0
	for level in $LEVELS; do
		l=$((level * fit / max_level))
		[ $l -ge "$CAL" ] || l=$CAL
		[ $l -gt $prev ] || continue
		levels+=" $l"
		prev=$l
	done
	emit "# scaled levels:$levels"
fi

for level in $levels; do
	[ "$level" -le $held ] || add_held $((level - held))
	r=$(bench_getfree) || cannot_run "GET_FREE benchmark with $held held"
	emit "getfree_ns_$level=$r held=$held"
	if [ $held -eq "$level" ]; then
		emit "getfree_ratio_$level=$(ratio "$r" "$base")"
	else
		emit "getfree_ratio_$level=$(ratio "$r" "$base") # only $held held"
	fi
done
held_remove held
lctl "$BENCH/loop-control" remove "$idx" >/dev/null || cannot_run "REMOVE($idx) on the bench instance"

emit "phase_getfree_s=$((($(now_ms) - T0) / 1000))"

# ------------------------------------------------------------------ I/O
T1=$(now_ms)
IMG=$SCRATCH/io.img
dd if=/dev/zero of="$IMG" bs=1M count="$IO_SIZE_MB" status=none || cannot_run "making $IMG"
n=$(lctl "$BENCH/loop-control" get_free) || cannot_run "GET_FREE on the bench instance: $n"
[[ $n =~ ^[0-9]+$ ]] || cannot_run "GET_FREE on the bench instance: $n"
IDEV=$BENCH/loop$n
losetup "$IDEV" "$IMG" || cannot_run "losetup $IDEV"
defer losetup -d "$IDEV"
HDEV=$(losetup -f --show "$IMG") || cannot_run "host losetup -f --show"
defer losetup -d "$HDEV"

# One fio process runs all the jobs one after the other (stonewall): exec is
# expensive on the debug kernel.  Each workload runs BENCH_IO_REPEAT times
# on each device, alternating which goes first; the best run counts.
JOBS=$SCRATCH/smoke.fio
{
	printf '[global]\nbs=4k\ndirect=1\nioengine=psync\nsize=%sM\nruntime=%s\n' "$IO_SIZE_MB" "$IO_RUNTIME"
	printf 'time_based\nnorandommap\nthread\nstonewall\n'
	order=
	for ((k = 0; k < IO_REPEAT; k++)); do
		if [ $((k % 2)) -eq 0 ]; then order+=" inst host"; else order+=" host inst"; fi
	done
	for rw in read write randread randwrite; do
		k=0
		for who in $order; do
			k=$((k + 1))
			dev=$IDEV
			[ "$who" = host ] && dev=$HDEV
			printf '[%s-%s-%s]\nrw=%s\nfilename=%s\n' "$who" "$rw" "$k" "$rw" "$dev"
		done
	done
} >"$JOBS"
fio --output-format=terse --terse-version=3 "$JOBS" >fio.out 2>fio.err ||
	{ cat fio.err >&2; cannot_run "fio"; }
# terse v3: field 3 job name, field 8 read IOPS, field 49 write IOPS
iops() { # WHO RW: the best IOPS of WHO's RW jobs
	awk -F';' -v w="$1" -v rw="$2" '$1 == "3" && index($3, w "-" rw "-") == 1 {
		v = (rw ~ /read/) ? $8 : $49; if (v > best) best = v; n++ }
		END { if (n) print best }' fio.out
}
for wl in read:seq_read write:seq_write randread:rand_read randwrite:rand_write; do
	rw=${wl%%:*}
	name=${wl#*:}
	i=$(iops inst "$rw")
	h=$(iops host "$rw")
	[ -n "$i" ] && [ -n "$h" ] || { cat fio.out >&2; cannot_run "no fio result for $rw"; }
	emit "io_iops_${name}_instance=$i io_iops_${name}_host=$h"
	emit "io_ratio_$name=$(ratio "$i" "$h")"
done

losetup -d "$HDEV" || cannot_run "losetup -d $HDEV"
losetup -d "$IDEV" || cannot_run "losetup -d $IDEV"
rm "$IDEV" || cannot_run "rm $IDEV"
emit "phase_io_s=$((($(now_ms) - T1) / 1000))"
emit "bench_total_s=$((($(now_ms) - T0) / 1000))"
