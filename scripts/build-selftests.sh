#!/bin/bash
# Install build/src's UAPI headers into build/hdr/usr/include; build and
# install the loopfs kselftests the kselftest way, with the Makefile, config
# and settings that go upstream:
#   make -C tools/testing/selftests TARGETS=loopfs install
# into build/selftests/ (run_kselftest.sh, kselftest/, kselftest-list.txt,
# loopfs/: the binaries, config, settings), objects in build/selftests-obj/;
# and compile each tests/tools/*.c into build/tools/ and the series'
# samples/loopfs/ program into build/samples/.
set -euo pipefail
cd "$(dirname "$0")/.."
src=build/src st=build/src/tools/testing/selftests
[ -d "$src" ] || { echo "selftests: ERROR: no $src; run make src" >&2; exit 1; }
rm -rf build/selftests build/selftests-obj build/tools build/samples
mkdir -p build/tools build/samples
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
make -s -C "$src" O="$PWD/build/hdr" headers_install
if [ ! -f "$st/loopfs/Makefile" ]; then
	echo "selftests: no $st/loopfs/Makefile; nothing built"
	build_tools
	exit 0
fi
# O=: objects outside build/src, whose files are hard links to build/base.
# KHDR_INCLUDES: the series' UAPI headers, not the system's, as -isystem so
# that they win over /usr/include.  FORCE_TARGETS: a build error is an
# error.  USERCFLAGS: -Wall, to see warnings (the Makefile's own flags stay).
make -C "$st" O="$PWD/build/selftests-obj" TARGETS=loopfs FORCE_TARGETS=1 \
	KHDR_INCLUDES="-isystem $PWD/build/hdr/usr/include" USERCFLAGS=-Wall \
	INSTALL_PATH="$PWD/build/selftests" install
# What run-suite.sh runs: every collection:binary of the list must be there.
[ -s build/selftests/kselftest-list.txt ] ||
	{ echo "selftests: ERROR: empty build/selftests/kselftest-list.txt" >&2; exit 1; }
while IFS=: read -r coll bin; do
	[ -x "build/selftests/$coll/$bin" ] ||
		{ echo "selftests: ERROR: $coll:$bin listed, not installed" >&2; exit 1; }
	echo "selftests: installed build/selftests/$coll/$bin"
done < build/selftests/kselftest-list.txt
build_tools
