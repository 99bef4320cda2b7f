#!/bin/bash
# Write build/tree's commits base..HEAD back to patches/ (format-patch).
set -euo pipefail
cd "$(dirname "$0")/.."
t=build/tree
git -C "$t" rev-parse -q --verify base >/dev/null 2>&1 ||
	{ echo "patches: ERROR: no $t with tag base; run make tree" >&2; exit 1; }
gd=$(git -C "$t" rev-parse --absolute-git-dir)
if [ -d "$gd/rebase-apply" ] || [ -d "$gd/rebase-merge" ]; then
	echo "patches: ERROR: a git am/rebase is in progress in $t; finish it" >&2
	exit 1
fi
if ! git -C "$t" diff --quiet HEAD; then
	echo "patches: WARNING: $t has uncommitted changes; they are NOT exported" >&2
fi
rm -f patches/*.patch
# (core.abbrev fixed: index lines do not change with the number of objects)
git -C "$t" -c diff.noprefix=false -c diff.mnemonicPrefix=false -c core.abbrev=9 \
	format-patch -q --zero-commit --no-signature -o "$PWD/patches" base..HEAD
echo "patches: wrote $(find patches -name '*.patch' | wc -l) patches"
