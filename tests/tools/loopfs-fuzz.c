// SPDX-License-Identifier: GPL-2.0
/*
 * loopfs-fuzz - a seeded ioctl fuzzer for the loop-control and loop devices
 * of detached loopfs instances (contract clause 6.3: tearing instances down
 * in any order neither crashes nor leaks).
 *
 *   loopfs-fuzz OPS [SEED [MAX_SECONDS]]
 *
 * Up to four detached instances (fsopen/fsconfig/fsmount, each with a small
 * max=) are created and dropped at random while random operations run on
 * them: every LOOP_* and LOOP_CTL_* ioctl, block ioctls (BLKRRPART,
 * BLKGETSIZE64, BLKFLSBUF, BLKPG, BLKDISCARD, ...), random command numbers,
 * arguments that are NULL, (void *)1, kernel addresses, pointers that run
 * into an unmapped page, huge and negative numbers, negative and stale fds,
 * fds of other instances' devices (stacked loops across instances),
 * unlinkat() of nodes, EPERM operations on the instance root, opens with
 * odd flags and small reads and writes.  Only backing files created (and
 * unlinked at once) in $TMPDIR are ever bound; fds 0-2 are never passed as
 * an fd argument, and FIFREEZE and blktrace commands are never issued.
 *
 * Stale nodes (contract clause 1.7): it runs in a mount namespace of its
 * own, attaches about half of its instances there (on directories in
 * $TMPDIR) and keeps up to eight holds on nodes (loopN and loopNpM): O_PATH
 * fds, detached mounts of a node (open_tree(OPEN_TREE_CLONE)) and bind
 * mounts of a node on a file in $TMPDIR, released at random.  It removes
 * held devices (LOOP_CTL_REMOVE, unlinkat()), adds and deletes partitions
 * (BLKPG) on bound devices and opens them by name, re-adds recently removed
 * and held indexes (LOOP_CTL_ADD on every loop-control, the host's
 * included), and reopens held nodes O_RDWR through /proc/self/fd/N or the
 * bind's path.  A violation is counted and printed with the seed when
 *   - a held node whose device or partition is gone opens, or fails with
 *     anything but ENXIO (gone: LOOP_CTL_REMOVE, BLKPG_DEL_PARTITION or
 *     BLKRRPART succeeded on it, it was unlinked while not open, or its
 *     number left /sys/dev/block -- the hold pins the number, so that is
 *     final);
 *   - a held number shows up in /sys/dev/block under another name or as
 *     another sysfs directory (another device or partition took it);
 *   - LOOP_CTL_ADD of an index succeeds while a hold on it is open.
 * Right after a BLKPG add the partition must be found by name in the
 * device's instance: its open may fail only as the device's own open does
 * (ENXIO while a LOOP_CLR_FD is pending), and it is listed by readdir
 * (checked now and then).
 *
 * It stops after OPS operations (or MAX_SECONDS, default 0 = no limit, and
 * then says so), releases the holds and closes everything and checks:
 *   - every call returned >= 0, or -1 with an errno in 1..4095;
 *   - no instance operation ever named a device that existed before the run
 *     (a host device);
 *   - after the last close every device it saw is gone from /sys/block
 *     (within 15 s), every partition it saw from /sys/class/block, and
 *     /sys/block holds exactly the loop devices it held at the start;
 *   - the indexes are free again: LOOP_CTL_ADD of (up to 8 of) them in a
 *     fresh instance succeeds;
 *   - the charges are back: with max_loop_devices=3 a fresh instance adds
 *     exactly 3 devices, and partitions are charged (lt_limit_check()).
 * It prints "fuzz: N ops, seed S, errno histogram ...", a line with the
 * counts of the hold and partition moves ending in "violations V", and
 * exits 0, or 1 when a check fails or there was a violation.
 */
#include "loopfs-tools.h"

#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <linux/fs.h>
#include <linux/blkpg.h>
#include <linux/hdreg.h>

#define NR_INST		4
#define NR_FDS		48
#define NR_BACK		3
#define NR_HOLDS	8
#define NR_PARTS	1024
#define NR_REMOVED	16
#define MAP_BITS	(1 << 20)
#define BACK_SIZE	(1 << 20)

enum kind { K_CTL, K_DEV, K_BACK };

struct fdent {
	int fd;
	enum kind kind;
	int inst;		/* instance serial, -1 for backing files */
	int nr;			/* device number for K_DEV */
	int partno;		/* K_DEV: opened as loopNpM (0: loopN) */
	int opath;		/* K_DEV: an O_PATH fd (does not open the device) */
};

static uint64_t rs;
static unsigned long long seed;
static struct {
	int mfd;
	int serial;
	int attached;		/* mounted on dir in our mount namespace */
	char dir[PATH_MAX];
} inst[NR_INST];
static int next_serial, private_mounts, host_ctl = -1;
static struct fdent fds[NR_FDS];
static int nfds;
static unsigned char host_map[MAP_BITS / 8], seen_map[MAP_BITS / 8];
/* indexes whose fd was passed as an fd argument: maybe held open by a loop */
static unsigned char stacked_map[MAP_BITS / 8];
static int seen[4096], nseen;
static int seen_parts[NR_PARTS][2], nseen_parts;
static int removed[NR_REMOVED], nremoved;	/* recently removed indexes */
static struct lt_hold holds[NR_HOLDS];
static int nholds;
static unsigned long long errs[4096], nok, nops, nadds, impossible;
static unsigned long long violations, part_lookup_fail;
static struct {
	unsigned long long taken[LT_HOLD_HOWS], take_failed, released,
		reopens, reopen_gone, reopen_live, reopen_live_failed,
		part_add, part_add_ok, part_del, part_del_ok, part_open,
		part_open_ok, removes_held, removes_held_ok, readds_held,
		readds_eexist, readds_nospc;
} hs;
static char *buf, *edge;	/* edge: 8 bytes before an unmapped page */
static volatile const char *cur_op = "start";
static char backing_dir[PATH_MAX / 2];

static void on_term(int sig)
{
	char msg[160];
	int n = snprintf(msg, sizeof(msg), "loopfs-fuzz: signal %d during %s after %llu ops\n",
			 sig, cur_op, nops);

	if (write(2, msg, n) < 0)
		_exit(3);
	_exit(3);
}

static void note_nr(long nr, const char *how)
{
	if (nr < 0 || nr >= MAP_BITS)
		return;
	if (lt_bit(host_map, nr)) {
		fprintf(stderr, "IMPOSSIBLE: %s named loop%ld, a device that existed before the run\n",
			how, nr);
		impossible++;
		return;
	}
	if (!lt_bit(seen_map, nr)) {
		seen_map[nr / 8] |= 1 << (nr % 8);
		if (nseen < (int)(sizeof(seen) / sizeof(seen[0])))
			seen[nseen++] = nr;
	}
}

