#!/bin/bash
# timeout: 900
# kernels: any
# Benchmark: the host's uevent throughput while container network
# namespaces exist, against none (the issue's aim: at least 0.95 of it with
# 200), and on the loopfs kernel the same for an instance device's uevents,
# which the kernel sends only to the network namespaces of the user
# namespace owning the device.
#
# What is timed (tests/tools/uevent-bench.c, in C): writes of "change" to a
# device's uevent file, each received by a uevent listener
# (NETLINK_KOBJECT_UEVENT, group 1), BENCH_UEVENT_BATCH at a time, from the
# first write to the last event received; a measurement is
# BENCH_UEVENT_EVENTS events, its figure the lower quartile of its batches'
# times (under emulation on a loaded machine some batches are slowed down
# a lot; none is sped up): events/s.
#   host   a host loop device (added through /dev/loop-control), its
#          /sys/block/loopN/uevent; the listener is in the initial network
#          namespace, as the host's udev.
#   owned  (loopfs kernel) a device of a loopfs instance that a container
#          (own user, network and mount namespaces) made; the container
#          opens the uevent file in a sysfs of its own and a listener in its
#          network namespace, and hands both to the bench, which writes and
#          receives through them.
# A container network namespace is one a container process unshared with
# its own user namespace (as unshare -U -n; the containers are made in C,
# by a manager in a user namespace of its own, as a rootless container
# manager makes them), kept alive by that process.  Two variants: without
# and with a uevent listener bound in each container's network namespace,
# as a container running udev has (rows *_listening).
#
# Rounds, in one boot: a network namespace is freed asynchronously after
# its last process is gone, so the states with and without containers
# cannot be swapped quickly; instead each round climbs the levels
# 0, L1, .., N and comes down again (N, .., L1, 0), making containers on
# the way up and killing the last made on the way down, and waits after a
# kill until the kernel has freed their network namespaces (the manager's
# user namespace counts them: see the tool).  Both variants are measured at
# each visit of a level (the order reversed on the way down), after the
# machine is quiet again.  A drift of the machine's speed during the round
# weighs alike on every level: a level's figure for the round is the sum of
# the times of its two visits at level 0 over the same at the level, each
# time first divided by its control (the lower quartile of the times of
# getppid() calls timed before each batch: the speed of the moment).  The
# value is the median of the rounds' figures, the noise their spread (stats
# in lib.sh).
#
# What the kernel walks per event: an untagged uevent (a host device's)
# goes to the uevent sockets of uevent_sock_list (lib/kobject_uevent.c),
# those of the network namespaces of the initial user namespace only (since
# Linux 4.18): container network namespaces are not on it.  An owned
# uevent goes to the sockets of the network namespaces of the owning user
# namespace, found in uevent_userns_socks, a hash by that user namespace
# (a list of every other user namespace's network namespaces, in an earlier
# version of the series: its walk grew with the containers, listening or
# not).  Each socket with listeners gets netlink_broadcast(), which walks
# every socket bound to a NETLINK_KOBJECT_UEVENT group in any network
# namespace (net/netlink: nl_table[].mc_list is per protocol, not per
# network namespace) and skips those of other namespaces: each listening
# container costs every uevent a little, loopfs or not (the *_listening
# rows, on both kernels).  Without listeners a host uevent still came out a
# few per cent slower with 200 network namespaces than with none (and not
# with 200 containers without network namespaces of their own); perf in
# the guest put the difference in SLUB's get_partial_node(): the uevent's
# buffers come from kmalloc caches whose partial slab lists the network
# namespaces' objects lengthen, not from a walk of the containers.
#
# Output: table rows uevent_host_Nnetns, uevent_host_Nnetns_listening and
# (loopfs kernel) uevent_owned_Nnetns, uevent_owned_Nnetns_listening
# (events/s with N container network namespaces over events/s with none;
# aim >= 0.95), curve uevent (series host, host_listening, owned,
# owned_listening: the same ratio at each level), the raw events/s at each
# level, the time to make and to tear down the containers, and each
# round's figures (raw and normalised).
#
# Knobs: BENCH_UEVENT_NETNS (200: N), BENCH_UEVENT_LEVELS (the levels below
# N, "N/4 N/2"; "" for N alone; commas for spaces), BENCH_UEVENT_ROUNDS
# (7), BENCH_UEVENT_EVENTS (2000 a measurement), BENCH_UEVENT_BATCH (10
# written before they are received), BENCH_UEVENT_CONTROL (100 getppid()
# calls before each batch), BENCH_UEVENT_QUIET (50: per mille of the CPU
# time busy below which the machine counts as quiet).  Output to
# $RESULTS/bench-uevent.txt.
. "$(dirname "$0")/../lib.sh"

