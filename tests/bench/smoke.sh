#!/bin/bash
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
# Knobs (environment): BENCH_GETFREE_OPS (2000), BENCH_HELD_LEVELS
# ("1000 4000"), BENCH_ADD_BUDGET_S (60: seconds allowed for adding held
# devices; a level that would not fit is reported as NA), BENCH_IO_RUNTIME
# (4 s per fio run), BENCH_IO_SIZE_MB (64), BENCH_ADDERS (4 parallel adders),
# BENCH_REMOVERS (32 parallel removers: removal waits for RCU grace periods).
. "$(dirname "$0")/../lib.sh"

cannot_run() {
	echo "BENCH: cannot run: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || cannot_run "needs root"
for c in fio losetup awk split; do
	command -v "$c" >/dev/null 2>&1 || cannot_run "missing tool: $c"
done
[ -x "$LOOPCTL" ] || cannot_run "loopctl tool not built: $LOOPCTL"
loopfs_available || cannot_run "loopfs not in /proc/filesystems"

OPS=${BENCH_GETFREE_OPS:-2000}
LEVELS=${BENCH_HELD_LEVELS:-"1000 4000"}
BUDGET=${BENCH_ADD_BUDGET_S:-60}
IO_RUNTIME=${BENCH_IO_RUNTIME:-4}
IO_SIZE_MB=${BENCH_IO_SIZE_MB:-64}
PAR=${BENCH_ADDERS:-4}
RPAR=${BENCH_REMOVERS:-32}

OUT=
if [ -n "${RESULTS:-}" ] && [ -d "$RESULTS" ] && [ -w "$RESULTS" ]; then
	OUT=$RESULTS/bench.txt
	: >"$OUT"
fi
emit() {
	echo "$*"
	[ -z "$OUT" ] || echo "$*" >>"$OUT"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
mem_avail_kb() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "NA" }'; }

T0=$(now_ms)
emit "# loopfs bench smoke: $(uname -r), $(nproc) cpus, $(($(mem_avail_kb) / 1024)) MiB available"

# ------------------------------------------------------------- GET_FREE
BENCH=$SCRATCH/bench
HOLD=$SCRATCH/hold
mount_instance "$BENCH"
mount_instance "$HOLD"
HELD_LIST=$SCRATCH/held.list
: >"$HELD_LIST"

remove_held() {
	[ -s "$HELD_LIST" ] || return 0
	local t f
	t=$(now_ms)
	rm -f "$SCRATCH"/held.part.*
	split -n "r/$RPAR" "$HELD_LIST" "$SCRATCH/held.part."
	: >"$SCRATCH/remove.err"
	for f in "$SCRATCH"/held.part.*; do
		lctl "$HOLD/loop-control" remove_many <"$f" >>"$SCRATCH/remove.err" &
	done
	wait
	rm -f "$SCRATCH"/held.part.*
	emit "held_remove_ms=$(($(now_ms) - t)) held_removed=$(($(wc -l <"$HELD_LIST") - $(wc -l <"$SCRATCH/remove.err")))"
	if [ -s "$SCRATCH/remove.err" ]; then
		emit "# REMOVE failed for $(wc -l <"$SCRATCH/remove.err") held devices: $(head -n3 "$SCRATCH/remove.err" | tr '\n' ' ')"
	fi
	: >"$HELD_LIST"
}
defer remove_held

# the benchmarked instance's own device, at a high index (above all held)
mp=$(cat /sys/module/loop/parameters/max_part 2>/dev/null || echo 0)
shift_bits=0
if [ "${mp:-0}" -gt 0 ]; then
	while [ $((1 << shift_bits)) -le "$mp" ]; do shift_bits=$((shift_bits + 1)); done
fi
top=$(((1 << (20 - shift_bits)) - 64))
idx=$(free_index "$top")
out=$(lctl "$BENCH/loop-control" add "$idx") || cannot_run "ADD($idx) on the bench instance: $out"

bench_getfree() { # prints ns/op
	local o
	o=$(lctl "$BENCH/loop-control" bench_get_free "$OPS") || return 1
	case $o in
	*"dev=$idx"*) ;;
	*) echo "GET_FREE on the bench instance returned another device: $o" >&2; return 1 ;;
	esac
	o=${o#ns_per_op=}
	echo "${o%% *}"
}

base=$(bench_getfree) || cannot_run "GET_FREE benchmark on the instance"
emit "getfree_ns_0=$base"

