# loopfs: entry points.  The kernel source is never committed: it is Debian's
# linux-source-6.12 at BASE_VERSION, plus the series in patches/.
BASE_VERSION := 6.12.117-1~deb12u1

SHELL := /bin/bash
KSRC  := build/src
IMAGE := arch/x86/boot/bzImage
export BASE_VERSION
export CCACHE_DIR ?= $(HOME)/.cache/loopfs-ccache
# userspace/ (what container managers install): `make install` puts it in
# $(DESTDIR)$(PREFIX)/bin.
PREFIX ?= /usr/local
CFLAGS ?= -O2

# The kernel builds use every core themselves; keep make's own steps ordered.
.NOTPARALLEL:
.PHONY: all deps base tree patches src kernels kernel-loopfs kernel-stock \
	kernel-bench-loopfs kernel-bench-stock \
	selftests userspace install check demo shell one soak bench series-check \
	clean

all: check

deps:
	scripts/deps.sh

base: deps
	scripts/base.sh '$(BASE_VERSION)'

# A git work tree for editing the series; never destroyed once it exists.
tree: base
	scripts/tree.sh

# Write build/tree's commits (base..HEAD) back to patches/.
patches:
	scripts/patches.sh

src: base
	scripts/src.sh

kernel-loopfs: src
	scripts/build-kernel.sh $(KSRC) build/kernel-loopfs \
		configs/guest.config configs/loopfs-debug.config

kernel-stock: src
	scripts/build-kernel.sh $(KSRC) build/kernel-stock \
		configs/guest.config configs/loopfs-off.config

kernels: kernel-loopfs kernel-stock

# The benchmark kernels (make bench only): no debugging options; loopfs on
# and off, otherwise the same.
kernel-bench-loopfs: src
	scripts/build-kernel.sh $(KSRC) build/kernel-bench-loopfs \
		configs/guest.config configs/bench.config configs/bench-loopfs.config

kernel-bench-stock: src
	scripts/build-kernel.sh $(KSRC) build/kernel-bench-stock \
		configs/guest.config configs/bench.config configs/bench-stock.config

selftests: src
	scripts/build-selftests.sh

# What container managers install (userspace/): the node linker, the mount
# supervisor and the OCI hook.  Plain C, needing neither the kernel source
# nor its headers (the system's UAPI headers do), so that `make install`
# works on its own.
userspace: build/userspace/loopfs-link build/userspace/loopfs-mountd \
	build/userspace/loopfs-oci-hook

build/userspace/loopfs-link: userspace/loopfs-link.c userspace/common.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wall -Wextra $(LDFLAGS) -o $@ $<

build/userspace/loopfs-mountd: userspace/loopfs-mountd.c userspace/common.h \
	userspace/json.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wall -Wextra $(LDFLAGS) -o $@ $<

build/userspace/loopfs-oci-hook: userspace/loopfs-oci-hook.c userspace/common.h \
	userspace/json.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wall -Wextra $(LDFLAGS) -o $@ $<

# The OCI hook goes to libexec; its hooks.d file (for podman/CRI-O, to be
# linked into /etc/containers/oci/hooks.d) names the installed paths.
install: userspace
	install -D -m 0755 build/userspace/loopfs-oci-hook \
		$(DESTDIR)$(PREFIX)/libexec/loopfs/loopfs-oci-hook
	@mkdir -p $(DESTDIR)$(PREFIX)/share/loopfs/hooks.d
	sed 's|/usr/local/|$(PREFIX)/|g' userspace/hooks.d/loopfs.json \
		> $(DESTDIR)$(PREFIX)/share/loopfs/hooks.d/loopfs.json
	@mkdir -p $(DESTDIR)$(PREFIX)/share/loopfs/lxc
	sed 's|/usr/local/|$(PREFIX)/|g' userspace/lxc/loopfs.conf \
		> $(DESTDIR)$(PREFIX)/share/loopfs/lxc/loopfs.conf
	install -D -m 0755 build/userspace/loopfs-link $(DESTDIR)$(PREFIX)/bin/loopfs-link
	install -D -m 0755 build/userspace/loopfs-mountd $(DESTDIR)$(PREFIX)/bin/loopfs-mountd

check: deps base src kernels selftests userspace
	scripts/check.sh

demo: kernel-loopfs
	scripts/run-guest.sh build/kernel-loopfs/$(IMAGE) build/results/demo demo

shell: kernel-loopfs selftests userspace
	scripts/run-guest.sh build/kernel-loopfs/$(IMAGE) build/results/shell shell

# Some tests in one boot of the loopfs kernel, as it is (no rebuild):
#   make one T=tests/e2e/NAME.sh   or   make one T=build/selftests/loopfs/BINARY
# (several: T=path:path:...).  KERNEL=stock boots the loopfs-off kernel.
# Results in build/results/one/.
one:
	@test -n "$(T)" || { echo "usage: make one T=path[:path...] [KERNEL=stock]"; exit 2; }
	scripts/run-guest.sh build/kernel-$(or $(KERNEL),loopfs)/$(IMAGE) \
		build/results/one one=$(T) $(or $(TIMEOUT),1800)
	@cat build/results/one/results.txt
	scripts/logcheck.sh build/results/one/console.log

# The long runs kept out of check.  soak: tests/soak/ (the fuzzer for a
# million operations, 10,000 full instance cycles, the half-hour stress run)
# on the benchmark kernel and on the debugging kernel side by side
# (scripts/soak.sh), results in build/results/soak-*/.  bench: every benchmark in tests/bench/ (check runs
# only the smoke one) on the two benchmark kernels, loopfs and stock, then
# the table, plots and report in build/bench/ (scripts/bench.sh).
soak: deps kernel-loopfs kernel-bench-loopfs selftests userspace
	scripts/soak.sh

bench: deps kernel-bench-loopfs kernel-bench-stock selftests userspace
	scripts/bench.sh

# Before the series is sent (not part of check): every commit of build/tree
# builds with loopfs on and off and passes checkpatch --strict; HEAD passes
# sparse and kernel-doc on the files the series touches.  FIRST=COMMIT to
# start later in the series.
series-check: deps tree
	scripts/series-check.sh $(FIRST)

# Everything generated except build/tree, which may hold unexported work.
clean:
	rm -rf build/base build/base.stamp build/base.tmp \
		build/src build/src.stamp build/src.files build/src.tmp \
		build/kernel-loopfs build/kernel-stock build/hdr \
		build/selftests build/selftests-obj build/userspace build/results
	@if [ -d build/tree ]; then echo "clean: kept build/tree (remove it by hand)"; fi
