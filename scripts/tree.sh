#!/bin/bash
# build/tree: git repo of build/base as one commit tagged `base`, then
# `git am` of patches/*.patch in name order.  An existing tree is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
proj=$PWD
t=build/tree
g() { git -C "$t" -c user.name=loopfs -c user.email=loopfs@localhost \
	-c commit.gpgsign=false -c gc.auto=0 "$@"; }
ver=$(cat build/base.stamp 2>/dev/null) ||
	{ echo "tree: ERROR: no build/base; run make base" >&2; exit 1; }

if [ -e "$t" ]; then
	echo "tree: $t exists; leaving it alone (remove it to recreate)"
	tver=$(git -C "$t" log -1 --format=%s base 2>/dev/null || true)
	[ "$tver" = "Linux $ver" ] ||
		echo "tree: WARNING: $t base is '$tver', build/base is 'Linux $ver'" >&2
	exit 0
fi

echo "tree: copying build/base"
rm -rf "$t.tmp"
cp -a build/base "$t.tmp"
t=$t.tmp
g init -q
# -f: commit the tarball exactly, including files its .gitignores match.
g add -A -f .
GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z \
	g commit -q -m "Linux $ver" -m "Debian linux-source-6.12 $ver, unmodified."
g tag base
t=build/tree
mv "$t.tmp" "$t"

shopt -s nullglob
patches=("$proj"/patches/*.patch)
echo "tree: applying ${#patches[@]} patches"
if [ ${#patches[@]} -gt 0 ] && ! g am -q "${patches[@]}"; then
	echo "tree: ERROR: git am stopped (see above); resolve in $t with" \
		"git am --continue / --skip, or git am --abort" >&2
	exit 1
fi
# Debian's root .gitignore ignores every top-level path (`/*`), which hides
# new files from git status and git add.  Drop that from the working copy
# only; the base commit keeps the file as shipped.
if grep -qx '/\*' "$t/.gitignore"; then
	sed -i '/^\/\*$/d; /^!\/debian\/$/d' "$t/.gitignore"
	g update-index --skip-worktree .gitignore
fi
echo "tree: $t ready: $(g rev-list --count base..HEAD) commits on top of tag base"
