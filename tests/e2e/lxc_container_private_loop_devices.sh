#!/bin/bash
# timeout: 900
# LXC (Debian 12's 5.0.2) runs an unprivileged container (root mapped to
# host uid 400000, lxc-start by the host's root) whose config is what a
# user writes: Debian's common.conf and userns.conf, the container's own
# lines, and the loopfs include as `make install` installs it
# (PREFIX/share/loopfs/lxc/loopfs.conf: the lxc.mount.entry of the
# instance, the autodev hook `loopfs-oci-hook --lxc`, the device cgroup
# lines).  Inside, through lxc-attach, unmodified tools only.
#
#   - the hook's LXC mode refuses bad input with a clear message (another
#     hook type, no LXC_ROOTFS_MOUNT, no instance on dev/loopfs, -p 300);
#   - from the host, once the container runs: dev/loopfs in its mount
#     namespace is a loopfs instance mounted nosuid,noexec, the linker is in the container's user,
#     mount and pid namespaces, a child of its init, without capabilities;
#   - inside (lxc-attach): root of a user namespace; /dev has no block
#     node, and no node of the host's loop device (whose sysfs entry it
#     sees), mknod of it fails; sfdisk, `losetup -fP --show`, the linker's
#     /dev/loopNp1 and p2 (blockdev --getsize64), blockdev --setra and
#     --getra (the owner's block ioctls), losetup -l, mkfs.ext4 and
#     mkfs.vfat on the partitions, a file written into the ext4 with
#     debugfs, raw data behind each file system written and read back with
#     direct I/O; a second device set up and detached (losetup -d), its
#     node gone; the device left bound at the end;
#   - while it runs: the host's /sys/block, /dev and /proc/partitions do
#     not list the container's device;
#   - lxc-stop -k: the container's device goes with it (it was bound), and
#     its linker too;
#   - the final mount through LXC's seccomp notify proxy
#     (lxc.seccomp.notify.proxy, a profile with "mount notify", a cookie)
#     and loopfs-mountd -x: unmodified `mount /dev/loopNp1 /tmp/mnt` mounts
#     the container's ext4 nosuid,nodev (locked), a file written reads
#     back, umount; a target whose parent mount is shared (LXC's are) is
#     refused with EINVAL until the container makes it private; refused:
#     the host's loop device through a symlink (ENOENT), a /proc magic link
#     (ELOOP), a relative source (EINVAL), a remount that drops
#     nosuid,nodev (EPERM); a type not in -t and a bind mount are left to
#     the kernel (squashfs fails, the bind works); /dev/null works (the
#     include adds no device rule);
#   - on the host, through a read-only losetup -P of the container's image:
#     e2fsck -fn and fsck.vfat -n are clean, the container's files (the one
#     written with debugfs, the one written through the mount) and raw data
#     are there; loopfs-mountd's log names the container by its cookie, its
#     mount and its refusals, and the connection's end.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../containers.sh"

require_root
require_cmds lxc-start lxc-attach lxc-stop lxc-info lxc-wait make losetup sfdisk mount \
	blockdev mkfs.ext4 mkfs.vfat debugfs e2fsck fsck.vfat cmp dd truncate
require_loopfs
[ -x "$PROJECT/build/userspace/loopfs-oci-hook" ] ||
	fail "no $PROJECT/build/userspace/loopfs-oci-hook (make userspace)"
MC=$PROJECT/build/tools/mountcall
[ -x "$MC" ] || fail "no $MC"

CT=lfs-lxc
HOSTID=400000
LXCP=$SCRATCH/lxc
R=$SCRATCH/rootfs
LOG=$SCRATCH/lxc.log
LX=(-P "$LXCP" -n "$CT")
XSOCK=$SCRATCH/mountd-lxc.sock

# ------------------------------------------------------------ make install
# As a user installs it, under a PREFIX of our own: the include names the
# installed hook and linker.  (-o userspace: what make check built, never
# rebuilt here, on a read-only project)
chmod 755 "$SCRATCH"
make -s -C "$PROJECT" -o userspace install PREFIX="$SCRATCH/usr" >install.log 2>&1 ||
	{ print_file install.log; fail "make install PREFIX=$SCRATCH/usr"; }
