// SPDX-License-Identifier: GPL-2.0
/*
 * loopfs-link - keep DEV_DIR/loopN symlinks to the device nodes of a loopfs
 * instance, for tools that compose /dev/loopN themselves.
 *
 * Unmodified util-linux (losetup -f, mount -o loop) asks /dev/loop-control
 * for a free device with LOOP_CTL_GET_FREE, gets a number N and opens
 * /dev/loopN, retrying for about 400 ms while that fails with ENOENT.  In a
 * container, /dev/loop-control is a symlink to the loop-control of the
 * container's loopfs instance (say /dev/loopfs) and the node of device N is
 * /dev/loopfs/loopN, created by the kernel the moment the device is added.
 * This program is the glue a container manager runs next to the container:
 * it watches the instance's root with inotify and keeps /dev/loopN ->
 * loopfs/loopN (and loopNpM -> loopfs/loopNpM) links in the container's
 * /dev.  See usage_text below for the details; build with
 *
 *	gcc -O2 -Wall -Wextra -o loopfs-link loopfs-link.c
 *
 * It depends on nothing but the C library.
 *
 * What it must never do: hold the instance.  A loopfs instance ends, and
 * all its loop devices are removed, when its last mount and its last open
 * file are gone.  A process that keeps a file of the instance open (a
 * directory fd, its cwd, a node) keeps the instance and every device of it
 * alive after the container is gone; and a process holding an fd on the
 * mount makes a plain umount of it fail with EBUSY.  So, while idle, this
 * program holds nothing of the instance but an inotify watch on its root
 * inode: a watch pins the inode, not the super block or the mount, and
 * when the instance ends the kernel tears the watch down and tells us
 * (IN_UNMOUNT, then IN_IGNORED).  The instance directory is opened only for
 * the length of a scan (at start and after an event queue overflow), the
 * program never chdirs into it (it chdirs to / once it is up), and DEV_DIR
 * is held with an O_PATH fd, which pins DEV_DIR's file system only.
 *
 * Scans find the instance through DEV_DIR's fd when INSTANCE_DIR is below
 * DEV_DIR (as /dev/loopfs is below /dev), else by INSTANCE_DIR's absolute
 * path.  An OCI createContainer hook starts us in the container's mount
 * namespace before pivot_root, with paths such as
 * /run/ctr/rootfs/dev/loopfs: after pivot_root that path is gone, but our
 * DEV_DIR fd still leads to the container's /dev, and from it to loopfs.
 *
 * Two ways to hold the instance anyway, which only the caller can avoid:
 * a process that lives in the container's mount namespace keeps that
 * namespace, and with it the instance's mount, so run loopfs-link outside
 * it or where the container's end kills it (in its pid namespace); and
 * when DEV_DIR's fd is a mount of the container's namespace (DEV_DIR given
 * as /proc/PID/root/dev) and the instance is mounted on it locked
 * (MNT_LOCKED: copied into a user namespace's mount namespace), tearing
 * that namespace down leaves the instance's mount connected to the /dev
 * mount our fd pins.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

/* include/uapi/linux/magic.h of a loopfs kernel ("lpfs") */
#ifndef LOOPFS_SUPER_MAGIC
#define LOOPFS_SUPER_MAGIC	0x6c706673
#endif

/*
 * Loop device indexes are below 1 << MINORBITS (20): the loop driver refuses
 * larger ones and loopfs parses no larger name.  Partition numbers are
 * 1..255 (DISK_MAX_PARTS - 1).
 */
#define MAX_DEVICES		(1U << 20)
#define MAX_PARTS		255
#define DEFAULT_PARTS		15

#define PROG			"loopfs-link"

