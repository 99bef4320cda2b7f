#!/bin/bash
# lint.sh: the static checks make check runs on the final tree (the series
# check, scripts/series-check.sh, runs them on every commit before a
# submission).  Prints one result line per check, like the guest suites:
#   lint/checkpatch  scripts/checkpatch.pl --strict on every patch of
#                    patches/: no ERROR or WARNING (CHECKs are printed).
#                    FILE_PATH_CHANGES ("does MAINTAINERS need updating?")
#                    is not counted: it fires on every patch that adds or
#                    moves a file without touching MAINTAINERS, and every
#                    file of the series is in a MAINTAINERS entry (the
#                    loopfs entry, drivers/block/).
#   lint/sparse      sparse (C=2) on the objects of the C files the series
#                    touches, built with build/kernel-loopfs's configuration
#   lint/kernel-doc  scripts/kernel-doc -Wall on the C files and headers the
#                    series touches
# sparse and kernel-doc count only what they say about a line the series
# adds (the diff of build/base against build/src): the files touched have
# older warnings of their own.  Exits 1 if a check failed.
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
PROJECT=$PWD
SRC=$PROJECT/build/src BASE=$PROJECT/build/base OUT=$PROJECT/build/kernel-loopfs
LOG=$PROJECT/build/results/lint
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/loopfs-ccache}
mkdir -p "$LOG"
failed=0
result() {  # result PASS|FAIL NAME [DETAILS]
	echo "$1 lint/$2"
	[ -z "${3:-}" ] || echo "$3" | sed 's/^/    /'
	[ "$1" = PASS ] || failed=1
}

# Files the patches add or change (the "b/" side of each diff), in build/src.
mapfile -t touched < <(sed -n 's|^+++ b/\(.*\)$|\1|p' patches/*.patch | sort -u |
	while read -r f; do [ -f "$SRC/$f" ] && echo "$f"; done)

# Files the series moves: "new old" (git's rename headers).
renames=$(awk '/^rename from / { from = $3 } /^rename to / { print $3, from }' patches/*.patch)
# "path:line" of every line of build/src that build/base does not have (a
# moved file is compared with where it came from).
for f in "${touched[@]}"; do
	old=$(awk -v f="$f" '$1 == f { print $2 }' <<<"$renames")
	if [ -f "$BASE/$f" ]; then
		diff -U0 "$BASE/$f" "$SRC/$f"
	elif [ -n "$old" ] && [ -f "$BASE/$old" ]; then
		diff -U0 "$BASE/$old" "$SRC/$f"
	else
		diff -U0 /dev/null "$SRC/$f"
	fi | awk -v f="$f" '/^@@/ {
		split($3, a, ","); start = substr(a[1], 2); n = (a[2] == "") ? 1 : a[2]
		for (i = 0; i < n; i++) print f ":" start + i }'
done >"$LOG/added"

# new_only LOG: its warnings and errors that point at an added line.
new_only() {
	grep -E "(warning|error):" "$1" | awk -v added="$LOG/added" -v src="$SRC/" '
		BEGIN { while ((getline l < added) > 0) ours[l] = 1 }
		{ split($0, p, ":"); f = p[1]; sub("^" src, "", f)
		  if ((f ":" p[2]) in ours) print }'
}

out=$(cd "$SRC" && PATH=/usr/bin:$PATH scripts/checkpatch.pl --strict --no-signoff -q \
	--ignore FILE_PATH_CHANGES "$PROJECT"/patches/*.patch 2>&1)
echo "$out" >"$LOG/checkpatch.log"
if echo "$out" | grep -qE "^(ERROR|WARNING):"; then
	result FAIL checkpatch "$(echo "$out" | grep -A4 -E '^(ERROR|WARNING):')"
else
	result PASS checkpatch "$(echo "$out" | grep -c '^CHECK:') CHECKs (log: build/results/lint/checkpatch.log)"
fi

objs=()
for f in "${touched[@]}"; do
	case $f in
	tools/*|samples/*) ;;
	*.c) objs+=("${f%.c}.o") ;;
	esac
done
make -C "$SRC" O="$OUT" CC="ccache gcc" HOSTCC=gcc -s C=2 "${objs[@]}" >"$LOG/sparse.log" 2>&1
rc=$?
sp=$(new_only "$LOG/sparse.log")
if [ $rc -ne 0 ]; then
	result FAIL sparse "make C=2 failed: $(tail -5 "$LOG/sparse.log")"
elif [ -n "$sp" ]; then
	result FAIL sparse "$sp"
else
	result PASS sparse "${#objs[@]} objects"
fi

(cd "$SRC" && for f in "${touched[@]}"; do
	case $f in *.c|*.h) scripts/kernel-doc -Wall -none "$f" 2>&1 ;; esac
done) >"$LOG/kernel-doc.log"
kd=$(new_only "$LOG/kernel-doc.log")
if [ -n "$kd" ]; then
	result FAIL kernel-doc "$kd"
else
	result PASS kernel-doc
fi
exit $failed
