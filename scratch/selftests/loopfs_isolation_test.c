// SPDX-License-Identifier: GPL-2.0
/*
 * Tests for the isolation of loopfs instance devices: who sees them in
 * sysfs, in /proc/partitions and /proc/diskstats, and who gets their
 * uevents.
 *
 * Every device of an instance belongs to the user namespace that owns the
 * instance (the one of its mounter, or of the fsopen() caller).  A sysfs
 * mount shows an instance device, its partitions and their /sys/dev/block
 * links only when the user namespace owning the sysfs superblock (the one
 * owning the network namespace it was mounted in) owns the device; the
 * /proc files judge by the credentials of their opener; uevents go only to
 * network namespaces owned by the device's user namespace.  Host devices
 * (those of /dev/loop-control) are seen everywhere, as in a kernel without
 * loopfs.
 *
 * Each test is named after the clause of the loopfs contract
 * (Documentation/filesystems/loopfs.rst) that it checks and must run as
 * root in the initial user namespace.  The test process forks
 * "containers": processes that switch to an unprivileged host uid, unshare
 * a user, mount and network namespace, map that uid to their root and mount
 * a tmpfs on /tmp with a sysfs of their own in it.  A container serves
 * requests from the test process over a socket (add a device, bind it,
 * check what its sysfs shows, ...), so that each test reads as one script
 * of what happens where.  Whatever a container mounts goes away with it.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <linux/netlink.h>

#include "../kselftest_harness.h"

#ifndef __NR_fsopen
#define __NR_fsopen		430
#endif
#ifndef __NR_fsconfig
#define __NR_fsconfig		431
#endif
#ifndef __NR_fsmount
#define __NR_fsmount		432
#endif

#define LOOP_MAJOR		7

#define PATH_LEN		256
#define NAME_LEN		32
#define MAX_HOST_DEVS		8
#define MAX_CTR_DEVS		16
#define MAX_UEV			1024
#define UEV_BUF			8192
#define PROC_BUF		(256 * 1024)

/* What a container sees: its own tmpfs, with its sysfs and instance. */
#define CTR_ROOT		"/tmp"
#define CTR_SYS			CTR_ROOT "/sys"
#define CTR_LFS			CTR_ROOT "/lfs"

#define BACKING_SIZE		(4 * 1024 * 1024)
#define SECTOR			512
#define PART_START(p)		(2048 * (p))	/* partition p (1, 2) */
#define PART_SECTORS		2048
/* Numbers tried first by LOOP_CTL_ADD. */
#define FIRST_ADD_NR		100
#define FIRST_HOST_NR		300
/* Partition nodes and asynchronous removals. */
#define WAIT_MS			5000

/* Containers and partition scans take a while under emulation. */
#define ISO_TIMEOUT		180

FIXTURE(iso) {
	int nr_host;
	int host_nr[MAX_HOST_DEVS];
};

/* A loop device, or partition @part (> 0) of one, and its number. */
struct dev {
	int nr;
	int part;
	unsigned int maj;
	unsigned int min;
};

/* A container, driven through @sock. */
struct ctr {
	pid_t pid;
	int sock;
	const char *who;
};

enum ctr_op {
	OP_MOUNT,	/* a new instance: mount(2), or fsopen() when @arg */
	OP_GET_FREE,	/* LOOP_CTL_GET_FREE: val = nr */
	OP_ADD,		/* LOOP_CTL_ADD of a free number: val = nr */
	OP_REMOVE,	/* LOOP_CTL_REMOVE(@nr): val = errno */
	OP_DEVNUM,	/* number of node loop@nr(p@part): maj, min */
	OP_BIND,	/* LOOP_CONFIGURE @nr onto a new file with @arg partitions */
	OP_REREAD,	/* write a table of @arg partitions via @nr, BLKRRPART */
	OP_UNBIND,	/* LOOP_CLR_FD @nr: val = errno */
	OP_SYS,		/* sysfs shows @dev as @shown: val = mismatches */
	OP_PROC,	/* /proc files show @dev as @shown: val = mismatches */
	OP_UEV_OPEN,	/* start listening to uevents */
	OP_UEV_COUNT,	/* events @action (any if "") of @dev: val = count */
	OP_PROC_SEND,	/* open /proc/partitions and diskstats, send the fds */
	OP_PROC_RECV,	/* receive such fds; check @dev as @shown with them */
	OP_EXIT,
};

struct req {
	int op;
	int arg;
	bool shown;
	struct dev dev;
	char action[NAME_LEN];
};

struct reply {
	int val;
	unsigned int maj;
	unsigned int min;
};

/* The uevents a listener got. */
struct uev {
	char action[NAME_LEN];
	char devpath[PATH_LEN];
	char subsystem[NAME_LEN];
};

struct uev_log {
	int fd;
	int n;
	int lost;
	struct uev ev[MAX_UEV];
};

/* The state of a container (its own copy, after fork). */
static struct {
	int root;	/* the instance's root directory */
	int ctl;
	int nr_devs;
	int nr[MAX_CTR_DEVS];
	int devfd[MAX_CTR_DEVS];
	int bfd[MAX_CTR_DEVS];
} ctr_state;

/*
 * The uevent listener of this process (the test's, in the initial network
 * namespace, or a container's) and, for the test, one in a network
 * namespace of its own that the initial user namespace owns.
 */
static struct uev_log uev = { .fd = -1 };
static struct uev_log uev2 = { .fd = -1 };

static char proc_buf[PROC_BUF];

static long sys_fsopen(const char *fsname, unsigned int flags)
{
	return syscall(__NR_fsopen, fsname, flags);
}

static long sys_fsconfig(int fd, unsigned int cmd, const char *key,
			 const void *value, int aux)
{
	return syscall(__NR_fsconfig, fd, cmd, key, value, aux);
}

static long sys_fsmount(int fd, unsigned int flags, unsigned int attr_flags)
{
	return syscall(__NR_fsmount, fd, flags, attr_flags);
}

/* 0 when @ret reports success, errno otherwise. */
static int err_of(long ret)
{
	return ret < 0 ? errno : 0;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void dev_name(char *buf, const struct dev *d)
{
	if (d->part)
		snprintf(buf, NAME_LEN, "loop%dp%d", d->nr, d->part);
	else
		snprintf(buf, NAME_LEN, "loop%d", d->nr);
}

static int write_str(const char *path, const char *str)
{
	ssize_t len;
	int fd, err;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	len = write(fd, str, strlen(str));
	err = len < 0 ? errno : (len == (ssize_t)strlen(str) ? 0 : EIO);
	close(fd);
	return err;
}

static bool read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t got;

	while (len) {
		got = read(fd, p, len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return false;
		p += got;
		len -= got;
	}
	return true;
}

static void send_fds(struct __test_metadata *_metadata, int sock,
		     const int *fds, int count)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = CMSG_SPACE(count * sizeof(int)),
	};
	struct cmsghdr *cmsg;

	ASSERT_LE(count, 2);
	memset(&u, 0, sizeof(u));
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(count * sizeof(int));
	memcpy(CMSG_DATA(cmsg), fds, count * sizeof(int));
	ASSERT_EQ(1, sendmsg(sock, &msg, 0)) {
		TH_LOG("sendmsg: %s", strerror(errno));
	}
}

static void recv_fds(struct __test_metadata *_metadata, int sock, int *fds,
		     int count)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cmsg;

	ASSERT_LE(count, 2);
	ASSERT_EQ(1, recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) {
		TH_LOG("recvmsg: %s", strerror(errno));
	}
	cmsg = CMSG_FIRSTHDR(&msg);
	ASSERT_NE(NULL, cmsg);
	ASSERT_EQ(SCM_RIGHTS, cmsg->cmsg_type);
	ASSERT_EQ(CMSG_LEN(count * sizeof(int)), cmsg->cmsg_len);
	memcpy(fds, CMSG_DATA(cmsg), count * sizeof(int));
}

/* ----------------------------------------------------------- sysfs view */

