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
 * It stops after OPS operations (or MAX_SECONDS, default 0 = no limit, and
 * then says so), closes everything and checks:
 *   - every call returned >= 0, or -1 with an errno in 1..4095;
 *   - no instance operation ever named a device that existed before the run
 *     (a host device);
 *   - after the last close every device it saw is gone from /sys/block
 *     (within 15 s) and /sys/block holds exactly the loop devices it held
 *     at the start;
 *   - the indexes are free again: LOOP_CTL_ADD of (up to 8 of) them in a
 *     fresh instance succeeds.
 * It prints "fuzz: N ops, seed S, errno histogram ..." and exits 0, or 1
 * when a check fails.
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
#define MAP_BITS	(1 << 20)
#define BACK_SIZE	(1 << 20)

enum kind { K_CTL, K_DEV, K_BACK };

struct fdent {
	int fd;
	enum kind kind;
	int inst;		/* instance serial, -1 for backing files */
	int nr;			/* device number for K_DEV */
};

static uint64_t rs;
static struct { int mfd; int serial; } inst[NR_INST];
static int next_serial;
static struct fdent fds[NR_FDS];
static int nfds;
static unsigned char host_map[MAP_BITS / 8], seen_map[MAP_BITS / 8];
static int seen[4096], nseen;
static unsigned long long errs[4096], nok, nops, nadds, impossible;
static char *buf, *edge;	/* edge: 8 bytes before an unmapped page */
static volatile const char *cur_op = "start";
static char backing_dir[PATH_MAX];

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

static void add_fd(int fd, enum kind kind, int serial, int nr)
{
	if (fd < 0)
		return;
	if (fd <= 2 || nfds == NR_FDS) {
		close(fd);
		return;
	}
	fds[nfds++] = (struct fdent){ fd, kind, serial, nr };
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
	default:
		j = pick_fd(-1);
		return j < 0 ? -1 : fds[j].fd;
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
}

static void op_close_instance(void)
{
	int i = pick_inst();

	if (i < 0)
		return;
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
	       K_CTL, inst[i].serial, -1);
}

static void op_open_dev(void)
{
	static const int fl[] = { O_RDWR, O_RDONLY, O_WRONLY, O_RDWR | O_EXCL,
				  O_RDONLY | O_NONBLOCK, O_RDWR | O_DIRECT,
				  O_RDWR | O_SYNC, O_PATH };
	int i = pick_inst(), fd;
	long nr = pick_nr();
	char name[40];

	if (i < 0)
		return;
	if (lt_below(&rs, 8) == 0)
		snprintf(name, sizeof(name), "loop%ldp%u", nr, 1 + lt_below(&rs, 3));
	else
		snprintf(name, sizeof(name), "loop%ld", nr);
	cur_op = "openat(loopN)";
	fd = res(openat(inst[i].mfd, name, fl[lt_below(&rs, 8)] | O_CLOEXEC));
	if (fd >= 0)
		note_nr(nr, "openat(instance, loopN)");
	add_fd(fd, K_DEV, inst[i].serial, nr);
}

static void op_close_fd(void)
{
	int j = pick_fd(-1);

	if (j >= 0 && fds[j].kind != K_BACK)
		drop_fd(j);
}

static void op_unlink(void)
{
	static const char *other[] = { "loop-control", ".", "..", "", "loop",
				       "loop-1", "nonexistent" };
	int i = pick_inst();
	char name[40];

	if (i < 0)
		return;
	if (lt_below(&rs, 5))
		snprintf(name, sizeof(name), "loop%ld", pick_nr());
	else if (lt_below(&rs, 2))
		snprintf(name, sizeof(name), "loop%ldp1", pick_nr());
	else
		snprintf(name, sizeof(name), "%s", other[lt_below(&rs, 7)]);
	cur_op = "unlinkat";
	res(unlinkat(inst[i].mfd, name, lt_below(&rs, 6) ? 0 : AT_REMOVEDIR));
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
	}
	closedir(d);
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
		cur_op = "LOOP_CTL_ADD";
		nr = pick_nr();
		r = res(ioctl(fds[j].fd, LOOP_CTL_ADD, nr));
		if (r >= 0)
			note_nr(r, "LOOP_CTL_ADD");
		nadds++;
		break;
	case 5: case 6: case 7:
		cur_op = "LOOP_CTL_REMOVE";
		res(ioctl(fds[j].fd, LOOP_CTL_REMOVE, pick_nr()));
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
		res(ioctl(fd, BLKRRPART));
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
		res(ioctl(fd, BLKPG, a));
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

	/* random order */
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
		if (inst[i].mfd >= 0)
			close(inst[i].mfd);
		inst[i].mfd = -1;
	}
}

static int final_checks(void)
{
	static unsigned char now[MAP_BITS / 8];
	int i, bad = 0, mfd, ctl, tried = 0, freed = 0;
	double end;

	lt_wait_gone(seen, nseen, 15);
	for (i = 0; i < nseen; i++) {
		if (lt_sys_present(seen[i])) {
			fprintf(stderr, "FAIL: loop%d (seen in an instance) still in /sys/block after everything was closed\n",
				seen[i]);
			bad++;
		}
	}
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
	return bad;
}

int main(int argc, char **argv)
{
	unsigned long long maxops, seed;
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

		add_fd(fd, K_BACK, -1, -1);
		if (i == 0) {
			/* a read-only open of the same file */
			char p[64];

			snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
			add_fd(open(p, O_RDONLY | O_CLOEXEC), K_BACK, -1, -1);
		}
	}

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
		else if (w < 10) op_open_ctl();
		else if (w < 20) op_open_dev();
		else if (w < 26) op_close_fd();
		else if (w < 30) op_unlink();
		else if (w < 33) op_namespace();
		else if (w < 36) op_readdir();
		else if (w < 46) op_ctl();
		else if (w < 72) op_loop_ioctl();
		else if (w < 86) op_blk_ioctl();
		else if (w < 96) op_io();
		else op_mnt_ioctl();
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
	if (impossible || bad) {
		printf("fuzz: FAILED: %llu impossible results, %d failed end checks (seed %llu)\n",
		       impossible, bad, seed);
		return 1;
	}
	printf("fuzz: ok\n");
	return 0;
}
