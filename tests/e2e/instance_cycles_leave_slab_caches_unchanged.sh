#!/bin/bash
# timeout: 480
# Contract clause 6.1: an instance's end releases what it held.  Many
# create-use-destroy cycles of detached instances (tests/tools/loopfs-cycles:
# mostly instance-only cycles, every 100th a full one with a device bound to
# a file, a block written and read back, detached and removed) must leave
# the slab caches where they were.  After 5 full warm-up cycles (what a boot
# allocates once, the first time it runs these paths, is not growth), before
# and after: drop the page cache,
# dentries and inodes, shrink every slab cache (which also empties KASAN's
# quarantine for it), wait for RCU frees, read /proc/slabinfo and
# /proc/meminfo.  A cache whose active objects grew by more than
# 64 + CYCLES/20 + 2 slabs' worth of objects (objects free in a CPU's slab
# count as active in /proc/slabinfo), or Slab in /proc/meminfo growing by
# more than 4 MiB, fails the test: a leak of one object per cycle is CYCLES
# objects.  Leaks of unreferenced objects in the full cycles are kmemleak's
# to find (the harness scans at the end of the boot).
#
# The tool stops after CYCLES cycles or at its time budget, whichever comes
# first, but not before MIN cycles (a slow or loaded machine takes longer
# rather than checking fewer), and says how many it did; fewer than MIN
# (the tool stopped early) fails the test.  This
# script's defaults are the short run of the loopfs suite (make check): up
# to 10,000 cycles in 30 s, at least 300 (on the debugging kernel under TCG
# about 60 cycles a second: ~1,800 in the budget).  The soak suite runs it
# long (tests/soak/): 10,000 cycles, every one full, all required on the
# benchmark kernel (at least 1,000 on the debugging kernel).  The checks
# are the same; the long run is the sharper one: a
# leak of one object per cycle stands out only where the cycles done pass
# the tolerance (64 + 2 slabs' worth of objects, and a twentieth).  Knobs:
# LOOPFS_CYCLES, LOOPFS_CYCLES_FULL_EVERY, LOOPFS_CYCLES_BUDGET,
# LOOPFS_CYCLES_MIN.
. "$(dirname "$0")/../lib.sh"

require_root
require_loopfs
CYCLES_BIN=$PROJECT/build/tools/loopfs-cycles
[ -x "$CYCLES_BIN" ] || skip "not built: $CYCLES_BIN (scripts/build-selftests.sh)"
[ -r /proc/slabinfo ] || skip "no /proc/slabinfo"

CYCLES=${LOOPFS_CYCLES:-10000}
FULL_EVERY=${LOOPFS_CYCLES_FULL_EVERY:-100}
BUDGET=${LOOPFS_CYCLES_BUDGET:-30}
MIN=${LOOPFS_CYCLES_MIN:-300}

settle() {
	local f s=$SECONDS
	sync
	echo 3 >/proc/sys/vm/drop_caches
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 >"$f" 2>/dev/null
	done
	nap 2
	echo 3 >/proc/sys/vm/drop_caches
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 >"$f" 2>/dev/null
	done
	info "caches dropped and slabs shrunk in $((SECONDS - s)) s"
}

# snapshot ARRAY: active objects per cache, plus meminfo's Slab and MemFree (kB)
snapshot() {
	local -n _s=$1
	local name active num size per rest k v u
	while read -r name active num size per rest; do
		[[ $active =~ ^[0-9]+$ ]] || continue
		_s[$name]=$active
		SLAB_PER[$name]=$per
	done </proc/slabinfo
	while read -r k v u; do
		case $k in
		Slab: | MemFree: | SUnreclaim:) _s[${k%:}]=$v ;;
		esac
	done </proc/meminfo
}

declare -A A B SLAB_PER
# Warm-up: a few full cycles first, so that what the kernel allocates once,
# the first time a boot runs these paths (whichever tests ran before), is
# not counted as growth.
"$CYCLES_BIN" 5 1 60 5 >warmup.out 2>&1 || { print_file warmup.out; fail "warm-up cycles failed"; }
settle
snapshot A
"$CYCLES_BIN" "$CYCLES" "$FULL_EVERY" "$BUDGET" "$MIN" >cycles.out 2>&1
rc=$?
print_file cycles.out
[ $rc -eq 0 ] || fail "loopfs-cycles exited $rc"
line=
while IFS= read -r l; do
	[[ $l =~ ^cycles:\ [0-9]+\ of ]] && line=$l
done <cycles.out
[ -n "$line" ] || fail "no summary from loopfs-cycles"
done_n=${line#cycles: }
done_n=${done_n%% *}
assert_num "$done_n" "cycles done"
[ "$done_n" -ge "$MIN" ] || fail "only $done_n cycles (want at least $MIN)"
ok "$line"
settle
snapshot B

echo "  .. meminfo before/after (kB): Slab ${A[Slab]} -> ${B[Slab]}, SUnreclaim ${A[SUnreclaim]} -> ${B[SUnreclaim]}, MemFree ${A[MemFree]} -> ${B[MemFree]}"
bad=
echo "  .. slab caches whose active objects changed by more than 16 (before -> after, tolerance):"
for c in "${!B[@]}"; do
	case $c in Slab | MemFree | SUnreclaim) continue ;; esac
	d=$((B[$c] - ${A[$c]:-0}))
	tol=$((64 + done_n / 20 + 2 * ${SLAB_PER[$c]:-0}))
	[ $d -gt 16 ] || [ $d -lt -16 ] && echo "    $c ${A[$c]:-0} -> ${B[$c]} ($d, tolerance $tol)"
	[ $d -gt $tol ] && bad+="$c +$d (tolerance $tol) "
done
for c in kmalloc-64 kmalloc-128 kmalloc-256 kmalloc-512 kmalloc-1k dentry inode_cache filp mnt_cache kernfs_node_cache; do
	[ -n "${A[$c]:-}" ] && echo "    $c: ${A[$c]} -> ${B[$c]}"
done
[ -z "$bad" ] || fail "slab caches grew past their tolerance over $done_n cycles: $bad"
ok "no slab cache grew past its tolerance ($((64 + done_n / 20)) + 2 slabs)"
slab_d=$((B[Slab] - A[Slab]))
[ $slab_d -le 4096 ] || fail "Slab grew by $slab_d kB over $done_n cycles"
ok "Slab grew by $slab_d kB (at most 4096)"