/* Whether directory @dir of sysfs lists @name; -1 if it cannot be read. */
static int dir_lists(const char *dir, const char *name)
{
	struct dirent *de;
	bool found = false;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (!strcmp(de->d_name, name))
			found = true;
	closedir(d);
	return found;
}

/*
 * The ways in which the sysfs mounted at @sys disagrees with @shown about
 * @d: its entries under block/, class/block/, dev/block/ and
 * devices/virtual/block/, by lstat(), readdir() and open() of its dev
 * attribute.  Each one is logged; returns their number.
 */
static int sys_mismatches(struct __test_metadata *_metadata, const char *who,
			  const char *sys, const struct dev *d, bool shown)
{
	char name[NAME_LEN], parent[NAME_LEN], devnum[NAME_LEN];
	char path[PATH_LEN], buf[PATH_LEN], want[PATH_LEN];
	int i, bad = 0, fd, listed;
	bool opened, linked;
	struct dev pd = *d;
	ssize_t len;
	struct {
		const char *dir;
		const char *entry;
	} dirs[] = {
		{ "class/block", name },
		{ "dev/block", devnum },
		{ "block", name },
		{ "devices/virtual/block", name },
	};

	dev_name(name, d);
	pd.part = 0;
	dev_name(parent, &pd);
	snprintf(devnum, sizeof(devnum), "%u:%u", d->maj, d->min);

	for (i = 0; i < 4; i++) {
		if (i < 2 || !d->part)
			snprintf(path, sizeof(path), "%s/%s/%s", sys, dirs[i].dir,
				 dirs[i].entry);
		else
			snprintf(path, sizeof(path), "%s/%s/%s/%s", sys, dirs[i].dir,
				 parent, name);
		if (path_exists(path) != shown) {
			TH_LOG("%s: %s %s", who, path, shown ? "missing" : "exists");
			bad++;
		}
	}

	/* A partition is listed in block/ and devices/ under its disk only. */
	for (i = 0; i < (d->part ? 2 : 4); i++) {
		snprintf(path, sizeof(path), "%s/%s", sys, dirs[i].dir);
		listed = dir_lists(path, dirs[i].entry);
		if (listed != shown) {
			TH_LOG("%s: readdir %s %s %s", who, path,
			       listed < 0 ? "failed, looking for" :
			       listed ? "lists" : "does not list", dirs[i].entry);
			bad++;
		}
	}

	snprintf(path, sizeof(path), "%s/class/block/%s/dev", sys, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	opened = fd >= 0;
	if (opened != shown) {
		TH_LOG("%s: open %s %s", who, path,
		       shown ? strerror(errno) : "succeeded");
		bad++;
	}
	if (fd >= 0) {
		len = read(fd, buf, sizeof(buf) - 1);
		buf[len > 0 ? len : 0] = '\0';
		close(fd);
		snprintf(want, sizeof(want), "%s\n", devnum);
		if (strcmp(buf, want)) {
			TH_LOG("%s: %s reads '%s', want %s", who, path, buf, devnum);
			bad++;
		}
	}

	/* /sys/dev/block/MAJ:MIN links to the device's directory. */
	snprintf(path, sizeof(path), "%s/dev/block/%s", sys, devnum);
	len = readlink(path, buf, sizeof(buf) - 1);
	linked = len > 0;
	if (linked != shown) {
		TH_LOG("%s: readlink %s %s", who, path,
		       shown ? strerror(errno) : "succeeded");
		bad++;
	}
	if (len > 0) {
		buf[len] = '\0';
		snprintf(want, sizeof(want), "/%s", name);
		if (len < (ssize_t)strlen(want) ||
		    strcmp(buf + len - strlen(want), want)) {
			TH_LOG("%s: %s links to %s, not to %s", who, path, buf, name);
			bad++;
		}
	}
	return bad;
}

/* ------------------------------------------------------------ /proc view */

/* Whether the /proc file open at @fd (from offset 0) lists @name. */
static int proc_lists(int fd, const char *name, bool diskstats)
{
	char field[NAME_LEN], *line, *next;
	unsigned long long blocks;
	unsigned int maj, min;
	size_t used = 0;
	bool found = false;
	ssize_t len;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	for (;;) {
		if (used >= sizeof(proc_buf) - 1)
			return -1;
		len = read(fd, proc_buf + used, sizeof(proc_buf) - 1 - used);
		if (len < 0)
			return -1;
		if (!len)
			break;
		used += len;
	}
	proc_buf[used] = '\0';
	for (line = proc_buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (diskstats) {
			if (sscanf(line, "%u %u %31s", &maj, &min, field) != 3)
				continue;
		} else if (sscanf(line, "%u %u %llu %31s", &maj, &min, &blocks,
				  field) != 4) {
			continue;
		}
		if (!strcmp(field, name))
			found = true;
	}
	return found;
}

/* Like sys_mismatches(), for /proc/partitions and /proc/diskstats. */
static int proc_mismatches_fds(struct __test_metadata *_metadata,
			       const char *who, int pfd, int dfd,
			       const struct dev *d, bool shown)
{
	char name[NAME_LEN];
	int bad = 0, i, listed;

	dev_name(name, d);
	for (i = 0; i < 2; i++) {
		listed = proc_lists(i ? dfd : pfd, name, i);
		if (listed != shown) {
			TH_LOG("%s: /proc/%s %s %s", who, i ? "diskstats" : "partitions",
			       listed < 0 ? "unreadable, looking for" :
			       listed ? "lists" : "does not list", name);
			bad++;
		}
	}
	return bad;
}

static int proc_mismatches(struct __test_metadata *_metadata, const char *who,
			   const struct dev *d, bool shown)
{
	int pfd, dfd, bad;

	pfd = open("/proc/partitions", O_RDONLY | O_CLOEXEC);
	dfd = open("/proc/diskstats", O_RDONLY | O_CLOEXEC);
	if (pfd < 0 || dfd < 0) {
		TH_LOG("%s: opening /proc/partitions, diskstats: %s", who, strerror(errno));
		bad = 1;
	} else {
		bad = proc_mismatches_fds(_metadata, who, pfd, dfd, d, shown);
	}
	if (pfd >= 0)
		close(pfd);
	if (dfd >= 0)
		close(dfd);
	return bad;
}

/* -------------------------------------------------------------- uevents */

static void uev_open(struct __test_metadata *_metadata, struct uev_log *log)
{
	struct sockaddr_nl addr = {
		.nl_family = AF_NETLINK,
		.nl_groups = 1,
	};
	int size = 1024 * 1024;

	if (log->fd >= 0)
		close(log->fd);
	log->n = 0;
	log->lost = 0;
	log->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
			 NETLINK_KOBJECT_UEVENT);
	ASSERT_GE(log->fd, 0) {
		TH_LOG("socket(NETLINK_KOBJECT_UEVENT): %s", strerror(errno));
	}
	setsockopt(log->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	ASSERT_EQ(0, bind(log->fd, (struct sockaddr *)&addr, sizeof(addr))) {
		TH_LOG("bind to the uevent group: %s", strerror(errno));
	}
}

/* Record what the listener got so far. */
static void uev_drain(struct uev_log *log)
{
	static char buf[UEV_BUF];
	struct uev *e;
	ssize_t len;
	char *p;

	for (;;) {
		len = recv(log->fd, buf, sizeof(buf) - 1, 0);
		if (len < 0 && errno == ENOBUFS) {
			log->lost++;
			continue;
		}
		if (len <= 0)
			break;
		buf[len] = '\0';
		/* Messages of udevd itself; not sent in these tests. */
		if (!strcmp(buf, "libudev"))
			continue;
		if (log->n >= MAX_UEV) {
			log->lost++;
			continue;
		}
		e = &log->ev[log->n++];
		memset(e, 0, sizeof(*e));
		for (p = buf; p < buf + len; p += strlen(p) + 1) {
			if (!strncmp(p, "ACTION=", 7))
				snprintf(e->action, sizeof(e->action), "%s", p + 7);
			else if (!strncmp(p, "DEVPATH=", 8))
				snprintf(e->devpath, sizeof(e->devpath), "%s", p + 8);
			else if (!strncmp(p, "SUBSYSTEM=", 10))
				snprintf(e->subsystem, sizeof(e->subsystem), "%s", p + 10);
		}
	}
}

/*
 * Events @action (any if empty) of @d: of the block device itself and,
 * with @any_kobj, of everything below it in sysfs (queue, partitions) and
 * of its bdi.  With @_metadata set, each one is logged.
 */
static int uev_count(struct __test_metadata *_metadata, const char *who,
		     struct uev_log *log, const char *action,
		     const struct dev *d, bool any_kobj)
{
	char name[NAME_LEN], path[PATH_LEN], bdi[PATH_LEN];
	const struct uev *e;
	int i, count = 0;
	bool match;
	size_t plen;

	uev_drain(log);
	dev_name(name, d);
	if (d->part)
		snprintf(path, sizeof(path), "/devices/virtual/block/loop%d/%s",
			 d->nr, name);
	else
		snprintf(path, sizeof(path), "/devices/virtual/block/%s", name);
	snprintf(bdi, sizeof(bdi), "/devices/virtual/bdi/%u:%u", d->maj, d->min);
	plen = strlen(path);
	for (i = 0; i < log->n; i++) {
		e = &log->ev[i];
		if (*action && strcmp(e->action, action))
			continue;
		if (!strcmp(e->devpath, path) && !strcmp(e->subsystem, "block"))
			match = true;
		else
			match = any_kobj && !d->part &&
				(!strcmp(e->devpath, bdi) ||
				 (!strncmp(e->devpath, path, plen) && e->devpath[plen] == '/'));
		if (!match)
			continue;
		count++;
		if (_metadata)
			TH_LOG("%s: uevent %s %s (%s)", who, e->action, e->devpath,
			       e->subsystem);
	}
	return count;
}

/* ----------------------------------------------------------- containers */

/* Switch to host uid and gid @uid, keeping /proc/self writable for us. */
static void become_user(struct __test_metadata *_metadata, uid_t uid)
{
	ASSERT_EQ(0, setgroups(0, NULL));
	ASSERT_EQ(0, setresgid(uid, uid, uid));
	ASSERT_EQ(0, setresuid(uid, uid, uid));
	/* The uid change made us undumpable: /proc/self would be root's. */
	ASSERT_EQ(0, prctl(PR_SET_DUMPABLE, 1, 0, 0, 0));
}

/* Map uid and gid 0 of the current user namespace to @outer outside it. */
static void map_root(struct __test_metadata *_metadata, unsigned int outer)
{
	char map[64];
	int err;

	err = write_str("/proc/self/setgroups", "deny");
	ASSERT_EQ(0, err) {
		TH_LOG("writing /proc/self/setgroups: %s", strerror(err));
	}
	snprintf(map, sizeof(map), "0 %u 1", outer);
	err = write_str("/proc/self/uid_map", map);
	ASSERT_EQ(0, err) {
		TH_LOG("writing '%s' to /proc/self/uid_map: %s", map, strerror(err));
	}
	err = write_str("/proc/self/gid_map", map);
	ASSERT_EQ(0, err) {
		TH_LOG("writing '%s' to /proc/self/gid_map: %s", map, strerror(err));
	}
}

/*
 * Become a container of host uid @uid: its root in user, mount and network
 * namespaces of its own, with a private tmpfs on CTR_ROOT holding a sysfs
 * mount made in the container.
 */
static void enter_ctr(struct __test_metadata *_metadata, uid_t uid)
{
	become_user(_metadata, uid);
	ASSERT_EQ(0, unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET)) {
		TH_LOG("unshare as uid %u: %s", uid, strerror(errno));
	}
	map_root(_metadata, uid);
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		TH_LOG("making / private: %s", strerror(errno));
	}
	ASSERT_EQ(0, mount("tmpfs", CTR_ROOT, "tmpfs", 0, "mode=0755")) {
		TH_LOG("mount tmpfs on %s: %s", CTR_ROOT, strerror(errno));
	}
	ASSERT_EQ(0, mkdir(CTR_SYS, 0755));
	ASSERT_EQ(0, mkdir(CTR_LFS, 0755));
	ASSERT_EQ(0, mount("sysfs", CTR_SYS, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			   NULL)) {
		TH_LOG("mount sysfs in the container: %s", strerror(errno));
	}
}

