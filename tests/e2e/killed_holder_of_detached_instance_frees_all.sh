#!/bin/bash
# timeout: 300
# Contract clause 6.2 (with 6.1, 6.3 and 5.1): a process holding a detached
# instance only through fds (tests/tools/loopfs-holder) adds three devices,
# binds two (an ext4 image, a raw file), mounts the ext4 from one through
# /proc/self/fd/N in its private mount namespace, writes data, syncs,
# signals ready and keeps writing; then it gets SIGKILL.  Asserted: none of
# its devices remains in /sys/block or /proc/partitions, the indexes are free
# and every charge was given back (with max_loop_devices=3 a fresh instance
# adds exactly the three indexes, then fails with ENOSPC), the
# image is clean (e2fsck -fn) and holds the synced data.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds mkfs.ext4 e2fsck debugfs cmp
require_loopfs
HOLDER=$PROJECT/build/tools/loopfs-holder
STRESS=$PROJECT/build/tools/loopfs-stress
[ -x "$HOLDER" ] && [ -x "$STRESS" ] || skip "tools not built (scripts/build-selftests.sh)"

mkfs.ext4 -q fs.img 32M || fail "mkfs.ext4 fs.img"
mkdata data 2048

"$HOLDER" "$SCRATCH/fs.img" "$SCRATCH/raw.img" "$SCRATCH/data" "$SCRATCH/ready" 2>holder.err &
pid=$!
defer kill -9 "$pid"
wait_file_while ready 120 "$pid" || { print_file holder.err; fail "the holder did not get ready ($WAIT_WHY)"; }
read -r a b c fa fb mnt <ready
for n in "$a" "$b" "$c"; do assert_num "$n" "device number"; done
info "holder $pid: loop$a (ext4), loop$b (raw), loop$c (unbound), ext4 at $mnt in its namespace"
for n in "$a" "$b" "$c"; do
	loop_sys_exists "$n" || fail "loop$n not in /sys/block while held"
done
assert_eq "$(bound_devices_of "$SCRATCH/fs.img")" "loop$a" "loop$a bound to fs.img"
[ -e "/proc/$pid/root$mnt/data" ] || fail "the ext4 is not mounted in the holder's namespace"
ok "ext4 mounted from loop$a in the holder's namespace"
nap 1	# let the unsynced appends run

kill -9 "$pid"
wait "$pid" 2>/dev/null
ok "holder killed"
for n in "$a" "$b" "$c"; do
	wait_gone "/sys/block/loop$n" 15 || fail "loop$n outlived its killed holder"
done
ok "loop$a, loop$b, loop$c gone from /sys/block"
while read -r _ _ _ name; do
	case $name in
	"loop$a" | "loop$a"p* | "loop$b" | "loop$b"p* | "loop$c" | "loop$c"p*) fail "$name still in /proc/partitions" ;;
	esac
done </proc/partitions
ok "none of them in /proc/partitions"
assert_eq "$(bound_devices_of "$SCRATCH/fs.img")" "" "nothing bound to fs.img"

# indexes and charges: with max_loop_devices=3, a fresh instance adds
# exactly the holder's three indexes and then fails with ENOSPC
"$STRESS" --limit-check 3 "$a" "$b" "$c" >limit.out 2>&1
rc=$?
print_file limit.out
[ $rc -eq 0 ] || fail "limit check: an index or a charge of the killed holder was not given back"
ok "indexes $a $b $c free again; charges given back: max_loop_devices=3 allows exactly 3 adds"

e2fsck -fn fs.img >fsck.out 2>&1 || { print_file fsck.out; fail "e2fsck -fn fs.img after the kill"; }
ok "e2fsck -fn fs.img clean"
debugfs -R 'cat /data' fs.img 2>/dev/null | cmp - data || fail "/data in fs.img differs from what was synced"
ok "the synced 2 MiB are in the image"
