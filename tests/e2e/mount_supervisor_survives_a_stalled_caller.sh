#!/bin/bash
# timeout: 600
# A container cannot stop the mount supervisor (userspace/loopfs-mountd)
# for the other containers by making the reading of its mount(2) arguments
# stall.
#
# Container S (tests/tools/fuse-stall, root of a user namespace, under
# tests/tools/seccomp-launch like the other) mounts a FUSE filesystem of its
# own whose server never answers a READ, maps a file of it and calls
# mount(2) -t ext4 with the source string on that page: whoever reads it
# through /proc/PID/mem waits in the page fault for as long as S likes.
# Container G, under the same supervisor, has a loopfs instance of its own
# and an ext4 image on one of its devices.  While S's mount(2) is stalled:
#   - G's mount(2) of its node is done by the supervisor, before S's call
#     is answered at all;
#   - S's mount(2) is then answered EAGAIN (the supervisor's deadline for
#     reading and checking a request), and the supervisor logs it.
# Then S (the tool and its FUSE server) is killed: the supervisor is alive,
# forgets S (its "gone" line), has no process of its own left and no more
# descriptors than before S came, and does G's second mount.
. "$(dirname "$0")/../lib.sh"

require_root
require_cmds unshare losetup mkfs.ext4 umount
require_loopfs
need_loopctl
[ -c /dev/fuse ] || fail "no /dev/fuse (CONFIG_FUSE_FS)"

MOUNTD=${MOUNTD:-$PROJECT/build/userspace/loopfs-mountd}
LAUNCH=${LAUNCH:-$PROJECT/build/tools/seccomp-launch}
MOUNTCALL=${MOUNTCALL:-$PROJECT/build/tools/mountcall}
FUSE_STALL=${FUSE_STALL:-$PROJECT/build/tools/fuse-stall}
for t in "$MOUNTD" "$LAUNCH" "$MOUNTCALL" "$FUSE_STALL"; do
	[ -x "$t" ] || fail "no $t (make userspace; scripts/build-selftests.sh)"
done

W=$SCRATCH/w
INST=$SCRATCH/inst		# -i: where each container has its instance
SOCK=$SCRATCH/mountd.sock
LOG=$SCRATCH/mountd.log
mkdir -p "$W/gm" "$W/fuse" "$INST" || fail "mkdir"
mkimg "$W/g.img" 8
mkfs.ext4 -q "$W/g.img" || fail "mkfs.ext4 g.img"
export W INST MOUNTCALL

start_mountd "$LOG" "$SOCK" "$MOUNTD" -v -s "$SOCK" -i "$INST" -t ext4
mpid=$MOUNTD_PID

# nlines FILE: its number of lines (no exec)
nlines() {
	local n=0
	while IFS= read -r _; do n=$((n + 1)); done <"$1"
	echo "$n"
}
s_answered() { [ "$(nlines s.out)" -ge 2 ]; }

# line_no FILE REGEX: the number of the first line of FILE matching REGEX
line_no() {
	local l n=0
	while IFS= read -r l || [ -n "$l" ]; do
		n=$((n + 1))
		[[ $l =~ $2 ]] && { echo "$n"; return 0; }
	done <"$1"
	return 1
}

