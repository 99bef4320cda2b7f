#!/bin/bash
# base.sh VERSION: install linux-source-6.12 at VERSION (or, if apt no longer
# has it, the newest 6.12, with a loud warning) and unpack it into build/base.
set -euo pipefail
want=${1:?usage: base.sh VERSION}
pkg=linux-source-6.12
tarball=/usr/src/linux-source-6.12.tar.xz
cd "$(dirname "$0")/.."
sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
installed() { dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true; }
apt_install() {
	$sudo apt-get install -y --allow-downgrades "$1" ||
		{ $sudo apt-get update && $sudo apt-get install -y --allow-downgrades "$1"; }
}

have=$(installed)
if [ "$have" != "$want" ]; then
	apt_install "$pkg=$want" || apt_install "$pkg" ||
		echo "base: apt-get failed; using what is installed" >&2
	have=$(installed)
fi
[ -n "$have" ] && [ -f "$tarball" ] ||
	{ echo "base: ERROR: $pkg is not installed ($tarball missing)" >&2; exit 1; }
if [ "$have" != "$want" ]; then
	{
	echo "**********************************************************************"
	echo "WARNING: base version $want is not available from apt;"
	echo "WARNING: using $pkg $have instead (BASE_VERSION is in the Makefile)."
	echo "**********************************************************************"
	} >&2
fi

if [ -d build/base ] && [ "$(cat build/base.stamp 2>/dev/null)" = "$have" ]; then
	echo "base: build/base is $pkg $have"
	exit 0
fi
echo "base: unpacking $pkg $have into build/base"
rm -rf build/base build/base.tmp build/base.stamp
mkdir -p build/base.tmp
tar -xf "$tarball" -C build/base.tmp --strip-components=1
mv build/base.tmp build/base
echo "$have" > build/base.stamp
