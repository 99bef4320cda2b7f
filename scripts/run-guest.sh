#!/bin/bash
# run-guest.sh KERNEL OUTDIR SUITE [TIMEOUT_SECONDS]
# (GUEST_APPEND in the environment: more words for the kernel command line)
# Boot KERNEL in QEMU (TCG) with the host / as a read-only 9p root and OUTDIR
# as the writable 9p share `results`; the guest runs scripts/guest-init.sh,
# which runs SUITE (or, for SUITE=shell, an interactive shell).  A kernel
# built with modules has them in its build directory's mod/lib/modules.  The console
# goes to OUTDIR/console.log; OUTDIR/status is `done` when the guest finished.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 KERNEL OUTDIR SUITE [TIMEOUT_SECONDS]" >&2; exit 2; }
kernel=$1 suite=$3
project=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$kernel" ] || { echo "run-guest: ERROR: no kernel image $kernel" >&2; exit 2; }
mkdir -p "$2"
out=$(cd "$2" && pwd)
# The guest mounts fresh file systems on these: a project below them is hidden.
case "$project/" in /tmp/*|/run/*|/var/tmp/*|/dev/*|/proc/*|/sys/*)
	echo "run-guest: ERROR: the project ($project) must not live below /tmp, /run," \
		"/var/tmp, /dev, /proc or /sys: the guest mounts its own there" >&2
	exit 2 ;;
esac
case "$project$out$suite" in *[\ ,]*)
	echo "run-guest: ERROR: paths and suite must not contain spaces or commas" >&2
	exit 2 ;;
esac
interactive=0 tee=0 timeout=${4:-1200}
case "$suite" in
shell) interactive=1 tee=1 timeout=${4:-0} ;;  # 0: no timeout
demo) tee=1 ;;
esac

rm -rf "$out/logs"
rm -f "$out/console.log" "$out/status" "$out/results.txt" "$out/kmemleak.txt"

khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000 + 0.5; exit }' /proc/cpuinfo)
append="console=ttyS0 root=/dev/root rootfstype=9p"
# The root is read-only and does not change during a run: let the guest
# cache it (ROOT_CACHE=loose, about 2.5x faster execs under TCG than no
# cache; ROOT_CACHE= turns caching off).
root_cache=${ROOT_CACHE-loose}
append+=" rootflags=trans=virtio,version=9p2000.L,msize=1048576${root_cache:+,cache=$root_cache} ro"
append+=" init=$project/scripts/guest-init.sh panic=-1 panic_on_warn=0"
append+=" printk.devkmsg=on tsc=reliable${khz:+ tsc_early_khz=$khz}"
append+=" suite=$suite project=$project"
# A modular kernel's modules (build-kernel.sh installs them next to it):
# the guest mounts them on /lib/modules.
kdir=$(cd "$(dirname "$kernel")" && pwd)
kdir=${kdir%/arch/x86/boot}
if [ -d "$kdir/mod/lib/modules" ]; then
	append+=" modules=$kdir/mod/lib/modules"
fi
# Extra kernel parameters for this boot (e.g. loop.max_part=15).
append+="${GUEST_APPEND:+ $GUEST_APPEND}"
qemu=(qemu-system-x86_64 -accel tcg -m 2G -smp "2,sockets=2"
	-nographic -no-reboot -nic none -kernel "$kernel"
	-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=root,mount_tag=/dev/root
	-fsdev "local,id=results,path=$out,security_model=none"
	-device virtio-9p-pci,fsdev=results,mount_tag=results
	-append "$append")
# --foreground: QEMU may read the terminal and gets the terminal's Ctrl-C.
run=(timeout --foreground --kill-after=10 "$timeout" "${qemu[@]}")

echo "run-guest: booting $kernel, suite $suite (console: $out/console.log)"
start=$SECONDS rc=0
if [ $interactive = 1 ]; then
	"${run[@]}" 2>&1 | tee "$out/console.log" || rc=$?
elif [ $tee = 1 ]; then
	"${run[@]}" </dev/null 2>&1 | tee "$out/console.log" || rc=$?
else
	"${run[@]}" </dev/null >"$out/console.log" 2>&1 || rc=$?
	# QEMU itself crashing (SIGSEGV, SIGABRT) is not a result of the guest:
	# say so, keep its log, and boot once more.
	if { [ $rc = 139 ] || [ $rc = 134 ]; } && [ ! -s "$out/results.txt" ]; then
		echo "run-guest: WARNING: qemu died with signal $((rc - 128))" \
			"after $((SECONDS - start))s; booting again (log: console.qemu-crash.log)"
		mv "$out/console.log" "$out/console.qemu-crash.log"
		rm -rf "$out/logs" "$out/status" "$out/kmemleak.txt"
		rc=0
		"${run[@]}" </dev/null >"$out/console.log" 2>&1 || rc=$?
	fi
fi

status=$(cat "$out/status" 2>/dev/null || true)
if [ $rc = 124 ] || [ $rc = 137 ]; then
	status="timeout: guest killed after ${timeout}s"
elif [ -z "$status" ]; then
	status="crashed: guest stopped without finishing (qemu exit $rc)"
fi
echo "$status" > "$out/status"
echo "run-guest: suite $suite: $status ($((SECONDS - start))s)"
[ "$status" = "done" ]
