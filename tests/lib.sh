# shellcheck shell=bash
# tests/lib.sh - helpers shared by tests/e2e, tests/stock, tests/bench and
# tests/demo.sh.  Source it first thing:
#
#     . "$(dirname "$0")/../lib.sh"
#
# Conventions (set by the guest harness, with fallbacks for a manual run):
#   cwd / $TMPDIR   a fresh tmpfs scratch directory, private to the test
#   $PROJECT        the project directory (read-only)
#   $RESULTS        a writable directory for results
#   $LOOPCTL        the loopctl tool (tests/tools/loopctl.c), default
#                   $PROJECT/build/tools/loopctl
#   $LOOPFS_LINK    the node linker (userspace/loopfs-link.c), default
#                   $PROJECT/build/userspace/loopfs-link
# Exit status: 0 pass, 1 fail, 77 skip.
#
# Do not use process substitution <(...) in tests: the guest's devtmpfs has
# no /dev/fd.
#
# fail (and skip) exit the shell they run in: inside $(...) that is only
# the subshell, and the test would go on with an empty or wrong value.  So
# the output of a helper that can fail (lctl, node_devnum, num_of_dev,
# file_last_match, a test's own helpers that call fail) is always taken as
#
#     v=$(helper ...) || fail "what went wrong: $v"
#
# and then used, never inside another command's arguments
# (assert_eq "$(helper ...)" ... passes when two failures print the same).
#
# Sourcing this file installs an EXIT trap that runs the clean-ups registered
# with defer (last first) and then checks that the set of loop devices in
# /sys/block is what it was when the test started: a test that leaves a loop
# device behind fails ("no device outlives its instance", and hygiene for the
# tests that run after it in the same boot).
#
# Containers: ct_run runs a command in new mount and pid namespaces whose /dev
# is a fresh tmpfs holding null, zero, ..., a private loopfs instance at
# /dev/loopfs, the symlink /dev/loop-control -> loopfs/loop-control and, as
# a container manager would run it, the node linker (userspace/loopfs-link)
# that keeps /dev/loopN -> loopfs/loopN (and loopNpM) links: unmodified
# util-linux composes /dev/loopN itself after LOOP_CTL_GET_FREE.  The tests
# of real container managers (crun, runc, LXC) source containers.sh too.

set -u
set -o pipefail
export LC_ALL=C

# (few forks and execs here: on the debug guest kernel under TCG one exec
# costs seconds)
TESTS_DIR=${BASH_SOURCE[0]%/*}
[ "$TESTS_DIR" != "${BASH_SOURCE[0]}" ] || TESTS_DIR=.
case $TESTS_DIR in
/*) ;;
*) TESTS_DIR=$PWD/$TESTS_DIR ;;
esac
LIB_SH=$TESTS_DIR/lib.sh
PROJECT=${PROJECT:-${TESTS_DIR%/*}}
LOOPCTL=${LOOPCTL:-$PROJECT/build/tools/loopctl}
LOOPFS_LINK=${LOOPFS_LINK:-$PROJECT/build/userspace/loopfs-link}
RESULTS=${RESULTS:-}
if [ -z "${TEST_NAME:-}" ]; then
	TEST_NAME=${0##*/}
	TEST_NAME=${TEST_NAME%.sh}
fi
PATH=$PATH:/sbin:/usr/sbin
export PROJECT LOOPCTL LOOPFS_LINK LIB_SH TESTS_DIR TEST_NAME PATH

# ---------------------------------------------------------------- reporting

info() { echo "  .. $*"; }
ok() { echo "  ok $*"; }

fail() {
	echo "FAIL: ${TEST_NAME}: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: ${TEST_NAME}: $*"
	exit 77
}

# print_file FILE: print FILE (without an exec: one costs seconds on the debug
# guest kernel)
print_file() {
	local l
	while IFS= read -r l || [ -n "$l" ]; do
		printf '%s\n' "$l"
	done <"$1"
}

# file_has FILE TEXT: a line of FILE contains TEXT (false if FILE is missing)
file_has() {
	local l
	[ -e "$1" ] || return 1
	while IFS= read -r l || [ -n "$l" ]; do
		[[ $l == *"$2"* ]] && return 0
	done <"$1"
	return 1
}

# file_last_match FILE REGEX: print the last line of FILE matching REGEX
file_last_match() {
	local l r=
	while IFS= read -r l || [ -n "$l" ]; do
		[[ $l =~ $2 ]] && r=$l
	done <"$1"
	[ -n "$r" ] && printf '%s\n' "$r"
}

# ----------------------------------------------------------------- clean-up