static int ctr_slot(int nr)
{
	int i;

	for (i = 0; i < ctr_state.nr_devs; i++)
		if (ctr_state.nr[i] == nr)
			return i;
	if (ctr_state.nr_devs == MAX_CTR_DEVS)
		return -1;
	i = ctr_state.nr_devs++;
	ctr_state.nr[i] = nr;
	ctr_state.devfd[i] = -1;
	ctr_state.bfd[i] = -1;
	return i;
}

static void put_le32(unsigned char *p, uint32_t val)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (val >> (8 * i)) & 0xff;
}

/* An MBR with @nparts (0 to 2) Linux partitions, written through @fd. */
static int write_mbr(int fd, int nparts)
{
	unsigned char mbr[SECTOR];
	unsigned char *entry;
	int i;

	memset(mbr, 0, sizeof(mbr));
	for (i = 0; i < nparts; i++) {
		entry = mbr + 446 + 16 * i;
		entry[4] = 0x83;
		put_le32(entry + 8, PART_START(i + 1));
		put_le32(entry + 12, PART_SECTORS);
	}
	if (nparts) {
		mbr[510] = 0x55;
		mbr[511] = 0xaa;
	}
	if (pwrite(fd, mbr, sizeof(mbr), 0) != sizeof(mbr))
		return errno ? errno : EIO;
	return err_of(fsync(fd));
}

/* A new memfd of BACKING_SIZE bytes with a table of @nparts partitions. */
static int make_backing(struct __test_metadata *_metadata, int nparts)
{
	int fd = memfd_create("loopfs_isolation", MFD_CLOEXEC);

	ASSERT_GE(fd, 0) {
		TH_LOG("memfd_create: %s", strerror(errno));
	}
	ASSERT_EQ(0, ftruncate(fd, BACKING_SIZE));
	ASSERT_EQ(0, write_mbr(fd, nparts));
	return fd;
}

/* Wait until the nodes of partitions 1..@nparts exist in @root, and no more. */
static bool wait_part_nodes(int root, int nr, int nparts)
{
	unsigned long long deadline = now_ms() + WAIT_MS;
	char name[NAME_LEN];
	struct stat st;
	bool good, there, want;
	int p;

	for (;;) {
		good = true;
		for (p = 1; p <= 2; p++) {
			snprintf(name, sizeof(name), "loop%dp%d", nr, p);
			there = !fstatat(root, name, &st, AT_SYMLINK_NOFOLLOW);
			want = p <= nparts;
			if (there != want)
				good = false;
		}
		if (good)
			return true;
		if (now_ms() > deadline)
			return false;
		sleep_ms(10);
	}
}

static void ctr_mount(struct __test_metadata *_metadata, bool detached)
{
	int fsfd;

	if (detached) {
		fsfd = sys_fsopen("loopfs", 0);
		ASSERT_GE(fsfd, 0) {
			TH_LOG("fsopen(loopfs): %s", strerror(errno));
		}
		ASSERT_EQ(0, sys_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
			TH_LOG("FSCONFIG_CMD_CREATE: %s", strerror(errno));
		}
		ctr_state.root = sys_fsmount(fsfd, 0, 0);
		ASSERT_GE(ctr_state.root, 0) {
			TH_LOG("fsmount: %s", strerror(errno));
		}
		close(fsfd);
	} else {
		ASSERT_EQ(0, mount("none", CTR_LFS, "loopfs", 0, NULL)) {
			TH_LOG("mount -t loopfs none %s: %s", CTR_LFS, strerror(errno));
		}
		ctr_state.root = open(CTR_LFS, O_PATH | O_DIRECTORY);
		ASSERT_GE(ctr_state.root, 0);
	}
	ctr_state.ctl = openat(ctr_state.root, "loop-control", O_RDWR);
	ASSERT_GE(ctr_state.ctl, 0) {
		TH_LOG("open loop-control of the instance: %s", strerror(errno));
	}
}

