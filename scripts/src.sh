#!/bin/bash
# build/src: build/base (hard-linked) with patches/*.patch applied in name
# order.  Recreated only when the base version or the patches change.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ver=$(cat build/base.stamp 2>/dev/null) && [ -d build/base ] ||
	{ echo "src: ERROR: no build/base; run make base" >&2; exit 1; }
shopt -s nullglob
patches=(patches/*.patch)
stamp=$({ echo "$ver"; for p in "${patches[@]}"; do
	echo "${p##*/} $(sha256sum < "$p")"; done; } | sha256sum | cut -d' ' -f1)
if [ -d build/src ] && [ "$(cat build/src.stamp 2>/dev/null)" = "$stamp" ]; then
	echo "src: build/src up to date (${#patches[@]} patches on $ver)"
	exit 0
fi

# Files a set of patches touches (both sides of each diff --git line).
touched() { [ $# -eq 0 ] ||
	sed -n 's|^diff --git a/\([^ ]*\) b/\([^ ]*\)$|\1\n\2|p' "$@" | sort -u; }

echo "src: creating build/src from build/base + ${#patches[@]} patches"
rm -rf build/src.tmp
cp -al build/base build/src.tmp
for p in "${patches[@]}"; do
	# GNU patch writes a new file and renames it: build/base stays intact.
	if ! out=$(patch -d build/src.tmp -p1 -F0 -N -s -E --batch \
			--no-backup-if-mismatch < "$p" 2>&1); then
		echo "$out" >&2
		echo "src: ERROR: $p does not apply to linux-source-6.12 $ver" >&2
		rm -rf build/src.tmp
		exit 1
	fi
	[ -z "$out" ] || echo "$out"
done
# A file the previous series touched but this one does not is back to its
# old base mtime; give it a fresh copy so incremental kernel builds see it.
if [ -f build/src.files ]; then
	comm -23 build/src.files <(touched "${patches[@]}") | while read -r f; do
		if [ -f "build/base/$f" ]; then
			cp --remove-destination "build/base/$f" "build/src.tmp/$f"
		fi
	done
fi
rm -rf build/src
mv build/src.tmp build/src
touched "${patches[@]}" > build/src.files
echo "$stamp" > build/src.stamp
echo "src: build/src ready"
