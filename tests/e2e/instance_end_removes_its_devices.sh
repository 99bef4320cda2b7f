#!/bin/bash
# timeout: 900
# Contract clause 6.1: when an instance ends (its last mount and open file
# gone) every device of it is removed: at once where nothing holds it open
# (bound ones detached first), otherwise at its last close; a mounted
# filesystem holds its device open; indexes are released.  Also 6.3 in part:
# the ext4 mounted from an instance device stays consistent (e2fsck -fn).
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds losetup mkfs.ext4 e2fsck debugfs mountpoint cmp
require_loopfs
need_loopctl

A=$SCRATCH/a
mount_instance "$A"
CTL=$A/loop-control
# the backing files live on their own tmpfs mounts: a umount of that tmpfs
# succeeds only once no loop device holds the file any more
for b in bkf bkb; do
	mkdir -p $b
	mount -t tmpfs -o size=64m "$b" $b || fail "tmpfs $b"
	defer umount -l "$SCRATCH/$b"
done
mkimg bkf/fs.img 32
mkimg bkb/bound.img 8
mkdata d1 1024
mkdata d2 1024

# device 1: holds a mounted ext4
n1=$(lctl "$CTL" get_free) || fail "lctl $CTL get_free: $n1"
assert_num "$n1" "GET_FREE"
losetup "$A/loop$n1" bkf/fs.img || fail "losetup $A/loop$n1 fs.img"
mkfs.ext4 -q "$A/loop$n1" || fail "mkfs.ext4"
mkdir -p m
mount "$A/loop$n1" m || fail "mount $A/loop$n1 m"
defer umount m
{ cp d1 m/d1 && sync; } || fail "write d1"
# device 2: bound, not open
n2=$(lctl "$CTL" get_free) || fail "lctl $CTL get_free: $n2"
assert_num "$n2" "GET_FREE (2)"
assert_ne "$n2" "$n1" "second device"
losetup "$A/loop$n2" bkb/bound.img || fail "losetup $A/loop$n2 bound.img"
# device 3: unbound
n3=$(lctl "$CTL" get_free) || fail "lctl $CTL get_free: $n3"
assert_num "$n3" "GET_FREE (3)"
[ "$n3" != "$n1" ] && [ "$n3" != "$n2" ] || fail "GET_FREE returned a bound device ($n3)"

umount "$A" || fail "umount of the loopfs instance (a device holds a mounted ext4) failed"
mountpoint -q "$A" && fail "$A still a mount point"
ok "loopfs instance unmounted"

wait_gone "/sys/block/loop$n3" 5 || fail "unbound loop$n3 not removed with its instance"
ok "unbound loop$n3 removed with the instance"
wait_gone "/sys/block/loop$n2" 5 || fail "bound, closed loop$n2 not removed with its instance"
ok "bound loop$n2 detached and removed with the instance"
assert_eq "$(bound_devices_of "$SCRATCH/bkb/bound.img")" "" "nothing bound to bound.img"
umount bkb || fail "bound.img still held after its device went (its tmpfs cannot be unmounted)"
ok "backing file bound.img released"

nap 0.5
loop_sys_exists "$n1" || fail "loop$n1 removed while its ext4 is still mounted"
ok "loop$n1 (mounted ext4) still exists"
cmp d1 m/d1 || fail "reading the ext4 after the instance's umount"
{ cp d2 m/d2 && sync; } || fail "writing the ext4 after the instance's umount"
echo 3 >/proc/sys/vm/drop_caches
{ cmp d1 m/d1 && cmp d2 m/d2; } || fail "read back after the instance's umount"
ok "ext4 readable and writable after the instance's umount"

umount m || fail "umount of the ext4"
wait_gone "/sys/block/loop$n1" 10 || fail "loop$n1 still in /sys/block after its ext4 was unmounted"
ok "loop$n1 removed at the ext4's umount"
assert_eq "$(bound_devices_of "$SCRATCH/bkf/fs.img")" "" "nothing bound to fs.img"
e2fsck -fn bkf/fs.img >fsck.out 2>&1 || { cat fsck.out; fail "e2fsck -fn fs.img"; }
ok "e2fsck -fn fs.img clean"
debugfs -R 'cat /d2' bkf/fs.img 2>/dev/null | cmp - d2 || fail "debugfs: d2 in fs.img differs"
ok "data written after the instance's umount is in the image"
umount bkf || fail "fs.img still held after its device went (its tmpfs cannot be unmounted)"
ok "backing file fs.img released"

# indexes released: the numbers can be added again (here through the host)
for n in "$n1" "$n2" "$n3"; do
	got=$(lctl /dev/loop-control add "$n") || fail "lctl /dev/loop-control add $n: $got"
	assert_eq "$got" "$n" "index $n free again (host ADD)"
	got=$(lctl /dev/loop-control remove "$n") || fail "lctl /dev/loop-control remove $n: $got"
	assert_eq "$got" "$n" "host REMOVE $n"
done
