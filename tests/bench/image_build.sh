#!/bin/bash
# timeout: 3600
# Benchmark (not pass/fail on its figures): a container builds a disk image.
# With a private loop device (a loopfs instance) it can use the kernel's
# ext4; without one, the usual way out is a file system in user space,
# fuse2fs.  This measures the two on the same work, in one boot.
#
# The work: untar a tree of BENCH_IMAGE_FILES regular files (nested
# directories, sizes spread from 0 to 64 KiB, most of them small: 40% below
# 1 KiB, 35% 1-4 KiB, 20% 4-16 KiB, 5% 16-64 KiB; content and names from a
# fixed seed, so the archive is the same in every boot) into a freshly made
# ext4 image file on tmpfs ($SCRATCH), then sync and unmount.  The tree is
# generated once, packed into one tar archive (owner 0, fixed mtime) and
# removed.  Each round makes the image afresh (same file, same size,
# mkfs.ext4 with the same options) for each way:
#
#   kernel  LOOP_CTL_GET_FREE on the loop-control of a loopfs instance,
#           losetup of the instance's node on the image, mount -t ext4 of
#           the node
#   fuse    fuse2fs -f IMAGE MNT (default options)
#
# Timed (milliseconds, one clock reading before and after each step):
# tar -xf into the mount + sync -f on the mount + umount, and for fuse2fs
# also its exit (it writes its last blocks to the image when it sees the
# unmount): until the image file is complete.  Setting up (GET_FREE,
# losetup, mount; or starting fuse2fs until it has mounted) is timed
# apart and printed, not counted.  The rounds interleave the two ways and
# alternate which goes first; each round gives speedup = fuse time / kernel
# time.  A round stops the benchmark early when it would not fit the time
# budget (BENCH_IMAGE_BUDGET_S for the rounds, judged by the longest round
# so far): fuse2fs is slow under TCG (about 450 s a round for 8000 files
# on the bench kernel on a loaded 2-core host, the kernel way 5-17 s).
#
# Each built image is checked before its time counts: e2fsck -fn must find
# it clean, its used inodes must be those of the fresh file system plus
# every file and directory of the tree, and (BENCH_IMAGE_COMPARE=1) tar -d
# of the archive against the image mounted read-only through the
# instance's device must find no difference (content, sizes, modes,
# owners, mtimes).  A build that fails a check makes the benchmark fail
# (cannot run) instead of reporting a figure.
#
# Output ($RESULTS/bench-image_build.txt): per round and way the build time
# and its steps, then
#   table row image_build_speedup: median of the per-round speedups, AIM
#       >=5, with both median times in its note
#   image_build_kernel_s=, image_build_fuse_s= (median seconds, noise),
#   image_build_setup_speedup= (the same ratio with the set-up counted)
#
# Knobs (environment): BENCH_IMAGE_FILES (8000 files), BENCH_IMAGE_ROUNDS
# (3), BENCH_IMAGE_MB (image size in MiB; default twice the tree's
# allocated size plus inode tables and journal, rounded up to 16 MiB, at
# least 64), BENCH_IMAGE_COMPARE (1: tar -d each built image; 0: e2fsck and
# the inode count only), BENCH_IMAGE_BUDGET_S (2400 s for the rounds; at
# least one round runs), FUSE2FS (the fuse2fs binary).
. "$(dirname "$0")/../lib.sh"

bench_require losetup mkfs.ext4 e2fsck tar awk df truncate sync
FUSE2FS=${FUSE2FS:-}
if [ -z "$FUSE2FS" ]; then
	for f in /usr/bin/fuse2fs /usr/sbin/fuse2fs /sbin/fuse2fs; do
		[ -x "$f" ] && { FUSE2FS=$f; break; }
	done
fi
[ -n "$FUSE2FS" ] && [ -x "$FUSE2FS" ] || cannot_run "fuse2fs not found (package fuse2fs)"
[ -c /dev/fuse ] || cannot_run "no /dev/fuse (FUSE not in this kernel?)"

