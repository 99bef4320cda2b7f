#!/bin/bash
# timeout: 300
# Contract clauses 7.1 / 7.2 (and 4.1-4.3 for host devices): a host loop
# device (added through /dev/loop-control, bound with losetup -P to an image
# with a partition table) and its partition show everywhere, as in stock
# 6.12:
#   - in the host's /sys: /sys/block/loopN (and loopN/loopNp1),
#     /sys/class/block/loopN and loopNp1, /sys/dev/block/MAJ:MIN of both,
#     /sys/devices/virtual/block/loopN, each with the right dev attribute
#     and listed by readdir; in /proc/partitions and /proc/diskstats;
#   - the same in a "container": new user (root mapped), network, mount and
#     pid namespaces with a fresh sysfs and proc of its own;
#   - uevent listeners (tests/tools/uevent-listen.c) in the host's network
#     namespace and in a new one (owned by the initial user namespace) each
#     get add, change, partition add, partition remove and remove of the
#     device; one in the container's network namespace gets none of them:
#     since Linux 4.18 (lib/kobject_uevent.c, uevent_net_init()) uevents
#     reach only network namespaces that the initial user namespace owns.
# Runs on the loopfs-off kernel.  tests/e2e/host_loop_device_visible_
# beside_instances.sh runs this same script on the loopfs kernel with
# LOOPFS_WITH_INSTANCE=1: the container then also mounts a loopfs instance
# and holds a device of it, bound, during the checks.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds unshare losetup sfdisk
need_loopctl
UL=${UEVENT_LISTEN:-$PROJECT/build/tools/uevent-listen}
[ -x "$UL" ] || skip "uevent-listen tool not built: $UL"
WITH_INSTANCE=${LOOPFS_WITH_INSTANCE:-}
[ -z "$WITH_INSTANCE" ] || require_loopfs
export UL WITH_INSTANCE

# ------------------------------------------------------------------ checks

# proc_has FILE NAME: /proc/partitions (name in field 4) or /proc/diskstats
# (field 3) lists NAME
proc_has() {
	local a b c d rest
	while read -r a b c d rest; do
		case $1 in
		*partitions) [ "$d" = "$2" ] && return 0 ;;
		*) [ "$c" = "$2" ] && return 0 ;;
		esac
	done <"$1"
	return 1
}

# dir_lists DIR NAME: readdir of DIR lists NAME
dir_lists() {
	local f
	for f in "$1"/*; do
		[ "${f##*/}" = "$2" ] && return 0
	done
	return 1
}

# check_visible WHO SYS N DEVNUM PDEVNUM: host device loopN (number DEVNUM)
# and its partition loopNp1 (PDEVNUM) are in the sysfs at SYS and in /proc
# (as this process opens it)
check_visible() {
	local who=$1 sys=$2 n=$3 dn=$4 pdn=$5 p v name d
	for p in "$sys/block/loop$n" "$sys/class/block/loop$n" "$sys/dev/block/$dn" \
		"$sys/devices/virtual/block/loop$n" "$sys/block/loop$n/loop${n}p1" \
		"$sys/class/block/loop${n}p1" "$sys/dev/block/$pdn" \
		"$sys/devices/virtual/block/loop$n/loop${n}p1"; do
		[ -e "$p" ] || fail "[$who] $p does not exist"
	done
	ok "[$who] loop$n and loop${n}p1 in $sys/block, class/block, dev/block, devices/virtual/block"
	for p in "class/block/loop$n=$dn" "class/block/loop${n}p1=$pdn" \
		"dev/block/$dn=$dn" "dev/block/$pdn=$pdn"; do
		v=
		read -r v <"$sys/${p%=*}/dev" || fail "[$who] cannot read $sys/${p%=*}/dev"
		[ "$v" = "${p#*=}" ] || fail "[$who] $sys/${p%=*}/dev is '$v', want ${p#*=}"
	done
	ok "[$who] dev attributes read $dn and $pdn"
	for p in "block:loop$n" "class/block:loop$n" "class/block:loop${n}p1" \
		"dev/block:$dn" "dev/block:$pdn" "devices/virtual/block:loop$n"; do
		dir_lists "$sys/${p%%:*}" "${p#*:}" || fail "[$who] readdir of $sys/${p%%:*} does not list ${p#*:}"
	done
	ok "[$who] readdir lists them"
	for name in "loop$n" "loop${n}p1"; do
		for d in /proc/partitions /proc/diskstats; do
			proc_has "$d" "$name" || fail "[$who] $d does not list $name"
		done
	done
	ok "[$who] /proc/partitions and /proc/diskstats list loop$n and loop${n}p1"
}

