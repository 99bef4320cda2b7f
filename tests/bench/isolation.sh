#!/bin/bash
# timeout: 900
# Benchmark (not pass/fail on its figures): the cost of isolation (contract
# 4.1, 4.2) for a container while many devices of other instances exist.
#
# A container (own user, network and mount namespaces, its own sysfs on
# /sys, an instance of its own holding one device) lists /sys/block and
# reads /proc/partitions (and /proc/diskstats) OPS times a round, best of
# ROUNDS rounds (tests/tools/isobench.c, in C), first with no foreign device,
# then while M devices belong to another instance (one the host's root
# mounted: owned by the initial user namespace, hidden from the container).
# It prints
#
#   bench: isolation_sysfs_ratio=X isolation_proc_ratio=Y (M foreign devices)
#
# X, Y: time per listing / reading with M foreign devices over the time
# without (1.0 = the foreign devices cost nothing; the aim is 1.2 at most
# for M=4000).  The entries and lines counted in each phase are printed too:
# with isolation the container lists as many entries with M foreign devices
# as without.  (The foreign devices are unbound, i.e. of size 0, which
# /proc/partitions skips even for their owner; /proc/diskstats lists them
# and is measured as isolation_diskstats_ratio.)  A control, /proc/version
# (it walks no disk), is read in both phases: isolation_control_ratio.
#
# Adding a device takes 100-300 ms on the debug kernel under TCG: M is the
# largest number that fits BENCH_ISO_BUDGET_S (150) seconds for adding and
# removing them, at most BENCH_ISO_FOREIGN (4000).  The add cost is measured
# first (BENCH_ISO_CALIBRATE devices, one adder, timed in C) and printed as
# isolation_add_ms_per_dev, with the bulk add rate, so the 4000 figure can
# be extrapolated.
# Measured on the debug kernel under TCG (2 vCPUs, 2 GiB): an add costs
# 70-125 ms with one adder (4 parallel adders contend: 400-450 ms per add
# each, ~115 ms per device overall), a removal ~160 ms per device with 32
# removers, a device 200-320 KiB; 4000 devices would take about 5-8 min to
# add, ~11 min to remove and ~1.3 GiB: too much for the smoke budget.
#
# Knobs (environment): BENCH_ISO_OPS (100), BENCH_ISO_ROUNDS (3),
# BENCH_ISO_FOREIGN (4000), BENCH_ISO_BUDGET_S (150), BENCH_ISO_CALIBRATE
# (20), BENCH_ADDERS (1 adder: parallel adders contend, each add
# took ~4x as long with 4 of them), BENCH_REMOVERS (32).
# Output goes to stdout and to $RESULTS/bench-isolation.txt, with the rows
# isolation_sysblock, isolation_partitions, isolation_diskstats of make
# bench's table (aim <= 1.2); exit 0 when it ran, 1 when it could not.
. "$(dirname "$0")/../lib.sh"

ISOBENCH=${ISOBENCH:-$PROJECT/build/tools/isobench}
[ -x "$ISOBENCH" ] || cannot_run "isobench tool not built: $ISOBENCH"
bench_require unshare split
export ISOBENCH

OPS=${BENCH_ISO_OPS:-100}
ROUNDS=${BENCH_ISO_ROUNDS:-3}
WANT=${BENCH_ISO_FOREIGN:-4000}
BUDGET=${BENCH_ISO_BUDGET_S:-150}
CAL=${BENCH_ISO_CALIBRATE:-20}
PAR=${BENCH_ADDERS:-1}
RPAR=${BENCH_REMOVERS:-32}
export OPS ROUNDS

bench_output bench-isolation.txt
# field FILE PATH KEY: KEY=VALUE of PATH's line in isobench output FILE
field() {
	local p rest kv
	while read -r p rest; do
		[ "$p" = "$2" ] || continue
		for kv in $rest; do
			[ "${kv%%=*}" = "$3" ] && { echo "${kv#*=}"; return 0; }
		done
	done <"$1"
	echo NA
}

bench_start "isolation bench"

# ------------------------------------------------------------ the container
ct_bench() {
	mount -t sysfs sysfs /sys || fail "[container] mount -t sysfs sysfs /sys"
	mount -t loopfs none "$SCRATCH/own" || fail "[container] mount -t loopfs"
	lctl "$SCRATCH/own/loop-control" get_free >"$SCRATCH/own.num" || fail "[container] GET_FREE"
	"$ISOBENCH" read "$OPS" "$ROUNDS" /sys/block /proc/partitions /proc/diskstats /proc/version \
		>"$SCRATCH/base.out" || fail "[container] isobench, no foreign devices"
	touch "$SCRATCH/base.done"
	wait_file "$SCRATCH/foreign.ready" 1200 || fail "[container] foreign devices never ready"
	"$ISOBENCH" read "$OPS" "$ROUNDS" /sys/block /proc/partitions /proc/diskstats /proc/version \
		>"$SCRATCH/foreign.out" || fail "[container] isobench, foreign devices"
	touch "$SCRATCH/foreign.done"
}
export -f ct_bench

