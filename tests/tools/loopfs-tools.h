/* SPDX-License-Identifier: GPL-2.0 */
/*
 * loopfs-tools.h - helpers shared by the tools in tests/tools (loopctl,
 * isobench, loopfs-fuzz, loopfs-stress, loopfs-cycles, loopfs-holder, ...):
 * the new mount API's syscalls, detached loopfs instances, /sys/block
 * queries and the check of what outlived the instances, a deterministic
 * PRNG, clocks, backing files in $TMPDIR, holds on nodes (O_PATH fds,
 * detached and bind mounts) and their reopening, partitions with BLKPG, and
 * the max_loop_devices check.
 */
#ifndef LOOPFS_TOOLS_H
#define LOOPFS_TOOLS_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <linux/blkpg.h>
#include <linux/fs.h>
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
#define LT_FSCONFIG_SET_FLAG	0
#define LT_FSCONFIG_SET_STRING	1
#define LT_FSCONFIG_CMD_CREATE	6
#ifndef __NR_open_tree
#define __NR_open_tree		428
#endif
#ifndef __NR_move_mount
#define __NR_move_mount		429
#endif
/* (own names: <sys/mount.h> and <linux/fs.h> do not mix) */
#define LT_OPEN_TREE_CLONE	1
#define LT_MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define LT_MS_REC		16384
#define LT_MS_PRIVATE		(1 << 18)
#define LT_MNT_DETACH		2
#define LT_UMOUNT_NOFOLLOW	8

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

static inline long lt_open_tree(int dfd, const char *path, unsigned int flags)
{
	return syscall(__NR_open_tree, dfd, path, flags);
}

static inline long lt_move_mount(int from_dfd, const char *from, int to_dfd,
				 const char *to, unsigned int flags)
{
	return syscall(__NR_move_mount, from_dfd, from, to_dfd, to, flags);
}

static inline int lt_mount(const char *src, const char *dst, const char *type,
			   unsigned long flags, const void *data)
{
	return syscall(SYS_mount, src, dst, type, flags, data);
}