# ev_has FILE ACTION NAME: uevent-listen recorded ACTION for device NAME
ev_has() {
	local act name rest
	while read -r act name rest; do
		[ "$act" = "$2" ] && [ "$name" = "$3" ] && return 0
	done <"$1"
	return 1
}

# check_events WHO FILE N all|none: the events of host device loopN in
# FILE: all of them, or none at all
check_events() {
	local who=$1 f=$2 n=$3 e act name rest lost=
	while read -r e lost; do
		[ "$e" = end ] && break
	done <"$f"
	[ "$lost" = lost=0 ] || fail "[$who] uevent listener: '$e $lost'"
	if [ "$4" = none ]; then
		while read -r act name rest; do
			case $name in
			"loop$n" | "loop${n}p"*) cat "$f"; fail "[$who] the uevent listener got '$act $name $rest'" ;;
			esac
		done <"$f"
		ok "[$who] no uevent of loop$n or its partition"
		return 0
	fi
	for e in "add loop$n" "change loop$n" "add loop${n}p1" "remove loop${n}p1" "remove loop$n"; do
		ev_has "$f" $e || { cat "$f"; fail "[$who] the uevent listener got no '$e'"; }
	done
	ok "[$who] uevents: add, change, add p1, remove p1, remove of loop$n"
}

# stop_listener PID: SIGTERM, then it reads what is queued and ends
stop_listener() {
	kill -TERM "$1" 2>/dev/null
	wait "$1"
}

export -f proc_has dir_lists check_visible ev_has check_events stop_listener

# --------------------------------------------------------------- container

# ct_ns_side: in new user+net+mount+pid namespaces; its own sysfs and proc
ct_ns_side() {
	local sys=/sys lpid own= odn hn hdn hpdn
	# a sysfs of the container's own network namespace, on its /sys
	mount -t sysfs sysfs /sys || fail "[container] mount -t sysfs sysfs /sys"
	if [ -n "$WITH_INSTANCE" ]; then
		mount -t loopfs none "$SCRATCH/ct-lfs" || fail "[container] mount -t loopfs"
		own=$(lctl "$SCRATCH/ct-lfs/loop-control" get_free) || fail "[container] GET_FREE: $own"
		losetup "$SCRATCH/ct-lfs/loop$own" "$SCRATCH/ct.img" || fail "[container] losetup loop$own"
		[ -e "$sys/block/loop$own" ] || fail "[container] its own loop$own is not in its sysfs"
		read -r odn <"$sys/block/loop$own/dev"
		ok "[container] instance device loop$own ($odn), bound"
		echo "$own" >"$SCRATCH/ct.own"
	fi
	"$UL" -t 300 "$SCRATCH/ct.ready" >"$SCRATCH/ct.ev" 2>"$SCRATCH/ct.everr" &
	lpid=$!
	wait_file "$SCRATCH/ct.ready" 60 || fail "[container] uevent listener not ready"
	touch "$SCRATCH/ct.up"

	wait_file "$SCRATCH/host.added" || fail "[container] host never added its device"
	read -r hn hdn hpdn <"$SCRATCH/host.num"
	check_visible container "$sys" "$hn" "$hdn" "$hpdn"
	if [ -n "$own" ]; then
		[ -e "$sys/block/loop$own" ] || fail "[container] own loop$own gone from its sysfs"
		proc_has /proc/partitions "loop$own" && ok "[container] /proc/partitions lists own loop$own"
	fi
	touch "$SCRATCH/ct.checked"

	wait_file "$SCRATCH/host.removed" || fail "[container] host never removed its device"
	stop_listener "$lpid"
	# stock: its own user namespace owns its network namespace
	check_events container "$SCRATCH/ct.ev" "$hn" none
	if [ -n "$own" ]; then
		losetup -d "$SCRATCH/ct-lfs/loop$own" || fail "[container] losetup -d loop$own"
	fi
	ok "[container] done"
}
export -f ct_ns_side

