#!/bin/bash
# PID 1 of the test guest (see run-guest.sh).  The kernel passes suite= and
# project= from its command line in the environment.  Mounts the basics, then
# runs $project/tests/run-suite.sh $suite (or a shell), collects kmemleak,
# writes `done` to the results share and reboots (QEMU -no-reboot exits).
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PROJECT=${project:-} SUITE=${suite:-} RESULTS=/tmp/results
export HOME=/root HISTFILE=/tmp/.bash_history LANG=C.UTF-8
say() { echo "guest-init: $*"; }
finish() {
	sync
	busybox reboot -f
	echo b > /proc/sysrq-trigger
}
trap finish EXIT

# Until proc is mounted, /proc is the host's, seen through the 9p root.
mount -t proc proc /proc || say "cannot mount /proc"
mnt() { mountpoint -q "$3" || mount -t "$1" "$2" "$3" || say "mount $1 on $3 failed"; }
mnt sysfs sysfs /sys
mnt devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mountpoint -q /dev/pts || mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mnt tmpfs tmpfs /dev/shm
mnt tmpfs tmpfs /tmp
mnt tmpfs tmpfs /run
mnt tmpfs tmpfs /var/tmp
mnt debugfs debugfs /sys/kernel/debug
mnt cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p "$RESULTS"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576 results "$RESULTS" ||
	say "cannot mount the results share"
hostname loopfs-guest
ip link set lo up 2>/dev/null || busybox ip link set lo up
# A modular kernel (run-guest.sh passes modules=): its modules on
# /lib/modules, and the loop driver loaded as a distribution loads it, with
# the loop.* options of the command line (modprobe reads them there).
if [ -n "${modules:-}" ]; then
	mount --bind "$modules" /lib/modules || say "cannot mount $modules on /lib/modules"
	modprobe loop || say "modprobe loop failed"
	want=$(sed -n 's/.*\bloop\.max_part=\([0-9]*\).*/\1/p' /proc/cmdline)
	if [ -n "$want" ] && [ "$(cat /sys/module/loop/parameters/max_part 2>/dev/null)" != "$want" ]; then
		say "loop.max_part=$want from the command line was not applied"
		echo "error: modprobe loop did not apply loop.max_part=$want" > "$RESULTS/status"
		exit 1
	fi
fi
[ -n "$PROJECT" ] && [ -n "$SUITE" ] || { say "no suite= or project= given"; exit 1; }
cd /tmp || exit 1

if [ "$SUITE" = shell ]; then
	say "interactive shell; exit it to power off (Ctrl-A X kills QEMU)"
	setsid -c bash -i </dev/console >/dev/console 2>&1
	echo "done" > "$RESULTS/status"
	exit 0
fi

say "running suite $SUITE"
"$PROJECT/tests/run-suite.sh" "$SUITE" </dev/null >/dev/console 2>&1
rc=$?
if [ -e /sys/kernel/debug/kmemleak ]; then
	say "kmemleak scan"
	echo scan > /sys/kernel/debug/kmemleak
	sleep 5
	echo scan > /sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak > "$RESULTS/kmemleak.txt"
fi
# run-suite.sh: 0 all passed, 1 some test failed, anything else broke.
if [ $rc -le 1 ]; then
	echo "done" > "$RESULTS/status"
else
	echo "error: run-suite.sh exited $rc" > "$RESULTS/status"
fi
say "finished (run-suite.sh exit $rc)"