static inline int lt_umount(const char *dst, int flags)
{
	return syscall(SYS_umount2, dst, flags);
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

/* What loop@nr is bound to (/sys/block/loopN/loop/backing_file), for messages */
static inline const char *lt_sys_backing(int nr, char *buf, size_t len)
{
	char p[80];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "/sys/block/loop%d/loop/backing_file", nr);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "nothing";
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return "nothing";
	buf[n] = 0;
	if (buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return buf;
}

/* CLOCK_MONOTONIC in nanoseconds */
static inline long long lt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
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

/*
 * A mount namespace of our own from which nothing propagates: the instances
 * a tool attaches and the bind mounts of nodes it makes go when it exits,
 * however it exits.  Call it before starting threads.  0 or -1 (errno).
 */
static inline int lt_private_mounts(void)
{
	if (unshare(CLONE_NEWNS))
		return -1;
	return lt_mount(NULL, "/", NULL, LT_MS_REC | LT_MS_PRIVATE, NULL);
}

/* Attach the detached instance mount @mfd on @dir; @mfd then stands for it. */
static inline int lt_attach(int mfd, const char *dir)
{
	return lt_move_mount(mfd, "", AT_FDCWD, dir, LT_MOVE_MOUNT_F_EMPTY_PATH);
}

/* @src into @dst of @len bytes, cut short if need be */
static inline void lt_strcpy(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

/*
 * The name (loopN, loopNpM, ...) that block device number @dev has in
 * /sys/dev/block, into @name: 0, or -1 when no device has the number.
 */
static inline int lt_devt_name(dev_t dev, char *name, size_t len)
{
	char p[64], l[PATH_MAX], *s;
	ssize_t n;

	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	n = readlink(p, l, sizeof(l) - 1);
	if (n < 0)
		return -1;
	l[n] = 0;
	s = strrchr(l, '/');
	lt_strcpy(name, len, s ? s + 1 : l);
	return 0;
}

/*
 * The inode number of the sysfs directory of block device number @dev; 0 if
 * none.  It stands for the device or partition that has the number now: a
 * sysfs directory is made when the device is added and goes when it is
 * removed, and kernfs does not hand out an inode number again.  (The
 * diskseq would not do: it changes whenever a loop device is bound.)
 */
static inline unsigned long long lt_devt_ino(dev_t dev)
{
	struct stat st;
	char p[64];

	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/", major(dev), minor(dev));
	return stat(p, &st) ? 0 : st.st_ino;
}

/*
 * The partitions loopNpM in /sys/class/block of the loop devices N whose bit
 * is set in @map (over indexes < @nbits): how many, the first one's name in
 * @first.
 */
static inline int lt_sys_parts(const unsigned char *map, int nbits,
			       char *first, size_t len)
{
	DIR *d = opendir("/sys/class/block");
	struct dirent *e;
	int n = 0, nr, pno;
	char c;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (sscanf(e->d_name, "loop%dp%d%c", &nr, &pno, &c) != 2 ||
		    nr < 0 || nr >= nbits || !lt_bit(map, nr))
			continue;
		if (!n++)
			lt_strcpy(first, len, e->d_name);
	}
	closedir(d);
	return n;
}

/*
 * What outlived the instances a tool made, once it has closed everything:
 * of the devices @seen[0..@nseen), those still in /sys/block; of the
 * partitions @parts[0..@nparts) (device, partition number), those still in
 * /sys/class/block; and any other partition left of a device whose bit is
 * set in @map (over indexes < @nbits).  Each is reported on @out as a line
 * "@prefix" "FAIL: ..."; returns how many were reported.
 */
static inline int lt_leftovers(FILE *out, const char *prefix, const int *seen,
			       int nseen, int (*parts)[2], int nparts,
			       const unsigned char *map, int nbits)
{
	char p[80], name[64];
	int i, bad = 0;

	for (i = 0; i < nseen; i++) {
		if (lt_sys_present(seen[i])) {
			fprintf(out, "%sFAIL: loop%d outlived its instance: still in /sys/block after everything was closed (bound to %s)\n",
				prefix, seen[i], lt_sys_backing(seen[i], name, sizeof(name)));
			bad++;
		}
	}
	for (i = 0; i < nparts; i++) {
		snprintf(p, sizeof(p), "/sys/class/block/loop%dp%d", parts[i][0], parts[i][1]);
		if (!access(p, F_OK)) {
			fprintf(out, "%sFAIL: partition loop%dp%d outlived its instance: still in /sys/class/block after everything was closed\n",
				prefix, parts[i][0], parts[i][1]);
			bad++;
		}
	}
	i = lt_sys_parts(map, nbits, name, sizeof(name));
	if (i) {
		fprintf(out, "%sFAIL: %d partitions of the devices used left in /sys/class/block (%s, ...)\n",
			prefix, i, i > 0 ? name : "unreadable");
		bad++;
	}
	return bad;
}

/*
 * The entries of directory stream @d but . and .., read to the end; @d is
 * closed.  -1 if @d is NULL.
 */
static inline long lt_count_entries(DIR *d)
{
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* A readdir handle on directory @dfd (a mount fd of an instance), or NULL. */
static inline DIR *lt_opendir(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d)
		close(fd);
	return d;
}

/*
 * A random node of the instance whose root is @mfd, by readdir: loopN or
 * loopNpM (@want 0), a device (1) or a partition (2); its name into @name.
 * 0, or -1 when there is none.
 */
static inline int lt_pick_node(int mfd, uint64_t *rs, int want, char *name,
			       size_t len)
{
	int n = 0, k, nr, pno;
	struct dirent *e;
	char c;
	DIR *d = lt_opendir(mfd);

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		k = sscanf(e->d_name, "loop%dp%d%c", &nr, &pno, &c);
		if ((k != 1 && k != 2) || (want == 1 && k == 2) || (want == 2 && k == 1))
			continue;
		if (lt_below(rs, ++n) == 0)	/* each with chance 1/n */
			lt_strcpy(name, len, e->d_name);
	}
	closedir(d);
	return n ? 0 : -1;
}

/* BLKPG_ADD_PARTITION or BLKPG_DEL_PARTITION (@op) of partition @pno on @fd */
static inline int lt_blkpg(int fd, int op, int pno, long long start,
			   long long length)
{
	struct blkpg_partition p;
	struct blkpg_ioctl_arg a;

	memset(&p, 0, sizeof(p));
	memset(&a, 0, sizeof(a));
	p.pno = pno;
	p.start = start;
	p.length = length;
	a.op = op;
	a.datalen = sizeof(p);
	a.data = &p;
	return ioctl(fd, BLKPG, &a);
}

/*
 * Holds (contract clause 1.7): a path to a node of an instance kept without
 * the node being open -- an O_PATH fd, a detached mount of the node
 * (open_tree(OPEN_TREE_CLONE)) or a bind mount of it on a file.  A node pins
 * the device or partition it was made for, and with it the number: while a
 * hold exists nothing else gets that loop index or extended minor.  The clone
 * and the bind need the instance attached in our mount namespace (a mount
 * made with fsmount() and never attached cannot be cloned: EINVAL).
 */