static const char usage_text[] =
"NAME\n"
"    loopfs-link - keep /dev/loopN symlinks to the nodes of a loopfs instance\n"
"\n"
"SYNOPSIS\n"
"    loopfs-link [-v] [-p PARTS] [-t TARGET_PREFIX] [-r READY_FILE]\n"
"                INSTANCE_DIR DEV_DIR\n"
"    loopfs-link -h\n"
"\n"
"DESCRIPTION\n"
"    Unmodified losetup and mount -o loop ask /dev/loop-control for a free\n"
"    device and then open /dev/loopN themselves.  In a container whose\n"
"    /dev/loop-control is a symlink to the loop-control of a loopfs instance,\n"
"    the node of that device is INSTANCE_DIR/loopN, not /dev/loopN.\n"
"    loopfs-link keeps, in DEV_DIR, a symlink\n"
"\n"
"        loopN -> TARGET_PREFIX/loopN\n"
"\n"
"    for every device node of the instance mounted at INSTANCE_DIR, made as\n"
"    soon as inotify reports the node, and removed when the node goes.\n"
"    Partition nodes loopNpM raise no inotify event (loopfs makes them on\n"
"    lookup), so the links\n"
"\n"
"        loopNp1 ... loopNpPARTS -> TARGET_PREFIX/loopNpM\n"
"\n"
"    are made together with it (right after loopN, which losetup needs\n"
"    first): they dangle until the partition exists and resolve the moment\n"
"    it does, so a tool run right after `losetup -P` finds them.\n"
"\n"
"    At start it adds its inotify watch first and then reads the instance\n"
"    (so nothing added meanwhile is missed), links the nodes there, and\n"
"    removes its own stale links: symlinks in DEV_DIR named loopN or loopNpM\n"
"    whose target is exactly TARGET_PREFIX/<the same name> and whose device\n"
"    loopN is not in the instance (or whose M is above PARTS).  It never\n"
"    touches any other file in DEV_DIR: a node, a file or a symlink with\n"
"    another target where it wants a link is left alone and reported once\n"
"    on standard error.  Then it writes READY_FILE, if given, and follows\n"
"    the instance.  After an inotify queue overflow it reads the instance\n"
"    again.\n"
"\n"
"    It exits 0 when the instance ends (its last mount and last open file\n"
"    are gone) and on SIGTERM, SIGINT or SIGHUP, removing the links it made\n"
"    and READY_FILE.\n"
"\n"
"    While it waits it holds nothing of the instance but an inotify watch,\n"
"    which does not keep an instance alive: the instance directory is opened\n"
"    only during a scan.  For each scan, INSTANCE_DIR is looked up relative\n"
"    to DEV_DIR (opened once at start) when it is below DEV_DIR, so scans\n"
"    keep working after a pivot_root that takes the paths given away (an OCI\n"
"    createContainer hook); otherwise by its absolute path.\n"
"\n"
"OPTIONS\n"
"    -p PARTS\n"
"        Partition links per device, 0 to 255 (0: none); default 15.  A\n"
"        partition numbered above PARTS gets no link.\n"
"    -t TARGET_PREFIX\n"
"        What the links point into, as seen by the tools that open them (in\n"
"        the container).  Default: the name of INSTANCE_DIR when it is\n"
"        directly below DEV_DIR (\"loopfs\" for /dev/loopfs and /dev), else\n"
"        INSTANCE_DIR as an absolute path.  Give it when loopfs-link sees\n"
"        the directories under other paths than the container does.\n"
"    -r READY_FILE\n"
"        Once the links of the nodes present at start are made, write\n"
"        \"ready\\n\" to READY_FILE (written under a temporary name and\n"
"        renamed, so it appears complete).  A READY_FILE left from before is\n"
"        removed at start; it is removed again at exit.\n"
"    -v  Print each link made or removed, with the CLOCK_MONOTONIC time, on\n"
"        standard output.\n"
"    -h  Print this text.\n"
"\n"
"EXIT STATUS\n"
"    0   the instance ended, or a signal asked to stop (links removed).\n"
"    1   bad arguments (INSTANCE_DIR not the root of a loopfs instance,\n"
"        DEV_DIR not a directory or on loopfs, a bad PARTS, ...) or a\n"
"        failure to set up or to read inotify events.\n"
"\n"
"EXAMPLE\n"
"    On the host, for a container whose /dev is /ct/rootfs/dev:\n"
"\n"
"        mount -t loopfs -o mode=0600 loopfs /ct/rootfs/dev/loopfs\n"
"        ln -s loopfs/loop-control /ct/rootfs/dev/loop-control\n"
"        loopfs-link -r /run/ct.link-ready /ct/rootfs/dev/loopfs \\\n"
"            /ct/rootfs/dev &\n"
"\n"
"    The links are then loop7 -> loopfs/loop7 and so on, which resolve in\n"
"    the container as on the host.\n"
"\n"
"NOTES\n"
"    Run loopfs-link outside the container's mount namespace, or where the\n"
"    container's end kills it (in its pid namespace): a process in that\n"
"    mount namespace keeps it, and with it the instance's mount.\n"
"    If the instance stays alive after INSTANCE_DIR is unmounted (another\n"
"    mount of it, an open file), loopfs-link keeps following it through its\n"
"    watch, but cannot read it again after a queue overflow.\n"
"    Each loopfs-link uses one inotify instance of its user\n"
"    (/proc/sys/fs/inotify/max_user_instances, 128 by default).\n";

