#!/bin/bash
# series-check.sh [FIRST]: what a maintainer runs on the series before it is
# sent (not part of make check: it builds every prefix of the series twice).
#
# On the commits of build/tree from FIRST (default: the first of the series)
# to HEAD, each checked out in a worktree of its own (build/series-check/src;
# build/tree is not touched):
#   - the kernel (vmlinux and modules) builds from configs/guest.config
#     with the loop driver as a module, loopfs on and off, with no warning
#     on a line the series added;
#   - scripts/checkpatch.pl --strict finds no error or warning (its CHECKs
#     are printed, not counted; FILE_PATH_CHANGES is ignored, see lint.sh);
# and on HEAD:
#   - the kernel builds with loopfs on in a built-in loop driver;
#   - sparse (make C=2 on the objects of the files the series touches) and
#     scripts/kernel-doc -Wall (on those files) say nothing about a line the
#     series added.
# Each step prints its time; the exit status is 1 if anything failed.
# Incremental builds (one output directory per configuration, files
# rewritten only where commits differ) and ccache keep it affordable, but a
# commit that changes a header most of the kernel includes (device.h,
# blkdev.h, kobject.h, kernfs.h, user_namespace.h) rebuilds most of it:
# hours on 2 cores for the whole series (see the README).
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
PROJECT=$PWD
TREE=$PROJECT/build/tree
OUT=$PROJECT/build/series-check
WT=$OUT/src
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/loopfs-ccache}
export KBUILD_BUILD_TIMESTAMP=2024-01-01 KBUILD_BUILD_USER=loopfs KBUILD_BUILD_HOST=loopfs
cc="ccache gcc"
command -v ccache >/dev/null || cc=gcc

[ -d "$TREE/.git" ] || { echo "series-check: no build/tree (make tree)" >&2; exit 2; }
base=$(git -C "$TREE" rev-parse base 2>/dev/null) ||
	{ echo "series-check: build/tree has no tag 'base'" >&2; exit 2; }
head=$(git -C "$TREE" rev-parse HEAD)
first=${1:-$(git -C "$TREE" rev-list --reverse "$base..$head" | head -1)}
git -C "$TREE" merge-base --is-ancestor "$base" "$first" && [ "$first" != "$base" ] ||
	{ echo "series-check: $first is not a commit of the series" >&2; exit 2; }
command -v sparse >/dev/null ||
	{ echo "series-check: no sparse (apt-get install sparse)" >&2; exit 2; }

mkdir -p "$OUT"
if [ ! -e "$WT/.git" ]; then
	rm -rf "$WT"
	git -C "$TREE" worktree prune
	git -C "$TREE" worktree add -q --detach "$WT" "$base" || exit 2
fi