_LIB_DEFER=()

# defer CMD [ARGS...]: run CMD at exit (last registered runs first).
defer() {
	_LIB_DEFER+=("$(printf '%q ' "$@")")
}

_lib_run_deferred() {
	local i
	for ((i = ${#_LIB_DEFER[@]} - 1; i >= 0; i--)); do
		eval "${_LIB_DEFER[i]}" >/dev/null 2>&1 || true
	done
	_LIB_DEFER=()
}

# lines_not_in A B: the lines of A that are not lines of B (no process
# substitution: the guest's devtmpfs has no /dev/fd)
lines_not_in() {
	local -A seen=()
	local l
	while IFS= read -r l; do
		[ -n "$l" ] && seen[$l]=1
	done <<<"$2"
	while IFS= read -r l; do
		[ -n "$l" ] && [ -z "${seen[$l]:-}" ] && echo "$l"
	done <<<"$1"
	return 0
}

# loop_list_to VAR: the loop devices in /sys/block, one name a line (glob
# order), into VAR (no subshell: a fork costs on the debug guest kernel)
loop_list_to() {
	local _d _l=
	for _d in /sys/block/loop*; do
		_d=${_d##*/}
		[[ $_d =~ ^loop[0-9]+$ ]] && _l+=$_d$'\n'
	done
	printf -v "$1" '%s' "${_l%$'\n'}"
}

_lib_on_exit() {
	local rc=$?
	trap - EXIT
	set +e
	_lib_run_deferred
	if [ -z "${LIB_IN_CONTAINER:-}" ]; then
		if [ -n "${_LIB_BASELINE+x}" ] && [ "${LIB_NO_LEAK_CHECK:-}" != 1 ]; then
			local now end=$((SECONDS + 11))
			# removal at last close may be asynchronous: give it time
			while loop_list_to now; [ "$now" != "$_LIB_BASELINE" ] && [ $SECONDS -lt $end ]; do
				nap 0.2
			done
			if [ "$now" != "$_LIB_BASELINE" ]; then
				echo "FAIL: ${TEST_NAME}: loop devices differ from the start of the test:" >&2
				echo "  left over: $(lines_not_in "$now" "$_LIB_BASELINE" | tr '\n' ' ')" >&2
				echo "  gone: $(lines_not_in "$_LIB_BASELINE" "$now" | tr '\n' ' ')" >&2
				[ $rc -eq 0 ] && rc=1
			fi
		fi
		[ -n "${_LIB_OWN_SCRATCH:-}" ] && cd / && rm -rf "$_LIB_OWN_SCRATCH"
		case $rc in
		0) echo "PASS: ${TEST_NAME}" ;;
		77) ;;
		*) echo "FAIL: ${TEST_NAME} (exit $rc)" >&2 ;;
		esac
	fi
	exit $rc
}

trap _lib_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --------------------------------------------------------------- scratch dir

if [ -z "${LIB_IN_CONTAINER:-}" ]; then
	SCRATCH=${SCRATCH:-$PWD}
	# never write images into the project (a manual run from the repo)
	case $SCRATCH/ in
	"$PROJECT"/*) SCRATCH= ;;
	esac
	if [ -z "$SCRATCH" ] || [ ! -w "$SCRATCH" ]; then
		_LIB_OWN_SCRATCH=$(mktemp -d /tmp/loopfs-test.XXXXXX) || fail "mktemp"
		SCRATCH=$_LIB_OWN_SCRATCH
	fi
	cd "$SCRATCH" || fail "cd $SCRATCH"
	SCRATCH=$PWD
	export SCRATCH
	export TMPDIR=${TMPDIR:-$SCRATCH}
	loop_list_to _LIB_BASELINE
fi

# nap SECONDS: sleep without starting a process (read -t on a FIFO nobody
# writes); falls back to sleep(1)
_LIB_NAP_FD=
nap() {
	if [ -z "$_LIB_NAP_FD" ]; then
		local f=$SCRATCH/.nap.$BASHPID.$RANDOM
		if mkfifo "$f" 2>/dev/null && exec {_LIB_NAP_FD}<>"$f"; then
			rm -f "$f"
		else
			_LIB_NAP_FD=none
		fi
	fi
	if [ "$_LIB_NAP_FD" = none ]; then
		sleep "$1"
	else
		read -r -t "$1" -u "$_LIB_NAP_FD" _ || true
	fi
}

# --------------------------------------------------------------- requirements

require_root() {
	[ "$EUID" = 0 ] || skip "needs real root"
}

require_cmds() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "missing tool: $c"
	done
}

# check_holds OUT TOOL SEED: the summary line of TOOL's holds on nodes in
# OUT (loopfs-fuzz, loopfs-stress) shows 10 holds at least and no
# violation of contract clause 1.7 (a held node of a gone device or
# partition that opens, a held number reused).
check_holds() {
	local out=$1 tool=$2 seed=$3 line v h
	line=$(file_last_match "$out" "^$tool: holds taken [0-9]+ ") ||
		fail "no line with the hold moves (seed $seed)"
	v=${line##*violations }
	assert_num "$v" "violations"
	[ "$v" -eq 0 ] || fail "$v violations (seed $seed)"
	h=${line#"$tool: holds taken "}
	h=${h%% *}
	assert_num "$h" "holds taken"
	[ "$h" -ge 10 ] || fail "only $h holds taken (seed $seed)"
	ok "$h holds on nodes, no violation: ${line#"$tool: "}"
}

# raise_max_loop_devices N: let the test's user hold at least N devices and
# partitions in loopfs instances (the default, 256, is meant to be small);
# the old limit is restored when the test ends.
raise_max_loop_devices() {
	local f=/proc/sys/user/max_loop_devices old
	read -r old <"$f" || return 1
	[ "$old" -lt "$1" ] || return 0
	echo "$1" >"$f" || return 1
	defer eval "echo $old >$f"
}

loopfs_available() {
	grep -qw loopfs /proc/filesystems
}

require_loopfs() {
	loopfs_available || fail "loopfs is not in /proc/filesystems (is this the loopfs kernel?)"
}

need_loopctl() {
	[ -x "$LOOPCTL" ] || skip "loopctl tool not built: $LOOPCTL (gcc -O2 -static -o build/tools/loopctl tests/tools/loopctl.c)"
}

# lctl CONTROL CMD [ARGS]: the loopctl tool; prints a number or errno=NAME.
lctl() {
	"$LOOPCTL" "$@"
}

# ------------------------------------------------------------------ asserts

assert_eq() { # GOT WANT WHAT
	[ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
	ok "$3 ($1)"
}

assert_ne() { # GOT UNWANTED WHAT
	[ "$1" != "$2" ] || fail "$3: got '$1', must differ"
	ok "$3 ($1 != $2)"
}

assert_num() { # VALUE WHAT
	[[ $1 =~ ^[0-9]+$ ]] || fail "$2: not a number: '$1'"
}

assert_exists() { # PATH WHAT
	[ -e "$1" ] || fail "${2:-$1}: $1 does not exist"
	ok "${2:-exists}: $1"
}

assert_absent() { # PATH WHAT
	if [ -e "$1" ] || [ -L "$1" ]; then
		fail "${2:-$1}: $1 exists"
	fi
	ok "${2:-absent}: $1 absent"
}

assert_blk() { # PATH WHAT
	[ -b "$1" ] || fail "${2:-block node}: $1 is not a block device node"
	ok "${2:-block node}: $1"
}

# expect_ok WHAT CMD...: CMD must succeed.
expect_ok() {
	local what=$1 out
	shift
	out=$("$@" 2>&1) || fail "$what: '$*' failed: $out"
	ok "$what"
}

# expect_errno ERRNAME WHAT CMD...: CMD (loopctl) must fail printing errno=ERRNAME.
expect_errno() {
	local want=$1
	shift
	expect_fail_msg "errno=$want" "$@"
}

# expect_fail_msg MESSAGE WHAT CMD...: CMD must fail and say MESSAGE.
expect_fail_msg() {
	local want=$1 what=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	[ $rc -ne 0 ] || fail "$what: '$*' succeeded, want failure '$want'"
	case $out in
	*"$want"*) ok "$what ($want)" ;;
	*) fail "$what: '$*' failed with '$out', want '$want'" ;;
	esac
}

# expect_fail WHAT CMD...: CMD must fail (any reason).
expect_fail() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		fail "$what: '$*' succeeded, want failure: $out"
	fi
	ok "$what (${out:-failed})"
}

# ------------------------------------------------------------------ waiting

# wait_until TIMEOUT_SECONDS CMD...: poll CMD about every 0.1 s until it
# succeeds (0) or TIMEOUT_SECONDS of real time have passed (1).
wait_until() {
	local end=$((SECONDS + $1 + 1))
	shift
	while ! "$@"; do
		[ $SECONDS -lt $end ] || return 1
		nap 0.1
	done
	return 0
}

_absent() { [ ! -e "$1" ] && [ ! -L "$1" ]; }

# wait_gone PATH [TIMEOUT] / wait_present PATH [TIMEOUT]
wait_gone() { wait_until "${2:-10}" _absent "$1"; }
wait_present() { wait_until "${2:-10}" test -e "$1"; }

# pid_alive PID: process PID runs (exists and is not a zombie: a process
# that is not the shell's own child stays one until its parent reaps it)
pid_alive() {
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}
pid_gone() { ! pid_alive "$1"; }

# wait_while_alive TIMEOUT "PID..." CMD...: poll CMD about every 0.1 s
# until it succeeds (0), as long as every PID lives: 1 once one of them has
# ended (CMD is tried once more then), 2 after TIMEOUT seconds.  WAIT_WHY
# says which.  For a test waiting on the processes it started (containers,
# helpers) that tell it through files when they are ready.
wait_while_alive() {
	local t=$1 end=$((SECONDS + $1 + 1)) pids=$2 p
	shift 2
	WAIT_WHY=
	while ! "$@"; do
		for p in $pids; do
			pid_alive "$p" && continue
			"$@" && return 0
			WAIT_WHY="process $p ended first"
			return 1
		done
		if [ $SECONDS -ge $end ]; then
			WAIT_WHY="not within $t s"
			return 2
		fi
		nap 0.1
	done
	return 0
}

# wait_file_while PATH TIMEOUT PID...: wait_while_alive for a file
wait_file_while() {
	local f=$1 t=$2
	shift 2
	wait_while_alive "$t" "$*" test -e "$f"
}

# ------------------------------------------------------------- loop devices

# loop_sys_exists N: the kernel has device loopN
loop_sys_exists() { [ -e "/sys/block/loop$1" ]; }

# loop_bound N: loopN is bound to a backing file
loop_bound() { [ -e "/sys/block/loop$1/loop/backing_file" ]; }

# bound_devices_of FILE: the loop devices (loopN, one a line) bound to FILE,
# read from sysfs.  (losetup -j lists only devices with a node at /dev/loopN
# in the caller's /dev, so it does not see instance devices from the host.)
bound_devices_of() {
	local f l
	for f in /sys/block/loop*/loop/backing_file; do
		l=
		read -r l 2>/dev/null <"$f" || [ -n "$l" ] || continue
		[ "$l" = "$1" ] || continue
		f=${f#/sys/block/}
		echo "${f%%/*}"
	done
	return 0
}

# free_index [START]: a device number not used by any loop device (host or
# instance), >= START (default 100)
free_index() {
	local n=${1:-100}
	while [ -e "/sys/block/loop$n" ] || [ -e "/dev/loop$n" ]; do
		n=$((n + 1))
	done
	echo "$n"
}

# loop_devnum N: the "major:minor" device loopN has (the loop driver's
# minor is N << part_shift, with part_shift from max_part)
loop_devnum() {
	local mp shift=0
	mp=$(cat /sys/module/loop/parameters/max_part 2>/dev/null || echo 0)
	if [ "${mp:-0}" -gt 0 ]; then
		while [ $((1 << shift)) -le "$mp" ]; do shift=$((shift + 1)); done
	fi
	echo "7:$(($1 << shift))"
}

# node_devnum PATH: "major:minor" of a device node
node_devnum() {
	local t
	t=$(stat -L -c '%t %T' "$1") || return 1
	set -- $t
	echo "$((16#$1)):$((16#$2))"
}

# num_of_dev /dev/loopN or /dev/loopfs/loopN -> N
num_of_dev() {
	local n=${1##*loop}
	[[ $n =~ ^[0-9]+$ ]] || return 1
	echo "$n"
}

# the device number of loop-control, the host's and every instance's
LOOP_CONTROL_DEVNUM=10:237

# ------------------------------------------------------------------- mounts

# mnt_get MNT: MNT_TYPE, MNT_SRC, MNT_OPTS (per-mount) and MNT_SUPER (the
# file system's) of the top mount on MNT, from /proc/self/mountinfo; false
# if nothing is mounted there
mnt_get() {
	local mp opts rest
	MNT_TYPE='' MNT_SRC='' MNT_OPTS='' MNT_SUPER=''
	while read -r _ _ _ _ mp opts rest; do
		[ "$mp" = "$1" ] || continue
		rest=" $rest"
		rest=${rest#* - }
		read -r MNT_TYPE MNT_SRC MNT_SUPER <<<"$rest"
		MNT_OPTS=$opts
	done </proc/self/mountinfo
	[ -n "$MNT_TYPE" ]
}

# has_opt OPTS OPT: the comma separated OPTS hold OPT
has_opt() { [[ ,$1, == *,"$2",* ]]; }

# assert_locked_mount MNT TYPE SRC WHAT: a mount of TYPE from SRC is on
# MNT, nosuid and nodev (as loopfs-mountd makes them)
assert_locked_mount() {
	mnt_get "$1" || fail "$4: nothing mounted on $1"
	assert_eq "$MNT_TYPE" "$2" "$4: type of the mount on $1"
	assert_eq "$MNT_SRC" "$3" "$4: source in mountinfo"
	has_opt "$MNT_OPTS" nosuid && has_opt "$MNT_OPTS" nodev ||
		fail "$4: the mount on $1 has options $MNT_OPTS, want nosuid,nodev"
	ok "$4: mountinfo: $MNT_OPTS ($MNT_SUPER)"
}

# assert_not_mounted MNT WHAT
assert_not_mounted() {
	! mnt_get "$1" || fail "$2: $MNT_TYPE $MNT_SRC is mounted on $1"
	ok "$2: nothing mounted on $1"
}

# ---------------------------------------------------------------- instances

# mount_instance DIR [OPTS]: a new loopfs instance at DIR, unmounted at exit.
mount_instance() {
	local dir=$1 opts=${2:-}
	mkdir -p "$dir" || fail "mkdir $dir"
	if [ -n "$opts" ]; then
		mount -t loopfs -o "$opts" none "$dir" || fail "mount -t loopfs -o $opts none $dir failed"
	else
		mount -t loopfs none "$dir" || fail "mount -t loopfs none $dir failed"
	fi
	defer umount -l "$dir"
}

# instance_devices DIR: the loopN nodes of an instance, one name a line.
instance_devices() {
	local f
	for f in "$1"/loop*; do
		[ -e "$f" ] || continue
		f=${f##*/}
		[[ $f =~ ^loop[0-9]+$ ]] && echo "$f"
	done
	return 0
}

# ------------------------------------------------------------------- images

# mkimg PATH SIZE_MB
mkimg() {
	rm -f "$1"
	truncate -s "$2M" "$1" || fail "truncate $1"
}

# mkdata PATH SIZE_KB: random data
mkdata() {
	head -c "$(($2 * 1024))" /dev/urandom >"$1" || fail "mkdata $1"
}

# detach_file IMG: detach host devices bound to IMG (best effort, clean-up)
detach_file() {
	local d
	for d in $(losetup -n -O NAME -j "$1" 2>/dev/null); do
		[ -b "$d" ] && losetup -d "$d"
	done
	return 0
}

# host_remove_new_devices BASELINE: remove (via the host loop-control) unbound
# devices that are in /sys/block now and were not in BASELINE (a list from
# loop_list_to) and have a node in the host's /dev (i.e. are host devices).
host_remove_new_devices() {
	local d n now
	loop_list_to now
	for d in $(lines_not_in "$now" "$1"); do
		n=${d#loop}
		[ -b "/dev/$d" ] || continue
		loop_bound "$n" && losetup -d "/dev/$d"
		if [ -x "$LOOPCTL" ]; then
			lctl /dev/loop-control remove "$n" >/dev/null 2>&1
		fi
	done
	return 0
}

# host_device IMG SIZE_MB: a host loop device (losetup -f) on a new image
# IMG of SIZE_MB MiB, detached at exit; sets HOST_DEV (/dev/loopN) and
# HOST_NUM (N)
host_device() {
	mkimg "$1" "$2"
	HOST_DEV=$(losetup -f --show "$1") || fail "host: losetup -f --show $1"
	defer losetup -d "$HOST_DEV"
	HOST_NUM=$(num_of_dev "$HOST_DEV") || fail "host: losetup printed '$HOST_DEV'"
}

# image_fsck IMG: (the host) IMG, a disk image with an ext4 in partition 1
# and a vfat in partition 2, set up read-only with its partitions
# (losetup -fP -r, detached at exit); e2fsck -fn and fsck.vfat -n must find
# both clean.  Sets IMG_DEV (/dev/loopN: its partitions are IMG_DEVp1, p2).
image_fsck() {
	IMG_DEV=$(losetup -fP --show -r "$1") || fail "host: losetup -fP --show -r $1"
	defer losetup -d "$IMG_DEV"
	wait_present "${IMG_DEV}p1" 10 || fail "host: no ${IMG_DEV}p1"
	wait_present "${IMG_DEV}p2" 10 || fail "host: no ${IMG_DEV}p2"
	e2fsck -fn "${IMG_DEV}p1" >fsck1.log 2>&1 ||
		{ print_file fsck1.log; fail "e2fsck -fn of the ext4 partition of $1"; }
	ok "e2fsck -fn: the ext4 partition of ${1##*/} is clean"
	fsck.vfat -n "${IMG_DEV}p2" >fsck2.log 2>&1 ||
		{ print_file fsck2.log; fail "fsck.vfat -n of the vfat partition of $1"; }
	ok "fsck.vfat -n: the vfat partition of ${1##*/} is clean"
}

# ------------------------------------------------------------ mount supervisor

# start_mountd LOG SOCKET CMD...: the mount supervisor CMD... (loopfs-mountd
# and its options, one of them -s SOCKET or -x SOCKET) in the background, its
# standard error in LOG (MOUNTD_LOG), stopped at exit; waits until it
# listens on SOCKET.  Sets MOUNTD_PID.
start_mountd() {
	MOUNTD_LOG=$1
	local sock=$2
	shift 2
	"$@" 2>"$MOUNTD_LOG" &
	MOUNTD_PID=$!
	defer kill "$MOUNTD_PID"
	wait_while_alive 30 "$MOUNTD_PID" test -S "$sock" ||
		{ print_file "$MOUNTD_LOG"; fail "loopfs-mountd did not start: $WAIT_WHY"; }
	ok "loopfs-mountd listens on $sock"
}

# mountd_log_has TEXT: a line of start_mountd's log holds TEXT
mountd_log_has() {
	file_has "$MOUNTD_LOG" "$1" ||
		{ print_file "$MOUNTD_LOG"; fail "loopfs-mountd's log has no line with '$1'"; }
	ok "loopfs-mountd's log: ...$1"
}

# --------------------------------------------------------------- benchmarks
# For tests/bench/: a benchmark reports figures, not pass/fail; it exits 1
# only when it cannot run.  (Builtins only in what runs between two clock
# readings: an exec costs seconds on the debug guest kernel under TCG.)

# cannot_run WHY: the benchmark cannot run (exit 1)
cannot_run() {
	echo "BENCH: cannot run: $*" >&2
	exit 1
}

# bench_require CMD...: real root, the commands CMD, loopctl and loopfs;
# max_loop_devices raised to 100000 until the benchmark ends
bench_require() {
	bench_require_any "$@"
	[ "$HAVE_LOOPFS" = 1 ] || cannot_run "loopfs not in /proc/filesystems"
}

# bench_require_any CMD...: as bench_require, for a benchmark that also runs
# on a kernel without loopfs (it measures the host's devices there): sets
# HAVE_LOOPFS (1 or 0)
bench_require_any() {
	local c
	[ "$EUID" = 0 ] || cannot_run "needs root"
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || cannot_run "missing tool: $c"
	done
	[ -x "$LOOPCTL" ] || cannot_run "loopctl tool not built: $LOOPCTL"
	HAVE_LOOPFS=0
	if loopfs_available; then
		HAVE_LOOPFS=1
		raise_max_loop_devices 100000 || cannot_run "cannot raise max_loop_devices"
	fi
}

# stats V...: the median of the numbers V and their noise, half their spread
# (max - min) over the median, in percent; prints "MEDIAN NOISE" (NA NA for
# no number).  A benchmark takes one V per round, a ratio measured within
# the round, the rounds interleaving what is compared.
stats() {
	printf '%s\n' "$@" | sort -g | awk 'NF { v[++n] = $1 }
		END {
			if (n == 0) { print "NA NA"; exit }
			m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			printf "%.4g %.1f\n", m, (m > 0 ? (v[n] - v[1]) / 2 / m * 100 : 0)
		}'
}

# table KEY WHAT VALUE NOISE AIM [NOTE]: a row of the table make bench
# writes (scripts/bench-report.sh): KEY names the row across kernels, WHAT
# says what was measured, AIM is "<=X", ">=X" or "-" (reported only)
table() {
	emit "table|$1|$2|$3|$4|$5|${6:-}"
}

# curve PLOT TITLE XLABEL YLABEL SERIES X Y: a point of one of make bench's
# plots (one plot per PLOT, one line per SERIES, from every kernel's boot)
curve() {
	emit "curve|$1|$2|$3|$4|$5|$6|$7"
}

# bench_output NAME: emit writes to $RESULTS/NAME too (emptied first), when
# $RESULTS is a writable directory
BENCH_OUT=
bench_output() {
	BENCH_OUT=
	if [ -n "${RESULTS:-}" ] && [ -d "$RESULTS" ] && [ -w "$RESULTS" ]; then
		BENCH_OUT=$RESULTS/$1
		: >"$BENCH_OUT"
	fi
}

# emit LINE: a line of the benchmark's output
emit() {
	echo "$*"
	[ -z "$BENCH_OUT" ] || echo "$*" >>"$BENCH_OUT"
}

# now_ms: milliseconds of real time
now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

# mem_avail_kb: MemAvailable in /proc/meminfo (0 if missing)
mem_avail_kb() {
	local k v _
	while read -r k v _; do
		[ "$k" = MemAvailable: ] && { echo "$v"; return; }
	done </proc/meminfo
	echo 0
}

# ratio A B (decimal numbers): A/B with 3 decimals, or NA
ratio() {
	local a=${1%%.*} b=${2%%.*} r
	[[ $a =~ ^[0-9]+$ ]] && [[ $b =~ ^[0-9]+$ ]] && [ "$b" -gt 0 ] || { echo NA; return; }
	r=$(((a * 1000 + b / 2) / b))
	printf '%d.%03d' $((r / 1000)) $((r % 1000))
}

# remove_listed CONTROL LIST PAR: remove the devices whose indexes LIST
# holds (one a line) through the loop-control node CONTROL, PAR removers
# in parallel (removal waits for RCU grace periods); sets REMOVE_MS (time
# taken) and REMOVE_FAILED (how many failed; their errors are in
# $SCRATCH/remove.err)
remove_listed() {
	local t f pids=()
	t=$(now_ms)
	rm -f "$SCRATCH"/held.part.*
	split -n "r/$3" "$2" "$SCRATCH/held.part."
	: >"$SCRATCH/remove.err"
	for f in "$SCRATCH"/held.part.*; do
		lctl "$1" remove_many <"$f" >>"$SCRATCH/remove.err" &
		pids+=($!)
	done
	wait "${pids[@]}"
	rm -f "$SCRATCH"/held.part.*
	REMOVE_MS=$(($(now_ms) - t))
	REMOVE_FAILED=$(wc -l <"$SCRATCH/remove.err")
}

# bench_start TITLE: T0 (now_ms) and the output's first line, what it ran on
bench_start() {
	T0=$(now_ms)
	emit "# loopfs $1: $(uname -r), $(nproc) cpus, $(($(mem_avail_kb) / 1024)) MiB available"
}

# hold_start DIR KEY: a holder instance at DIR (HOLD, unmounted at exit) for
# devices a benchmark adds in bulk, listed in HELD_LIST ($SCRATCH/held.list,
# one number a line); held_remove KEY removes them at exit if they are
# still there.
hold_start() {
	HOLD=$1
	HELD_LIST=$SCRATCH/held.list
	mount_instance "$HOLD"
	: >"$HELD_LIST"
	defer held_remove "$2"
}

# held_remove KEY: remove the devices HELD_LIST lists (remove_listed, RPAR
# removers) and emit KEY_remove_ms=, KEY_removed= and the failures
held_remove() {
	[ -s "$HELD_LIST" ] || return 0
	remove_listed "$HOLD/loop-control" "$HELD_LIST" "$RPAR"
	emit "${1}_remove_ms=$REMOVE_MS ${1}_removed=$(($(wc -l <"$HELD_LIST") - REMOVE_FAILED))"
	if [ "$REMOVE_FAILED" -gt 0 ]; then
		emit "# REMOVE failed for $REMOVE_FAILED held devices: $(head -n3 "$SCRATCH/remove.err" | tr '\n' ' ')"
	fi
	: >"$HELD_LIST"
}

# bench_fit WANT HELD MS_PER_DEV MEM0_KB: how many held devices fit, at
# most WANT, from what the HELD devices held now cost: MS_PER_DEV to add
# one, and the memory they took since MemAvailable was MEM0_KB (at least
# 64 KiB a device).  Adding and removing them (a removal costs about 1.2
# adds) must fit BUDGET seconds, and 256 MiB must stay available.  Sets
# KB_PER_DEV, FIT_TIME, FIT_MEM (what each bound allows) and FIT.
bench_fit() {
	local want=$1 held=$2 ms=$3 mem0=$4
	KB_PER_DEV=$(((mem0 - $(mem_avail_kb)) / held))
	[ "$KB_PER_DEV" -gt 64 ] || KB_PER_DEV=64
	FIT_TIME=$((BUDGET * 1000 * 10 / (ms * 22 + 1)))
	FIT_MEM=$((($(mem_avail_kb) - 262144) / KB_PER_DEV + held))
	FIT=$want
	[ "$FIT_TIME" -ge "$FIT" ] || FIT=$FIT_TIME
	[ "$FIT_MEM" -ge "$FIT" ] || FIT=$FIT_MEM
	return 0
}

# bench_split N PAR CMD...: CMD... P COUNT OFFSET for P = 0 .. PAR-1 in
# parallel, where COUNT is P's share of N (shares of ceil(N / PAR), the last
# one smaller, none empty) and OFFSET = P * ceil(N / PAR); waits for all;
# false if one of them failed
bench_split() {
	local n=$1 par=$2 per p cnt pid pids=() rc=0
	shift 2
	per=$(((n + par - 1) / par))
	for ((p = 0; p < par; p++)); do
		cnt=$per
		[ $((p * per + cnt)) -le "$n" ] || cnt=$((n - p * per))
		[ $cnt -gt 0 ] || continue
		"$@" "$p" "$cnt" $((p * per)) &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do
		wait "$pid" || rc=1
	done
	return $rc
}

# ---------------------------------------------------------------- containers

# ct_run [--opts LOOPFS_OPTS] CMD [ARGS...]
# Runs CMD (a program or an exported shell function) in a "container": new
# mount and pid namespaces (private propagation, fresh /proc), a tmpfs /dev
# with a private loopfs instance at /dev/loopfs.  lib.sh is sourced inside,
# so fail/ok/... work there; the container's exit status is returned.
ct_run() {
	local opts=
	if [ "${1:-}" = --opts ]; then
		opts=$2
		shift 2
	fi
	CT_LOOPFS_OPTS=$opts LIB_IN_CONTAINER=1 \
		unshare --mount --pid --fork --kill-child --mount-proc --propagation private \
		bash -c '. "$LIB_SH" && ct_setup_dev && "$@"' container "$@"
}

# ct_setup_dev: (inside the container) build /dev
ct_setup_dev() {
	mount -t tmpfs -o mode=0755,size=4m ctdev /dev || fail "container: tmpfs on /dev"
	mknod -m 666 /dev/null c 1 3 &&
		mknod -m 666 /dev/zero c 1 5 &&
		mknod -m 666 /dev/full c 1 7 &&
		mknod -m 666 /dev/random c 1 8 &&
		mknod -m 666 /dev/urandom c 1 9 &&
		mknod -m 666 /dev/tty c 5 0 &&
		ln -s /proc/self/fd /dev/fd &&
		ln -s /proc/self/fd/0 /dev/stdin &&
		ln -s /proc/self/fd/1 /dev/stdout &&
		ln -s /proc/self/fd/2 /dev/stderr &&
		mkdir /dev/loopfs || fail "container: populating /dev"
	if [ -n "${CT_LOOPFS_OPTS:-}" ]; then
		mount -t loopfs -o "$CT_LOOPFS_OPTS" none /dev/loopfs ||
			fail "container: mount -t loopfs -o $CT_LOOPFS_OPTS none /dev/loopfs"
	else
		mount -t loopfs none /dev/loopfs || fail "container: mount -t loopfs none /dev/loopfs"
	fi
	ln -s loopfs/loop-control /dev/loop-control || fail "container: /dev/loop-control link"
	ct_start_linker
	return 0
}

# ct_start_linker [INSTANCE_DIR [DEV_DIR]]: (inside the container) start the
# node linker on INSTANCE_DIR (default /dev/loopfs) and DEV_DIR (default
# /dev) in the background and wait until it has linked what the instance
# holds.  It holds no file of the instance, but it lives in the container's
# mount namespace: it is stopped when the container's shell exits (defer),
# and dies anyway with the container's pid namespace.
ct_start_linker() {
	# (the ready file goes to DEV_DIR: the container can always write there)
	local ready=${2:-/dev}/.loopfs-link.ready pid
	[ -x "$LOOPFS_LINK" ] || fail "no node linker $LOOPFS_LINK (make userspace)"
	"$LOOPFS_LINK" -r "$ready" "${1:-/dev/loopfs}" "${2:-/dev}" &
	pid=$!
	defer kill "$pid"
	wait_file_while "$ready" 60 "$pid" || fail "container: loopfs-link did not start ($WAIT_WHY)"
	return 0
}

# wait_file PATH [TIMEOUT]: wait for a file (synchronisation between the test
# and its containers through the scratch directory)
wait_file() {
	wait_until "${2:-300}" test -e "$1"
}

# wait_containers NAME:PID...: wait for containers started in the background
# with their output in NAME.log, show each one's output, and fail if one of
# them failed
wait_containers() {
	local c rc failed=
	for c in "$@"; do
		wait "${c#*:}"
		rc=$?
		[ $rc -eq 0 ] || failed+="container ${c%%:*} failed (exit $rc); "
	done
	for c in "$@"; do
		echo "---- container ${c%%:*}"
		print_file "${c%%:*}.log"
	done
	echo "----"
	[ -z "$failed" ] || fail "${failed%; }"
}