UEB=${UEB:-$PROJECT/build/tools/uevent-bench}
[ -x "$UEB" ] || cannot_run "uevent-bench tool not built: $UEB"
bench_require_any

N=${BENCH_UEVENT_NETNS:-200}
LEVELS=${BENCH_UEVENT_LEVELS-"$((N / 4)) $((N / 2))"}
ROUNDS=${BENCH_UEVENT_ROUNDS:-7}
EVENTS=${BENCH_UEVENT_EVENTS:-2000}
BATCH=${BENCH_UEVENT_BATCH:-10}
CONTROL=${BENCH_UEVENT_CONTROL:-100}
QUIET=${BENCH_UEVENT_QUIET:-50}
levels=()
for l in ${LEVELS//,/ }; do
	[ "$l" -gt 0 ] && [ "$l" -lt "$N" ] && levels+=("$l")
done
levels+=("$N")

bench_output bench-uevent.txt
bench_start "uevent bench"
hp=none
[ -r /proc/sys/kernel/hotplug ] && read -r hp </proc/sys/kernel/hotplug
emit "# uevent helper: ${hp:-none}; container levels: ${levels[*]}; $ROUNDS rounds of $EVENTS events"

[ -c /dev/loop-control ] || cannot_run "no /dev/loop-control"
idx=$(free_index 200)
out=$(lctl /dev/loop-control add "$idx") || cannot_run "adding host device loop$idx: $out"
defer lctl /dev/loop-control remove "$idx"

opts=(-r "$ROUNDS" -k "$EVENTS" -b "$BATCH" -c "$CONTROL" -q "$QUIET")
[ "$HAVE_LOOPFS" = 1 ] && opts+=(-o)
"$UEB" "${opts[@]}" "loop$idx" "${levels[@]}" >ueb.out 2>ueb.err ||
	{ print_file ueb.out; print_file ueb.err; cannot_run "uevent-bench failed"; }
# (each measurement's figures to the log only)
while IFS= read -r l; do
	case $l in
	m\ *) echo "# $l" ;;
	*) emit "# $l" ;;
	esac
done <ueb.out

# the rounds' figures of each kind, variant and level
declare -A raw=() norm=() eps=()
while read -r tag rest; do
	[ "$tag" = ratio ] || [ "$tag" = summary ] || continue
	kind='' listen='' level='' r='' n='' e=''
	for kv in $rest; do
		case ${kv%%=*} in
		kind) kind=${kv#*=} ;;
		listen) listen=${kv#*=} ;;
		level) level=${kv#*=} ;;
		raw) r=${kv#*=} ;;
		norm) n=${kv#*=} ;;
		eps) e=${kv#*=} ;;
		esac
	done
	k=$kind
	[ "$listen" = 1 ] && k+=_listening
	if [ "$tag" = ratio ]; then
		raw[$k.$level]+=" $r"
		norm[$k.$level]+=" $n"
	else
		eps[$k.$level]=$e
	fi
done <ueb.out

kinds="host host_listening"
[ "$HAVE_LOOPFS" = 1 ] && kinds+=" owned owned_listening"
for k in $kinds; do
	case $k in
	host) what="host device uevents/s, $N container netns vs none" ;;
	host_listening) what="host device uevents/s, $N listening container netns vs none" ;;
	owned) what="instance device (owned) uevents/s, $N container netns vs none" ;;
	owned_listening) what="instance device (owned) uevents/s, $N listening container netns vs none" ;;
	esac
	curve uevent "uevent throughput with container network namespaces" \
		"container network namespaces" "events/s relative to none" "$k" 0 1
	for l in "${levels[@]}"; do
		[ -n "${norm[$k.$l]:-}" ] || cannot_run "no figure for $k at $l"
		read -ra v <<<"${norm[$k.$l]}"
		read -r med noise <<<"$(stats "${v[@]}")"
		read -ra v <<<"${raw[$k.$l]}"
		read -r rmed rnoise <<<"$(stats "${v[@]}")"
		emit "uevent_${k}_${l}netns=$med noise=$noise% raw=$rmed noise=$rnoise% eps=${eps[$k.$l]} (eps at 0: ${eps[$k.0]}; rounds:${norm[$k.$l]})"
		curve uevent "uevent throughput with container network namespaces" \
			"container network namespaces" "events/s relative to none" "$k" "$l" "$med"
	done
	table "uevent_${k%%_*}_${N}netns${k#"${k%%_*}"}" "$what" "$med" "$noise" ">=0.95"
done
emit "bench_uevent_total_s=$((($(now_ms) - T0) / 1000))"