/* LOOP_CTL_ADD of the first number from FIRST_ADD_NR up that is free. */
static int ctr_add(struct __test_metadata *_metadata)
{
	char path[PATH_LEN];
	int nr, ret = -1;

	for (nr = FIRST_ADD_NR; nr < FIRST_ADD_NR + 10000; nr++) {
		snprintf(path, sizeof(path), "%s/block/loop%d", CTR_SYS, nr);
		if (path_exists(path))
			continue;
		ret = ioctl(ctr_state.ctl, LOOP_CTL_ADD, nr);
		if (ret >= 0 || errno != EEXIST)
			break;
	}
	ASSERT_EQ(nr, ret) {
		TH_LOG("LOOP_CTL_ADD(%d): %s", nr, strerror(errno));
	}
	return nr;
}

static void ctr_devnum(struct __test_metadata *_metadata, const struct dev *d,
		       struct reply *rep)
{
	char name[NAME_LEN];
	struct stat st;

	dev_name(name, d);
	ASSERT_EQ(0, fstatat(ctr_state.root, name, &st, AT_SYMLINK_NOFOLLOW)) {
		TH_LOG("no node %s in the instance: %s", name, strerror(errno));
	}
	ASSERT_TRUE(S_ISBLK(st.st_mode));
	rep->maj = major(st.st_rdev);
	rep->min = minor(st.st_rdev);
}

static int ctr_bind(struct __test_metadata *_metadata, int nr, int nparts)
{
	struct loop_config cfg;
	char name[NAME_LEN];
	int slot = ctr_slot(nr);

	ASSERT_GE(slot, 0);
	snprintf(name, sizeof(name), "loop%d", nr);
	ctr_state.devfd[slot] = openat(ctr_state.root, name, O_RDWR | O_CLOEXEC);
	ASSERT_GE(ctr_state.devfd[slot], 0) {
		TH_LOG("open %s: %s", name, strerror(errno));
	}
	ctr_state.bfd[slot] = make_backing(_metadata, nparts);
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = ctr_state.bfd[slot];
	cfg.info.lo_flags = LO_FLAGS_PARTSCAN;
	ASSERT_EQ(0, ioctl(ctr_state.devfd[slot], LOOP_CONFIGURE, &cfg)) {
		TH_LOG("LOOP_CONFIGURE %s: %s", name, strerror(errno));
	}
	EXPECT_TRUE(wait_part_nodes(ctr_state.root, nr, nparts)) {
		TH_LOG("partition nodes of %s: want %d", name, nparts);
	}
	return 0;
}

static int ctr_reread(struct __test_metadata *_metadata, int nr, int nparts)
{
	int slot = ctr_slot(nr), fd;

	ASSERT_GE(slot, 0);
	fd = ctr_state.devfd[slot];
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, write_mbr(fd, nparts));
	ASSERT_EQ(0, ioctl(fd, BLKRRPART, 0)) {
		TH_LOG("BLKRRPART on loop%d: %s", nr, strerror(errno));
	}
	EXPECT_TRUE(wait_part_nodes(ctr_state.root, nr, nparts)) {
		TH_LOG("partition nodes of loop%d after BLKRRPART: want %d", nr, nparts);
	}
	return 0;
}

static int ctr_unbind(struct __test_metadata *_metadata, int nr)
{
	int slot = ctr_slot(nr), err;

	ASSERT_GE(slot, 0);
	ASSERT_GE(ctr_state.devfd[slot], 0);
	err = err_of(ioctl(ctr_state.devfd[slot], LOOP_CLR_FD));
	close(ctr_state.devfd[slot]);
	close(ctr_state.bfd[slot]);
	ctr_state.devfd[slot] = -1;
	ctr_state.bfd[slot] = -1;
	if (!err)
		EXPECT_TRUE(wait_part_nodes(ctr_state.root, nr, 0));
	return err;
}

static void ctr_proc_send(struct __test_metadata *_metadata, int sock)
{
	int fds[2];

	fds[0] = open("/proc/partitions", O_RDONLY | O_CLOEXEC);
	fds[1] = open("/proc/diskstats", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fds[0], 0);
	ASSERT_GE(fds[1], 0);
	send_fds(_metadata, sock, fds, 2);
	close(fds[0]);
	close(fds[1]);
}

static int proc_recv_check(struct __test_metadata *_metadata, const char *who,
			   int sock, const struct dev *d, bool shown)
{
	int fds[2], bad;

	recv_fds(_metadata, sock, fds, 2);
	bad = proc_mismatches_fds(_metadata, who, fds[0], fds[1], d, shown);
	close(fds[0]);
	close(fds[1]);
	return bad;
}

/* The container's side: serve requests until OP_EXIT or end of input. */
static void ctr_serve(struct __test_metadata *_metadata, const char *who,
		      int sock)
{
	struct reply rep;
	struct req req;

	memset(&ctr_state, 0, sizeof(ctr_state));
	ctr_state.root = -1;
	ctr_state.ctl = -1;
	while (read_full(sock, &req, sizeof(req))) {
		memset(&rep, 0, sizeof(rep));
		switch (req.op) {
		case OP_MOUNT:
			ctr_mount(_metadata, req.arg);
			break;
		case OP_GET_FREE:
			rep.val = ioctl(ctr_state.ctl, LOOP_CTL_GET_FREE);
			ASSERT_GE(rep.val, 0) {
				TH_LOG("%s: LOOP_CTL_GET_FREE: %s", who, strerror(errno));
			}
			break;
		case OP_ADD:
			rep.val = ctr_add(_metadata);
			break;
		case OP_REMOVE:
			rep.val = err_of(ioctl(ctr_state.ctl, LOOP_CTL_REMOVE, req.dev.nr));
			break;
		case OP_DEVNUM:
			ctr_devnum(_metadata, &req.dev, &rep);
			break;
		case OP_BIND:
			rep.val = ctr_bind(_metadata, req.dev.nr, req.arg);
			break;
		case OP_REREAD:
			rep.val = ctr_reread(_metadata, req.dev.nr, req.arg);
			break;
		case OP_UNBIND:
			rep.val = ctr_unbind(_metadata, req.dev.nr);
			break;
		case OP_SYS:
			rep.val = sys_mismatches(_metadata, who, CTR_SYS, &req.dev, req.shown);
			break;
		case OP_PROC:
			rep.val = proc_mismatches(_metadata, who, &req.dev, req.shown);
			break;
		case OP_UEV_OPEN:
			uev_open(_metadata, &uev);
			break;
		case OP_UEV_COUNT:
			/* Looking for any event: one is unexpected, show it. */
			rep.val = uev_count(*req.action ? NULL : _metadata, who,
					    &uev, req.action, &req.dev, req.arg);
			rep.maj = uev.lost;
			break;
		case OP_PROC_SEND:
			ctr_proc_send(_metadata, sock);
			break;
		case OP_PROC_RECV:
			rep.val = proc_recv_check(_metadata, who, sock, &req.dev, req.shown);
			break;
		case OP_EXIT:
			return;
		}
		ASSERT_EQ((ssize_t)sizeof(rep), write(sock, &rep, sizeof(rep)));
	}
}

