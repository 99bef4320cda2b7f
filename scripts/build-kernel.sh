#!/bin/bash
# Build one guest kernel: build-kernel.sh SRC OUT FRAGMENT...
# tinyconfig, merged with the fragments, olddefconfig, then bzImage (and
# the modules, if the fragments turn modules on).  Every
# option a fragment asks for is checked in the final .config so that a
# fragment that silently fails to apply is an error, not a surprise.
set -euo pipefail
src=$(realpath "$1"); out=$(realpath -m "$2"); shift 2
frags=()
for f in "$@"; do frags+=("$(realpath "$f")"); done
mkdir -p "$out"
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/loopfs-ccache}
export KBUILD_BUILD_TIMESTAMP=${KBUILD_BUILD_TIMESTAMP:-2024-01-01}
export KBUILD_BUILD_USER=loopfs KBUILD_BUILD_HOST=loopfs
cc="ccache gcc"
command -v ccache >/dev/null || cc=gcc
kmake() { make -C "$src" O="$out" CC="$cc" HOSTCC=gcc -s "$@"; }

cat "${frags[@]}" > "$out/fragments.config"
if ! cmp -s "$out/fragments.config" "$out/fragments.config.used" 2>/dev/null; then
	kmake tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
		"$out/fragments.config" >/dev/null
	kmake olddefconfig >/dev/null
	cp "$out/fragments.config" "$out/fragments.config.used"
fi
bad=0
while read -r line; do
	case "$line" in
	CONFIG_*=n) sym=${line%=n} ;;
	"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym% is not set} ;;
	CONFIG_*)
		grep -qxF "$line" "$out/.config" && continue
		echo "build-kernel: $line did not take effect" >&2
		bad=1; continue ;;
	*) continue ;;
	esac
	# An option asked to be off must not be on (it may also not exist).
	if grep -q "^$sym=" "$out/.config"; then
		echo "build-kernel: $sym is on, the fragments want it off" >&2
		bad=1
	fi
done < "$out/fragments.config"
if [ "$bad" = 1 ]; then
	rm -f "$out/fragments.config.used"
	exit 1
fi
kmake -j"$(nproc)" bzImage
echo "build-kernel: $out/arch/x86/boot/bzImage"
# A modular kernel's modules go to OUT/mod/lib/modules/VERSION, which
# run-guest.sh gives the guest as its /lib/modules.
rm -rf "$out/mod"
if grep -qx 'CONFIG_MODULES=y' "$out/.config"; then
	kmake -j"$(nproc)" modules
	kmake INSTALL_MOD_PATH="$out/mod" modules_install >/dev/null
	echo "build-kernel: $out/mod/lib/modules/$(kmake -s kernelrelease)"
fi
