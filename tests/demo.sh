#!/bin/bash
# timeout: 1200
# The demo of `make demo` (run in the guest on the loopfs kernel, as root):
# two containers, each with a private loopfs instance in its own /dev, run the
# unmodified losetup -f --show, mkfs.ext4, mount / mount -o loop, write and
# read data; neither sees the other's devices and the host's /dev has none of
# them; when the containers end, their devices are gone, and the host reads
# what they wrote from the image files.  Exits non-zero if anything in the
# story does not hold.
. "$(dirname "$0")/lib.sh"
exec 2>&1

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
	echo "\$ $*" >&2
	"$@"
}
export -f run

require_root
require_cmds unshare losetup mkfs.ext4 debugfs findmnt sed
loopfs_available || fail "this kernel has no loopfs (wrong kernel?)"

say "The kernel: $(uname -r); loopfs is a filesystem type:"
run grep loopfs /proc/filesystems

say "The host's loop devices before:"
run losetup -a
echo "\$ ls /dev | grep loop" >&2
ls /dev | grep loop | tr '\n' ' '
echo

for c in red blue; do
	truncate -s 32M "$SCRATCH/$c.img"
done

# ------------------------------------------------------------- container
demo_container() {
	local me=$1 img=$SCRATCH/$1.img mnt=$SCRATCH/mnt-$1 dev n other
	mkdir -p "$mnt"
	echo "I am a container: own mount and pid namespaces (I am pid $$ here)."
	echo "My /dev is a fresh tmpfs; a private loopfs instance is mounted on /dev/loopfs"
	echo "and /dev/loop-control is a symlink to its loop-control:"
	run ls -l /dev/loop-control /dev/loopfs
	echo "(/dev/loopN links to the instance's nodes are kept up to date, the job"
	echo " a container manager's udev rule or helper does)"
	if [ "$me" = red ]; then
		dev=$(run losetup -f --show "$img") || fail "losetup -f --show"
		echo "$dev"
		run mkfs.ext4 -q "$dev" || fail "mkfs.ext4"
		run mount "$dev" "$mnt" || fail "mount"
	else
		run mkfs.ext4 -q "$img" || fail "mkfs.ext4"
		run mount -o loop "$img" "$mnt" || fail "mount -o loop"
		dev=$(findmnt -n -o SOURCE "$mnt")
		echo "mounted from $dev"
	fi
	n=$(num_of_dev "$dev") || fail "no device number in '$dev'"
	echo "hello from the $me container, via loop$n" >"$mnt/message"
	sync
	run umount "$mnt" || fail "umount"
	if [ "$me" = red ]; then
		run mount "$dev" "$mnt" || fail "mount"
	else
		run mount -o loop "$img" "$mnt" || fail "mount -o loop"
	fi
	run cat "$mnt/message" || fail "read back"
	echo "$n" >"$SCRATCH/$me.num"
	touch "$SCRATCH/$me.ready"

	wait_file "$SCRATCH/go.$me" 120 || fail "never told to go on"
	other=$(cat "$SCRATCH/$([ "$me" = red ] && echo blue || echo red).num")
	echo "The other container uses loop$other.  What do I see?"
	run ls -l /dev/loopfs
	[ -e "/dev/loopfs/loop$other" ] && fail "I can see loop$other"
	run losetup "/dev/loop$other" && fail "losetup reached loop$other"
	echo "-> no node for loop$other here: it is not mine."
	touch "$SCRATCH/$me.checked"

	wait_file "$SCRATCH/go.finish" 120 || fail "never told to finish"
	run umount "$mnt" || fail "umount"
	if [ "$me" = red ]; then
		run losetup -d "$dev" || fail "losetup -d"
	fi
	echo "Leaving; my loopfs instance, and its devices, go with me."
}
export -f demo_container

prefix() { sed -u "s/^/    [$1] /"; }

say "Container red starts"
ct_run demo_container red 2>&1 | prefix red &
pid_red=$!
wait_file "$SCRATCH/red.ready" 120 || fail "container red did not get ready"
say "Container blue starts"
ct_run demo_container blue 2>&1 | prefix blue &
pid_blue=$!
defer kill "$pid_red" "$pid_blue"
wait_file "$SCRATCH/blue.ready" 120 || fail "container blue did not get ready"

red=$(cat "$SCRATCH/red.num")
blue=$(cat "$SCRATCH/blue.num")
say "The host, while red holds loop$red and blue holds loop$blue"
echo "They are real loop devices (global numbers, in sysfs):"
run cat "/sys/block/loop$red/loop/backing_file" "/sys/block/loop$blue/loop/backing_file"
echo "but the host's /dev has no node for them:"
echo "\$ ls /dev | grep loop" >&2
ls /dev | grep loop | tr '\n' ' '
echo
for n in $red $blue; do
	[ -e "/dev/loop$n" ] && fail "the host's /dev has loop$n"
done
echo "and the host's losetup -f does not hand them out:"
hf=$(run losetup -f) || fail "host losetup -f"
echo "$hf"
case $hf in
"/dev/loop$red" | "/dev/loop$blue") fail "host losetup -f handed out $hf" ;;
esac

say "What each container sees"
touch "$SCRATCH/go.red"
wait_file "$SCRATCH/red.checked" 60 || fail "red's check did not finish"
touch "$SCRATCH/go.blue"
wait_file "$SCRATCH/blue.checked" 60 || fail "blue's check did not finish"

say "The containers finish"
touch "$SCRATCH/go.finish"
wait "$pid_red" || fail "container red failed"
wait "$pid_blue" || fail "container blue failed"
for n in $red $blue; do
	wait_gone "/sys/block/loop$n" 20 || fail "loop$n outlived its container"
done
echo "loop$red and loop$blue are gone from /sys/block."

say "The host reads what the containers wrote, from the image files"
for c in red blue; do
	run debugfs -R 'cat /message' "$SCRATCH/$c.img" 2>/dev/null | grep "hello from the $c" ||
		fail "no message in $c.img"
done
say "Done: two containers, each with private loop devices, unmodified tools."