INC=$SCRATCH/usr/share/loopfs/lxc/loopfs.conf
HOOK=$SCRATCH/usr/libexec/loopfs/loopfs-oci-hook
file_has "$INC" "lxc.hook.autodev = $HOOK --lxc -l $SCRATCH/usr/bin/loopfs-link" ||
	{ print_file "$INC"; fail "the installed include does not name the installed hook and linker"; }
ok "make install PREFIX=$SCRATCH/usr: $INC names the installed hook and linker"

# loopfs-mountd -x: LXC's seccomp notify proxy
start_mountd "$SCRATCH/mountd.log" "$XSOCK" \
	"$SCRATCH/usr/bin/loopfs-mountd" -v -x "$XSOCK" -i /dev/loopfs -t ext4,vfat

# ---------------------------------------------- the hook's LXC mode, bad input
mkdir -p bad/dev
bad_lxc() { # WHAT WANT_IN_MESSAGE ENV... -- ARGS...
	local what=$1 want=$2 env=()
	shift 2
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	hook_refuses "hook --lxc, $what" "$want" bad/dev env "${env[@]}" "$HOOK" --lxc "$@"
}
bad_lxc "no LXC_ROOTFS_MOUNT" "LXC_ROOTFS_MOUNT is not set" -u LXC_ROOTFS_MOUNT -- "$CT" lxc autodev
bad_lxc "a relative LXC_ROOTFS_MOUNT" "not an absolute path" LXC_ROOTFS_MOUNT=bad -- "$CT" lxc autodev
bad_lxc "run as a pre-start hook" 'run as an LXC "pre-start" hook' LXC_ROOTFS_MOUNT="$PWD/bad" -- "$CT" lxc pre-start
bad_lxc "run as a mount hook (hook version 1)" 'run as an LXC "mount" hook' \
	LXC_ROOTFS_MOUNT="$PWD/bad" LXC_HOOK_TYPE=mount --
bad_lxc "no instance on dev/loopfs" "is no loopfs instance" LXC_ROOTFS_MOUNT="$PWD/bad" -- "$CT" lxc autodev
bad_lxc "-p 300" 'want a number of partitions from 0 to 255' LXC_ROOTFS_MOUNT="$PWD/bad" -- -p 300

# ------------------------------------------------------------------ set-up
host_device host.img 4
hn=$HOST_NUM

# LXC maps ids with the setuid newuidmap when there is one, which wants
# the range in /etc/subuid and /etc/subgid, as a user gives it
for f in subuid subgid; do
	echo "root:$HOSTID:65536" >"$f" && mount --bind "$SCRATCH/$f" "/etc/$f" ||
		fail "binding /etc/$f"
	defer umount "/etc/$f"
done

# The root (ct_rootfs; the config binds the host's /usr, /etc and the
# project, and the container's directory at /ct)
ct_rootfs "$R"
mkdir -p "$LXCP/$CT" || fail "mkdir $LXCP/$CT"
mkdir -p ct && echo "$hn" >ct/host-num && chown -R "$HOSTID:$HOSTID" ct ||
	fail "the container's directory"

# The container's config, as a user writes it for an unprivileged
# container: Debian's common and userns includes, then loopfs' as installed;
# the seccomp profile is Debian's common one plus mount (notify) and fsopen
# (ENOSYS, for a libmount that would use it), and the proxy is loopfs-mountd.
# (common.seccomp ends in its [all] section; /etc is an rbind: the subuid
# binds below it would be locked in the container, and the kernel refuses
# a plain bind that would uncover them)
{
	cat /usr/share/lxc/config/common.seccomp
	echo "mount notify"
	echo "fsopen errno 38"
} >lxc.seccomp || fail "writing lxc.seccomp"
cat >"$LXCP/$CT/config" <<EOF || fail "writing the config"
lxc.include = /usr/share/lxc/config/common.conf
lxc.include = /usr/share/lxc/config/userns.conf
lxc.uts.name = $CT
lxc.rootfs.path = dir:$R
lxc.idmap = u 0 $HOSTID 65536
lxc.idmap = g 0 $HOSTID 65536
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
lxc.console.path = none
lxc.tty.max = 0
lxc.mount.entry = /usr usr none rbind,ro 0 0
lxc.mount.entry = /etc etc none rbind,ro 0 0
lxc.mount.entry = $PROJECT project none bind,ro 0 0
lxc.mount.entry = $SCRATCH/ct ct none bind 0 0
lxc.mount.entry = tmpfs tmp tmpfs nosuid,nodev,size=16m 0 0
lxc.init.cmd = /usr/bin/sleep 1000000
lxc.seccomp.profile = $SCRATCH/lxc.seccomp
lxc.seccomp.notify.proxy = unix:$XSOCK
lxc.seccomp.notify.cookie = $CT
lxc.include = $INC
EOF

