#!/bin/bash
# timeout: 3600
# kernels: any
# Benchmark: what the host's own listings cost with many host devices, on
# the loopfs kernel against the stock kernel (loopfs must not make the
# host's /sys/block, /proc/partitions and /proc/diskstats dearer).
#
# BENCH_LISTING_DEVICES host loop devices are added through /dev/loop-control
# and bound read-only to one 1 MiB file (so that /proc/partitions lists
# them).  Then BENCH_LISTING_ROUNDS rounds each read every path
# BENCH_LISTING_OPS times (tests/tools/isobench.c: a directory is listed to
# its end, a file read to its end), the paths in a different order each
# round; a round's figure for a path is its time over the time of the
# control, /proc/version (a seq_file that walks no device: the same code on
# both kernels), read BENCH_LISTING_CONTROL_OPS times before and after the
# paths in the same round (the mean of the two).  The value is the median of the
# rounds' figures, the noise their spread (stats in lib.sh).
#
# The two kernels boot one after the other, so each figure here is
# normalised by its own boot's control: make bench's report divides the
# loopfs kernel's figure by the stock kernel's (rows xk_listing_*, aim
# <= 1.05).  The entries and lines listed are printed: both kernels must
# list the same.
#
# Knobs: BENCH_LISTING_DEVICES (4000), BENCH_LISTING_OPS (20),
# BENCH_LISTING_CONTROL_OPS (2000),
# BENCH_LISTING_ROUNDS (7), BENCH_ADDERS (2), BENCH_REMOVERS (16).
# Output to $RESULTS/bench-listing.txt.
. "$(dirname "$0")/../lib.sh"

ISOBENCH=${ISOBENCH:-$PROJECT/build/tools/isobench}
GFB=${GFB:-$PROJECT/build/tools/getfree-bench}
[ -x "$ISOBENCH" ] || cannot_run "isobench tool not built: $ISOBENCH"
[ -x "$GFB" ] || cannot_run "getfree-bench tool not built: $GFB"
bench_require_any split sort awk

N=${BENCH_LISTING_DEVICES:-4000}
OPS=${BENCH_LISTING_OPS:-20}
CTL_OPS=${BENCH_LISTING_CONTROL_OPS:-2000}
ROUNDS=${BENCH_LISTING_ROUNDS:-7}
PAR=${BENCH_ADDERS:-2}
RPAR=${BENCH_REMOVERS:-16}

bench_output bench-listing.txt
bench_start "host listing bench"

BACK=$SCRATCH/back.img
truncate -s 1M "$BACK" || cannot_run "truncate $BACK"
LIST=$SCRATCH/host.list
: >"$LIST"

cleanup() {
	[ -s "$LIST" ] || return 0
	"$GFB" unbind /dev <"$LIST" >/dev/null
	remove_listed /dev/loop-control "$LIST" "$RPAR"
	[ "$REMOVE_FAILED" = 0 ] || echo "listing: $REMOVE_FAILED devices not removed" >&2
	: >"$LIST"
}
defer cleanup

start=$(free_index 1000)
add_part() { # P COUNT OFFSET
	lctl /dev/loop-control add_many "$2" $((start + $3)) >"$SCRATCH/added.$1" 2>"$SCRATCH/added.$1.err"
}
t=$(now_ms)
bench_split "$N" "$PAR" add_part || {
	cat "$SCRATCH"/added.[0-9]* | grep -E '^[0-9]+$' >>"$LIST"
	cannot_run "adding $N host devices: $(cat "$SCRATCH"/added.*.err | head -3)"
}
cat "$SCRATCH"/added.[0-9]* | grep -E '^[0-9]+$' >>"$LIST"
out=$("$GFB" bind /dev "$BACK" <"$LIST") || cannot_run "binding: $(echo "$out" | head -3 | tr '\n' ' ')"
emit "listing_devices=$(wc -l <"$LIST") add_and_bind_ms=$(($(now_ms) - t))"

paths=(/sys/block /proc/partitions /proc/diskstats)
: >"$SCRATCH/rounds"
for ((r = 0; r < ROUNDS; r++)); do
	# a different order each round: rotate the paths by r
	order=()
	for ((i = 0; i < ${#paths[@]}; i++)); do
		order+=("${paths[(i + r) % ${#paths[@]}]}")
	done
	{ "$ISOBENCH" read "$CTL_OPS" 1 /proc/version &&
		"$ISOBENCH" read "$OPS" 1 "${order[@]}" &&
		"$ISOBENCH" read "$CTL_OPS" 1 /proc/version; } >"$SCRATCH/r.out" ||
		cannot_run "isobench read, round $r"
	# the control: the mean of its two reads, before and after the others
	awk -v r="$r" '
		{ for (i = 2; i <= NF; i++) { split($i, kv, "="); f[$1, kv[1]] = kv[2] } p[NR] = $1 }
		$1 == "/proc/version" { c += f[$1, "ns_per_op"]; nc++ }
		END {
			c /= nc
			for (i = 1; i <= NR; i++) if (p[i] != "/proc/version")
				printf "%d %s %.6f %s %s\n", r, p[i], f[p[i], "ns_per_op"] / c,
					f[p[i], "entries"] f[p[i], "lines"], f[p[i], "ns_per_op"]
		}' "$SCRATCH/r.out" >>"$SCRATCH/rounds"
done

for p in "${paths[@]}"; do
	key=$(echo "${p#/}" | tr '/' '_')
	st=$(stats $(awk -v p="$p" '$2 == p { print $3 }' "$SCRATCH/rounds"))
	count=$(awk -v p="$p" '$2 == p { print $4; exit }' "$SCRATCH/rounds")
	ns=$(awk -v p="$p" '$2 == p { s += $5; n++ } END { printf "%.0f", s / n }' "$SCRATCH/rounds")
	emit "listing_${key}=${st% *} noise=${st#* }% listed=$count ns_per_op=$ns (over /proc/version)"
	table "xk_listing_$key" "host $p with $N host devices, loopfs kernel over stock" \
		"${st% *}" "${st#* }" "<=1.05" "listed $count"
done
cleanup
emit "bench_listing_total_s=$((($(now_ms) - T0) / 1000))"