/* ------------------------------------------------------------------ state */

static unsigned int parts = DEFAULT_PARTS;	/* -p */
static const char *prefix;			/* -t, or computed */
static const char *ready_file;			/* -r */
static int verbose;				/* -v */

static char inst_path[PATH_MAX];	/* INSTANCE_DIR, absolute, for scans */
static const char *inst_rel;		/* INSTANCE_DIR below DEV_DIR, or NULL */
static dev_t inst_dev;			/* the instance's st_dev */
static const char *dev_name;		/* DEV_DIR as given, for messages */
static int dev_fd = -1;			/* DEV_DIR, O_PATH */

/* Bitmaps over device indexes */
#define BM_WORDS		(MAX_DEVICES / 64)
static uint64_t linked[BM_WORDS];	/* devices whose links we keep */
static uint64_t present[BM_WORDS];	/* devices seen by the last scan */
static uint64_t warned_dev[BM_WORDS];	/* conflict on loopN reported */
static uint64_t warned_part[BM_WORDS];	/* conflict on a loopNpM reported */

static inline int bm_test(const uint64_t *bm, unsigned int i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

static inline void bm_set(uint64_t *bm, unsigned int i)
{
	bm[i / 64] |= (uint64_t)1 << (i % 64);
}

static inline void bm_clear(uint64_t *bm, unsigned int i)
{
	bm[i / 64] &= ~((uint64_t)1 << (i % 64));
}

/* ------------------------------------------------------------ messages */

#include "common.h"

/* -v: "[SECONDS.MICROSECONDS] WHAT NAME -> TARGET" on standard output */
static void trace(const char *what, const char *name, const char *target)
{
	struct timespec ts;

	if (!verbose)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("[%lld.%06ld] %s %s -> %s\n", (long long)ts.tv_sec,
	       ts.tv_nsec / 1000, what, name, target);
}

/* ------------------------------------------------------------ names */

/*
 * A decimal number without sign or leading zero, at most @max, as loopfs
 * parses it; the end of it, or NULL.
 */
static const char *parse_nr(const char *s, unsigned long max, unsigned int *nr)
{
	unsigned long val = 0;

	if (*s < '0' || *s > '9' || (*s == '0' && s[1] >= '0' && s[1] <= '9'))
		return NULL;
	for (; *s >= '0' && *s <= '9'; s++) {
		val = val * 10 + (*s - '0');
		if (val > max)
			return NULL;
	}
	*nr = val;
	return s;
}

/*
 * "loopN" (*part = 0) or "loopNpM" (*part = M >= 1): 0; anything else
 * (loop-control, loop07, ...): -1.
 */
static int parse_name(const char *name, unsigned int *nr, unsigned int *part)
{
	const char *s;

	if (strncmp(name, "loop", 4))
		return -1;
	s = parse_nr(name + 4, MAX_DEVICES - 1, nr);
	if (!s)
		return -1;
	*part = 0;
	if (!*s)
		return 0;
	if (*s != 'p')
		return -1;
	s = parse_nr(s + 1, MAX_PARTS, part);
	return s && !*s && *part ? 0 : -1;
}

static void node_name(char *buf, size_t len, unsigned int nr, unsigned int part)
{
	if (part)
		snprintf(buf, len, "loop%up%u", nr, part);
	else
		snprintf(buf, len, "loop%u", nr);
}

/* The target we write for @name: TARGET_PREFIX/name */
static void target_of(char *buf, size_t len, const char *name)
{
	size_t n = strlen(prefix);

	/* (the prefix "/" is the only one that ends in a slash) */
	snprintf(buf, len, "%s%s%s", prefix, n && prefix[n - 1] == '/' ? "" : "/",
		 name);
}

/* DEV_DIR/@name is a symlink whose target is exactly @target */
static int is_our_link(const char *name, const char *target)
{
	char buf[PATH_MAX];
	ssize_t n;

	n = readlinkat(dev_fd, name, buf, sizeof(buf));
	return n >= 0 && (size_t)n == strlen(target) && !memcmp(buf, target, n);
}

/* ------------------------------------------------------------ links */

/*
 * Make the link DEV_DIR/@name -> TARGET_PREFIX/@name.  One that exists with
 * exactly that target is fine (ours from before, or made by someone doing
 * the same job); anything else there is left alone and reported once per
 * device (@warned: warned_dev or warned_part).
 */
static void make_link(const char *name, unsigned int nr, uint64_t *warned)
{
	char target[PATH_MAX];
	int err;

	target_of(target, sizeof(target), name);
	if (!symlinkat(target, dev_fd, name)) {
		trace("link", name, target);
		return;
	}
	err = errno;
	if (err == EEXIST && is_our_link(name, target))
		return;
	if (err == EEXIST) {
		if (!bm_test(warned, nr)) {
			bm_set(warned, nr);
			warn("%s/%s exists and is not a symlink to %s: left alone%s",
			     dev_name, name, target,
			     warned == warned_part ? " (other partitions of this device not reported)" : "");
		}
		return;
	}
	warn("cannot create %s/%s -> %s: %s", dev_name, name, target, strerror(err));
}

/* Remove DEV_DIR/@name if it is our link (exactly our target). */
static void remove_link(const char *name)
{
	char target[PATH_MAX];

	target_of(target, sizeof(target), name);
	/*
	 * (Someone could replace the link between the check and the unlink;
	 * the only way to close that window would be to own DEV_DIR.)
	 */
	if (!is_our_link(name, target))
		return;
	if (unlinkat(dev_fd, name, 0) && errno != ENOENT)
		warn("cannot remove %s/%s: %m", dev_name, name);
	else
		trace("unlink", name, target);
}

/*
 * Device loop@nr is there: link loopN first (what losetup opens right after
 * LOOP_CTL_GET_FREE), then its partitions.
 */
static void device_added(unsigned int nr)
{
	char name[32];
	unsigned int m;

	node_name(name, sizeof(name), nr, 0);
	make_link(name, nr, warned_dev);
	for (m = 1; m <= parts; m++) {
		node_name(name, sizeof(name), nr, m);
		make_link(name, nr, warned_part);
	}
	bm_set(linked, nr);
}

/*
 * Device loop@nr is gone: its partition links first and loopN last, so that
 * when loopN is gone, all of them are.
 */
static void device_removed(unsigned int nr)
{
	char name[32];
	unsigned int m;

	for (m = 1; m <= parts; m++) {
		node_name(name, sizeof(name), nr, m);
		remove_link(name);
	}
	node_name(name, sizeof(name), nr, 0);
	remove_link(name);
	bm_clear(linked, nr);
}

static void remove_all_linked(void)
{
	unsigned int w, b;

	for (w = 0; w < BM_WORDS; w++)
		for (b = 0; linked[w] && b < 64; b++)
			if (linked[w] & ((uint64_t)1 << b))
				device_removed(w * 64 + b);
}

/* ------------------------------------------------------------ scans */

/*
 * The devices of the instance, read from its directory into @present.  The
 * directory is open for the length of this function only.  -1 if it cannot
 * be read or INSTANCE_DIR is no longer (a mount of) our instance.
 */
static int scan_instance(void)
{
	struct dirent *e;
	unsigned int nr, part;
	struct stat st;
	DIR *d;
	int fd;

	/* (through DEV_DIR when we can: see find_inst_rel()) */
	if (inst_rel)
		fd = openat(dev_fd, inst_rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else
		fd = open(inst_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		warn("cannot read %s: %m", inst_path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fstat(dirfd(d), &st) || st.st_dev != inst_dev) {
		warn("%s is no longer the instance loopfs-link follows", inst_path);
		closedir(d);
		return -1;
	}
	memset(present, 0, sizeof(present));
	errno = 0;
	while ((e = readdir(d)))
		if (!parse_name(e->d_name, &nr, &part) && !part)
			bm_set(present, nr);
	if (errno) {
		warn("reading %s: %m", inst_path);
		closedir(d);
		return -1;
	}
	closedir(d);
	return 0;
}

/*
 * Remove our stale links from DEV_DIR: loopN or loopNpM with exactly our
 * target, whose device is not in @devs (NULL: none is) or whose M is above
 * PARTS.
 */
static void sweep_dev_dir(const uint64_t *devs)
{
	unsigned int nr, part;
	struct dirent *e;
	int fd;
	DIR *d;

	fd = openat(dev_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		warn("cannot read %s: %m", dev_name);
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		if (e->d_type != DT_LNK && e->d_type != DT_UNKNOWN)
			continue;
		if (parse_name(e->d_name, &nr, &part))
			continue;
		if (devs && bm_test(devs, nr) && part <= parts)
			continue;
		remove_link(e->d_name);	/* (only if the target is ours) */
	}
	closedir(d);
}

/*
 * Bring DEV_DIR in line with the instance: links for every device in it,
 * none for anything else.  Events queued meanwhile are applied after this,
 * so whatever changes during the scan ends up right too.
 */
static int rescan(void)
{
	unsigned int w, b;

	if (scan_instance())
		return -1;
	for (w = 0; w < BM_WORDS; w++)
		for (b = 0; present[w] && b < 64; b++)
			if (present[w] & ((uint64_t)1 << b))
				device_added(w * 64 + b);
	sweep_dev_dir(present);
	memcpy(linked, present, sizeof(linked));
	return 0;
}

/* ------------------------------------------------------------ set-up */

/*
 * INSTANCE_DIR as an absolute path, to look it up again for each scan: a
 * relative one through realpath(); an absolute one as given, without "."
 * components and repeated or trailing slashes (lexically: magic links such
 * as /proc/PID/root/... must stay as they are, realpath() would resolve
 * them to a path in our own mount namespace).
 */
static void absolute_path(char *out, size_t len, const char *path,
			  const char *what)
{
	char real[PATH_MAX], buf[PATH_MAX], *tok, *save = NULL;
	size_t n = 0;

	if (path[0] != '/') {
		if (!realpath(path, real))
			die("%s %s: %m", what, path);
		path = real;
	}
	if (strlen(path) >= len || strlen(path) >= sizeof(buf))
		die("%s %s: path too long", what, path);
	strcpy(buf, path);
	out[0] = 0;
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		n += snprintf(out + n, len - n, "/%s", tok);
	}
	if (!n)
		snprintf(out, len, "/");
}

/*
 * INSTANCE_DIR's path relative to DEV_DIR, when it is below DEV_DIR: the
 * rest of its absolute path after DEV_DIR's (both made absolute the same
 * way), kept only if it leads from our DEV_DIR fd to the instance's root
 * now.  Scans then open the instance through DEV_DIR's fd, which stays
 * valid when the paths given do not: started by a createContainer hook
 * before pivot_root, we are given /run/ctr/rootfs/dev/loopfs, a path that
 * pivot_root and the unmount of the old root take away, while our fd on
 * /run/ctr/rootfs/dev is and stays the container's /dev.
 */
static void find_inst_rel(void)
{
	static char dev_path[PATH_MAX];
	struct stat ist, rst;
	size_t n;

	absolute_path(dev_path, sizeof(dev_path), dev_name, "DEV_DIR");
	n = strlen(dev_path);
	if (n == 1)			/* DEV_DIR is / */
		n = 0;
	if (strncmp(inst_path, dev_path, n) || inst_path[n] != '/' ||
	    !inst_path[n + 1])
		return;
	if (stat(inst_path, &ist) ||
	    fstatat(dev_fd, inst_path + n + 1, &rst, 0) ||
	    rst.st_dev != ist.st_dev || rst.st_ino != ist.st_ino)
		return;
	inst_rel = inst_path + n + 1;
}

/*
 * The default TARGET_PREFIX: INSTANCE_DIR's name when its parent is DEV_DIR
 * (a relative link that resolves the same inside the container as outside),
 * else its absolute path.
 */
static const char *default_prefix(void)
{
	char parent[PATH_MAX + 4];
	struct stat ps, ds;
	const char *base = strrchr(inst_path, '/') + 1;

	snprintf(parent, sizeof(parent), "%s/..", inst_path);
	if (*base && strcmp(base, "..") && !stat(parent, &ps) &&
	    !fstat(dev_fd, &ds) && ps.st_dev == ds.st_dev && ps.st_ino == ds.st_ino)
		return base;
	return inst_path;
}

/* -p PARTS: 0..255 */
static unsigned int parse_parts(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *s < '0' || *s > '9' || *end || errno || v > MAX_PARTS)
		die("bad -p '%s': want a number of partitions from 0 to %d", s,
		    MAX_PARTS);
	return v;
}

/*
 * Say so if we inherited a file of the instance: it would keep the instance
 * alive (see the top of this file).  We do not close what is not ours.
 */
static void warn_held_files(void)
{
	char p[64], target[PATH_MAX];
	struct dirent *e;
	struct stat st;
	ssize_t n;
	DIR *d;
	int fd;

	d = opendir("/proc/self/fd");
	if (!d)
		return;
	while ((e = readdir(d))) {
		fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &st) ||
		    st.st_dev != inst_dev)
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		n = readlink(p, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = 0;
		warn("inherited fd %d (%s) is a file of the instance: while it is open the instance outlives its mounts",
		     fd, target);
	}
	closedir(d);
}