# ------------------------------------------------------------ the container
lxc_show() {
	echo "--- lxc-start's log:"
	print_file "$LOG"
	echo "---"
}
lxc-start "${LX[@]}" -d -o "$LOG" -l INFO </dev/null || { lxc_show; fail "lxc-start $CT"; }
defer lxc-stop "${LX[@]}" -k
lxc-wait "${LX[@]}" -s RUNNING -t 300 || { lxc_show; fail "$CT is not RUNNING after 300 s"; }
pid=$(lxc-info "${LX[@]}" -p -H) && [ -n "$pid" ] || { lxc_show; fail "lxc-info -p"; }
ok "lxc-start $CT: init pid $pid"

# The instance and the linker, seen from the host
read -r u hu cnt <"/proc/$pid/uid_map"
assert_eq "$u $hu $cnt" "0 $HOSTID 65536" "$CT's uid_map"
assert_dev_instance "$CT" "$pid"
linker_of "$pid" >/dev/null || { lxc_show; fail "no loopfs-link in $CT's pid namespace"; }
assert_linker_of "$pid" "$CT" user mnt pid
lp=$LINKER_PID

# ------------------------------------------------------ the container's side
cat >ct/ct.sh <<'EOF' || fail "writing ct.sh"
# ct.sh: what the container does, through lxc-attach (unmodified tools)
. /project/tests/lib.sh
. /project/tests/containers.sh
me=lxc
assert_uid_map "0 400000 65536"
assert_no_block_node
echo x >/dev/null || fail "[$me] cannot write /dev/null"
ok "[$me] /dev/null works (no device rule of ours in the way)"
read -r hn </ct/host-num || fail "[$me] no /ct/host-num"
assert_host_loop_unreachable "$hn"

ct_disk /ct/disk.img
n=$N
blockdev --setra 1024 "/dev/loop$n" || fail "[$me] blockdev --setra 1024 /dev/loop$n"
assert_eq "$(blockdev --getra "/dev/loop$n")" 1024 "[$me] blockdev --setra by the owner"
echo "$n" >/ct/num
# (our root is host uid 400000)
ct_fill_disk "$n" lxc-ext4 LXCFAT 400000

# The final mount, by loopfs-mountd through LXC's proxy
MC=/project/build/tools/mountcall
got=$(file_last_match /proc/self/status '^Seccomp:') || fail "[$me] no Seccomp in /proc/self/status"
assert_eq "$got" $'Seccomp:\t2' "[$me] under LXC's seccomp filter"
mkdir -p /tmp/mnt || fail "[$me] mkdir /tmp/mnt"
expect_errno EINVAL "[$me] a target whose parent mount is shared (LXC's are)" \
	"$MC" mount "/dev/loopfs/loop${n}p1" /tmp/mnt ext4 0
mount --make-private /tmp || fail "[$me] mount --make-private /tmp"
mount "/dev/loop${n}p1" /tmp/mnt || fail "[$me] mount /dev/loop${n}p1 /tmp/mnt"
assert_locked_mount /tmp/mnt ext4 "/dev/loopfs/loop${n}p1" "[$me] mount /dev/loop${n}p1 /tmp/mnt (by loopfs-mountd)"
mkdata /ct/mnt.bin 200
cp /ct/mnt.bin /tmp/mnt/mnt.bin && sync /tmp/mnt/mnt.bin || fail "[$me] writing /tmp/mnt/mnt.bin"
cmp /tmp/mnt/mnt.bin /ct/mnt.bin || fail "[$me] /tmp/mnt/mnt.bin does not read back"
ok "[$me] a file written into the mount reads back"
expect_errno EPERM "[$me] a remount without nosuid,nodev" "$MC" mount - /tmp/mnt - remount,bind
umount /tmp/mnt || fail "[$me] umount /tmp/mnt"
assert_not_mounted /tmp/mnt "[$me] umount /tmp/mnt"
ln -s "/dev/loop$hn" /tmp/hostlink || fail "[$me] ln -s"
expect_errno ENOENT "[$me] the host's loop$hn through a symlink" "$MC" mount /tmp/hostlink /tmp/mnt ext4 0
ln -s "/proc/1/root/dev/loopfs/loop${n}p1" /tmp/magic || fail "[$me] ln -s"
expect_errno ELOOP "[$me] a /proc magic link" "$MC" mount /tmp/magic /tmp/mnt ext4 0
expect_errno EINVAL "[$me] a relative source" "$MC" mount "dev/loopfs/loop${n}p1" /tmp/mnt ext4 0
expect_fail "[$me] mount -t squashfs (not in -t: left to the kernel)" \
	mount -t squashfs "/dev/loop${n}p1" /tmp/mnt
