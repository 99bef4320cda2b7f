#!/bin/bash
# Install build/src's UAPI headers into build/hdr/usr/include and compile each
# tools/testing/selftests/loopfs/*.c as its own binary in build/selftests/,
# each tests/tools/*.c into build/tools/ and the series' samples/loopfs/
# program into build/samples/.
set -euo pipefail
cd "$(dirname "$0")/.."
src=build/src st=build/src/tools/testing/selftests
[ -d "$src" ] || { echo "selftests: ERROR: no $src; run make src" >&2; exit 1; }
rm -rf build/selftests build/tools build/samples
mkdir -p build/selftests build/tools build/samples
# The shell tests' helpers (some threaded) and the sample, built against the
# same headers.
build_tools() {
	local f
	for f in tests/tools/*.c; do
		echo "tools: CC build/tools/$(basename "$f" .c)"
		gcc -O2 -Wall -isystem build/hdr/usr/include -pthread \
			-o "build/tools/$(basename "$f" .c)" "$f"
	done
	for f in "$src"/samples/loopfs/*.c; do
		echo "samples: CC build/samples/$(basename "$f" .c)"
		gcc -O2 -Wall -isystem build/hdr/usr/include \
			-o "build/samples/$(basename "$f" .c)" "$f"
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
