#!/bin/bash
# timeout: 900
# Contract 3.1 with a real container manager's helper: the node linker
# (userspace/loopfs-link) keeps /dev/loopN and /dev/loopNpM links to the
# nodes of the container's instance, so unmodified util-linux works in the
# container with nothing prepared beforehand, and it never holds the
# instance.
#   - latency: loopfs-linklat adds and removes devices in the container
#     under load (I/O on a device and two busy shells) and prints the
#     node-to-link latency; every link must come well inside util-linux's
#     400 ms retry window (p99 < 400 ms) and go when its device goes;
#   - `losetup -fP --show` five times in a row, with no spare device:
#     /dev/loopN is what it prints, and /dev/loopNp1 is a usable block
#     device right after it returns (blockdev --getsize64);
#   - removing a device removes its links;
#   - a plain (not lazy) umount of an instance succeeds while a linker
#     follows it, and the linker then exits 0 and removes its links;
#   - the container's devices are gone after it ends, linker or not (the
#     leak check of lib.sh).
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds losetup sfdisk blockdev unshare dd
require_loopfs
[ -x "$PROJECT/build/tools/loopfs-linklat" ] || fail "no loopfs-linklat tool"

mkimg img 8
printf 'label: dos\nstart=2048, size=4096, type=83\n' |
	sfdisk -q img >sfdisk.out 2>&1 || { cat sfdisk.out; fail "sfdisk img"; }
mkimg load.img 64

ct_linker() {
	local i dev n devs=() pids=() out line p99 v
	# load: direct I/O on a device of the instance and two busy shells
	dev=$(losetup -f --show "$SCRATCH/load.img") || fail "losetup load.img"
	( while :; do dd if=/dev/zero of="$dev" bs=64k count=256 oflag=direct status=none; done ) &
	pids+=($!)
	for i in 1 2; do
		( while :; do :; done ) &
		pids+=($!)
	done
	out=$("$PROJECT/build/tools/loopfs-linklat" /dev/loop-control /dev 100 2>&1)
	v=$?
	kill "${pids[@]}"
	wait "${pids[@]}" 2>/dev/null
	echo "$out"
	[ $v -eq 0 ] || fail "loopfs-linklat failed (exit $v)"
	line=$(grep '^linklat:' <<<"$out") || fail "no linklat line"
	p99=${line#*p99_us=}
	p99=${p99%% *}
	assert_num "$p99" "p99 latency"
	[ "$p99" -lt 400000 ] || fail "p99 node-to-link latency ${p99} us >= 400 ms"
	ok "node-to-link latency under load: ${line#linklat: }"
	losetup -d "$dev" || fail "losetup -d $dev"

	for i in 1 2 3 4 5; do
		dev=$(losetup -fP --show "$SCRATCH/img") || fail "losetup -fP --show img (#$i)"
		n=$(num_of_dev "$dev") || fail "losetup printed '$dev'"
		assert_eq "$dev" "/dev/loop$n" "losetup -fP --show #$i names /dev/loopN"
		v=$(blockdev --getsize64 "/dev/loop${n}p1") ||
			fail "/dev/loop${n}p1 right after losetup -fP: $v"
		assert_eq "$v" $((4096 * 512)) "/dev/loop${n}p1 is partition 1, right after losetup -fP"
		devs+=("$n")
	done
	for n in "${devs[@]}"; do
		losetup -d "/dev/loop$n" || fail "losetup -d /dev/loop$n"
		rm "/dev/loopfs/loop$n" || fail "rm /dev/loopfs/loop$n"
		wait_gone "/dev/loop$n" 5 || fail "/dev/loop$n stays after its device went"
		wait_gone "/dev/loop${n}p1" 5 || fail "/dev/loop${n}p1 stays after its device went"
	done
	ok "removing a device removes /dev/loopN and /dev/loopNpM"

	# a second instance with its own linker: plain umount works, linker exits
	mkdir -p "$SCRATCH/second" "$SCRATCH/second-dev" || fail "mkdir"
	mount -t loopfs none "$SCRATCH/second" || fail "mount second instance"
	lctl "$SCRATCH/second/loop-control" get_free >/dev/null || fail "GET_FREE in the second instance"
	"$LOOPFS_LINK" -r "$SCRATCH/second-dev/.ready" "$SCRATCH/second" "$SCRATCH/second-dev" &
	i=$!
	wait_file_while "$SCRATCH/second-dev/.ready" 30 "$i" || fail "second linker not ready ($WAIT_WHY)"
	n=$(instance_devices "$SCRATCH/second")
	assert_eq "$(readlink "$SCRATCH/second-dev/$n")" "$SCRATCH/second/$n" "second linker's link (absolute target)"
	umount "$SCRATCH/second" || fail "plain umount of an instance followed by a linker"
	ok "plain umount of an instance while its linker runs"
	wait_until 10 pid_gone "$i" || fail "the linker did not exit after the umount"
	wait "$i"
	assert_eq "$?" 0 "linker exit status after its instance ended"
	assert_absent "$SCRATCH/second-dev/$n" "the linker removed its link when the instance ended"
}
export -f ct_linker

ct_run ct_linker || fail "in the container"
