#!/bin/bash
# timeout: 300
# Contract clauses 1.3, 3.1, 3.4 and 6.2 through the loopfs-sandbox sample
# (samples/loopfs): a program builds a partitioned disk image with a
# detached instance of its own.  Asserted: the image it names has the two
# partitions it wrote (sfdisk -d), both hold a clean ext4 (e2fsck -fn on
# each partition, cut out of the image) and the first one holds /hello; no
# loop device is left.  Then a second run is killed (SIGKILL) while its ext4
# is mounted and its devices are bound: nothing is left behind, no device in
# /sys/block, no image file (nothing in its directory), no mount.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds sfdisk e2fsck debugfs dd mkfs.ext4
require_loopfs
SAMPLE=$PROJECT/build/samples/loopfs-sandbox
[ -x "$SAMPLE" ] || skip "not built: $SAMPLE (scripts/build-selftests.sh)"

mkdir out out2 || fail "mkdir"

"$SAMPLE" "$SCRATCH/out/disk.img" 64 >run1.out 2>&1 || { print_file run1.out; fail "loopfs-sandbox failed"; }
print_file run1.out
assert_exists out/disk.img "image"
sfdisk -d out/disk.img >sfdisk.out 2>&1 || { print_file sfdisk.out; fail "sfdisk -d"; }
print_file sfdisk.out
p1=0 p2=0
while IFS= read -r l; do
	[[ $l =~ start=\ *2048,\ size=\ *63488,\ type=83 ]] && p1=1
	[[ $l =~ start=\ *65536,\ size=\ *65536,\ type=83 ]] && p2=1
done <sfdisk.out
assert_eq "$p1$p2" 11 "sfdisk -d: p1 (1 MiB..32 MiB) and p2 (32..64 MiB), type 83"
dd if=out/disk.img of=p1.img bs=1M skip=1 count=31 status=none || fail "dd p1"
dd if=out/disk.img of=p2.img bs=1M skip=32 count=32 status=none || fail "dd p2"
for p in p1 p2; do
	e2fsck -fn "$p.img" >"fsck-$p.out" 2>&1 || { print_file "fsck-$p.out"; fail "e2fsck -fn $p"; }
done
ok "e2fsck -fn clean on both partitions"
assert_eq "$(debugfs -R 'cat /hello' p1.img 2>/dev/null)" "built in a loopfs sandbox" "/hello in p1"
loop_list_to now
[ "$now" = "$_LIB_BASELINE" ] || fail "loop devices left after a normal run: $(lines_not_in "$now" "$_LIB_BASELINE" | tr '\n' ' ')"
ok "no loop device left after a normal run"

# killed midway: ext4 mounted, partitions open, devices bound
"$SAMPLE" -k "$SCRATCH/out2/disk.img" 64 >run2.out 2>&1 &
pid=$!
defer kill -9 "$pid"
wait_until 120 file_has run2.out 'waiting to be killed' || { print_file run2.out; fail "the sample did not reach its midpoint"; }
print_file run2.out
dev=
while IFS= read -r l; do
	[[ $l =~ ^sandbox:\ (loop[0-9]+)\ bound ]] && dev=${BASH_REMATCH[1]}
done <run2.out
[ -n "$dev" ] && [ -e "/sys/block/$dev" ] || fail "the sample's device ($dev) is not in /sys/block"
[ -e "/sys/block/$dev/${dev}p1" ] || fail "no ${dev}p1 in sysfs while the sample runs"
[ ! -e "/dev/$dev" ] || fail "/dev/$dev exists: an instance device got a devtmpfs node"
ok "midway: $dev and its partitions exist, no /dev node"
kill -9 "$pid"
wait "$pid" 2>/dev/null
wait_gone "/sys/block/$dev" 15 || fail "$dev outlived the killed sample"
ok "$dev gone after SIGKILL"
[ ! -e "/proc/$pid" ] || fail "the sample's process is still there"
left=(out2/* out2/.[!.]*)
[ -e "${left[0]}" ] || [ -e "${left[1]}" ] && fail "left in the image's directory: ${left[*]}"
ok "nothing left in the image's directory (the image had no name yet)"
while IFS= read -r l; do
	src=${l##* - }
	case $src in
	*"/proc/self/fd/"* | *"$dev"*) fail "a mount from the sample is left: $l" ;;
	esac
done </proc/self/mountinfo
ok "no mount from $dev or /proc/self/fd left"
