#!/bin/bash
# Install the host packages the build and the guest need; quick when present.
set -euo pipefail
pkgs=(linux-source-6.12 qemu-system-x86 bc bison flex libelf-dev libssl-dev
      cpio ccache busybox-static fio e2fsprogs util-linux fdisk dosfstools
      rsync gcc make git crun python3 sparse kmod
      python3-ply python3-git)
# (python3-ply and python3-git: checkpatch's SPDX check, scripts/spdxcheck.py,
# run with Debian's python3; lint.sh and series-check.sh put /usr/bin first.)
# The container managers the end-to-end tests run, without what they
# recommend (bridges, dnsmasq, lxcfs, templates: not used here), but with
# uidmap (newuidmap, which LXC uses when it is there).
bare=(runc lxc uidmap)
# make bench: the image build benchmark's fuse2fs and the plots' gnuplot.
bare+=(fuse2fs gnuplot-nox)
not_installed() {
	local p st
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$st" = "install ok installed" ] || echo "$p"
	done
}
mapfile -t missing < <(not_installed "${pkgs[@]}")
mapfile -t missing_bare < <(not_installed "${bare[@]}")
sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
# The guest's root is this machine's /, read-only: it mounts the test
# kernel's modules on /lib/modules, which must therefore exist (kmod's
# directory; empty on a machine that runs no kernel of its own from it).
[ -d /lib/modules ] || $sudo mkdir -p /lib/modules
if [ ${#missing[@]} -eq 0 ] && [ ${#missing_bare[@]} -eq 0 ]; then
	echo "deps: all $((${#pkgs[@]} + ${#bare[@]})) packages installed"
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt_install() { # APT_OPTIONS... -- PACKAGES...
	local opts=()
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	[ $# -gt 0 ] || return 0
	echo "deps: installing $*"
	$sudo apt-get install -y "${opts[@]}" "$@" ||
		{ $sudo apt-get update && $sudo apt-get install -y "${opts[@]}" "$@"; } || {
		echo "deps: ERROR: apt-get could not install: $*" >&2
		exit 1
	}
}
apt_install -- "${missing[@]}"
apt_install --no-install-recommends -- "${missing_bare[@]}"
