/* SPDX-License-Identifier: GPL-2.0 */
/*
 * loopfs-tools.h - helpers shared by the robustness tools in tests/tools
 * (loopfs-fuzz, loopfs-stress, loopfs-cycles, loopfs-holder): detached
 * loopfs instances through the new mount API, /sys/block queries, a
 * deterministic PRNG and backing files in $TMPDIR.
 */
#ifndef LOOPFS_TOOLS_H
#define LOOPFS_TOOLS_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/loop.h>

#ifndef __NR_fsopen
#define __NR_fsopen		430
#endif
#ifndef __NR_fsconfig
#define __NR_fsconfig		431
#endif
#ifndef __NR_fsmount
#define __NR_fsmount		432
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC		0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC		0x00000001
#endif
#define LT_FSCONFIG_SET_STRING	1
#define LT_FSCONFIG_CMD_CREATE	6

#define LT_MAX_LOOP_SYSCTL	"/proc/sys/user/max_loop_devices"

static inline long lt_fsopen(const char *fs, unsigned int flags)
{
	return syscall(__NR_fsopen, fs, flags);
}

static inline long lt_fsconfig(int fd, unsigned int cmd, const char *key,
			       const void *val, int aux)
{
	return syscall(__NR_fsconfig, fd, cmd, key, val, aux);
}

static inline long lt_fsmount(int fd, unsigned int flags, unsigned int attr)
{
	return syscall(__NR_fsmount, fd, flags, attr);
}

static inline void lt_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/*
 * A detached instance: fsopen, optional "max", CMD_CREATE, fsmount.
 * Returns the mount fd or -errno.
 */
static inline int lt_new_instance(int max)
{
	char buf[16];
	int fsfd, mfd, err;

	fsfd = lt_fsopen("loopfs", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	if (max > 0) {
		snprintf(buf, sizeof(buf), "%d", max);
		if (lt_fsconfig(fsfd, LT_FSCONFIG_SET_STRING, "max", buf, 0))
			goto fail;
	}
	if (lt_fsconfig(fsfd, LT_FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		goto fail;
	mfd = lt_fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0)
		goto fail;
	close(fsfd);
	return mfd;
fail:
	err = errno;
	close(fsfd);
	return -err;
}

static inline int lt_open_ctl(int mfd)
{
	return openat(mfd, "loop-control", O_RDWR | O_CLOEXEC);
}

static inline int lt_open_dev(int mfd, int nr, int flags)
{
	char name[32];

	snprintf(name, sizeof(name), "loop%d", nr);
	return openat(mfd, name, flags | O_CLOEXEC);
}

static inline int lt_sys_present(int nr)
{
	char p[64];

	snprintf(p, sizeof(p), "/sys/block/loop%d", nr);
	return access(p, F_OK) == 0;
}

static inline double lt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void lt_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait up to @secs for loop@nrs[0..n) to leave /sys/block; how many are left. */
static inline int lt_wait_gone(const int *nrs, int n, double secs)
{
	double end = lt_now() + secs;
	int i, left;

	for (;;) {
		left = 0;
		for (i = 0; i < n; i++)
			left += lt_sys_present(nrs[i]);
		if (!left || lt_now() > end)
			return left;
		lt_sleep_ms(100);
	}
}

/* xorshift64*: reproducible from the printed seed */
static inline uint64_t lt_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static inline unsigned int lt_below(uint64_t *s, unsigned int n)
{
	return n ? (unsigned int)(lt_rand(s) % n) : 0;
}

/* The loop devices in /sys/block: a bitmap over indexes < nbits. */
static inline int lt_sys_loops(unsigned char *map, int nbits)
{
	char path[300];
	int n = 0, fd, i;
	char buf[8192];
	long len, off;

	memset(map, 0, (nbits + 7) / 8);
	fd = open("/sys/block", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((len = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < len;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + off);
			char *end;

			off += d->reclen;
			if (strncmp(d->name, "loop", 4))
				continue;
			i = strtol(d->name + 4, &end, 10);
			if (end == d->name + 4 || *end || i < 0 || i >= nbits)
				continue;
			map[i / 8] |= 1 << (i % 8);
			n++;
		}
	}
	(void)path;
	close(fd);
	return n;
}

static inline int lt_bit(const unsigned char *map, int i)
{
	return map[i / 8] & (1 << (i % 8));
}

/* A file of @size bytes in $TMPDIR (unlinked at once), open O_RDWR. */
static inline int lt_backing(off_t size)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/loopfs-tool.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		lt_die("mkstemp %s: %s", path, strerror(errno));
	unlink(path);
	if (ftruncate(fd, size))
		lt_die("ftruncate: %s", strerror(errno));
	return fd;
}

static inline long lt_read_long(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

static inline int lt_write_long(const char *path, long v)
{
	char buf[64];
	int fd = open(path, O_WRONLY | O_CLOEXEC), n;

	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", v);
	if (write(fd, buf, n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* a bind of @dev to @bfd with LOOP_CONFIGURE */
static inline int lt_configure(int dev, int bfd, unsigned int flags)
{
	struct loop_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = bfd;
	cfg.info.lo_flags = flags;
	return ioctl(dev, LOOP_CONFIGURE, &cfg);
}

#endif