FILES=${BENCH_IMAGE_FILES:-8000}
ROUNDS=${BENCH_IMAGE_ROUNDS:-3}
IMAGE_MB=${BENCH_IMAGE_MB:-}
COMPARE=${BENCH_IMAGE_COMPARE:-1}
BUDGET=${BENCH_IMAGE_BUDGET_S:-2400}
assert_num "$FILES" BENCH_IMAGE_FILES
assert_num "$BUDGET" BENCH_IMAGE_BUDGET_S
assert_num "$ROUNDS" BENCH_IMAGE_ROUNDS
[ "$FILES" -gt 0 ] && [ "$ROUNDS" -gt 0 ] || cannot_run "BENCH_IMAGE_FILES and BENCH_IMAGE_ROUNDS must be > 0"

bench_output bench-image_build.txt
bench_start "image build bench"

TREE=$SCRATCH/tree
TAR=$SCRATCH/tree.tar
IMG=$SCRATCH/image.ext4
MNT=$SCRATCH/mnt
INST=$SCRATCH/loopfs
mkdir -p "$TREE" "$MNT" || cannot_run "mkdir in $SCRATCH"

# ------------------------------------------------------------------ the tree
# gen_tree DRY: (in $TREE) the tree of FILES files; with DRY=1 only its
# figures.  Prints "FILES DIRS BYTES BLOCKS" (BLOCKS: 4 KiB blocks the
# files and directories take).  20 files a leaf directory, leaves at depth
# 3 (t*/u*/v*); sizes and content from a Park-Miller generator (exact in
# awk's doubles).
gen_tree() {
	awk -v n="$FILES" -v dry="$1" '
	function rnd() { x = (x * 16807) % 2147483647; return x }
	BEGIN {
		x = 20240607
		nleaf = int((n + 19) / 20)
		list = ""
		for (j = 0; j < nleaf; j++) {
			a = "t" (j % 8)
			b = a "/u" (int(j / 8) % 8)
			c = b "/v" int(j / 64)
			leaf[j] = c
			if (!(a in d)) { d[a] = 1; nd++ }
			if (!(b in d)) { d[b] = 1; nd++ }
			if (!(c in d)) { d[c] = 1; nd++; list = list " " c }
		}
		if (!dry && system("mkdir -p" list) != 0)
			exit 1
		chunk = ""
		for (k = 0; k < 1024; k++)
			chunk = chunk sprintf("%c", (k % 64 == 63) ? 10 : 32 + rnd() % 95)
		base = chunk
		while (length(base) < 4096 + 65536)
			base = base base
		split(".txt .h .so .py .png .conf", ext, " ")
		for (i = 0; i < n; i++) {
			r = rnd() % 100
			if (r < 40)
				size = rnd() % 1024
			else if (r < 75)
				size = 1024 + rnd() % 3072
			else if (r < 95)
				size = 4096 + rnd() % 12288
			else
				size = 16384 + rnd() % 49152
			off = 1 + rnd() % 4096
			bytes += size
			blocks += int((size + 4095) / 4096)
			if (dry)
				continue
			path = sprintf("%s/f%05d%s", leaf[i % nleaf], i, ext[1 + i % 6])
			s = sprintf("file %d size %d\n", i, size)
			s = substr(s substr(base, off, size), 1, size)
			printf "%s", s >path
			close(path)
		}
		print n, nd, bytes, blocks + nd
	}'
}

fig=$(cd "$TREE" && gen_tree 1) || cannot_run "gen_tree: $fig"
read -r _ DIRS TREE_BYTES TREE_BLOCKS <<<"$fig"
TREE_KB=$((TREE_BLOCKS * 4))
# inodes: twice what the tree needs, at least 4096
INODES=$((2 * (FILES + DIRS)))
[ "$INODES" -ge 4096 ] || INODES=4096
if [ -z "$IMAGE_MB" ]; then
	IMAGE_MB=$(((2 * TREE_KB + INODES / 4 + 32768 + 1023) / 1024))
	IMAGE_MB=$(((IMAGE_MB + 15) / 16 * 16))
	[ "$IMAGE_MB" -ge 64 ] || IMAGE_MB=64