/* READY_FILE: "ready\n", written under another name and renamed. */
static int write_ready(void)
{
	char tmp[PATH_MAX + 16];
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", ready_file, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	if (write(fd, "ready\n", 6) != 6) {
		err = errno ? errno : EIO;
		close(fd);
		unlink(tmp);
		errno = err;
		goto fail;
	}
	if (close(fd) || rename(tmp, ready_file)) {
		err = errno;
		unlink(tmp);
		errno = err;
		goto fail;
	}
	return 0;
fail:
	warn("cannot write %s: %m", ready_file);
	return -1;
}

/* ------------------------------------------------------------ main */

/* The end: our links go (all stale ones too when the instance is gone). */
static int finish(int instance_gone, int status)
{
	remove_all_linked();
	if (instance_gone)
		sweep_dev_dir(NULL);
	if (ready_file)
		unlink(ready_file);
	return status;
}

int main(int argc, char **argv)
{
	static char evbuf[64 * 1024]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd pfd[2];
	struct statfs sfs;
	struct stat st;
	sigset_t sigs;
	int c, ifd, wd, sfd, gone = 0, stop = 0, overflow;
	const char *inst_arg;

	for (c = 1; c < argc; c++)
		if (!strcmp(argv[c], "--help")) {
			fputs(usage_text, stdout);
			return 0;
		}
	while ((c = getopt(argc, argv, "p:t:r:vh")) != -1) {
		switch (c) {
		case 'p':
			parts = parse_parts(optarg);
			break;
		case 't':
			prefix = optarg;
			break;
		case 'r':
			ready_file = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2)
		goto usage;
	inst_arg = argv[optind];
	dev_name = argv[optind + 1];
	if (prefix) {
		/* "loopfs/" -> "loopfs"; "/" stays */
		char *p = strdup(prefix);
		size_t n = p ? strlen(p) : 0;

		if (!p || !n)
			die("bad -t '%s': want a non-empty path", prefix);
		while (n > 1 && p[n - 1] == '/')
			p[--n] = 0;
		prefix = p;
	}
	if (ready_file && !*ready_file)
		die("bad -r '': want a file name");

	/*
	 * Signals are taken through a signalfd, so one that comes at any time
	 * (even during the scan below) is handled when we are ready for it.
	 * A closed stdout (-v into a pipe) must not kill us without clean-up.
	 */
	block_stop_signals(&sigs);
	if (verbose)
		setvbuf(stdout, NULL, _IOLBF, 0);

	/* DEV_DIR: O_PATH pins its file system, nothing else. */
	dev_fd = open(dev_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dev_fd < 0)
		die("DEV_DIR %s: %s", dev_name,
		    errno == ENOTDIR ? "not a directory" : strerror(errno));
	if (fstatfs(dev_fd, &sfs))
		die("DEV_DIR %s: statfs: %m", dev_name);
	if (sfs.f_type == LOOPFS_SUPER_MAGIC)
		die("DEV_DIR %s is on a loopfs instance, where no symlink can be made; give the directory that holds the instance (e.g. /dev)",
		    dev_name);

	/* INSTANCE_DIR: the root of a loopfs instance */
	if (stat(inst_arg, &st))
		die("INSTANCE_DIR %s: %m", inst_arg);
	if (!S_ISDIR(st.st_mode))
		die("INSTANCE_DIR %s: not a directory", inst_arg);
	if (statfs(inst_arg, &sfs))
		die("INSTANCE_DIR %s: statfs: %m", inst_arg);
	if (sfs.f_type != LOOPFS_SUPER_MAGIC)
		die("INSTANCE_DIR %s is not a loopfs instance (its file system type is 0x%lx, loopfs's is 0x%x)",
		    inst_arg, (unsigned long)sfs.f_type, LOOPFS_SUPER_MAGIC);
	inst_dev = st.st_dev;
	absolute_path(inst_path, sizeof(inst_path), inst_arg, "INSTANCE_DIR");
	find_inst_rel();
	if (!prefix)
		prefix = default_prefix();
	if (strlen(prefix) + sizeof("/loop1048575p255") > PATH_MAX)
		die("TARGET_PREFIX %s: too long", prefix);

	/* The watch first, then the scan: nothing added between is missed. */
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0)
		die("inotify_init1: %m%s", errno == EMFILE ?
		    " (see /proc/sys/fs/inotify/max_user_instances)" : "");
	wd = inotify_add_watch(ifd, inst_path, IN_CREATE | IN_DELETE |
			       IN_DELETE_SELF | IN_ONLYDIR);
	if (wd < 0)
		die("inotify_add_watch %s: %m", inst_path);
	/* (IN_UNMOUNT and IN_IGNORED come without asking.) */
	if (stat(inst_path, &st) || st.st_dev != inst_dev)
		die("INSTANCE_DIR %s changed while starting", inst_arg);
	sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd: %m");
	warn_held_files();

	if (ready_file && unlink(ready_file) && errno != ENOENT)
		die("cannot remove the old %s: %m", ready_file);
	if (rescan())
		return finish(0, 1);
	if (ready_file && write_ready())
		return finish(0, 1);
	/* Never keep a cwd on the instance (or anywhere it may matter). */
	if (chdir("/"))
		warn("chdir /: %m");

	pfd[0].fd = ifd;
	pfd[0].events = POLLIN;
	pfd[1].fd = sfd;
	pfd[1].events = POLLIN;
	while (!gone && !stop) {
		ssize_t len;
		char *p;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			warn("poll: %m");
			return finish(0, 1);
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si) && verbose)
				printf("%s: %s: removing links and exiting\n",
				       PROG, strsignal(si.ssi_signo));
			stop = 1;
			break;
		}
		if (!pfd[0].revents)
			continue;
		len = read(ifd, evbuf, sizeof(evbuf));
		if (len < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			warn("reading inotify events: %m");
			return finish(0, 1);
		}
		overflow = 0;
		for (p = evbuf; p < evbuf + len && !gone;) {
			const struct inotify_event *ev = (const void *)p;
			unsigned int nr, part;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				overflow = 1;
				continue;
			}
			if (ev->wd != wd)
				continue;
			if (ev->mask & (IN_UNMOUNT | IN_IGNORED | IN_DELETE_SELF)) {
				gone = 1;
				continue;
			}
			/* only device nodes raise events; partition nodes do not */
			if (!ev->len || (ev->mask & IN_ISDIR) ||
			    parse_name(ev->name, &nr, &part) || part)
				continue;
			if (ev->mask & IN_CREATE)
				device_added(nr);
			else if (ev->mask & IN_DELETE)
				device_removed(nr);
		}
		if (overflow && !gone) {
			warn("inotify queue overflow: reading %s again", inst_path);
			rescan();
		}
	}
	if (gone && verbose)
		printf("%s: the instance ended: removing links and exiting\n", PROG);
	return finish(gone, 0);

usage:
	fprintf(stderr,
		"usage: %s [-v] [-p PARTS] [-t TARGET_PREFIX] [-r READY_FILE] INSTANCE_DIR DEV_DIR\n"
		"       (%s -h for the whole text)\n", PROG, PROG);
	return 1;
}
