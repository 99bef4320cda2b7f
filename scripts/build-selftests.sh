#!/bin/bash
# Install build/src's UAPI headers into build/hdr/usr/include and compile each
# tools/testing/selftests/loopfs/*.c as its own binary in build/selftests/.
set -euo pipefail
cd "$(dirname "$0")/.."
src=build/src st=build/src/tools/testing/selftests
[ -d "$src" ] || { echo "selftests: ERROR: no $src; run make src" >&2; exit 1; }
rm -rf build/selftests build/tools
mkdir -p build/selftests build/tools
# The shell tests' helper, built against the same headers.
build_tools() {
	for f in tests/tools/*.c; do
		echo "tools: CC build/tools/$(basename "$f" .c)"
		gcc -O2 -Wall -isystem build/hdr/usr/include \
			-o "build/tools/$(basename "$f" .c)" "$f"
	done
}
shopt -s nullglob
files=("$st"/loopfs/*.c)
if [ ! -d "$st/loopfs" ] || [ ${#files[@]} -eq 0 ]; then
	echo "selftests: no $st/loopfs/*.c; nothing built"
	make -s -C "$src" O="$PWD/build/hdr" headers_install
	build_tools
	exit 0
fi
make -s -C "$src" O="$PWD/build/hdr" headers_install
for f in "${files[@]}"; do
	bin=build/selftests/$(basename "$f" .c)
	echo "selftests: CC $bin"
	# -isystem, as selftests' own KHDR_INCLUDES: the new UAPI headers win.
	gcc -O2 -Wall -isystem build/hdr/usr/include -I "$st" -pthread \
		-o "$bin" "$f"
done
build_tools

# Robustness tools (tests/tools/loopfs-*.c, some threaded) and the loopfs
# sample, which lives in the series once it is there (build/src/samples) and
# in scratch/samples until then.
build_loopfs_extras() {
	local f src
	for f in tests/tools/loopfs-*.c; do
		echo "tools: CC build/tools/$(basename "$f" .c)"
		gcc -O2 -Wall -isystem build/hdr/usr/include -pthread \
			-o "build/tools/$(basename "$f" .c)" "$f"
	done
	src=build/src/samples/loopfs/loopfs-sandbox.c
	[ -f "$src" ] || src=scratch/samples/loopfs/loopfs-sandbox.c
	if [ -f "$src" ]; then
		mkdir -p build/samples
		echo "samples: CC build/samples/loopfs-sandbox ($src)"
		gcc -O2 -Wall -isystem build/hdr/usr/include \
			-o build/samples/loopfs-sandbox "$src"
	fi
}
build_loopfs_extras