static void note_part(int nr, int partno)
{
	int i;

	for (i = 0; i < nseen_parts; i++)
		if (seen_parts[i][0] == nr && seen_parts[i][1] == partno)
			return;
	if (nseen_parts < NR_PARTS) {
		seen_parts[nseen_parts][0] = nr;
		seen_parts[nseen_parts][1] = partno;
		nseen_parts++;
	}
}

static void violation(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "VIOLATION: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (op %llu, seed %llu)\n", nops, seed);
	violations++;
}

/*
 * Device @nr (partno 0: with its partitions), one partition of it (partno
 * > 0) or all its partitions (partno < 0) are known to be gone: so are the
 * holds on them.  (A hold pins the index, so index @nr is the held device.)
 */
static void holds_gone(int nr, int partno)
{
	int i;

	for (i = 0; i < nholds; i++)
		if (holds[i].nr == nr &&
		    (!partno || holds[i].partno == partno ||
		     (partno < 0 && holds[i].partno)))
			holds[i].gone = 1;
}

static int held(int nr)
{
	int i;

	for (i = 0; i < nholds; i++)
		if (holds[i].nr == nr)
			return 1;
	return 0;
}

static void note_removed(int nr)
{
	if (nremoved < NR_REMOVED)
		removed[nremoved++] = nr;
	else
		removed[lt_below(&rs, NR_REMOVED)] = nr;
}

/*
 * Whether device @nr may be open, so that an unlink leaves it until its last
 * close: an fd of ours on it or a partition of it, or it was ever passed as
 * an fd argument (a loop device may have it as its backing file).
 */
static int maybe_open(int nr)
{
	int j;

	if (nr >= 0 && nr < MAP_BITS && lt_bit(stacked_map, nr))
		return 1;
	for (j = 0; j < nfds; j++)
		if (fds[j].kind == K_DEV && fds[j].nr == nr && !fds[j].opath)
			return 1;
	return 0;
}

/* Account for one call's result. */
static long res(long ret)
{
	int e = errno;

	nops++;
	if (ret >= 0) {
		nok++;
	} else if (ret == -1 && e > 0 && e < 4096) {
		errs[e]++;
	} else {
		fprintf(stderr, "IMPOSSIBLE: %s returned %ld with errno %d\n",
			cur_op, ret, e);
		impossible++;
	}
	errno = e;
	return ret;
}

static int pick_inst(void)
{
	int i, start = lt_below(&rs, NR_INST);

	for (i = 0; i < NR_INST; i++) {
		int j = (start + i) % NR_INST;

		if (inst[j].mfd >= 0)
			return j;
	}
	return -1;
}

static int pick_fd(int kind)
{
	int i, start = lt_below(&rs, nfds + 1);

	for (i = 0; i < nfds; i++) {
		int j = (start + i) % nfds;

		if (kind < 0 || fds[j].kind == (enum kind)kind)
			return j;
	}
	return -1;
}

static int inst_of(int serial)
{
	int i;

	for (i = 0; i < NR_INST; i++)
		if (inst[i].mfd >= 0 && inst[i].serial == serial)
			return i;
	return -1;
}

static void add_fd(int fd, enum kind kind, int serial, int nr, int partno,
		   int opath)
{
	if (fd < 0)
		return;
	if (fd <= 2 || nfds == NR_FDS) {
		close(fd);
		return;
	}
	fds[nfds++] = (struct fdent){ fd, kind, serial, nr, partno, opath };
}

static void drop_fd(int j)
{
	cur_op = "close";
	res(close(fds[j].fd));
	fds[j] = fds[--nfds];
}

/* A device number worth trying: seen ones mostly, sometimes odd ones. */
static long pick_nr(void)
{
	static const long odd[] = { -1, 0, 1, 7, 255, 256, 1048575, 1048576,
				    INT_MAX, -2147483647L - 1 };

	if (nseen && lt_below(&rs, 10) < 7)
		return seen[lt_below(&rs, nseen)];
	if (lt_below(&rs, 3) == 0)
		return odd[lt_below(&rs, sizeof(odd) / sizeof(odd[0]))];
	/* near what we have: usually free indexes above the host's */
	return 8 + lt_below(&rs, 120);
}

/* An fd argument: never 0..2 */
static long pick_fdarg(void)
{
	int j;

	switch (lt_below(&rs, 8)) {
	case 0: return -1;
	case 1: return -(long)lt_below(&rs, 1000) - 2;
	case 2: return 4000 + lt_below(&rs, 1000);	/* not open */
	case 3: return (long)INT_MAX + lt_below(&rs, 3);
	case 4:		/* an O_PATH or open_tree() fd of a hold */
		j = nholds ? (int)lt_below(&rs, nholds) : -1;
		if (j >= 0 && holds[j].fd > 2)
			return holds[j].fd;
		/* fall through */
	default:
		j = pick_fd(-1);
		if (j < 0)
			return -1;
		if (fds[j].kind == K_DEV && fds[j].nr >= 0 && fds[j].nr < MAP_BITS)
			stacked_map[fds[j].nr / 8] |= 1 << (fds[j].nr % 8);
		return fds[j].fd;
	}
}

static void fill_random(void *p, size_t len)
{
	unsigned char *c = p;

	while (len--)
		*c++ = lt_rand(&rs);
}

static uint64_t odd_u64(void)
{
	static const uint64_t v[] = { 0, 1, 511, 512, 513, 4096, 65536,
				      BACK_SIZE - 512, BACK_SIZE, BACK_SIZE + 512,
				      1ULL << 40, (1ULL << 63), ~0ULL, ~0ULL - 511,
				      0x7fffffffffffffffULL };

	if (lt_below(&rs, 4) == 0)
		return lt_rand(&rs);
	return v[lt_below(&rs, sizeof(v) / sizeof(v[0]))];
}

/* A pointer argument; valid ones point at @len bytes of random or zeros. */
static void *pick_ptr(size_t len)
{
	switch (lt_below(&rs, 12)) {
	case 0: return NULL;
	case 1: return (void *)1;
	case 2: return (void *)0xffffffff81000000UL;
	case 3: return (void *)-1L;
	case 4: return (void *)0x1000;
	case 5: return edge;
	case 6: memset(buf, 0, len); return buf;
	default: fill_random(buf, len); return buf;
	}
}