# -------------------------------------------------------------------- host

mkimg img 8
printf 'label: dos\nstart=2048, size=4096, type=83\n' | sfdisk -q img >sfdisk.out 2>&1 ||
	{ cat sfdisk.out; fail "sfdisk img"; }
mkdir -p ct-lfs
[ -z "$WITH_INSTANCE" ] || mkimg ct.img 4

"$UL" -t 300 host.ready >host.ev 2>host.everr &
hl=$!
defer kill "$hl"
"$UL" -n -t 300 netns.ready >netns.ev 2>netns.everr &
nl=$!
defer kill "$nl"
LIB_IN_CONTAINER=1 unshare --user --map-root-user --net --mount --pid --fork --kill-child \
	--mount-proc --propagation private \
	bash -c '. "$LIB_SH" && ct_ns_side' >ct.log 2>&1 &
cpid=$!
defer kill "$cpid"

ct_wait() { # FILE WHAT
	wait_file_while "$1" 300 "$cpid" || { cat ct.log; fail "the container, $2: $WAIT_WHY"; }
}
wait_file host.ready 60 || { cat host.everr; fail "host uevent listener not ready"; }
wait_file netns.ready 60 || { cat netns.everr; fail "uevent listener in a new netns not ready"; }
ct_wait ct.up "starting its listener"
ok "uevent listeners in the host's, a new and the container's network namespaces"

n=$(free_index 200)
out=$(lctl /dev/loop-control add "$n") || fail "LOOP_CTL_ADD($n) on /dev/loop-control: $out"
defer lctl /dev/loop-control remove "$n"
dev=/dev/loop$n
losetup -P "$dev" img || fail "losetup -P $dev img"
defer losetup -d "$dev"
wait_present "/sys/class/block/loop${n}p1" 10 || fail "loop${n}p1 never appeared"
read -r dn <"/sys/class/block/loop$n/dev"
read -r pdn <"/sys/class/block/loop${n}p1/dev"
assert_eq "$dn" "$(loop_devnum "$n")" "loop$n device number"
echo "$n $dn $pdn" >host.num
touch host.added

check_visible host /sys "$n" "$dn" "$pdn"
ct_wait ct.checked "checking the host's device"
[ -z "$WITH_INSTANCE" ] || info "container device: loop$(cat ct.own 2>/dev/null)"

losetup -d "$dev" || fail "losetup -d $dev"
wait_gone "/sys/class/block/loop${n}p1" 10 || fail "loop${n}p1 still there after losetup -d"
out=$(lctl /dev/loop-control remove "$n") || fail "LOOP_CTL_REMOVE($n): $out"
wait_gone "/sys/block/loop$n" 10 || fail "loop$n still there after LOOP_CTL_REMOVE"
touch host.removed

stop_listener "$hl"
stop_listener "$nl"
check_events host host.ev "$n" all
check_events "new netns" netns.ev "$n" all

wait "$cpid"
rc=$?
echo "---- container"
cat ct.log
echo "----"
[ $rc -eq 0 ] || fail "the container failed (exit $rc)"
info "test time: ${SECONDS}s"
