#!/bin/bash
# timeout: 900
# Contract clause 2.5: unlinking DIR/loopN removes that device: at once when
# nothing holds it open (a bound device is detached first), otherwise at its
# last close (AUTOCLEAR-like); a mounted filesystem holds its device open;
# loop-control cannot be unlinked.  (Also 3.1: the opener keeps using the
# device through its file descriptor.)
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds losetup mkfs.ext4 cmp dd
require_loopfs
need_loopctl

A=$SCRATCH/a
mount_instance "$A"
CTL=$A/loop-control

new_dev() {
	local n
	n=$(lctl "$CTL" get_free) || fail "lctl $CTL get_free: $n"
	[[ $n =~ ^[0-9]+$ ]] || fail "GET_FREE on the instance: '$n'"
	[ -b "$A/loop$n" ] || fail "no node $A/loop$n after GET_FREE"
	echo "$n"
}

bound_to() { # N FILE: loopN is bound to FILE
	[ "$(cat "/sys/block/loop$1/loop/backing_file" 2>/dev/null)" = "$2" ]
}

# --- 1. unbound, not open: gone at once
n=$(new_dev) || fail "no new device"
rm "$A/loop$n" || fail "rm $A/loop$n (unbound)"
assert_absent "$A/loop$n" "node of unbound loop$n after rm"
wait_gone "/sys/block/loop$n" 2 || fail "unbound loop$n still in /sys/block 2 s after its unlink"
ok "unbound loop$n removed at once"

# backing files live on their own small tmpfs mounts: a umount of that
# tmpfs succeeds only once no loop device holds the file any more
backing_mount() {
	mkdir -p "$1"
	mount -t tmpfs -o size=64m "bk-$1" "$1" || fail "tmpfs $1"
	defer umount -l "$1"
}

# --- 2. bound, not open: detached, then removed at once
backing_mount bk2
mkimg bk2/img2 8
n=$(new_dev) || fail "no new device"
losetup "$A/loop$n" bk2/img2 || fail "losetup $A/loop$n img2"
bound_to "$n" "$SCRATCH/bk2/img2" || fail "loop$n not bound to img2"
rm "$A/loop$n" || fail "rm $A/loop$n (bound)"
assert_absent "$A/loop$n" "node of bound loop$n after rm"
wait_gone "/sys/block/loop$n" 2 || fail "bound, closed loop$n still in /sys/block 2 s after its unlink"
ok "bound loop$n detached and removed at once"
assert_eq "$(bound_devices_of "$SCRATCH/bk2/img2")" "" "nothing bound to img2 any more"
umount bk2 || fail "the backing file img2 is still held (its tmpfs cannot be unmounted)"
ok "backing file img2 released"

# --- 3. bound and open: the opener goes on using it; removed at last close
backing_mount bk3
mkimg bk3/img3 8
mkdata pat1 1024
mkdata pat2 1024
dd if=pat1 of=bk3/img3 conv=notrunc status=none || fail "dd pat1"
n=$(new_dev) || fail "no new device"
losetup "$A/loop$n" bk3/img3 || fail "losetup $A/loop$n img3"
close3() { exec 3<&-; }
exec 3<>"$A/loop$n" || fail "open $A/loop$n"
defer close3
rm "$A/loop$n" || fail "rm $A/loop$n (bound and open)"
assert_absent "$A/loop$n" "node of open loop$n after rm"
nap 0.5
loop_sys_exists "$n" || fail "open loop$n was removed while still open"
bound_to "$n" "$SCRATCH/bk3/img3" || fail "open loop$n was detached while still open"
ok "open loop$n still exists and is bound after its unlink"
# read the first MiB through the open descriptor, write the second
dd bs=64k count=16 iflag=fullblock status=none <&3 >got1 || fail "read through the open fd"
cmp pat1 got1 || fail "data read through the open fd differs"
ok "opener reads the device after its unlink"
dd if=pat2 bs=64k count=16 iflag=fullblock conv=fsync status=none >&3 || fail "write through the open fd"
dd if=bk3/img3 bs=64k skip=16 count=16 status=none | cmp - pat2 || fail "data written through the open fd is not in the backing file"
ok "opener writes the device after its unlink"
new=$(lctl "$CTL" get_free) || fail "lctl $CTL get_free: $new"
assert_num "$new" "GET_FREE while loop$n is open and unlinked"
assert_ne "$new" "$n" "GET_FREE does not hand out the unlinked device"
close3
wait_gone "/sys/block/loop$n" 10 || fail "loop$n still in /sys/block after its last close"
ok "loop$n removed at its last close"
assert_eq "$(bound_devices_of "$SCRATCH/bk3/img3")" "" "nothing bound to img3 any more"
umount bk3 || fail "the backing file img3 is still held (its tmpfs cannot be unmounted)"
ok "backing file img3 released"
rm "$A/loop$new" || fail "rm $A/loop$new"
wait_gone "/sys/block/loop$new" 5 || fail "loop$new not removed"

# --- 4. holding a mounted ext4: goes at the umount
mkimg img4 32
mkdata d4 512
n=$(new_dev) || fail "no new device"
losetup "$A/loop$n" img4 || fail "losetup $A/loop$n img4"
mkfs.ext4 -q "$A/loop$n" || fail "mkfs.ext4 $A/loop$n"
mkdir -p m4
mount "$A/loop$n" m4 || fail "mount $A/loop$n"
defer umount m4
rm "$A/loop$n" || fail "rm $A/loop$n (mounted)"
assert_absent "$A/loop$n" "node of mounted loop$n after rm"
nap 0.5
loop_sys_exists "$n" || fail "loop$n removed while its ext4 is mounted"
{ cp d4 m4/d4 && sync; } || fail "write to the ext4 after the unlink"
echo 3 >/proc/sys/vm/drop_caches
cmp d4 m4/d4 || fail "read back from the ext4 after the unlink"
ok "ext4 on unlinked loop$n still works"
umount m4 || fail "umount m4"
wait_gone "/sys/block/loop$n" 10 || fail "loop$n still in /sys/block after the umount"
ok "loop$n removed at the umount"
e2fsck -fn img4 >fsck.out 2>&1 || { cat fsck.out; fail "e2fsck -fn img4"; }
ok "e2fsck -fn img4 clean"

# --- 5. loop-control cannot be unlinked
expect_fail "rm loop-control" rm -f "$CTL"
[ -c "$CTL" ] || fail "loop-control is gone"
got=$(node_devnum "$CTL") || fail "no device number for $CTL"
assert_eq "$got" "$LOOP_CONTROL_DEVNUM" "loop-control still there"

assert_eq "$(instance_devices "$A" | wc -l)" 0 "instance holds no device at the end"