/* Start container @who of host uid @uid, serving requests. */
static void ctr_start(struct __test_metadata *_metadata, struct ctr *c,
		      const char *who, uid_t uid)
{
	pid_t parent = getpid();
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	c->who = who;
	c->pid = fork();
	ASSERT_GE(c->pid, 0);
	if (c->pid == 0) {
		close(sv[0]);
		if (uev.fd >= 0)
			close(uev.fd);
		if (uev2.fd >= 0)
			close(uev2.fd);
		uev.fd = -1;
		uev2.fd = -1;
		enter_ctr(_metadata, uid);
		/* After the credential changes, which clear it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != parent)
			_exit(1);
		ctr_serve(_metadata, who, sv[1]);
		_exit(_metadata->exit_code == KSFT_FAIL ? 1 : 0);
	}
	close(sv[1]);
	c->sock = sv[0];
}

/* Send @req to @c, return its reply. */
static struct reply ctr_call(struct __test_metadata *_metadata, struct ctr *c,
			     const struct req *req)
{
	struct reply rep;

	ASSERT_EQ((ssize_t)sizeof(*req), write(c->sock, req, sizeof(*req))) {
		TH_LOG("container %s went away", c->who);
	}
	ASSERT_TRUE(read_full(c->sock, &rep, sizeof(rep))) {
		TH_LOG("container %s went away (request %d)", c->who, req->op);
	}
	return rep;
}

static struct reply ctr_op(struct __test_metadata *_metadata, struct ctr *c,
			   int op, const struct dev *d, int arg, bool shown)
{
	struct req req;

	memset(&req, 0, sizeof(req));
	req.op = op;
	req.arg = arg;
	req.shown = shown;
	if (d)
		req.dev = *d;
	return ctr_call(_metadata, c, &req);
}

/* Stop container @c; it must end normally. */
static void ctr_stop(struct __test_metadata *_metadata, struct ctr *c)
{
	struct req req = { .op = OP_EXIT };
	int status = 0;

	ASSERT_EQ((ssize_t)sizeof(req), write(c->sock, &req, sizeof(req)));
	ASSERT_EQ(c->pid, waitpid(c->pid, &status, 0));
	close(c->sock);
	EXPECT_TRUE(WIFEXITED(status)) {
		TH_LOG("container %s died with signal %d", c->who,
		       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	EXPECT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG("%s exited with %d", c->who, WEXITSTATUS(status));
	}
}

static void ctr_mount_instance(struct __test_metadata *_metadata, struct ctr *c,
			       bool detached)
{
	ctr_op(_metadata, c, OP_MOUNT, NULL, detached, false);
}

/* A new device of @c's instance (GET_FREE, or ADD when @add), numbered. */
static struct dev ctr_new_dev(struct __test_metadata *_metadata, struct ctr *c,
			      bool add)
{
	struct dev d = { 0 };
	struct reply rep;

	rep = ctr_op(_metadata, c, add ? OP_ADD : OP_GET_FREE, NULL, 0, false);
	d.nr = rep.val;
	rep = ctr_op(_metadata, c, OP_DEVNUM, &d, 0, false);
	d.maj = rep.maj;
	d.min = rep.min;
	EXPECT_EQ(LOOP_MAJOR, (int)d.maj);
	return d;
}

/* Partition @part of @disk, as its node in @c's instance numbers it. */
static struct dev ctr_part(struct __test_metadata *_metadata, struct ctr *c,
			   const struct dev *disk, int part)
{
	struct dev d = *disk;
	struct reply rep;

	d.part = part;
	rep = ctr_op(_metadata, c, OP_DEVNUM, &d, 0, false);
	d.maj = rep.maj;
	d.min = rep.min;
	return d;
}

/* Mismatches between @c's sysfs and @shown for @d. */
static int ctr_sys(struct __test_metadata *_metadata, struct ctr *c,
		   const struct dev *d, bool shown)
{
	return ctr_op(_metadata, c, OP_SYS, d, 0, shown).val;
}

static int ctr_proc(struct __test_metadata *_metadata, struct ctr *c,
		    const struct dev *d, bool shown)
{
	return ctr_op(_metadata, c, OP_PROC, d, 0, shown).val;
}

/* Events @action of @d that @c's listener got; no event may be lost. */
static int ctr_uev(struct __test_metadata *_metadata, struct ctr *c,
		   const char *action, const struct dev *d, bool any_kobj)
{
	struct reply rep;
	struct req req;

	memset(&req, 0, sizeof(req));
	req.op = OP_UEV_COUNT;
	req.arg = any_kobj;
	req.dev = *d;
	snprintf(req.action, sizeof(req.action), "%s", action);
	rep = ctr_call(_metadata, c, &req);
	EXPECT_EQ(0U, rep.maj) {
		TH_LOG("%s: the uevent listener lost %u messages", c->who, rep.maj);
	}
	return rep.val;
}

static int host_sys(struct __test_metadata *_metadata, const struct dev *d,
		    bool shown)
{
	return sys_mismatches(_metadata, "host", "/sys", d, shown);
}

/* Events of @d that the host's listener @log got; none may be lost. */
static int host_uev(struct __test_metadata *_metadata, struct uev_log *log,
		    const char *action, const struct dev *d, bool any_kobj)
{
	const char *who = log == &uev ? "host" : "another netns";
	int count;

	count = uev_count(*action ? NULL : _metadata, who, log, action, d,
			  any_kobj);

	EXPECT_EQ(0, log->lost) {
		TH_LOG("host: a uevent listener lost %d messages", log->lost);
	}
	return count;
}

/*
 * Listen to uevents in a new network namespace that the initial user
 * namespace owns: a child unshares one, opens the socket there and hands
 * it over.
 */
static void uev_open_netns(struct __test_metadata *_metadata,
			   struct uev_log *log)
{
	int sv[2], status = 0;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		ASSERT_EQ(0, unshare(CLONE_NEWNET)) {
			TH_LOG("unshare(CLONE_NEWNET): %s", strerror(errno));
		}
		uev_open(_metadata, log);
		send_fds(_metadata, sv[1], &log->fd, 1);
		_exit(0);
	}
	close(sv[1]);
	if (log->fd >= 0)
		close(log->fd);
	log->fd = -1;
	log->n = 0;
	log->lost = 0;
	recv_fds(_metadata, sv[0], &log->fd, 1);
	close(sv[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, fcntl(log->fd, F_SETFL, O_NONBLOCK));
}

/* ------------------------------------------------------- host devices */

static int host_ctl(struct __test_metadata *_metadata)
{
	int fd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);

	ASSERT_GE(fd, 0) {
		TH_LOG("open /dev/loop-control: %s", strerror(errno));
	}
	return fd;
}

/* A new host device (through /dev/loop-control), removed at teardown. */
static struct dev host_add(struct __test_metadata *_metadata,
			   struct _test_data_iso *self)
{
	char path[PATH_LEN];
	struct dev d = { 0 };
	struct stat st;
	int ctl, nr, ret = -1;

	ASSERT_LT(self->nr_host, MAX_HOST_DEVS);
	ctl = host_ctl(_metadata);
	for (nr = FIRST_HOST_NR; nr < FIRST_HOST_NR + 10000; nr++) {
		snprintf(path, sizeof(path), "/sys/block/loop%d", nr);
		if (path_exists(path))
			continue;
		ret = ioctl(ctl, LOOP_CTL_ADD, nr);
		if (ret >= 0 || errno != EEXIST)
			break;
	}
	ASSERT_EQ(nr, ret) {
		TH_LOG("host LOOP_CTL_ADD(%d): %s", nr, strerror(errno));
	}
	close(ctl);
	self->host_nr[self->nr_host++] = nr;
	snprintf(path, sizeof(path), "/dev/loop%d", nr);
	ASSERT_EQ(0, stat(path, &st)) {
		TH_LOG("no node %s for a host device: %s", path, strerror(errno));
	}
	d.nr = nr;
	d.maj = major(st.st_rdev);
	d.min = minor(st.st_rdev);
	return d;
}

/* Bind host device @d to a new file; returns the open device. */
static int host_bind(struct __test_metadata *_metadata, const struct dev *d)
{
	struct loop_config cfg;
	char path[PATH_LEN];
	int fd;

	snprintf(path, sizeof(path), "/dev/loop%d", d->nr);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0) {
		TH_LOG("open %s: %s", path, strerror(errno));
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = make_backing(_metadata, 0);
	ASSERT_EQ(0, ioctl(fd, LOOP_CONFIGURE, &cfg)) {
		TH_LOG("LOOP_CONFIGURE %s: %s", path, strerror(errno));
	}
	close(cfg.fd);
	return fd;
}

static void host_remove(struct __test_metadata *_metadata,
			struct _test_data_iso *self, const struct dev *d)
{
	int ctl = host_ctl(_metadata), i;

	EXPECT_EQ(0, err_of(ioctl(ctl, LOOP_CTL_REMOVE, d->nr))) {
		TH_LOG("host LOOP_CTL_REMOVE(%d): %s", d->nr, strerror(errno));
	}
	close(ctl);
	for (i = 0; i < self->nr_host; i++)
		if (self->host_nr[i] == d->nr)
			self->host_nr[i] = -1;
}

FIXTURE_SETUP(iso)
{
	self->nr_host = 0;
	if (geteuid() != 0)
		SKIP(return, "loopfs isolation tests must run as root");
	if (!path_exists("/dev/loop-control"))
		SKIP(return, "no /dev/loop-control");
	/* A container that went away must fail a write, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	ASSERT_EQ(0, unshare(CLONE_NEWNS)) {
		TH_LOG("unshare(CLONE_NEWNS): %s", strerror(errno));
	}
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		TH_LOG("making / private: %s", strerror(errno));
	}
}

/* As real root in the parent: the test process may be gone. */
FIXTURE_TEARDOWN_PARENT(iso)
{
	unsigned long long deadline = now_ms() + WAIT_MS;
	char path[PATH_LEN];
	int i, ctl, fd;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	for (i = 0; i < self->nr_host && ctl >= 0; i++) {
		if (self->host_nr[i] < 0)
			continue;
		snprintf(path, sizeof(path), "/dev/loop%d", self->host_nr[i]);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			ioctl(fd, LOOP_CLR_FD);
			close(fd);
		}
		while (ioctl(ctl, LOOP_CTL_REMOVE, self->host_nr[i]) < 0 &&
		       errno == EBUSY && now_ms() < deadline)
			sleep_ms(20);
	}
	if (ctl >= 0)
		close(ctl);
	self->nr_host = 0;
}

/* ------------------------------------------------------------------ */

/*
 * 4.1: a container's sysfs shows the host's devices and its own, never
 * another container's, before and after devices are added and removed; the
 * host's sysfs never shows a container's devices.
 */
TEST_F_TIMEOUT(iso, clause_4_1_sysfs_shows_own_and_host_devices_only,
	       ISO_TIMEOUT)
{
	struct dev h, a1, a2, b1, b2;
	struct ctr a, b;

	h = host_add(_metadata, self);
	ctr_start(_metadata, &a, "container A", 6100);
	ctr_start(_metadata, &b, "container B", 6101);
	ctr_mount_instance(_metadata, &a, false);
	ctr_mount_instance(_metadata, &b, false);

	/* A host device shows in a container from the start. */
	EXPECT_EQ(0, ctr_sys(_metadata, &a, &h, true));
	a1 = ctr_new_dev(_metadata, &a, false);
	a2 = ctr_new_dev(_metadata, &a, true);
	EXPECT_EQ(0, ctr_sys(_metadata, &a, &a1, true));
	EXPECT_EQ(0, ctr_sys(_metadata, &a, &a2, true));
	EXPECT_EQ(0, ctr_sys(_metadata, &a, &h, true));

	/* B, which made its sysfs before A's devices existed. */
	EXPECT_EQ(0, ctr_sys(_metadata, &b, &a1, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &b, &a2, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &b, &h, true));
	b1 = ctr_new_dev(_metadata, &b, false);
	EXPECT_EQ(0, ctr_sys(_metadata, &b, &b1, true));
	EXPECT_EQ(0, ctr_sys(_metadata, &a, &b1, false));

	/* The host sees its own device only. */
	EXPECT_EQ(0, host_sys(_metadata, &h, true));
	EXPECT_EQ(0, host_sys(_metadata, &a1, false));
	EXPECT_EQ(0, host_sys(_metadata, &a2, false));
	EXPECT_EQ(0, host_sys(_metadata, &b1, false));

	/* A removal, and adds after it. */
	EXPECT_EQ(0, ctr_op(_metadata, &a, OP_REMOVE, &a2, 0, false).val);
	EXPECT_EQ(0, ctr_sys(_metadata, &a, &a2, false));
	b2 = ctr_new_dev(_metadata, &b, true);
	EXPECT_EQ(0, ctr_sys(_metadata, &b, &b2, true));
	EXPECT_EQ(0, ctr_sys(_metadata, &b, &a1, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &a, &b2, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &a, &a1, true));
	EXPECT_EQ(0, host_sys(_metadata, &b2, false));

	/* A host device added last shows everywhere too. */
	host_remove(_metadata, self, &h);
	h = host_add(_metadata, self);
	EXPECT_EQ(0, ctr_sys(_metadata, &a, &h, true));
	EXPECT_EQ(0, ctr_sys(_metadata, &b, &h, true));
	EXPECT_EQ(0, host_sys(_metadata, &h, true));

	ctr_stop(_metadata, &a);
	ctr_stop(_metadata, &b);
	host_remove(_metadata, self, &h);
}

/*
 * 4.1: partitions (from LOOP_CONFIGURE with LO_FLAGS_PARTSCAN, and from
 * BLKRRPART after a new table) show in the owner's sysfs only, and leave
 * it when they go.
 */
TEST_F_TIMEOUT(iso, clause_4_1_sysfs_partitions_follow_their_disk, ISO_TIMEOUT)
{
	struct dev a, ap1, ap2, b, bp1, bp2;
	struct ctr ca, cb;

	ctr_start(_metadata, &ca, "container A", 6110);
	ctr_start(_metadata, &cb, "container B", 6111);
	ctr_mount_instance(_metadata, &ca, false);
	ctr_mount_instance(_metadata, &cb, false);

	/* A: LOOP_CONFIGURE with PARTSCAN on a file with two partitions. */
	a = ctr_new_dev(_metadata, &ca, false);
	ctr_op(_metadata, &ca, OP_BIND, &a, 2, false);
	ap1 = ctr_part(_metadata, &ca, &a, 1);
	ap2 = ctr_part(_metadata, &ca, &a, 2);
	EXPECT_EQ(0, ctr_sys(_metadata, &ca, &a, true));
	EXPECT_EQ(0, ctr_sys(_metadata, &ca, &ap1, true));
	EXPECT_EQ(0, ctr_sys(_metadata, &ca, &ap2, true));
	EXPECT_EQ(0, ctr_sys(_metadata, &cb, &a, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &cb, &ap1, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &cb, &ap2, false));
	EXPECT_EQ(0, host_sys(_metadata, &ap1, false));
	EXPECT_EQ(0, host_sys(_metadata, &ap2, false));

	/* B: a table written through the device, then BLKRRPART. */
	b = ctr_new_dev(_metadata, &cb, false);
	ctr_op(_metadata, &cb, OP_BIND, &b, 0, false);
	ctr_op(_metadata, &cb, OP_REREAD, &b, 2, false);
	bp1 = ctr_part(_metadata, &cb, &b, 1);
	bp2 = ctr_part(_metadata, &cb, &b, 2);
	EXPECT_EQ(0, ctr_sys(_metadata, &cb, &bp1, true));
	EXPECT_EQ(0, ctr_sys(_metadata, &cb, &bp2, true));
	EXPECT_EQ(0, ctr_sys(_metadata, &ca, &b, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &ca, &bp1, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &ca, &bp2, false));
	EXPECT_EQ(0, host_sys(_metadata, &bp1, false));

	/* A drops a partition: it leaves A's sysfs; p1 comes back alone. */
	ctr_op(_metadata, &ca, OP_REREAD, &a, 1, false);
	ap1 = ctr_part(_metadata, &ca, &a, 1);
	/* The number of the old p2 may be the new p1's: by name only. */
	ap2.maj = 0;
	ap2.min = 0;
	EXPECT_EQ(0, ctr_sys(_metadata, &ca, &ap1, true));
	EXPECT_EQ(0, ctr_sys(_metadata, &ca, &ap2, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &cb, &ap1, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &cb, &bp2, true));

	/* Detaching removes the partitions. */
	EXPECT_EQ(0, ctr_op(_metadata, &ca, OP_UNBIND, &a, 0, false).val);
	EXPECT_EQ(0, ctr_sys(_metadata, &ca, &ap1, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &ca, &a, true));
	EXPECT_EQ(0, ctr_sys(_metadata, &cb, &a, false));
	EXPECT_EQ(0, ctr_op(_metadata, &cb, OP_UNBIND, &b, 0, false).val);
	EXPECT_EQ(0, ctr_sys(_metadata, &cb, &bp1, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &cb, &b, true));

	ctr_stop(_metadata, &ca);
	ctr_stop(_metadata, &cb);
}

/*
 * 4.1, 4.3: an instance of the host (mounted by the host's root with
 * fsopen(): the initial user namespace owns it) shows in the host's sysfs
 * and uevents and in no container's; an instance made with fsopen() in a
 * container belongs to the container.
 */
TEST_F_TIMEOUT(iso, clause_4_1_4_3_owner_is_the_mounting_user_ns, ISO_TIMEOUT)
{
	int fsfd, root, ctl, nr;
	struct dev hi = { 0 }, c1;
	char name[NAME_LEN];
	struct stat st;
	struct ctr a;

	ctr_start(_metadata, &a, "container A", 6120);
	ctr_op(_metadata, &a, OP_UEV_OPEN, NULL, 0, false);
	uev_open(_metadata, &uev);

	fsfd = sys_fsopen("loopfs", FSOPEN_CLOEXEC);
	ASSERT_GE(fsfd, 0) {
		TH_LOG("fsopen(loopfs): %s", strerror(errno));
	}
	ASSERT_EQ(0, sys_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	root = sys_fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
	ASSERT_GE(root, 0);
	close(fsfd);
	ctl = openat(root, "loop-control", O_RDWR | O_CLOEXEC);
	ASSERT_GE(ctl, 0);
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	ASSERT_GE(nr, 0);
	snprintf(name, sizeof(name), "loop%d", nr);
	ASSERT_EQ(0, fstatat(root, name, &st, AT_SYMLINK_NOFOLLOW));
	hi.nr = nr;
	hi.maj = major(st.st_rdev);
	hi.min = minor(st.st_rdev);

	ctr_mount_instance(_metadata, &a, true);
	c1 = ctr_new_dev(_metadata, &a, false);

	EXPECT_EQ(0, host_sys(_metadata, &hi, true));
	EXPECT_EQ(0, host_sys(_metadata, &c1, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &a, &hi, false));
	EXPECT_EQ(0, ctr_sys(_metadata, &a, &c1, true));
	EXPECT_LE(1, host_uev(_metadata, &uev, "add", &hi, false));
	EXPECT_EQ(0, host_uev(_metadata, &uev, "", &c1, false));
	EXPECT_EQ(0, ctr_uev(_metadata, &a, "", &hi, false));
	EXPECT_LE(1, ctr_uev(_metadata, &a, "add", &c1, false));

	ctr_stop(_metadata, &a);
	close(ctl);
	close(root);
}

/*
 * 4.2: /proc/partitions and /proc/diskstats list, for a reader in a
 * container, the host's devices and the container's own with their
 * partitions; for the host, the host's only.
 */
TEST_F_TIMEOUT(iso, clause_4_2_proc_partitions_diskstats_follow_reader,
	       ISO_TIMEOUT)
{
	struct dev h, a, ap1, ap2, b;
	struct ctr ca, cb;
	int hfd;

	h = host_add(_metadata, self);
	hfd = host_bind(_metadata, &h);
	ctr_start(_metadata, &ca, "container A", 6130);
	ctr_start(_metadata, &cb, "container B", 6131);
	ctr_mount_instance(_metadata, &ca, false);
	ctr_mount_instance(_metadata, &cb, false);
	a = ctr_new_dev(_metadata, &ca, false);
	ctr_op(_metadata, &ca, OP_BIND, &a, 2, false);
	ap1 = ctr_part(_metadata, &ca, &a, 1);
	ap2 = ctr_part(_metadata, &ca, &a, 2);
	b = ctr_new_dev(_metadata, &cb, false);
	ctr_op(_metadata, &cb, OP_BIND, &b, 0, false);

	EXPECT_EQ(0, ctr_proc(_metadata, &ca, &h, true));
	EXPECT_EQ(0, ctr_proc(_metadata, &ca, &a, true));
	EXPECT_EQ(0, ctr_proc(_metadata, &ca, &ap1, true));
	EXPECT_EQ(0, ctr_proc(_metadata, &ca, &ap2, true));
	EXPECT_EQ(0, ctr_proc(_metadata, &ca, &b, false));

	EXPECT_EQ(0, ctr_proc(_metadata, &cb, &h, true));
	EXPECT_EQ(0, ctr_proc(_metadata, &cb, &b, true));
	EXPECT_EQ(0, ctr_proc(_metadata, &cb, &a, false));
	EXPECT_EQ(0, ctr_proc(_metadata, &cb, &ap1, false));
	EXPECT_EQ(0, ctr_proc(_metadata, &cb, &ap2, false));

	EXPECT_EQ(0, proc_mismatches(_metadata, "host", &h, true));
	EXPECT_EQ(0, proc_mismatches(_metadata, "host", &a, false));
	EXPECT_EQ(0, proc_mismatches(_metadata, "host", &ap1, false));
	EXPECT_EQ(0, proc_mismatches(_metadata, "host", &b, false));

	/* A partition dropped by BLKRRPART leaves its owner's view too. */
	ctr_op(_metadata, &ca, OP_REREAD, &a, 1, false);
	ap1 = ctr_part(_metadata, &ca, &a, 1);
	EXPECT_EQ(0, ctr_proc(_metadata, &ca, &ap1, true));
	EXPECT_EQ(0, ctr_proc(_metadata, &ca, &ap2, false));
	EXPECT_EQ(0, ctr_proc(_metadata, &cb, &ap1, false));

	ctr_stop(_metadata, &ca);
	ctr_stop(_metadata, &cb);
	ASSERT_EQ(0, ioctl(hfd, LOOP_CLR_FD));
	close(hfd);
	host_remove(_metadata, self, &h);
}

/*
 * 4.2: the /proc files judge by the credentials of their opener: a file a
 * container opened shows the container's devices to whoever reads it, one
 * the host opened shows them to nobody.
 */
TEST_F_TIMEOUT(iso, clause_4_2_proc_judged_by_opener_credentials, ISO_TIMEOUT)
{
	struct req req;
	struct ctr ca;
	struct dev a;
	int fds[2];

	ctr_start(_metadata, &ca, "container A", 6140);
	ctr_mount_instance(_metadata, &ca, false);
	a = ctr_new_dev(_metadata, &ca, false);
	ctr_op(_metadata, &ca, OP_BIND, &a, 0, false);

	/* Opened in the container, read by the host. */
	memset(&req, 0, sizeof(req));
	req.op = OP_PROC_SEND;
	ASSERT_EQ((ssize_t)sizeof(req), write(ca.sock, &req, sizeof(req)));
	recv_fds(_metadata, ca.sock, fds, 2);
	{
		struct reply rep;

		ASSERT_TRUE(read_full(ca.sock, &rep, sizeof(rep)));
	}
	EXPECT_EQ(0, proc_mismatches_fds(_metadata, "host, container's files",
					 fds[0], fds[1], &a, true));
	close(fds[0]);
	close(fds[1]);

	/* Opened by the host, read in the container. */
	fds[0] = open("/proc/partitions", O_RDONLY | O_CLOEXEC);
	fds[1] = open("/proc/diskstats", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(fds[0], 0);
	ASSERT_GE(fds[1], 0);
	memset(&req, 0, sizeof(req));
	req.op = OP_PROC_RECV;
	req.dev = a;
	req.shown = false;
	ASSERT_EQ((ssize_t)sizeof(req), write(ca.sock, &req, sizeof(req)));
	send_fds(_metadata, ca.sock, fds, 2);
	close(fds[0]);
	close(fds[1]);
	{
		struct reply rep;

		ASSERT_TRUE(read_full(ca.sock, &rep, sizeof(rep)));
		EXPECT_EQ(0, rep.val);
	}
	/* And its own files still show its device. */
	EXPECT_EQ(0, ctr_proc(_metadata, &ca, &a, true));

	ctr_stop(_metadata, &ca);
}

/*
 * 4.3: the add, change and remove events of a container's devices and of
 * their partitions reach the container's network namespace, and neither
 * another container's nor the host's nor any other one owned by the
 * initial user namespace.
 */
TEST_F_TIMEOUT(iso, clause_4_3_uevents_reach_only_owner_netns, ISO_TIMEOUT)
{
	struct dev a, ap1, ap2, b;
	struct uev_log *l;
	struct ctr ca, cb;
	int i;

	ctr_start(_metadata, &ca, "container A", 6150);
	ctr_start(_metadata, &cb, "container B", 6151);
	ctr_mount_instance(_metadata, &ca, false);
	ctr_mount_instance(_metadata, &cb, false);
	ctr_op(_metadata, &ca, OP_UEV_OPEN, NULL, 0, false);
	ctr_op(_metadata, &cb, OP_UEV_OPEN, NULL, 0, false);
	uev_open(_metadata, &uev);
	uev_open_netns(_metadata, &uev2);

	/* B's first, so that the two never share a number (or a name). */
	b = ctr_new_dev(_metadata, &cb, true);
	a = ctr_new_dev(_metadata, &ca, true);
	ASSERT_NE(a.nr, b.nr);
	ctr_op(_metadata, &ca, OP_BIND, &a, 2, false);
	ap1 = ctr_part(_metadata, &ca, &a, 1);
	ap2 = ctr_part(_metadata, &ca, &a, 2);
	ctr_op(_metadata, &ca, OP_REREAD, &a, 1, false);
	EXPECT_EQ(0, ctr_op(_metadata, &ca, OP_UNBIND, &a, 0, false).val);
	EXPECT_EQ(0, ctr_op(_metadata, &ca, OP_REMOVE, &a, 0, false).val);

	/* The owner got them all. */
	EXPECT_LE(1, ctr_uev(_metadata, &ca, "add", &a, false));
	EXPECT_LE(1, ctr_uev(_metadata, &ca, "change", &a, false));
	EXPECT_LE(1, ctr_uev(_metadata, &ca, "remove", &a, false));
	EXPECT_LE(1, ctr_uev(_metadata, &ca, "add", &ap1, false));
	EXPECT_LE(1, ctr_uev(_metadata, &ca, "add", &ap2, false));
	EXPECT_LE(1, ctr_uev(_metadata, &ca, "remove", &ap2, false));
	EXPECT_LE(1, ctr_uev(_metadata, &ca, "remove", &ap1, false));
	EXPECT_LE(1, ctr_uev(_metadata, &cb, "add", &b, false));

	/* Nobody else got any event of them. */
	EXPECT_EQ(0, ctr_uev(_metadata, &cb, "", &a, false));
	EXPECT_EQ(0, ctr_uev(_metadata, &cb, "", &ap1, false));
	EXPECT_EQ(0, ctr_uev(_metadata, &cb, "", &ap2, false));
	EXPECT_EQ(0, ctr_uev(_metadata, &ca, "", &b, false));
	for (i = 0; i < 2; i++) {
		l = i ? &uev2 : &uev;
		EXPECT_EQ(0, host_uev(_metadata, l, "", &a, false));
		EXPECT_EQ(0, host_uev(_metadata, l, "", &ap1, false));
		EXPECT_EQ(0, host_uev(_metadata, l, "", &ap2, false));
		EXPECT_EQ(0, host_uev(_metadata, l, "", &b, false));
	}

	ctr_stop(_metadata, &ca);
	ctr_stop(_metadata, &cb);
}

/*
 * 4.3: nor do the other uevents that tell of a container's device: those
 * of its backing_dev_info (/devices/virtual/bdi/MAJ:MIN) and of sysfs
 * objects below the disk (queue, ...) reach no network namespace but the
 * owner's: the host's udev would learn of the device from them.
 */
TEST_F_TIMEOUT(iso, clause_4_3_bdi_uevents_reach_only_owner_netns, ISO_TIMEOUT)
{
	struct uev_log *l;
	struct ctr ca, cb;
	struct dev a;
	int i;

	ctr_start(_metadata, &ca, "container A", 6170);
	ctr_start(_metadata, &cb, "container B", 6171);
	ctr_mount_instance(_metadata, &ca, false);
	ctr_op(_metadata, &cb, OP_UEV_OPEN, NULL, 0, false);
	uev_open(_metadata, &uev);
	uev_open_netns(_metadata, &uev2);

	a = ctr_new_dev(_metadata, &ca, true);
	EXPECT_EQ(0, ctr_op(_metadata, &ca, OP_REMOVE, &a, 0, false).val);

	EXPECT_EQ(0, ctr_uev(_metadata, &cb, "", &a, true));
	for (i = 0; i < 2; i++) {
		l = i ? &uev2 : &uev;
		EXPECT_EQ(0, host_uev(_metadata, l, "", &a, true)) {
			TH_LOG("%s got uevents of loop%d's bdi %u:%u or below it",
			       i ? "another netns" : "the host", a.nr, a.maj, a.min);
		}
	}

	ctr_stop(_metadata, &ca);
	ctr_stop(_metadata, &cb);
}

/*
 * 4.3, 7.2: the events of a host device are as without loopfs: they reach
 * the network namespaces that the initial user namespace owns (the host's
 * and another), and, since Linux 4.18 restricted uevents to those, not the
 * containers' (their own user namespace owns their network namespace),
 * whether or not they hold an instance.
 */
TEST_F_TIMEOUT(iso, clause_4_3_host_device_uevents_unchanged, ISO_TIMEOUT)
{
	struct ctr ca, cb;
	struct uev_log *l;
	struct dev h;
	int hfd, i;

	ctr_start(_metadata, &ca, "container A", 6160);
	ctr_start(_metadata, &cb, "container B", 6161);
	ctr_mount_instance(_metadata, &ca, false);
	ctr_op(_metadata, &ca, OP_UEV_OPEN, NULL, 0, false);
	ctr_op(_metadata, &cb, OP_UEV_OPEN, NULL, 0, false);
	uev_open(_metadata, &uev);
	uev_open_netns(_metadata, &uev2);
	/* A device of A's in the way changes nothing for the host's. */
	ctr_new_dev(_metadata, &ca, false);

	h = host_add(_metadata, self);
	hfd = host_bind(_metadata, &h);
	ASSERT_EQ(0, ioctl(hfd, LOOP_CLR_FD));
	close(hfd);
	host_remove(_metadata, self, &h);

	for (i = 0; i < 2; i++) {
		l = i ? &uev2 : &uev;
		EXPECT_LE(1, host_uev(_metadata, l, "add", &h, false));
		EXPECT_LE(1, host_uev(_metadata, l, "change", &h, false));
		EXPECT_LE(1, host_uev(_metadata, l, "remove", &h, false));
	}
	EXPECT_EQ(0, ctr_uev(_metadata, &ca, "", &h, true));
	EXPECT_EQ(0, ctr_uev(_metadata, &cb, "", &h, true));

	ctr_stop(_metadata, &ca);
	ctr_stop(_metadata, &cb);
}

TEST_HARNESS_MAIN