# ------------------------------------------------------------------- host
hold_start "$SCRATCH/hold" isolation
mkdir -p own

LIB_IN_CONTAINER=1 unshare --user --map-root-user --net --mount --propagation private \
	bash -c '. "$LIB_SH" && ct_bench' >ct.log 2>&1 &
cpid=$!
defer kill "$cpid"
wait_file_while base.done 1200 "$cpid" || { cat ct.log; cannot_run "the container: $WAIT_WHY"; }

# the cost of an add, one adder, timed in C
next=1000
mem0=$(mem_avail_kb)
out=$("$ISOBENCH" add "$HOLD/loop-control" "$CAL" "$next" cal.list) ||
	cannot_run "adding to the holder instance: $out"
cat cal.list >>"$HELD_LIST"
held=$(wc -l <"$HELD_LIST")
ns=${out#*ns_per_add=}
ns=${ns%% *}
ms_per_dev=$(((ns + 500000) / 1000000))
[ "$ms_per_dev" -gt 0 ] || ms_per_dev=1
# M: what fits the budget (adding ~ removing; 2.2 x the one-adder add time
# is a safe bound with parallel adders) and the memory
bench_fit "$WANT" "$held" "$ms_per_dev" "$mem0"
emit "isolation_add_ms_per_dev=$ms_per_dev isolation_kb_per_dev=$KB_PER_DEV (one adder, $held devices)"
next=$((next + CAL + 16))
M=$FIT
[ "$M" -ge "$held" ] || M=$held
emit "# foreign devices: $M (wanted $WANT; time budget ${BUDGET}s fits ~$FIT_TIME, memory ~$FIT_MEM)"

need=$((M - held))
t=$(now_ms)
# add_part P COUNT OFFSET: adder P's COUNT devices, from next + OFFSET, 16
# numbers apart from the adder before
add_part() {
	"$ISOBENCH" add "$HOLD/loop-control" "$2" $((next + $3 + 16 * $1)) "add.$1.list" >"add.$1.out" 2>&1
}
if [ $need -gt 0 ]; then
	bench_split "$need" "$PAR" add_part
	cat add.*.list >>"$HELD_LIST"
	cat add.*.out
fi
held=$(wc -l <"$HELD_LIST")
add_ms=$(($(now_ms) - t))
emit "isolation_bulk_add_ms=$add_ms isolation_bulk_ms_per_dev=$(ratio "$add_ms" $((need > 0 ? need : 1))) ($PAR adders, $need devices)"
[ "$held" -ge "$M" ] || emit "# only $held foreign devices could be added"

touch foreign.ready
wait_file_while foreign.done 1200 "$cpid" || { cat ct.log; cannot_run "the container: $WAIT_WHY"; }
wait "$cpid" || { cat ct.log; cannot_run "the container failed"; }

for f in base foreign; do
	emit "# $f: $(tr '\n' ' ' <$f.out)"
done
s0=$(field base.out /sys/block ns_per_op)
s1=$(field foreign.out /sys/block ns_per_op)
p0=$(field base.out /proc/partitions ns_per_op)
p1=$(field foreign.out /proc/partitions ns_per_op)
d0=$(field base.out /proc/diskstats ns_per_op)
d1=$(field foreign.out /proc/diskstats ns_per_op)
e0=$(field base.out /sys/block entries)
e1=$(field foreign.out /sys/block entries)
emit "isolation_sysfs_entries_base=$e0 isolation_sysfs_entries_foreign=$e1"
c0=$(field base.out /proc/version ns_per_op)
c1=$(field foreign.out /proc/version ns_per_op)
emit "isolation_diskstats_ratio=$(ratio "$d1" "$d0")"
# The control: reading /proc/version walks no disk; its ratio is what the
# foreign devices cost every operation of the guest (memory, timers,
# background work), not the listings.
emit "isolation_control_ratio=$(ratio "$c1" "$c0") (/proc/version)"
emit "bench: isolation_sysfs_ratio=$(ratio "$s1" "$s0") isolation_proc_ratio=$(ratio "$p1" "$p0") ($held foreign devices)"
# make bench's table: the phases cannot interleave (adding the foreign
# devices is the change measured), so the noise given is the control's
# distance from 1, in percent
cn=$(awk -v r="$(ratio "$c1" "$c0")" 'BEGIN { d = r - 1; if (d < 0) d = -d; printf "%.1f", d * 100 }')
table isolation_sysblock "container's /sys/block listing, $held foreign devices vs none" \
	"$(ratio "$s1" "$s0")" "$cn" "<=1.2"
table isolation_partitions "container's /proc/partitions, $held foreign devices vs none" \
	"$(ratio "$p1" "$p0")" "$cn" "<=1.2"
table isolation_diskstats "container's /proc/diskstats, $held foreign devices vs none" \
	"$(ratio "$d1" "$d0")" "$cn" "<=1.2"
held_remove isolation
emit "bench_isolation_total_s=$((($(now_ms) - T0) / 1000))"