enum { LT_HOLD_PATH, LT_HOLD_TREE, LT_HOLD_BIND, LT_HOLD_HOWS };
static const char *const lt_hold_what[LT_HOLD_HOWS] = {
	"O_PATH fd", "detached mount", "bind mount",
};

struct lt_hold {
	int how;		/* LT_HOLD_* */
	int fd;			/* the O_PATH or open_tree() fd; -1 for a bind */
	char path[PATH_MAX];	/* the bind mount's mount point */
	char name[48];		/* loopN or loopNpM */
	int nr, partno;		/* from the name; partno 0 for loopN */
	dev_t rdev;		/* the node's device number */
	unsigned long long ino;	/* lt_devt_ino() when the hold was taken; 0 unknown */
	int inst;		/* the caller's: the instance the node is of */
	int gone;		/* the caller's: known to be removed */
	unsigned long id;	/* the caller's */
};

/*
 * Take a hold of kind @how on node @name of the instance whose root is @mfd;
 * a bind mount goes on a new file in @dir.  0 or -errno.
 */
static inline int lt_hold_take(struct lt_hold *h, int mfd, const char *name,
			       int how, const char *dir)
{
	struct stat st;
	int fd, tfd, e;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	h->how = how;
	lt_strcpy(h->name, sizeof(h->name), name);
	if (sscanf(name, "loop%dp%d", &h->nr, &h->partno) < 1)
		return -EINVAL;
	fd = openat(mfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISBLK(st.st_mode)) {
		close(fd);
		return -ENOTBLK;
	}
	h->rdev = st.st_rdev;
	h->ino = lt_devt_ino(h->rdev);
	if (how == LT_HOLD_PATH) {
		h->fd = fd;
		return 0;
	}
	tfd = lt_open_tree(fd, "", LT_OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH);
	e = errno;
	close(fd);
	if (tfd < 0)
		return -e;
	if (how == LT_HOLD_TREE) {
		h->fd = tfd;
		return 0;
	}
	snprintf(h->path, sizeof(h->path), "%s/loopfs-hold.XXXXXX", dir);
	fd = mkostemp(h->path, O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		close(tfd);
		h->path[0] = 0;
		return -e;
	}
	close(fd);
	if (lt_move_mount(tfd, "", AT_FDCWD, h->path, LT_MOVE_MOUNT_F_EMPTY_PATH)) {
		e = errno;
		close(tfd);
		unlink(h->path);
		h->path[0] = 0;
		return -e;
	}
	close(tfd);
	return 0;
}

/* Let go of a hold (unmount and remove a bind's mount point). */
static inline void lt_hold_release(struct lt_hold *h)
{
	if (h->fd >= 0)
		close(h->fd);
	if (h->path[0]) {
		lt_umount(h->path, LT_MNT_DETACH | LT_UMOUNT_NOFOLLOW);
		unlink(h->path);
	}
	h->fd = -1;
	h->path[0] = 0;
}

/* Open the held node: through /proc/self/fd/N, or the bind's path. */
static inline int lt_hold_reopen(const struct lt_hold *h, int flags)
{
	char p[40];

	if (h->path[0])
		return open(h->path, flags | O_CLOEXEC);
	snprintf(p, sizeof(p), "/proc/self/fd/%d", h->fd);
	return open(p, flags | O_CLOEXEC);
}

/* Outcomes of lt_hold_check() */
enum { LT_HOLD_LIVE, LT_HOLD_LIVE_FAILED, LT_HOLD_GONE, LT_HOLD_VIOLATION };

/*
 * Reopen a held node O_RDWR and judge the result.  Its device or partition
 * is gone when the caller knows it (h->gone) or when its number is not in
 * /sys/dev/block: the hold pins the number, so nothing else can have it, and
 * the block layer unhashes a number before it leaves sysfs.  A gone node
 * must not open: the reopen fails with ENXIO (LT_HOLD_GONE).  Violations
 * (LT_HOLD_VIOLATION, described in @why): a gone node opens or fails
 * otherwise, the number is in sysfs under another name or as another sysfs
 * directory (it went to another device or partition), or it is still there
 * although the caller knows the device was removed.  Else LT_HOLD_LIVE with
 * the new fd in *@fdp, or LT_HOLD_LIVE_FAILED.
 */