fi
assert_num "$IMAGE_MB" BENCH_IMAGE_MB
# the archive: a 512-byte header a file and directory, data in 512-byte
# units, 10 KiB records
TAR_KB=$(((TREE_BYTES + 511 * FILES) / 1024 + (FILES + DIRS) / 2 + 20))
IMAGE_KB=$((IMAGE_MB * 1024))
emit "image_build_tree: files=$FILES dirs=$DIRS bytes=$TREE_BYTES allocated_kb=$TREE_KB image_mb=$IMAGE_MB inodes=$INODES"

# Room: on $SCRATCH the tree and the archive while generating, then the
# archive and the image; in memory (tmpfs) the same plus the mounted file
# system's page cache (about the tree) and 256 MiB to spare.
space=$(df -Pk "$SCRATCH" | awk 'NR == 2 { print $4 }')
assert_num "$space" "free space on $SCRATCH"
need=$((TAR_KB + TREE_KB))
[ $need -ge $((TAR_KB + IMAGE_KB)) ] || need=$((TAR_KB + IMAGE_KB))
need=$((need + 32768))
[ "$space" -ge $need ] ||
	cannot_run "$SCRATCH has $((space / 1024)) MiB free, the tree, archive and image need $((need / 1024)) MiB (lower BENCH_IMAGE_FILES)"
mem=$(mem_avail_kb)
need=$((TAR_KB + IMAGE_KB + TREE_KB + 262144))
[ "$mem" -ge $need ] ||
	cannot_run "$((mem / 1024)) MiB available, the archive, image and page cache need $((need / 1024)) MiB (lower BENCH_IMAGE_FILES)"

t=$(now_ms)
out=$(cd "$TREE" && gen_tree 0) || cannot_run "generating the tree: $out"
[ "$out" = "$fig" ] || cannot_run "the tree generated differs from its figures: '$out', want '$fig'"
got=$(find "$TREE" -type f | wc -l)
[ "$got" -eq "$FILES" ] || cannot_run "the tree has $got files, want $FILES"
got=$(find "$TREE" -mindepth 1 -type d | wc -l)
[ "$got" -eq "$DIRS" ] || cannot_run "the tree has $got directories, want $DIRS"
tar -cf "$TAR" --sort=name --owner=0 --group=0 --numeric-owner \
	--mtime=@1500000000 --mode=u+rw,go+r-w -C "$TREE" . ||
	cannot_run "tar -cf of the tree"
rm -rf "$TREE"
read -r sum size _ <<<"$(cksum "$TAR")"
emit "image_build_archive: bytes=$size cksum=$sum made_in_ms=$(($(now_ms) - t))"

# ------------------------------------------------------------ the two ways
MKFS_OPTS=(-q -F -t ext4 -b 4096 -N "$INODES" -E "lazy_itable_init=0,lazy_journal_init=0")
emit "image_build_mkfs: mkfs.ext4 ${MKFS_OPTS[*]} IMAGE (${IMAGE_MB} MiB, on tmpfs)"

mount_instance "$INST"
DEVS=
FUSE_PID=
FUSE_SAID=
cleanup() {
	local n
	[ -n "$FUSE_PID" ] && kill "$FUSE_PID"
	mnt_get "$MNT" && umount -l "$MNT"
	[ -n "$FUSE_PID" ] && wait "$FUSE_PID"
	for n in $DEVS; do
		losetup -d "$INST/loop$n"
		lctl "$INST/loop-control" remove "$n"
	done
	return 0
}
defer cleanup

# fresh_image: the image made afresh (emptied, then mkfs.ext4)
fresh_image() {
	: >"$IMG" && truncate -s "${IMAGE_MB}M" "$IMG" || cannot_run "truncate $IMG"
	mkfs.ext4 "${MKFS_OPTS[@]}" "$IMG" >mkfs.log 2>&1 ||
		{ print_file mkfs.log; cannot_run "mkfs.ext4 on $IMG"; }
}