# children_of PID: the processes whose parent is PID (no exec)
children_of() {
	local f st a
	for f in /proc/[0-9]*/stat; do
		read -r st <"$f" 2>/dev/null || continue
		a=(${st##*) })
		[ "${a[1]}" = "$1" ] && echo "${f//[^0-9]/}"
	done
	return 0
}
no_children() { [ -z "$(children_of "$mpid")" ]; }

# The pid the supervisor logs for the container that came last
last_ctr_pid() {
	local line
	line=$(file_last_match "$LOG" 'container test \(pid [0-9]+\): serving') || return 1
	[[ $line =~ \(pid\ ([0-9]+)\) ]] && echo "${BASH_REMATCH[1]}"
}

# ------------------------------------------------------------ container G
# Its instance at $INST, loopN bound to g.img; then, for each go file, one
# supervised mount of loopN on $W/gm: the result in g.resN ("ok ext4 SRC"
# or what went wrong).
g_side() {
	local n r round
	echo "$$" >"$W/g.pid"
	mount -t loopfs none "$INST" || fail "[G] mount -t loopfs"
	n=$(lctl "$INST/loop-control" get_free) || fail "[G] GET_FREE: $n"
	assert_num "$n" "[G] GET_FREE"
	losetup "$INST/loop$n" "$W/g.img" || fail "[G] losetup loop$n g.img"
	touch "$W/g.ready"
	for round in 1 2; do
		wait_file "$W/g.go$round" 600 || fail "[G] no go $round"
		r=$("$MOUNTCALL" mount "$INST/loop$n" "$W/gm" ext4 0 2>&1)
		if mnt_get "$W/gm"; then
			r="$r $MNT_TYPE $MNT_SRC"
			umount "$W/gm" || r="$r (umount failed)"
		fi
		echo "$r" >"$W/g.res$round"
	done
	losetup -d "$INST/loop$n"
}
export -f g_side

LIB_IN_CONTAINER=1 "$LAUNCH" "$SOCK" -- \
	unshare --user --map-root-user --mount --propagation private \
	bash -c '. "$LIB_SH" && g_side' >g.log 2>&1 &
g=$!
defer kill "$g"
wait_file_while "$W/g.ready" 300 "$g" || { cat g.log "$LOG"; fail "G did not get ready ($WAIT_WHY)"; }
read -r gp <"$W/g.pid" && defer kill "$gp"
gpid=$(last_ctr_pid) || fail "the supervisor did not log G"
ok "G (pid $gpid): its instance at $INST, a device bound to g.img"

fds=(/proc/"$mpid"/fd/*)
nfds=${#fds[@]}

# ------------------------------------------------------------ container S
"$LAUNCH" "$SOCK" -- unshare --user --map-root-user --mount --propagation private \
	"$FUSE_STALL" "$W/fuse" source "$W/s.ready" >s.out 2>s.err &
s=$!
defer kill "$s"
wait_file_while "$W/s.ready" 120 "$s"
rc=$?
read -r _ stool sserver <s.out
[ -n "${sserver:-}" ] && defer kill -KILL "$stool" "$sserver"
[ $rc = 0 ] || { cat s.out s.err "$LOG"; fail "S did not stall ($WAIT_WHY)"; }
spid=$(last_ctr_pid) || fail "the supervisor did not log S"
[ "$spid" != "$gpid" ] || fail "the supervisor did not log S"
ok "S (pid $spid): its FUSE server has a READ it never answers (the supervisor reads S's source)"

# ---------------------------------------------- G is served while S stalls
t0=$SECONDS
: >"$W/g.go1"
if ! wait_until 60 test -e "$W/g.res1"; then
	read -r st </proc/"$mpid"/stat
	st=${st##*) }
	read -r wchan </proc/"$mpid"/wchan
	print_file "$LOG"
	fail "G's mount(2) hung for 60 s while S stalls: the supervisor is held up (state ${st%% *}, in ${wchan:-?})"
fi
read -r r <"$W/g.res1"
assert_eq "$r" "ok ext4 $INST/loop${r##*/loop}" "G's mount while S stalls"
ok "G's mount done in $((SECONDS - t0)) s"

# ------------------------------------------------ S is answered, not served
wait_until 60 s_answered || { print_file "$LOG"; fail "S's mount(2) was never answered"; }
{ read -r _; read -r sres; } <s.out
assert_eq "$sres" "errno=EAGAIN" "S's mount(2) with its source on the stalled page"
line=$(file_last_match "$LOG" "pid $spid: refused mount\(2\): ") ||
	{ print_file "$LOG"; fail "no refusal of S's mount(2) in the log"; }
ok "log: $line"
# (the supervisor's own order: G was not merely served after S's deadline)
gl=$(line_no "$LOG" ": mounted $INST/loop[0-9]+ on $W/gm type ext4 ") ||
	fail "no mount of G's in the log"
sl=$(line_no "$LOG" "pid $spid: refused mount\(2\): ") || fail "no refusal of S's in the log"
[ "$gl" -lt "$sl" ] || { print_file "$LOG"; fail "G's mount was done only after S's call was answered"; }
ok "log: G's mount was done before S's call was answered"
kill -0 "$mpid" || fail "loopfs-mountd died"

# ------------------------------------------------------------ S is killed
kill -KILL "$stool" "$sserver"
wait "$s"
gone() { file_has "$LOG" "container test (pid $spid): gone"; }
wait_until 30 gone || { print_file "$LOG"; fail "the supervisor did not forget S"; }
ok "the supervisor forgot S"
wait_until 30 no_children || fail "the supervisor still has children: $(children_of "$mpid")"
ok "the supervisor has no process left"
kill -0 "$mpid" || fail "loopfs-mountd died"
fds=(/proc/"$mpid"/fd/*)
assert_eq "${#fds[@]}" "$nfds" "the supervisor's descriptors, as before S"

# ------------------------------------------------- still serving G
: >"$W/g.go2"
wait_until 60 test -e "$W/g.res2" || { print_file "$LOG"; fail "G's second mount(2) hung"; }
read -r r <"$W/g.res2"
assert_eq "$r" "ok ext4 $INST/loop${r##*/loop}" "G's mount after S is gone"
wait "$g" || { cat g.log; fail "G failed"; }

kill "$mpid" && wait "$mpid"
print_file "$LOG"