static void fill_info64(struct loop_info64 *i)
{
	fill_random(i, sizeof(*i));
	if (lt_below(&rs, 3)) {
		i->lo_offset = lt_below(&rs, 2) ? 0 : odd_u64();
		i->lo_sizelimit = lt_below(&rs, 2) ? 0 : odd_u64();
		i->lo_flags = lt_below(&rs, 3) ? (lt_rand(&rs) & 0x1f) : (uint32_t)lt_rand(&rs);
		i->lo_encrypt_type = lt_below(&rs, 3) ? 0 : lt_below(&rs, 40);
		i->lo_encrypt_key_size = lt_below(&rs, 2) ? 0 : lt_below(&rs, 40);
		i->lo_init[0] = i->lo_init[1] = 0;
	}
}

static void *config_arg(void)
{
	struct loop_config *c = (void *)buf;

	if (lt_below(&rs, 5) == 0)
		return pick_ptr(sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->fd = pick_fdarg();
	c->block_size = lt_below(&rs, 2) ? 0 :
		(uint32_t[]){ 512, 1024, 4096, 8192, 513, 1U << 31, 65536 }[lt_below(&rs, 7)];
	fill_info64(&c->info);
	if (lt_below(&rs, 4) == 0)
		fill_random(c->__reserved, sizeof(c->__reserved));
	return c;
}

/* Commands never issued: FIFREEZE could leave the instance's sb frozen (and
 * the fuzzer stuck in unlinkat), blktrace allocates what its random
 * arguments ask for, and the fd-taking loop commands get their fds from
 * pick_fdarg() only. */
static int forbidden(unsigned long cmd)
{
	unsigned int nr = _IOC_NR(cmd), type = _IOC_TYPE(cmd);

	if (type == 'X' && (nr == 119 || nr == 120))
		return 1;
	if (type == 0x12 && nr >= 115 && nr <= 118)
		return 1;
	if ((cmd & 0xffff) == LOOP_SET_FD || (cmd & 0xffff) == LOOP_CHANGE_FD ||
	    (cmd & 0xffff) == LOOP_CONFIGURE)
		return 1;
	return 0;
}

static unsigned long random_cmd(void)
{
	unsigned long cmd;

	do {
		switch (lt_below(&rs, 4)) {
		case 0: cmd = (uint32_t)lt_rand(&rs); break;
		case 1: cmd = 0x4C00 | lt_below(&rs, 256); break;
		case 2: cmd = _IOC(lt_below(&rs, 4), 0x12, lt_below(&rs, 140),
				   lt_below(&rs, 64)); break;
		default: cmd = (lt_rand(&rs) & 0xffff0000) | 0x4C00 | lt_below(&rs, 16); break;
		}
	} while (forbidden(cmd));
	return cmd;
}

static void *random_arg(void)
{
	if (lt_below(&rs, 2))
		return pick_ptr(256);
	return (void *)(uintptr_t)odd_u64();
}

static void op_new_instance(void)
{
	static const char *keys[] = { "max", "mode", "uid", "gid", "bogus", "source" };
	static const char *vals[] = { "0", "1", "2", "-1", "0777", "99999999999",
				      "abc", "", "4294967295" };
	int i, fsfd, mfd;
	char mx[8];

	for (i = 0; i < NR_INST && inst[i].mfd >= 0; i++)
		;
	if (i == NR_INST)
		return;
	cur_op = "fsopen";
	fsfd = res(lt_fsopen("loopfs", FSOPEN_CLOEXEC));
	if (fsfd < 0)
		return;
	cur_op = "fsconfig";
	if (lt_below(&rs, 4) == 0)
		res(lt_fsconfig(fsfd, LT_FSCONFIG_SET_STRING,
				keys[lt_below(&rs, 6)], vals[lt_below(&rs, 9)], 0));
	snprintf(mx, sizeof(mx), "%u", 1 + lt_below(&rs, 3));
	res(lt_fsconfig(fsfd, LT_FSCONFIG_SET_STRING, "max", mx, 0));
	res(lt_fsconfig(fsfd, LT_FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	cur_op = "fsmount";
	mfd = res(lt_fsmount(fsfd, FSMOUNT_CLOEXEC, 0));
	close(fsfd);
	if (mfd < 0)
		return;
	if (mfd <= 2) {
		close(mfd);
		return;
	}
	inst[i].mfd = mfd;
	inst[i].serial = next_serial++;
	inst[i].attached = 0;
	if (private_mounts && lt_below(&rs, 2)) {
		/* attached: its nodes can be cloned and bind mounted */
		cur_op = "move_mount(instance)";
		inst[i].attached = !res(lt_attach(mfd, inst[i].dir));
	}
}

/* An attached instance is unmounted (lazily, like umount -l) */
static void inst_unmount(int i)
{
	if (!inst[i].attached)
		return;
	cur_op = "umount2(instance)";
	res(lt_umount(inst[i].dir, LT_MNT_DETACH));
	inst[i].attached = 0;
}

static void op_close_instance(void)
{
	int i = pick_inst();

	if (i < 0)
		return;
	inst_unmount(i);
	cur_op = "close(mount fd)";
	res(close(inst[i].mfd));
	inst[i].mfd = -1;
}

static void op_open_ctl(void)
{
	int i = pick_inst();

	if (i < 0)
		return;
	cur_op = "openat(loop-control)";
	add_fd(res(openat(inst[i].mfd, "loop-control",
			  (lt_below(&rs, 4) ? O_RDWR : O_RDONLY) | O_CLOEXEC)),
	       K_CTL, inst[i].serial, -1, 0, 0);
}

static void op_open_dev(void)
{
	static const int fl[] = { O_RDWR, O_RDONLY, O_WRONLY, O_RDWR | O_EXCL,
				  O_RDONLY | O_NONBLOCK, O_RDWR | O_DIRECT,
				  O_RDWR | O_SYNC, O_PATH };
	int i = pick_inst(), fd, flags, pno = 0, k;
	long nr = pick_nr();
	char name[40];

	if (i < 0)
		return;
	if (nseen_parts && lt_below(&rs, 6) == 0) {
		k = lt_below(&rs, nseen_parts);
		nr = seen_parts[k][0];
		pno = seen_parts[k][1];
	} else if (lt_below(&rs, 8) == 0) {
		pno = 1 + lt_below(&rs, 8);
	}
	if (pno)
		snprintf(name, sizeof(name), "loop%ldp%d", nr, pno);
	else
		snprintf(name, sizeof(name), "loop%ld", nr);
	flags = fl[lt_below(&rs, 8)];
	cur_op = pno ? "openat(loopNpM)" : "openat(loopN)";
	fd = res(openat(inst[i].mfd, name, flags | O_CLOEXEC));
	if (fd >= 0) {
		note_nr(nr, "openat(instance, loopN)");
		if (pno)
			note_part(nr, pno);
	}
	add_fd(fd, K_DEV, inst[i].serial, nr, pno, flags == O_PATH);
}

static void op_close_fd(void)
{
	int j = pick_fd(-1);

	if (j >= 0 && fds[j].kind != K_BACK)
		drop_fd(j);
}

/* loopN was unlinked: the device is gone now unless it is open */
static void unlinked(int nr)
{
	note_removed(nr);
	if (!maybe_open(nr))
		holds_gone(nr, 0);
}

static void op_unlink(void)
{
	static const char *other[] = { "loop-control", ".", "..", "", "loop",
				       "loop-1", "nonexistent" };
	int i = pick_inst(), dev = 0, flags;
	long nr = -1;
	char name[40];

	if (i < 0)
		return;
	if (lt_below(&rs, 5)) {
		nr = pick_nr();
		snprintf(name, sizeof(name), "loop%ld", nr);
		dev = 1;
	} else if (lt_below(&rs, 2)) {
		snprintf(name, sizeof(name), "loop%ldp1", pick_nr());
	} else {
		snprintf(name, sizeof(name), "%s", other[lt_below(&rs, 7)]);
	}
	flags = lt_below(&rs, 6) ? 0 : AT_REMOVEDIR;
	cur_op = "unlinkat";
	if (!res(unlinkat(inst[i].mfd, name, flags)) && dev && !flags)
		unlinked(nr);
}

static void op_namespace(void)
{
	int i = pick_inst(), j;
	char name[40];

	if (i < 0)
		return;
	snprintf(name, sizeof(name), "loop%ld", pick_nr());
	cur_op = "namespace op";
	switch (lt_below(&rs, 6)) {
	case 0: res(mkdirat(inst[i].mfd, "d", 0755)); break;
	case 1: res(mknodat(inst[i].mfd, name, S_IFBLK | 0600, makedev(7, 0))); break;
	case 2: res(symlinkat("loop-control", inst[i].mfd, "x")); break;
	case 3: res(renameat(inst[i].mfd, name, inst[i].mfd, "loop999999")); break;
	case 4: res(linkat(inst[i].mfd, "loop-control", inst[i].mfd, "lc", 0)); break;
	default:
		j = openat(inst[i].mfd, "f", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
		res(j);
		if (j >= 0)
			close(j);
	}
}

static void op_readdir(void)
{
	int i = pick_inst(), fd;
	DIR *d;
	struct dirent *e;

	if (i < 0)
		return;
	cur_op = "readdir";
	fd = res(openat(inst[i].mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d))) {
		char *end;
		long nr;

		if (strncmp(e->d_name, "loop", 4))
			continue;
		nr = strtol(e->d_name + 4, &end, 10);
		if (end != e->d_name + 4 && !*end)
			note_nr(nr, "readdir(instance)");
		else if (end != e->d_name + 4 && *end == 'p')
			note_part(nr, atoi(end + 1));
	}
	closedir(d);
}

/*
 * LOOP_CTL_ADD(@nr) on loop-control @fd (the host's when @host): EEXIST
 * everywhere while a hold on @nr is open.
 */
static void ctl_add(int fd, long nr, int host)
{
	int h = nr >= 0 && nr <= INT_MAX && held(nr);
	long r;

	cur_op = host ? "LOOP_CTL_ADD on the host" : "LOOP_CTL_ADD";
	r = res(ioctl(fd, LOOP_CTL_ADD, nr));
	if (h) {
		hs.readds_held++;
		if (r < 0 && errno == EEXIST)
			hs.readds_eexist++;
		if (r < 0 && errno == ENOSPC)
			hs.readds_nospc++;	/* a limit is checked first */
	}
	if (r < 0)
		return;
	if (h)
		violation("LOOP_CTL_ADD(%ld) on %s succeeded while a hold on index %ld was open",
			  nr, host ? "the host's loop-control" : "an instance's loop-control", nr);
	if (host) {
		/* not ours to keep */
		if (ioctl(fd, LOOP_CTL_REMOVE, r))
			fprintf(stderr, "loopfs-fuzz: cannot remove host loop%ld: %m\n", r);
		return;
	}
	note_nr(r, "LOOP_CTL_ADD");
}

/* LOOP_CTL_REMOVE(@nr) on loop-control @fd succeeded: the device is gone */
static void ctl_removed(long nr)
{
	if (nr < 0 || nr > INT_MAX)
		return;
	holds_gone(nr, 0);
	note_removed(nr);
}

static void op_ctl(void)
{
	int j = pick_fd(K_CTL);
	long r, nr;

	if (j < 0)
		return;
	switch (lt_below(&rs, 10)) {
	case 0: case 1: case 2:
		cur_op = "LOOP_CTL_GET_FREE";
		r = res(ioctl(fds[j].fd, LOOP_CTL_GET_FREE));
		if (r >= 0)
			note_nr(r, "LOOP_CTL_GET_FREE");
		nadds++;
		break;
	case 3: case 4:
		ctl_add(fds[j].fd, pick_nr(), 0);
		nadds++;
		break;
	case 5: case 6: case 7:
		cur_op = "LOOP_CTL_REMOVE";
		nr = pick_nr();
		if (!res(ioctl(fds[j].fd, LOOP_CTL_REMOVE, nr)))
			ctl_removed(nr);
		break;
	case 8:
		cur_op = "LOOP_* on loop-control";
		res(ioctl(fds[j].fd, 0x4C00 | lt_below(&rs, 11), random_arg()));
		break;
	default:
		cur_op = "random ioctl on loop-control";
		res(ioctl(fds[j].fd, random_cmd(), random_arg()));
	}
}

static void op_loop_ioctl(void)
{
	int j = pick_fd(K_DEV), fd;
	long r;

	if (j < 0)
		return;
	fd = fds[j].fd;
	switch (lt_below(&rs, 16)) {
	case 0: case 1:
		cur_op = "LOOP_SET_FD";
		res(ioctl(fd, LOOP_SET_FD, pick_fdarg()));
		break;
	case 2: case 3:
		cur_op = "LOOP_CONFIGURE";
		res(ioctl(fd, LOOP_CONFIGURE, config_arg()));
		break;
	case 4: case 5:
		cur_op = "LOOP_CLR_FD";
		res(ioctl(fd, LOOP_CLR_FD));
		break;
	case 6:
		cur_op = "LOOP_SET_STATUS64";
		if (lt_below(&rs, 4))
			fill_info64((void *)buf), r = res(ioctl(fd, LOOP_SET_STATUS64, buf));
		else
			res(ioctl(fd, LOOP_SET_STATUS64, pick_ptr(sizeof(struct loop_info64))));
		break;
	case 7:
		cur_op = "LOOP_SET_STATUS";
		res(ioctl(fd, LOOP_SET_STATUS, pick_ptr(sizeof(struct loop_info))));
		break;
	case 8: {
		struct loop_info64 li;

		cur_op = "LOOP_GET_STATUS64";
		if (lt_below(&rs, 3)) {
			r = res(ioctl(fd, LOOP_GET_STATUS64, &li));
			if (r == 0)
				note_nr(li.lo_number, "LOOP_GET_STATUS64.lo_number");
		} else {
			res(ioctl(fd, LOOP_GET_STATUS64, pick_ptr(sizeof(li))));
		}
		break;
	}
	case 9:
		cur_op = "LOOP_GET_STATUS";
		res(ioctl(fd, LOOP_GET_STATUS, pick_ptr(sizeof(struct loop_info))));
		break;
	case 10:
		cur_op = "LOOP_CHANGE_FD";
		res(ioctl(fd, LOOP_CHANGE_FD, pick_fdarg()));
		break;
	case 11:
		cur_op = "LOOP_SET_CAPACITY";
		res(ioctl(fd, LOOP_SET_CAPACITY, random_arg()));
		break;
	case 12:
		cur_op = "LOOP_SET_DIRECT_IO";
		res(ioctl(fd, LOOP_SET_DIRECT_IO, lt_below(&rs, 3) ? (unsigned long)lt_below(&rs, 2) : odd_u64()));
		break;
	case 13:
		cur_op = "LOOP_SET_BLOCK_SIZE";
		res(ioctl(fd, LOOP_SET_BLOCK_SIZE, lt_below(&rs, 2) ?
			  (unsigned long)(512 << lt_below(&rs, 5)) : odd_u64()));
		break;
	case 14:
		cur_op = "LOOP_CTL_* on a device";
		res(ioctl(fd, LOOP_CTL_ADD + lt_below(&rs, 3), pick_nr()));
		break;
	default:
		cur_op = "random ioctl on a device";
		res(ioctl(fd, random_cmd(), random_arg()));
	}
}

static void op_blk_ioctl(void)
{
	static const unsigned long ptrcmds[] = {
		BLKGETSIZE64, BLKGETSIZE, BLKSSZGET, BLKBSZGET, BLKBSZSET,
		BLKROGET, BLKROSET, BLKRAGET, BLKFRAGET, BLKSECTGET, BLKIOMIN,
		BLKIOOPT, BLKALIGNOFF, BLKPBSZGET, BLKDISCARDZEROES,
		BLKROTATIONAL, BLKGETDISKSEQ, BLKDISCARD, BLKZEROOUT,
		BLKSECDISCARD, HDIO_GETGEO, BLKPG,
	};
	int j = pick_fd(K_DEV), fd;
	unsigned int k;

	if (j < 0)
		return;
	fd = fds[j].fd;
	k = lt_below(&rs, 6);
	if (k == 0) {
		cur_op = "BLKRRPART";
		if (!res(ioctl(fd, BLKRRPART)))
			holds_gone(fds[j].nr, -1);	/* the old partitions went */
	} else if (k == 1) {
		cur_op = "BLKFLSBUF";
		res(ioctl(fd, BLKFLSBUF));
	} else if (k == 2) {
		cur_op = "BLKRASET";
		res(ioctl(fd, lt_below(&rs, 2) ? BLKRASET : BLKFRASET, odd_u64()));
	} else if (k == 3) {
		struct blkpg_ioctl_arg *a = (void *)buf;
		struct blkpg_partition *p = (void *)(buf + 512);

		cur_op = "BLKPG";
		memset(a, 0, sizeof(*a));
		memset(p, 0, sizeof(*p));
		a->op = 1 + lt_below(&rs, 4);
		a->datalen = lt_below(&rs, 4) ? sizeof(*p) : lt_below(&rs, 1024);
		a->data = lt_below(&rs, 4) ? (void *)p : pick_ptr(0);
		p->pno = lt_below(&rs, 4) ? (int)(1 + lt_below(&rs, 4)) : (int)lt_rand(&rs);
		p->start = lt_below(&rs, 3) ? 512LL * lt_below(&rs, 2048) : (long long)odd_u64();
		p->length = lt_below(&rs, 3) ? 512LL * lt_below(&rs, 2048) : (long long)odd_u64();
		if (!res(ioctl(fd, BLKPG, a)) && a->data == (void *)p) {
			if (a->op == BLKPG_DEL_PARTITION && p->pno > 0)
				holds_gone(fds[j].nr, p->pno);
			else if (a->op == BLKPG_ADD_PARTITION)
				note_part(fds[j].nr, p->pno);
		}
	} else if (k == 4) {
		uint64_t *range = (void *)buf;

		cur_op = "BLKDISCARD/BLKZEROOUT";
		range[0] = lt_below(&rs, 2) ? 512ULL * lt_below(&rs, 2048) : odd_u64();
		range[1] = lt_below(&rs, 2) ? 512ULL * lt_below(&rs, 64) : odd_u64();
		res(ioctl(fd, lt_below(&rs, 2) ? BLKDISCARD : BLKZEROOUT, buf));
	} else {
		cur_op = "block ioctl";
		k = lt_below(&rs, sizeof(ptrcmds) / sizeof(ptrcmds[0]));
		res(ioctl(fd, ptrcmds[k], lt_below(&rs, 2) ? (void *)buf : pick_ptr(64)));
	}
}

static void op_io(void)
{
	int j = pick_fd(K_DEV);
	off_t off;
	size_t len;

	if (j < 0)
		return;
	off = lt_below(&rs, 3) ? 512 * lt_below(&rs, 2100) : (off_t)(odd_u64() >> 1);
	len = lt_below(&rs, 3) ? 512 * (1 + lt_below(&rs, 8)) : lt_below(&rs, 4096);
	if (lt_below(&rs, 2)) {
		cur_op = "pread";
		res(pread(fds[j].fd, lt_below(&rs, 8) ? buf : pick_ptr(0), len, off));
	} else {
		cur_op = "pwrite";
		fill_random(buf, len);
		res(pwrite(fds[j].fd, lt_below(&rs, 8) ? buf : pick_ptr(len), len, off));
	}
	if (lt_below(&rs, 8) == 0) {
		cur_op = "fsync";
		res(fsync(fds[j].fd));
	}
}

/* Move 1: take a hold on a node (an O_PATH fd, a detached or a bind mount), or let one go */
static void op_hold(void)
{
	static const int hows[] = { LT_HOLD_PATH, LT_HOLD_PATH, LT_HOLD_TREE, LT_HOLD_BIND };
	int i, k, how, r;
	char name[40];

	if (nholds && (nholds == NR_HOLDS || lt_below(&rs, 3) == 0)) {
		k = lt_below(&rs, nholds);
		cur_op = "release a hold";
		lt_hold_release(&holds[k]);
		holds[k] = holds[--nholds];
		hs.released++;
		return;
	}
	i = pick_inst();
	if (i < 0)
		return;
	k = pick_fd(K_DEV);
	if (lt_below(&rs, 4) && (!lt_pick_node(inst[i].mfd, &rs, 0, name, sizeof(name)) ||
				 ((i = pick_inst()) >= 0 &&
				  !lt_pick_node(inst[i].mfd, &rs, 0, name, sizeof(name))))) {
		/* a node an instance has */
	} else if (i < 0) {
		return;
	} else if (k >= 0 && lt_below(&rs, 2) && inst_of(fds[k].inst) >= 0) {
		/* a node we have open (or had) */
		i = inst_of(fds[k].inst);
		if (fds[k].partno)
			snprintf(name, sizeof(name), "loop%dp%d", fds[k].nr, fds[k].partno);
		else
			snprintf(name, sizeof(name), "loop%d", fds[k].nr);
	} else if (nseen_parts && lt_below(&rs, 3) == 0) {
		k = lt_below(&rs, nseen_parts);
		snprintf(name, sizeof(name), "loop%dp%d", seen_parts[k][0], seen_parts[k][1]);
	} else {
		snprintf(name, sizeof(name), "loop%ld", pick_nr());
	}
	how = hows[lt_below(&rs, 4)];
	if (how != LT_HOLD_PATH && !inst[i].attached && lt_below(&rs, 8))
		how = LT_HOLD_PATH;	/* (a clone of a detached one fails: EINVAL) */
	cur_op = "take a hold";
	r = lt_hold_take(&holds[nholds], inst[i].mfd, name, how, backing_dir);
	errno = -r;
	if (res(r ? -1 : 0) < 0) {
		hs.take_failed++;
		return;
	}
	hs.taken[how]++;
	holds[nholds].inst = inst[i].serial;
	note_nr(holds[nholds].nr, "a hold on a node of an instance");
	if (holds[nholds].partno)
		note_part(holds[nholds].nr, holds[nholds].partno);
	nholds++;
}

/* Move 2: reopen a held node O_RDWR; one whose device or partition is gone must not open */
static void reopen(struct lt_hold *h)
{
	char why[400];
	int fd, out;

	cur_op = "reopen a hold";
	nops++;
	hs.reopens++;
	out = lt_hold_check(h, &fd, why, sizeof(why));
	switch (out) {
	case LT_HOLD_LIVE:
		nok++;
		hs.reopen_live++;
		if (lt_below(&rs, 2))
			add_fd(fd, K_DEV, h->inst, h->nr, h->partno, 0);
		else
			close(fd);
		break;
	case LT_HOLD_LIVE_FAILED:
		hs.reopen_live_failed++;
		errs[errno > 0 && errno < 4096 ? errno : 0]++;
		break;
	case LT_HOLD_GONE:
		hs.reopen_gone++;
		errs[ENXIO]++;
		break;
	default:
		violation("%s", why);
	}
}

static void op_reopen(void)
{
	if (nholds)
		reopen(&holds[lt_below(&rs, nholds)]);
}

/* Whether name @name of instance @mfd is listed by readdir */
static int listed(int mfd, const char *name)
{
	struct dirent *e;
	DIR *d = lt_opendir(mfd);
	int found = 0;

	if (!d)
		return -1;
	while (!found && (e = readdir(d)))
		found = !strcmp(e->d_name, name);
	closedir(d);
	return found;
}

/* Whether @fd is open on the device that is node loop@nr of instance @mfd */
static int node_of(int mfd, int nr, int fd)
{
	struct stat a, b;
	char name[32];

	snprintf(name, sizeof(name), "loop%d", nr);
	return !fstatat(mfd, name, &a, 0) && !fstat(fd, &b) &&
	       S_ISBLK(a.st_mode) && a.st_rdev == b.st_rdev;
}

/*
 * Move 3: BLKPG add or delete of partition 1..8 of a device (bound first,
 * sometimes); a partition just added opens by name in the device's instance.
 */
static void op_part(void)
{
	int j = pick_fd(K_DEV), fd, nr, pno, i, pfd, b;
	char name[40];

	if (j < 0 || fds[j].partno || fds[j].opath || lt_below(&rs, 2)) {
		/* a device an instance has, opened for the purpose */
		i = pick_inst();
		if (i < 0 || lt_pick_node(inst[i].mfd, &rs, 1, name, sizeof(name)))
			return;
		cur_op = "openat(loopN) for BLKPG";
		fd = res(openat(inst[i].mfd, name, O_RDWR | O_CLOEXEC));
		if (fd < 0)
			return;
		add_fd(fd, K_DEV, inst[i].serial, atoi(name + 4), 0, 0);
		if (fds[nfds - 1].fd != fd)
			return;		/* no room: closed */
		j = nfds - 1;
	}
	fd = fds[j].fd;
	nr = fds[j].nr;
	pno = 1 + lt_below(&rs, 8);
	if (nseen_parts && lt_below(&rs, 2)) {
		/* a partition it had, rather */
		int k, n = lt_below(&rs, nseen_parts);

		for (k = 0; k < nseen_parts; k++, n = (n + 1) % nseen_parts) {
			if (seen_parts[n][0] == nr) {
				pno = seen_parts[n][1];
				break;
			}
		}
	}
	if (lt_below(&rs, 5) < 2) {
		cur_op = "BLKPG_DEL_PARTITION";
		hs.part_del++;
		if (!res(lt_blkpg(fd, BLKPG_DEL_PARTITION, pno, 0, 0))) {
			hs.part_del_ok++;
			holds_gone(nr, pno);
		}
		return;
	}
	b = pick_fd(K_BACK);
	if (b >= 0 && lt_below(&rs, 2)) {
		cur_op = "LOOP_CONFIGURE before BLKPG";
		res(lt_configure(fd, fds[b].fd, lt_below(&rs, 3) ? 0 : LO_FLAGS_PARTSCAN));
	}
	cur_op = "BLKPG_ADD_PARTITION";
	hs.part_add++;
	if (res(lt_blkpg(fd, BLKPG_ADD_PARTITION, pno, 512LL * lt_below(&rs, 2048),
			 512LL * (1 + lt_below(&rs, 512)))))
		return;
	hs.part_add_ok++;
	note_part(nr, pno);
	i = inst_of(fds[j].inst);
	if (i < 0)
		return;
	snprintf(name, sizeof(name), "loop%dp%d", nr, pno);
	cur_op = "openat(loopNpM) after BLKPG add";
	hs.part_open++;
	pfd = res(openat(inst[i].mfd, name, O_RDONLY | O_CLOEXEC));
	if (pfd >= 0) {
		hs.part_open_ok++;
		if (lt_below(&rs, 4) == 0 && listed(inst[i].mfd, name) == 0) {
			fprintf(stderr, "FAIL: %s opens by name but readdir does not list it (op %llu)\n",
				name, nops);
			part_lookup_fail++;
		}
		add_fd(pfd, K_DEV, fds[j].inst, nr, pno, 0);
	} else if (node_of(inst[i].mfd, nr, fd)) {
		/*
		 * The device is the instance's, so its new partition is too:
		 * the lookup finds it, and the open fails only where the
		 * device's does (in rundown after LOOP_CLR_FD, say).
		 */
		int e = errno, wfd = -1;

		if (e != ENOENT) {
			snprintf(name, sizeof(name), "loop%d", nr);
			wfd = openat(inst[i].mfd, name, O_RDONLY | O_CLOEXEC);
			snprintf(name, sizeof(name), "loop%dp%d", nr, pno);
		}
		if (e == ENOENT || wfd >= 0) {
			fprintf(stderr, "FAIL: %s does not open by name right after BLKPG add: %s%s (op %llu)\n",
				name, strerror(e), wfd >= 0 ? ", while the device opens" : "", nops);
			part_lookup_fail++;
		}
		if (wfd >= 0)
			close(wfd);
	}
}

/* A loop-control fd of instance @serial, or any */
static int pick_ctl_of(int serial)
{
	int j;

	for (j = 0; j < nfds; j++)
		if (fds[j].kind == K_CTL && fds[j].inst == serial)
			return j;
	return pick_fd(K_CTL);
}

/*
 * Move 4: remove a held device (LOOP_CTL_REMOVE, unlinkat()), or add a
 * recently removed or a held index again on any loop-control
 */
static void op_held_ctl(void)
{
	struct lt_hold *h;
	char name[32];
	long nr;
	int c, i, d;

	if (!nholds)
		return;
	h = &holds[lt_below(&rs, nholds)];
	nr = h->nr;
	i = inst_of(h->inst);
	switch (lt_below(&rs, 4)) {
	case 0:
		c = pick_ctl_of(h->inst);
		if (i >= 0 && (c < 0 || fds[c].inst != h->inst)) {
			cur_op = "openat(loop-control) of a held device's instance";
			add_fd(res(lt_open_ctl(inst[i].mfd)), K_CTL, h->inst, -1, 0, 0);
			c = pick_ctl_of(h->inst);
		}
		if (c < 0)
			return;
		if (i >= 0 && lt_below(&rs, 2)) {
			/* detached first, so that the remove can succeed */
			snprintf(name, sizeof(name), "loop%ld", nr);
			cur_op = "LOOP_CLR_FD before LOOP_CTL_REMOVE";
			d = res(openat(inst[i].mfd, name, O_RDWR | O_CLOEXEC));
			if (d >= 0) {
				res(ioctl(d, LOOP_CLR_FD));
				res(close(d));
			}
		}
		cur_op = "LOOP_CTL_REMOVE of a held device";
		hs.removes_held++;
		if (!res(ioctl(fds[c].fd, LOOP_CTL_REMOVE, nr))) {
			hs.removes_held_ok++;
			ctl_removed(nr);
			if (lt_below(&rs, 2))
				reopen(h);
		}
		break;
	case 1:
		if (i < 0)
			i = pick_inst();
		if (i < 0)
			return;
		snprintf(name, sizeof(name), "loop%ld", nr);
		cur_op = "unlinkat(held loopN)";
		hs.removes_held++;
		if (!res(unlinkat(inst[i].mfd, name, 0))) {
			hs.removes_held_ok++;
			unlinked(nr);
			if (lt_below(&rs, 2))
				reopen(h);
		}
		break;
	default:
		if (nremoved && lt_below(&rs, 2))
			nr = removed[lt_below(&rs, nremoved)];
		if (host_ctl >= 0 && held(nr) && lt_below(&rs, 6) == 0) {
			ctl_add(host_ctl, nr, 1);
		} else {
			c = pick_fd(K_CTL);
			if (c >= 0)
				ctl_add(fds[c].fd, nr, 0);
		}
		nadds++;
	}
}

static void op_mnt_ioctl(void)
{
	int i = pick_inst();

	if (i < 0)
		return;
	cur_op = "random ioctl on the instance root";
	res(ioctl(inst[i].mfd, random_cmd(), random_arg()));
}

static void close_all(void)
{
	int i;

	/* the holds first, then the fds, in random order */
	while (nholds) {
		int k = lt_below(&rs, nholds);

		lt_hold_release(&holds[k]);
		holds[k] = holds[--nholds];
		hs.released++;
	}
	while (nfds) {
		int j = lt_below(&rs, nfds);

		if (fds[j].kind == K_BACK) {
			close(fds[j].fd);
			fds[j] = fds[--nfds];
		} else {
			drop_fd(j);
		}
	}
	for (i = 0; i < NR_INST; i++) {
		if (inst[i].mfd >= 0) {
			inst_unmount(i);
			close(inst[i].mfd);
		}
		inst[i].mfd = -1;
	}
	if (host_ctl >= 0)
		close(host_ctl);
	host_ctl = -1;
}

static int final_checks(void)
{
	static unsigned char now[MAP_BITS / 8];
	int i, bad = 0, mfd, ctl, tried = 0, freed = 0;
	double end;

	lt_wait_gone(seen, nseen, 15);
	bad += lt_leftovers(stderr, "", seen, nseen, seen_parts, nseen_parts,
			    seen_map, MAP_BITS);
	lt_sys_loops(now, MAP_BITS);
	for (i = 0; i < MAP_BITS; i++) {
		if (!!lt_bit(now, i) != !!lt_bit(host_map, i)) {
			fprintf(stderr, "FAIL: loop%d %s /sys/block during the run\n", i,
				lt_bit(now, i) ? "appeared in" : "disappeared from");
			bad++;
		}
	}
	/* indexes free again: up to 8 of them added in a fresh instance */
	mfd = lt_new_instance(0);
	if (mfd < 0) {
		fprintf(stderr, "FAIL: fresh instance: %s\n", strerror(-mfd));
		return bad + 1;
	}
	ctl = lt_open_ctl(mfd);
	if (ctl < 0) {
		fprintf(stderr, "FAIL: fresh instance's loop-control: %m\n");
		return bad + 1;
	}
	for (i = 0; i < nseen && tried < 8; i++) {
		if (seen[i] < 0 || seen[i] > 1048575)
			continue;
		tried++;
		if (ioctl(ctl, LOOP_CTL_ADD, seen[i]) == seen[i]) {
			freed++;
		} else {
			fprintf(stderr, "FAIL: index %d not free again: LOOP_CTL_ADD: %m\n", seen[i]);
			bad++;
		}
	}
	if (ioctl(ctl, LOOP_CTL_GET_FREE) < 0) {
		fprintf(stderr, "FAIL: GET_FREE in a fresh instance: %m\n");
		bad++;
	}
	close(ctl);
	close(mfd);
	printf("fuzz: %d of %d indexes re-added in a fresh instance\n", freed, tried);
	end = lt_now() + 15;
	for (;;) {
		lt_sys_loops(now, MAP_BITS);
		if (!memcmp(now, host_map, sizeof(now)) || lt_now() > end)
			break;
		lt_sleep_ms(100);
	}
	if (memcmp(now, host_map, sizeof(now))) {
		fprintf(stderr, "FAIL: the fresh instance's devices outlived it\n");
		bad++;
	}
	/* every charge given back, the partitions' too */
	bad += lt_limit_check(3, NULL, 0);
	return bad;
}

int main(int argc, char **argv)
{
	unsigned long long maxops;
	double t0, limit = 0, el;
	long pg = sysconf(_SC_PAGESIZE);
	char *map;
	int i, bad;
	const char *td = getenv("TMPDIR");

	if (argc < 2) {
		fprintf(stderr, "usage: %s OPS [SEED [MAX_SECONDS]]\n", argv[0]);
		return 2;
	}
	maxops = strtoull(argv[1], NULL, 0);
	seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0;
	if (!seed)
		seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
	if (argc > 3)
		limit = atof(argv[3]);
	rs = seed;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("fuzz: seed %llu, %llu ops%s\n", seed, maxops, limit > 0 ? " (time bounded)" : "");
	snprintf(backing_dir, sizeof(backing_dir), "%s", td && *td ? td : "/tmp");

	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	/* Only fds we open ourselves may end up as a backing file. */
	for (i = 3; i < 1024; i++)
		close(i);

	map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED || munmap(map + pg, pg))
		lt_die("mmap: %m");
	edge = map + pg - 8;
	buf = aligned_alloc(4096, 65536);
	if (!buf)
		lt_die("alloc");

	if (lt_sys_loops(host_map, MAP_BITS) < 0)
		lt_die("/sys/block: %m");
	for (i = 0; i < NR_INST; i++)
		inst[i].mfd = -1;
	for (i = 0; i < NR_BACK; i++) {
		int fd = lt_backing(BACK_SIZE);

		add_fd(fd, K_BACK, -1, -1, 0, 0);
		if (i == 0) {
			/* a read-only open of the same file */
			char p[64];

			snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
			add_fd(open(p, O_RDONLY | O_CLOEXEC), K_BACK, -1, -1, 0, 0);
		}
	}
	/* bind mounts and attached instances stay in a mount namespace of ours */
	private_mounts = !lt_private_mounts();
	if (!private_mounts)
		printf("fuzz: no mount namespace of its own (%m): no attached instances, no bind or detached mounts of nodes\n");
	for (i = 0; i < NR_INST; i++) {
		snprintf(inst[i].dir, sizeof(inst[i].dir), "%s/loopfs-fuzz-mnt%d", backing_dir, i);
		if (private_mounts && mkdir(inst[i].dir, 0700) && errno != EEXIST)
			lt_die("mkdir %s: %m", inst[i].dir);
	}
	host_ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);

	t0 = lt_now();
	while (nops < maxops) {
		unsigned int w = lt_below(&rs, 100);

		if (limit > 0 && (nops & 63) == 0 && lt_now() - t0 > limit) {
			printf("fuzz: time limit of %.0f s reached after %llu of %llu ops\n",
			       limit, nops, maxops);
			break;
		}
		if (w < 3) op_new_instance();
		else if (w < 5) op_close_instance();
		else if (w < 9) op_open_ctl();
		else if (w < 18) op_open_dev();
		else if (w < 23) op_close_fd();
		else if (w < 27) op_unlink();
		else if (w < 29) op_namespace();
		else if (w < 32) op_readdir();
		else if (w < 39) op_ctl();
		else if (w < 57) op_loop_ioctl();
		else if (w < 67) op_blk_ioctl();
		else if (w < 75) op_io();
		else if (w < 77) op_mnt_ioctl();
		else if (w < 84) op_hold();
		else if (w < 89) op_reopen();
		else if (w < 95) op_part();
		else op_held_ctl();
		if (pick_inst() < 0)
			op_new_instance();
	}
	el = lt_now() - t0;
	close_all();
	bad = final_checks();

	printf("fuzz: %llu ops, seed %llu, %.1f s, %llu succeeded, %llu add attempts, %d devices seen, instances %d, errno histogram",
	       nops, seed, el, nok, nadds, nseen, next_serial);
	for (i = 1; i < 4096; i++)
		if (errs[i])
			printf(" %s=%llu", strerrorname_np(i) ? strerrorname_np(i) : "?", errs[i]);
	printf("\n");
	printf("fuzz: holds taken %llu (O_PATH fd %llu, detached mount %llu, bind mount %llu; %llu failed), released %llu; reopens %llu (gone: ENXIO %llu; live: opened %llu, failed %llu); partitions: BLKPG add %llu (ok %llu), del %llu (ok %llu), opened by name after add %llu (ok %llu), %d seen; held devices removed or unlinked %llu (ok %llu); LOOP_CTL_ADD of held indexes %llu (EEXIST %llu, ENOSPC %llu); violations %llu\n",
	       hs.taken[LT_HOLD_PATH] + hs.taken[LT_HOLD_TREE] + hs.taken[LT_HOLD_BIND],
	       hs.taken[LT_HOLD_PATH], hs.taken[LT_HOLD_TREE], hs.taken[LT_HOLD_BIND],
	       hs.take_failed, hs.released, hs.reopens, hs.reopen_gone, hs.reopen_live,
	       hs.reopen_live_failed, hs.part_add, hs.part_add_ok, hs.part_del,
	       hs.part_del_ok, hs.part_open, hs.part_open_ok, nseen_parts,
	       hs.removes_held, hs.removes_held_ok, hs.readds_held, hs.readds_eexist,
	       hs.readds_nospc, violations);
	if (impossible || bad || violations || part_lookup_fail) {
		printf("fuzz: FAILED: %llu violations, %llu impossible results, %llu partitions missing after BLKPG add, %d failed end checks (seed %llu)\n",
		       violations, impossible, part_lookup_fail, bad, seed);
		return 1;
	}
	printf("fuzz: ok\n");
	return 0;
}