# instance_dev: GET_FREE on the instance's loop-control; sets DEV (the
# node) and remembers its number for the clean-up
instance_dev() {
	local n
	n=$(lctl "$INST/loop-control" get_free) || cannot_run "GET_FREE on the instance: $n"
	[[ $n =~ ^[0-9]+$ ]] || cannot_run "GET_FREE on the instance printed '$n'"
	[[ " $DEVS " == *" $n "* ]] || DEVS+=" $n"
	DEV=$INST/loop$n
}

# the steps' times of the last build: SETUP_MS, UNTAR_MS, SYNC_MS,
# UMOUNT_MS (umount, and for fuse2fs its exit), BUILD_MS (the last three)
build_kernel() {
	local t0 t1 t2 t3 t4
	t0=$(now_ms)
	instance_dev
	losetup "$DEV" "$IMG" || cannot_run "losetup $DEV $IMG"
	mount -t ext4 "$DEV" "$MNT" || cannot_run "mount -t ext4 $DEV $MNT"
	t1=$(now_ms)
	tar -xf "$TAR" -C "$MNT" || cannot_run "tar -xf into the kernel ext4"
	t2=$(now_ms)
	sync -f "$MNT" || cannot_run "sync -f $MNT (kernel ext4)"
	t3=$(now_ms)
	umount "$MNT" || cannot_run "umount $MNT (kernel ext4)"
	t4=$(now_ms)
	losetup -d "$DEV" || cannot_run "losetup -d $DEV"
	SETUP_MS=$((t1 - t0)) UNTAR_MS=$((t2 - t1)) SYNC_MS=$((t3 - t2))
	UMOUNT_MS=$((t4 - t3)) BUILD_MS=$((t4 - t1))
}

fuse_mounted() { mnt_get "$MNT" && [[ $MNT_TYPE == fuse* ]]; }

build_fuse() {
	local t0 t1 t2 t3 t4 rc
	t0=$(now_ms)
	"$FUSE2FS" "$IMG" "$MNT" -f >fuse2fs.log 2>&1 &
	FUSE_PID=$!
	wait_while_alive 120 "$FUSE_PID" fuse_mounted ||
		{ print_file fuse2fs.log; cannot_run "fuse2fs did not mount $IMG: $WAIT_WHY"; }
	t1=$(now_ms)
	tar -xf "$TAR" -C "$MNT" || { print_file fuse2fs.log; cannot_run "tar -xf into fuse2fs"; }
	t2=$(now_ms)
	sync -f "$MNT" || cannot_run "sync -f $MNT (fuse2fs)"
	t3=$(now_ms)
	umount "$MNT" || cannot_run "umount $MNT (fuse2fs)"
	wait "$FUSE_PID"
	rc=$?
	t4=$(now_ms)
	FUSE_PID=
	[ $rc -eq 0 ] || { print_file fuse2fs.log; cannot_run "fuse2fs exited with $rc"; }
	if [ -z "$FUSE_SAID" ] && [ -s fuse2fs.log ]; then
		FUSE_SAID=$(head -c 300 fuse2fs.log | tr '\n' ' ')
		emit "# fuse2fs said: $FUSE_SAID"
	fi
	SETUP_MS=$((t1 - t0)) UNTAR_MS=$((t2 - t1)) SYNC_MS=$((t3 - t2))
	UMOUNT_MS=$((t4 - t3)) BUILD_MS=$((t4 - t1))
}