assert_not_mounted /tmp/mnt "[$me] after the refusals"
mkdir -p /tmp/b && mount --bind /ct /tmp/b && [ -e /tmp/b/host-num ] && umount /tmp/b ||
	fail "[$me] a bind mount (left to the kernel)"
ok "[$me] a bind mount is left to the kernel, and works"

truncate -s 4M /ct/x.img || fail "[$me] truncate"
x=$(losetup -f --show /ct/x.img) || fail "[$me] losetup -f --show x.img"
k=$(num_of_dev "$x") || fail "[$me] losetup printed '$x'"
assert_ne "$k" "$n" "[$me] the second device"
losetup -d "$x" || fail "[$me] losetup -d $x"
rm "/dev/loopfs/loop$k" || fail "[$me] rm /dev/loopfs/loop$k"
wait_gone "/dev/loop$k" 20 || fail "[$me] the link /dev/loop$k stays after loop$k went"
ok "[$me] loop$k set up, detached and removed; its link went"
ok "[$me] /dev/loop$n left bound to disk.img"
echo ok >/ct/done
EOF

lxc-attach "${LX[@]}" --clear-env \
	-v PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	-v PROJECT=/project -v SCRATCH=/ct -v HOME=/ct -v LC_ALL=C \
	-v "TEST_NAME=$TEST_NAME[lxc]" -v LIB_IN_CONTAINER=1 \
	-- /bin/bash -c 'cd /ct && exec /bin/bash /ct/ct.sh' >ct.log 2>&1 </dev/null
rc=$?
print_file ct.log
[ $rc -eq 0 ] && [ -e ct/done ] || { lxc_show; fail "the container's script failed (status $rc)"; }
n=$(cat ct/num) || fail "no device number from the container"

# ------------------------------------------------ the host, while it runs
assert_absent "/sys/block/loop$n" "the host's sysfs does not list $CT's loop$n"
assert_absent "/dev/loop$n" "the host's /dev has no loop$n"
! file_last_match /proc/partitions "[[:space:]]loop$n\$" >/dev/null ||
	fail "the host's /proc/partitions lists $CT's loop$n"
ok "the host's /proc/partitions does not list $CT's loop$n"

# ----------------------------------------------------------------- the end
lxc-stop "${LX[@]}" -k || { lxc_show; fail "lxc-stop -k $CT"; }
_gone_num() { ! loop_sys_exists "$1" && [ ! -e "/proc/$2" ]; }
wait_until 60 _gone_num "$n" "$lp" ||
	fail "loop$n (bound) or the linker (pid $lp) outlived $CT"
ok "lxc-stop -k: $CT's bound loop$n and its linker went with it"

# The container's work, checked on the host through a read-only device
image_fsck ct/disk.img
dev=$IMG_DEV
check_filled_disk "$dev" ct "$CT's disk"
debugfs -R "cat /mnt.bin" "${dev}p1" 2>/dev/null | cmp - ct/mnt.bin ||
	fail "$CT's mnt.bin (written through the supervised mount) is not in its ext4"
ok "$CT's file written through the supervised mount reads back on the host"

mountd_log_has "cookie $CT): serving its mount(2) calls"
mountd_log_has "mounted /dev/loopfs/loop${n}p1 on /tmp/mnt type ext4"
mountd_log_has "refused mount of /tmp/hostlink on /tmp/mnt type ext4"
wait_until 30 file_has "$MOUNTD_LOG" "cookie $CT): connection closed" ||
	{ print_file "$MOUNTD_LOG"; fail "loopfs-mountd never saw $CT's connection close"; }
ok "loopfs-mountd's log: $CT's connection closed"