static inline int lt_hold_check(const struct lt_hold *h, int *fdp, char *why,
				size_t len)
{
	char now[64];
	int present = !lt_devt_name(h->rdev, now, sizeof(now)), fd, e;
	unsigned long long ino = present ? lt_devt_ino(h->rdev) : 0;

	*fdp = -1;
	if (present && strcmp(now, h->name)) {
		snprintf(why, len, "%s (%u:%u) is held by a %s, but its number now belongs to %s",
			 h->name, major(h->rdev), minor(h->rdev), lt_hold_what[h->how], now);
		return LT_HOLD_VIOLATION;
	}
	if (present && h->ino && ino && ino != h->ino) {
		snprintf(why, len, "%s (%u:%u) is held by a %s, but its number now belongs to another %s (sysfs inode %llu, was %llu)",
			 h->name, major(h->rdev), minor(h->rdev), lt_hold_what[h->how], now,
			 ino, h->ino);
		return LT_HOLD_VIOLATION;
	}
	if (present && h->gone) {
		snprintf(why, len, "%s (%u:%u) was removed, but its number is still in /sys/dev/block",
			 h->name, major(h->rdev), minor(h->rdev));
		return LT_HOLD_VIOLATION;
	}
	fd = lt_hold_reopen(h, O_RDWR);
	e = errno;
	if (!present) {
		if (fd >= 0) {
			close(fd);
			snprintf(why, len, "reopening a %s of %s (%u:%u) after it was gone succeeded",
				 lt_hold_what[h->how], h->name, major(h->rdev), minor(h->rdev));
			return LT_HOLD_VIOLATION;
		}
		if (e != ENXIO) {
			snprintf(why, len, "reopening a %s of %s (%u:%u) after it was gone failed with %s, not ENXIO",
				 lt_hold_what[h->how], h->name, major(h->rdev), minor(h->rdev),
				 strerrorname_np(e) ? strerrorname_np(e) : "?");
			return LT_HOLD_VIOLATION;
		}
		return LT_HOLD_GONE;
	}
	if (fd < 0)
		return LT_HOLD_LIVE_FAILED;
	*fdp = fd;
	return LT_HOLD_LIVE;
}


/*
 * Remove device @nr of the instance: detach it (it is bound) and
 * LOOP_CTL_REMOVE it.  0 or -1 (errno).
 */
static inline int lt_remove_dev(int mfd, int ctl, int nr)
{
	int dev = lt_open_dev(mfd, nr, O_RDWR);

	if (dev >= 0) {
		ioctl(dev, LOOP_CLR_FD);
		close(dev);
	}
	return ioctl(ctl, LOOP_CTL_REMOVE, nr) < 0 ? -1 : 0;
}

/*
 * BLKPG_ADD_PARTITION that is expected to succeed once charges given back
 * arrive: retried for up to 5 s while it fails with ENOSPC.
 */
static inline int lt_blkpg_add_wait(int fd, int pno, long long start,
				    long long length)
{
	double end = lt_now() + 5;
	int r;

	while ((r = lt_blkpg(fd, BLKPG_ADD_PARTITION, pno, start, length)) &&
	       errno == ENOSPC && lt_now() < end)
		lt_sleep_ms(100);
	return r;
}

/*
 * The max_loop_devices check (contract clauses 5.1, 5.3 and 5.5): with
 * /proc/sys/user/max_loop_devices set to @k (restored afterwards), a fresh
 * detached instance adds devices until the limit stops it, first the
 * indexes in @idx (each must be free: LOOP_CTL_ADD succeeds), then free
 * indexes from 100 up: exactly @k adds must succeed and the next one fail
 * with ENOSPC; with all @k bound, LOOP_CTL_GET_FREE must fail with ENOSPC
 * too.  Partitions are charged as well (for @k >= 2): at the limit a BLKPG
 * add fails with ENOSPC; once one device is removed exactly one partition
 * can be added, and deleting it gives its charge back.  Fewer than @k
 * devices (or partitions) means a charge of real root's was not given back
 * (devices of this uid in other instances count too, so nothing else may
 * hold instance devices).  Prints "limit: ..." lines; 0 when it holds, 1
 * otherwise.
 */