# used_inodes: the used inodes e2fsck -fn counts in the image (which must
# be clean); from its summary line "IMAGE: USED/TOTAL files (...), ..."
used_inodes() {
	local l
	e2fsck -fn "$IMG" >fsck.log 2>&1 || { print_file fsck.log >&2; return 1; }
	l=$(file_last_match fsck.log ' files \(') || { print_file fsck.log >&2; return 1; }
	l=${l##*: }
	echo "${l%%/*}"
}

# check_image WAY ROUND: the image WAY built is clean, holds the tree, and
# (COMPARE) has the archive's content
check_image() {
	local used
	used=$(used_inodes) || cannot_run "e2fsck -fn: the image $1 built in round $2 is not clean"
	[ "$used" = $((BASE_USED + FILES + DIRS)) ] ||
		cannot_run "the image $1 built in round $2 has $used inodes in use, want $((BASE_USED + FILES + DIRS)) ($BASE_USED + $FILES files + $DIRS directories)"
	[ "$COMPARE" = 1 ] || return 0
	instance_dev
	losetup -r "$DEV" "$IMG" || cannot_run "losetup -r $DEV $IMG"
	mount -t ext4 -o ro "$DEV" "$MNT" || cannot_run "mount -o ro $DEV $MNT"
	if ! tar -df "$TAR" -C "$MNT" >compare.log 2>&1; then
		head -n 20 compare.log
		umount "$MNT"
		losetup -d "$DEV"
		cannot_run "tar -d: the image $1 built in round $2 differs from the archive"
	fi
	umount "$MNT" || cannot_run "umount $MNT (check)"
	losetup -d "$DEV" || cannot_run "losetup -d $DEV (check)"
}

# the fresh file system's used inodes (root, lost+found, reserved ones)
fresh_image
BASE_USED=$(used_inodes) || cannot_run "e2fsck -fn of the fresh image"
assert_num "$BASE_USED" "used inodes of the fresh image"
# warm up: the tools' pages in the guest's cache
"$FUSE2FS" -V >/dev/null 2>&1
tar --version >/dev/null

speedups=() kms=() fms=() totals=()
t_rounds=$(now_ms)
longest=0
for ((r = 1; r <= ROUNDS; r++)); do
	t=$(now_ms)
	if [ $r -gt 1 ] && [ $((t - t_rounds + longest)) -gt $((BUDGET * 1000)) ]; then
		emit "# only $((r - 1)) of $ROUNDS rounds fit the budget of ${BUDGET} s (the longest took $((longest / 1000)) s)"
		break
	fi
	if [ $((r % 2)) -eq 1 ]; then order="kernel fuse"; else order="fuse kernel"; fi
	for way in $order; do
		fresh_image
		"build_$way"
		c=$(now_ms)
		check_image "$way" "$r"
		emit "image_build_round=$r way=$way build_ms=$BUILD_MS untar_ms=$UNTAR_MS sync_ms=$SYNC_MS umount_ms=$UMOUNT_MS setup_ms=$SETUP_MS check_ms=$(($(now_ms) - c))"
		if [ "$way" = kernel ]; then
			k=$BUILD_MS ks=$SETUP_MS
		else
			f=$BUILD_MS fs=$SETUP_MS
		fi
	done
	s=$(ratio "$f" "$k")
	speedups+=("$s")
	kms+=("$(ratio "$k" 1000)")
	fms+=("$(ratio "$f" 1000)")
	totals+=("$(ratio $((f + fs)) $((k + ks)))")
	t=$(($(now_ms) - t))
	[ $t -le $longest ] || longest=$t
	emit "image_build_round=$r order=${order/ /,} speedup=$s (fuse ${f} ms / kernel ${k} ms; checked: e2fsck clean, $FILES files + $DIRS dirs$([ "$COMPARE" = 1 ] && echo ", tar -d same"))"
done
rm -f "$IMG"

read -r sp spn <<<"$(stats "${speedups[@]}")"
read -r km kmn <<<"$(stats "${kms[@]}")"
read -r fm fmn <<<"$(stats "${fms[@]}")"
read -r tm tmn <<<"$(stats "${totals[@]}")"
emit "image_build_kernel_s=$km noise=$kmn% image_build_fuse_s=$fm noise=$fmn% (medians of ${#speedups[@]} rounds)"
emit "image_build_setup_speedup=$tm noise=$tmn% (set-up counted: GET_FREE, losetup, mount / fuse2fs start)"
table image_build_speedup \
	"image build, untar $FILES files ($((TREE_KB / 1024)) MiB) + sync + umount into ext4: fuse2fs time / kernel ext4 on a loopfs device" \
	"$sp" "$spn" ">=5" "median kernel ${km} s, fuse2fs ${fm} s; $IMAGE_MB MiB image on tmpfs"
emit "bench_image_build_total_s=$((($(now_ms) - T0) / 1000))"
