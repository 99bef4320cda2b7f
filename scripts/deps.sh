#!/bin/bash
# Install the host packages the build and the guest need; quick when present.
set -euo pipefail
pkgs=(linux-source-6.12 qemu-system-x86 bc bison flex libelf-dev libssl-dev
      cpio ccache busybox-static fio e2fsprogs util-linux fdisk dosfstools
      rsync gcc make git crun python3)
missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#pkgs[@]} packages installed"
	exit 0
fi
echo "deps: installing ${missing[*]}"
sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y "${missing[@]}" ||
	{ $sudo apt-get update && $sudo apt-get install -y "${missing[@]}"; } || {
	echo "deps: ERROR: apt-get could not install: ${missing[*]}" >&2
	exit 1
}