static inline int lt_limit_check(int k, char **idx, int nidx)
{
	long saved = lt_read_long(LT_MAX_LOOP_SYSCTL);
	int mfd, ctl, n = 0, nr, bad = 0, devs[64], ndev = 0, i, err = 0;
	int bfd = lt_backing(256 * 1024), dev;
	double end;

	if (saved < 0)
		lt_die("limit: cannot read %s: %m", LT_MAX_LOOP_SYSCTL);
	if (k < 1 || k > 32)
		lt_die("limit: K must be 1..32");
	if (lt_write_long(LT_MAX_LOOP_SYSCTL, k))
		lt_die("limit: cannot set %s: %m", LT_MAX_LOOP_SYSCTL);
	mfd = lt_new_instance(0);
	if (mfd < 0) {
		lt_write_long(LT_MAX_LOOP_SYSCTL, saved);
		lt_die("limit: new instance: %s", strerror(-mfd));
	}
	ctl = lt_open_ctl(mfd);
	for (i = 0; ctl >= 0 && i < nidx && n < k; i++) {
		nr = atoi(idx[i]);
		if (ioctl(ctl, LOOP_CTL_ADD, nr) == nr) {
			printf("limit: index %d is free: added\n", nr);
			devs[ndev++] = nr;
			n++;
		} else {
			printf("limit: FAIL: index %d not free: LOOP_CTL_ADD: %m\n", nr);
			bad++;
		}
	}
	for (nr = 100; ctl >= 0 && n <= k && nr < 100000; nr++) {
		int r = ioctl(ctl, LOOP_CTL_ADD, nr);

		if (r >= 0) {
			devs[ndev++] = r;
			n++;
			continue;
		}
		err = errno;
		if (err != EEXIST)
			break;
	}
	printf("limit: max_loop_devices=%d: %d adds succeeded, then %s\n", k, n,
	       n > k ? "(no failure)" : strerrorname_np(err));
	if (n != k || err != ENOSPC) {
		printf("limit: FAIL: want exactly %d adds and then ENOSPC\n", k);
		bad++;
	}
	/* with every device bound, GET_FREE needs a new one: ENOSPC */
	for (i = 0; i < ndev; i++) {
		dev = lt_open_dev(mfd, devs[i], O_RDWR);
		if (dev < 0 || lt_configure(dev, bfd, 0)) {
			printf("limit: FAIL: binding loop%d: %m\n", devs[i]);
			bad++;
		}
		if (dev >= 0)
			close(dev);
	}
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	if (nr >= 0 || errno != ENOSPC) {
		printf("limit: FAIL: GET_FREE with %d bound devices at the limit: %d (%m), want ENOSPC\n",
		       ndev, nr);
		bad++;
	} else {
		printf("limit: GET_FREE with all %d bound: ENOSPC\n", ndev);
	}
	/* partitions take charges too */
	dev = k >= 2 && ndev == k ? lt_open_dev(mfd, devs[0], O_RDWR) : -1;
	if (dev >= 0) {
		int at_limit, one, next, again;

		at_limit = lt_blkpg(dev, BLKPG_ADD_PARTITION, 1, 0, 65536) ? errno : 0;
		if (!at_limit)
			lt_blkpg(dev, BLKPG_DEL_PARTITION, 1, 0, 0);
		if (lt_remove_dev(mfd, ctl, devs[ndev - 1]))
			printf("limit: FAIL: removing loop%d: %m\n", devs[ndev - 1]);
		one = lt_blkpg_add_wait(dev, 1, 0, 65536) ? errno : 0;
		next = lt_blkpg(dev, BLKPG_ADD_PARTITION, 2, 65536, 65536) ? errno : 0;
		if (lt_blkpg(dev, BLKPG_DEL_PARTITION, 1, 0, 0))
			printf("limit: FAIL: deleting loop%dp1: %m\n", devs[0]);
		again = lt_blkpg_add_wait(dev, 2, 65536, 65536) ? errno : 0;
		lt_blkpg(dev, BLKPG_DEL_PARTITION, 2, 0, 0);
		printf("limit: partitions: BLKPG add at the limit: %s; after a device was removed: %s, then %s; after a delete: %s\n",
		       at_limit ? strerrorname_np(at_limit) : "ok",
		       one ? strerrorname_np(one) : "ok",
		       next ? strerrorname_np(next) : "ok",
		       again ? strerrorname_np(again) : "ok");
		if (at_limit != ENOSPC || one || next != ENOSPC || again) {
			printf("limit: FAIL: want ENOSPC; ok, then ENOSPC; ok\n");
			bad++;
		}
		close(dev);
	} else if (k >= 2) {
		printf("limit: FAIL: no partition check (loop%d: %m)\n", ndev ? devs[0] : -1);
		bad++;
	}
	close(ctl);
	close(mfd);
	close(bfd);
	end = lt_now() + 15;
	for (i = 0; i < ndev; i++) {
		while (lt_sys_present(devs[i]) && lt_now() < end)
			lt_sleep_ms(100);
		if (lt_sys_present(devs[i])) {
			printf("limit: FAIL: loop%d outlived its instance\n", devs[i]);
			bad++;
		}
	}
	if (lt_write_long(LT_MAX_LOOP_SYSCTL, saved))
		printf("limit: could not restore %s to %ld\n", LT_MAX_LOOP_SYSCTL, saved);
	return bad ? 1 : 0;
}

#endif