# Files the series touches (at HEAD), and their objects
mapfile -t touched < <(git -C "$TREE" diff --name-only --diff-filter=AM "$base" "$head")
objs=()
for f in "${touched[@]}"; do
	case $f in
	tools/*|samples/*) ;;		# not kernel objects
	*.c) objs+=("${f%.c}.o") ;;
	esac
done

failed=0
bad() { echo "  FAIL $*"; failed=1; }
now() { date +%s; }
secs() { echo "$(($(now) - $1)) s"; }

# Configuration NAME: guest.config with loopfs on in the loop module (on),
# on in a built-in loop driver (builtin), or off in the loop module (off)
configure() {
	local o=$OUT/$1
	mkdir -p "$o"
	{
		cat configs/guest.config
		case $1 in
		on) printf '%s\n' CONFIG_MODULES=y CONFIG_MODULE_UNLOAD=y \
			CONFIG_BLK_DEV_LOOP=m CONFIG_BLK_DEV_LOOPFS=y ;;
		builtin) printf '%s\n' CONFIG_BLK_DEV_LOOP=y CONFIG_BLK_DEV_LOOPFS=y ;;
		# loopfs off in the same loop module: the two builds differ in
		# that one option only, so ccache serves the second most objects
		# (and the stock configuration, loopfs off in a built-in loop
		# driver, is what make check builds)
		off) printf '%s\n' CONFIG_MODULES=y CONFIG_MODULE_UNLOAD=y \
			CONFIG_BLK_DEV_LOOP=m '# CONFIG_BLK_DEV_LOOPFS is not set' ;;
		esac
	} >"$o/fragments.config"
	make -C "$WT" O="$o" CC="$cc" HOSTCC=gcc -s tinyconfig >/dev/null &&
		"$WT/scripts/kconfig/merge_config.sh" -m -O "$o" "$o/.config" "$o/fragments.config" >/dev/null &&
		make -C "$WT" O="$o" CC="$cc" HOSTCC=gcc -s olddefconfig >/dev/null
}

# Lines of the series' own, up to REV: "path:line" for every line that
# base..REV adds (from the hunks of a diff without context)
added_lines() {
	git -C "$TREE" diff -U0 "$base" "$1" | awk '
		/^\+\+\+ b\// { f = substr($2, 3); next }
		/^@@/ {
			split($3, a, ",")
			start = substr(a[1], 2); n = (a[2] == "") ? 1 : a[2]
			for (i = 0; i < n; i++) print f ":" start + i
		}'
}

# The warnings and errors of a log (build, sparse, kernel-doc) that point
# at a line the series added by REV: new_only REV LOG
new_only() {
	added_lines "$1" >"$OUT/added"
	grep -E "(warning|error):" "$2" |
		awk -v added="$OUT/added" '
			BEGIN { while ((getline l < added) > 0) ours[l] = 1 }
			{
				split($0, p, ":")
				f = p[1]; sub(/^.*\/series-check\/src\//, "", f)
				if ((f ":" p[2]) in ours) print
			}'
}

# build_cfg REV CFG: build the checked-out REV in configuration CFG and
# report warnings on the series' lines
build_cfg() {
	local c=$1 cfg=$2 t log w targets=(vmlinux)
	t=$(now)
	log=$OUT/build-$cfg.log
	[ "$cfg" = builtin ] || targets+=(modules)
	if ! configure "$cfg" >"$log" 2>&1 ||
	   ! make -C "$WT" O="$OUT/$cfg" CC="$cc" HOSTCC=gcc -s -j"$(nproc)" "${targets[@]}" >>"$log" 2>&1; then
		bad "build, loopfs $cfg ($(secs "$t"))"
		tail -20 "$log" | sed 's/^/    /'
		return
	fi
	w=$(new_only "$c" "$log")
	if [ -n "$w" ]; then
		bad "build, loopfs $cfg: warnings in the series' files ($(secs "$t"))"
		echo "$w" | sed 's/^/    /'
	else
		echo "  ok build, loopfs $cfg ($(secs "$t"))"
	fi
}

for c in $(git -C "$TREE" rev-list --reverse "$first^..$head"); do
	t0=$(now)
	git -C "$WT" checkout -q --detach "$c" || { bad "checkout $c"; break; }
	subj=$(git -C "$WT" log -1 --format='%h %s')
	echo "== $subj"
	build_cfg "$c" on
	build_cfg "$c" off
	t=$(now)
	out=$(git -C "$WT" format-patch -1 --stdout "$c" |
		(cd "$WT" && PATH=/usr/bin:$PATH scripts/checkpatch.pl --strict --no-signoff -q \
		--ignore FILE_PATH_CHANGES - 2>&1))
	if echo "$out" | grep -qE "^(ERROR|WARNING):"; then
		bad "checkpatch --strict ($(secs "$t"))"
		echo "$out" | sed 's/^/    /'
	else
		echo "  ok checkpatch --strict, $(echo "$out" | grep -c '^CHECK:') CHECKs ($(secs "$t"))"
		echo "$out" | grep -A3 '^CHECK:' | sed 's/^/    /'
	fi
	echo "  ($(secs "$t0") for this commit)"
done

# The built-in loop driver differs from the module only in how loopfs is
# registered and what is exported: built once, at HEAD.
echo "== HEAD: loopfs in a built-in loop driver"
build_cfg "$head" builtin

echo "== HEAD: sparse and kernel-doc on the files the series touches"
t=$(now)
log=$OUT/sparse.log
# (C=2: sparse on each of these, built or not)
make -C "$WT" O="$OUT/on" CC="$cc" HOSTCC=gcc -s C=2 "${objs[@]}" >"$log" 2>&1
sp=$(new_only "$head" "$log")
if [ -n "$sp" ]; then
	bad "sparse ($(secs "$t"))"
	echo "$sp" | sed 's/^/    /'
else
	echo "  ok sparse, ${#objs[@]} objects ($(secs "$t"))"
fi
t=$(now)
(cd "$WT" && for f in "${touched[@]}"; do
	case $f in *.c|*.h) scripts/kernel-doc -Wall -none "$f" 2>&1 ;; esac
done) >"$OUT/kernel-doc.log"
kd=$(new_only "$head" "$OUT/kernel-doc.log")
if [ -n "$kd" ]; then
	bad "kernel-doc -Wall ($(secs "$t"))"
	echo "$kd" | sed 's/^/    /'
else
	echo "  ok kernel-doc -Wall ($(secs "$t"))"
fi
echo "series-check: $SECONDS s in all"
[ $failed = 0 ] && echo "series-check: all passed" || echo "series-check: FAILED"
exit $failed