held=0
next_start=0
add_ms_per_dev=
kb_per_dev=
for level in $LEVELS; do
	need=$((level - held))
	if [ $need -le 0 ]; then
		continue
	fi
	elapsed_s=$((($(now_ms) - T0) / 1000))
	if [ -n "$add_ms_per_dev" ]; then
		est_s=$((need * add_ms_per_dev / 1000))
		if [ $((elapsed_s + est_s)) -gt "$BUDGET" ]; then
			emit "getfree_ratio_$level=NA # adding $need devices would take ~${est_s}s, over BENCH_ADD_BUDGET_S=$BUDGET"
			continue
		fi
		est_kb=$((need * kb_per_dev))
		if [ $(($(mem_avail_kb) - est_kb)) -lt 262144 ]; then
			emit "getfree_ratio_$level=NA # $need more devices need ~$((est_kb / 1024)) MiB, not available"
			continue
		fi
	fi
	mem0=$(mem_avail_kb)
	t=$(now_ms)
	per=$(((need + PAR - 1) / PAR))
	pids=()
	for ((p = 0; p < PAR; p++)); do
		cnt=$per
		[ $((p * per + cnt)) -le $need ] || cnt=$((need - p * per))
		[ $cnt -gt 0 ] || continue
		lctl "$HOLD/loop-control" add_many "$cnt" $((next_start + p * per)) >"$SCRATCH/added.$p" 2>"$SCRATCH/added.$p.err" &
		pids+=($!)
	done
	addfail=0
	for pid in "${pids[@]}"; do
		wait "$pid" || addfail=1
	done
	cat "$SCRATCH"/added.[0-9]* | grep -E '^[0-9]+$' >>"$HELD_LIST"
	errs=$(cat "$SCRATCH"/added.[0-9]* | grep errno= | sort -u | tr '\n' ' ')
	rm -f "$SCRATCH"/added.*
	dt=$(($(now_ms) - t))
	got=$(($(wc -l <"$HELD_LIST") - held))
	held=$((held + got))
	next_start=$((next_start + PAR * per))
	[ $got -gt 0 ] || cannot_run "could not add any device to the holder instance: $errs"
	add_ms_per_dev=$(((dt + got - 1) / got))
	kb_per_dev=$(((mem0 - $(mem_avail_kb)) / got))
	[ $kb_per_dev -gt 0 ] || kb_per_dev=1
	emit "held_add_ms_$level=$dt held_kb_per_dev=$kb_per_dev"
	if [ $addfail -ne 0 ]; then
		emit "# adding to the holder instance stopped at $held devices: $errs"
	fi
	r=$(bench_getfree) || cannot_run "GET_FREE benchmark with $held held"
	emit "getfree_ns_$level=$r held=$held"
	if [ $held -eq $level ]; then
		emit "getfree_ratio_$level=$(ratio "$r" "$base")"
	else
		emit "getfree_ratio_$level=$(ratio "$r" "$base") # only $held held"
	fi
done
remove_held
lctl "$BENCH/loop-control" remove "$idx" >/dev/null || cannot_run "REMOVE($idx) on the bench instance"

# ------------------------------------------------------------------ I/O
IMG=$SCRATCH/io.img
dd if=/dev/zero of="$IMG" bs=1M count="$IO_SIZE_MB" status=none || cannot_run "making $IMG"
n=$(lctl "$BENCH/loop-control" get_free)
[[ $n =~ ^[0-9]+$ ]] || cannot_run "GET_FREE on the bench instance: $n"
IDEV=$BENCH/loop$n
losetup "$IDEV" "$IMG" || cannot_run "losetup $IDEV"
defer losetup -d "$IDEV"
HDEV=$(losetup -f --show "$IMG") || cannot_run "host losetup -f --show"
defer losetup -d "$HDEV"

fio_iops() { # DEV RW -> IOPS
	local o
	o=$(fio --name=smoke --filename="$1" --rw="$2" --bs=4k --direct=1 \
		--ioengine=psync --size="${IO_SIZE_MB}M" --runtime="$IO_RUNTIME" \
		--time_based --norandommap --thread \
		--output-format=terse --terse-version=3 2>"$SCRATCH/fio.err") || {
		cat "$SCRATCH/fio.err" >&2
		return 1
	}
	# terse v3: field 8 read IOPS, field 49 write IOPS
	echo "$o" | awk -F';' -v rw="$2" '$1 == "3" {
		if (rw ~ /read/) print $8; else print $49 }' | tail -n1
}

first=inst
for wl in read:seq_read write:seq_write randread:rand_read randwrite:rand_write; do
	rw=${wl%%:*}
	name=${wl#*:}
	if [ $first = inst ]; then
		i=$(fio_iops "$IDEV" "$rw") || cannot_run "fio $rw on $IDEV"
		h=$(fio_iops "$HDEV" "$rw") || cannot_run "fio $rw on $HDEV"
		first=host
	else
		h=$(fio_iops "$HDEV" "$rw") || cannot_run "fio $rw on $HDEV"
		i=$(fio_iops "$IDEV" "$rw") || cannot_run "fio $rw on $IDEV"
		first=inst
	fi
	emit "io_iops_${name}_instance=$i io_iops_${name}_host=$h"
	emit "io_ratio_$name=$(ratio "$i" "$h")"
done

losetup -d "$HDEV" || cannot_run "losetup -d $HDEV"
losetup -d "$IDEV" || cannot_run "losetup -d $IDEV"
rm "$IDEV" || cannot_run "rm $IDEV"
emit "bench_total_s=$((($(now_ms) - T0) / 1000))"
