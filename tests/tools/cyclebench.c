// SPDX-License-Identifier: GPL-2.0
/*
 * cyclebench - the timed loops and the memory readings of
 * tests/bench/cycle.sh and tests/bench/slab.sh, in C (an exec in the debug
 * guest costs seconds: loop in C, not in shell).
 *
 *   cyclebench cycle NR CYCLES WARMUP CONTROL NODEDIR [CONTROL NODEDIR]
 *       Life cycles of device NR through the loop-control CONTROL and the
 *       node NODEDIR/loopNR (the host's /dev/loop-control and /dev, or an
 *       instance's loop-control and its mount), one cycle being
 *           LOOP_CTL_ADD(NR); open NODEDIR/loopNR O_RDWR; LOOP_CONFIGURE
 *           on a 1 MiB file in $TMPDIR; LOOP_CLR_FD; close;
 *           LOOP_CTL_REMOVE(NR)
 *       WARMUP untimed cycles, then CYCLES timed ones, on each side given;
 *       with two sides their cycles take turns as A B B A A B ..., so that
 *       both see the machine at the same speed.  Prints, a line per side,
 *           side=S median_ns=M ns_per_cycle=X add_ns=A bind_ns=B unbind_ns=U remove_ns=R cycles=N retries=E
 *       (M: the median time of a cycle; X the mean, A, B, U, R the means of
 *       its steps: the add, the open and LOOP_CONFIGURE, LOOP_CLR_FD and
 *       the close, the removal; E: how often a step had to be retried, a
 *       node not there yet or a removal refused with EBUSY).
 *
 *   cyclebench instances K OUT [DIR]
 *       Kernel memory per empty loopfs instance.  Reads /proc/meminfo
 *       (Slab, SReclaimable, SUnreclaim, Percpu) before K instances are
 *       made, while they exist, and after they are gone; before each
 *       reading it drops the caches (vm/drop_caches = 3, after a 4 that
 *       keeps the kernel from logging every drop), shrinks every slab
 *       cache (/sys/kernel/slab/NAME/shrink) and folds the per-cpu
 *       counters (vm/stat_refresh), and it reads again every 0.5 s, up to
 *       10 times, until Slab stops falling (RCU-deferred frees).  Without
 *       DIR the instances are detached mounts (fsopen, fsconfig, fsmount),
 *       held as K file descriptors, closed at the end.  With DIR it first
 *       enters a private mount namespace of its own and makes K
 *       directories DIR/iN, then mounts an instance on each with mount(2)
 *       (as a container manager mounts one on a container's /dev/loopfs),
 *       unmounting them at the end.  The fd table is grown, the
 *       directories made and the namespace entered before the first
 *       reading.  Copies /proc/slabinfo (when readable) to OUT.before,
 *       OUT.with and OUT.after, and prints
 *           PHASE slab_kb=S sreclaimable_kb=R sunreclaim_kb=U percpu_kb=P settle=N
 *       for PHASE before, with and after (settle: readings taken), then
 *           instances=K make_ms=M teardown_ms=T
 *
 * Exits 1 on an error, 2 on a usage error.
 *
 * Build: gcc -O2 -Wall -o build/tools/cyclebench tests/tools/cyclebench.c
 */
#include "loopfs-tools.h"

#include <sys/resource.h>

#define BACK_SIZE	(1024 * 1024)

static int usage(void)
{
	fprintf(stderr,
		"usage: cyclebench cycle NR CYCLES WARMUP CONTROL NODEDIR [CONTROL NODEDIR]\n"
		"       cyclebench instances K OUT [DIR]\n");
	return 2;
}

static long num_arg(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > INT_MAX)
		return -1;
	return v;
}

/* ---------------------------------------------------------------- cycle */

/* open NODEDIR/loopNR, retried for up to 1 s while it is not there yet */
static int open_node(int dir, int nr, long *retries)
{
	double end = lt_now() + 1;
	int fd;

	while ((fd = lt_open_dev(dir, nr, O_RDWR)) < 0 && errno == ENOENT &&
	       lt_now() < end) {
		(*retries)++;
		sched_yield();
	}
	return fd;
}

/* LOOP_CTL_REMOVE(NR), retried for up to 1 s while it fails with EBUSY */
static int remove_dev(int ctl, int nr, long *retries)
{
	double end = lt_now() + 1;
	int r;

	while ((r = ioctl(ctl, LOOP_CTL_REMOVE, nr)) < 0 && errno == EBUSY &&
	       lt_now() < end) {
		(*retries)++;
		sched_yield();
	}
	return r;
}

struct side {
	const char *ctl_path, *dir_path;
	int ctl, dir;
	long long sum[4], *total;
	long cap, done, retries;
};

/* One cycle of device @nr on side @sd, timed when @timed. */
static void one_cycle(struct side *sd, long nr, int bfd, int timed)
{
	long long t[5];
	int dev, k;

	t[0] = lt_now_ns();
	if (ioctl(sd->ctl, LOOP_CTL_ADD, nr) != nr)
		lt_die("cyclebench: LOOP_CTL_ADD(%ld) on %s: %s", nr, sd->ctl_path,
		       strerror(errno));
	t[1] = lt_now_ns();
	dev = open_node(sd->dir, nr, &sd->retries);
	if (dev < 0)
		lt_die("cyclebench: open %s/loop%ld: %s", sd->dir_path, nr, strerror(errno));
	if (lt_configure(dev, bfd, 0))
		lt_die("cyclebench: LOOP_CONFIGURE loop%ld: %s", nr, strerror(errno));
	t[2] = lt_now_ns();
	if (ioctl(dev, LOOP_CLR_FD))
		lt_die("cyclebench: LOOP_CLR_FD loop%ld: %s", nr, strerror(errno));
	close(dev);
	t[3] = lt_now_ns();
	if (remove_dev(sd->ctl, nr, &sd->retries))
		lt_die("cyclebench: LOOP_CTL_REMOVE(%ld) on %s: %s", nr, sd->ctl_path,
		       strerror(errno));
	t[4] = lt_now_ns();
	if (!timed || sd->done >= sd->cap)
		return;
	for (k = 0; k < 4; k++)
		sd->sum[k] += t[k + 1] - t[k];
	sd->total[sd->done++] = t[4] - t[0];
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static int cycle(int argc, char **argv)
{
	struct side sides[2];
	long nr, cycles, warmup, i, n;
	int nsides, s, bfd;

	if (argc != 7 && argc != 9)
		return usage();
	nr = num_arg(argv[2]);
	cycles = num_arg(argv[3]);
	warmup = num_arg(argv[4]);
	if (nr < 0 || cycles < 1 || warmup < 0)
		return usage();
	nsides = (argc - 5) / 2;
	memset(sides, 0, sizeof(sides));
	for (s = 0; s < nsides; s++) {
		struct side *sd = &sides[s];

		sd->ctl_path = argv[5 + 2 * s];
		sd->dir_path = argv[6 + 2 * s];
		sd->ctl = open(sd->ctl_path, O_RDWR | O_CLOEXEC);
		if (sd->ctl < 0)
			lt_die("cyclebench: %s: %s", sd->ctl_path, strerror(errno));
		sd->dir = open(sd->dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sd->dir < 0)
			lt_die("cyclebench: %s: %s", sd->dir_path, strerror(errno));
		sd->cap = cycles;
		sd->total = calloc(cycles, sizeof(*sd->total));
		if (!sd->total)
			lt_die("cyclebench: out of memory");
	}
	bfd = lt_backing(BACK_SIZE);
	/* A B B A A B B A ...: turn i goes to side ((i + 1) / 2) % 2 */
	n = nsides * (warmup + cycles);
	for (i = 0; i < n; i++) {
		s = nsides == 1 ? 0 : ((i + 1) / 2) % 2;
		one_cycle(&sides[s], nr, bfd, i >= nsides * warmup);
	}
	close(bfd);
	for (s = 0; s < nsides; s++) {
		struct side *sd = &sides[s];
		long long *sum = sd->sum;

		qsort(sd->total, cycles, sizeof(*sd->total), cmp_ll);
		printf("side=%d median_ns=%lld ns_per_cycle=%lld add_ns=%lld bind_ns=%lld unbind_ns=%lld remove_ns=%lld cycles=%ld retries=%ld\n",
		       s + 1, cycles % 2 ? sd->total[cycles / 2] :
		       (sd->total[cycles / 2 - 1] + sd->total[cycles / 2]) / 2,
		       (sum[0] + sum[1] + sum[2] + sum[3]) / cycles, sum[0] / cycles,
		       sum[1] / cycles, sum[2] / cycles, sum[3] / cycles, cycles, sd->retries);
		free(sd->total);
		close(sd->dir);
		close(sd->ctl);
	}
	return 0;
}

/* ------------------------------------------------------------ instances */

struct mem {
	long slab, srecl, sunrecl, percpu;
};

/* write @s to @path, best effort (a cache that cannot shrink stays as it is) */
static void write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	n = write(fd, s, strlen(s));
	(void)n;
	close(fd);
}

/* drop the caches, shrink every slab cache, fold the per-cpu counters */
static void settle(void)
{
	char p[PATH_MAX];
	struct dirent *e;
	DIR *d;

	sync();
	/* (4 first: the kernel logs a drop_caches only once, not 30 times) */
	write_str("/proc/sys/vm/drop_caches", "4");
	write_str("/proc/sys/vm/drop_caches", "3");
	d = opendir("/sys/kernel/slab");
	while (d && (e = readdir(d))) {
		/* (the links are aliases of merged caches) */
		if (e->d_name[0] == '.' || e->d_type == DT_LNK)
			continue;
		snprintf(p, sizeof(p), "/sys/kernel/slab/%s/shrink", e->d_name);
		write_str(p, "1");
	}
	if (d)
		closedir(d);
	write_str("/proc/sys/vm/stat_refresh", "1");
}

static void read_mem(struct mem *m)
{
	char line[256], key[64];
	long v;
	FILE *f = fopen("/proc/meminfo", "re");

	memset(m, 0, sizeof(*m));
	if (!f)
		lt_die("cyclebench: /proc/meminfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld", key, &v) != 2)
			continue;
		if (!strcmp(key, "Slab:"))
			m->slab = v;
		else if (!strcmp(key, "SReclaimable:"))
			m->srecl = v;
		else if (!strcmp(key, "SUnreclaim:"))
			m->sunrecl = v;
		else if (!strcmp(key, "Percpu:"))
			m->percpu = v;
	}
	fclose(f);
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		return;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		lt_die("cyclebench: %s: %s", to, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			lt_die("cyclebench: writing %s: %s", to, strerror(errno));
	close(out);
	close(in);
}

/*
 * One reading of phase @name: settle and read until Slab stops falling
 * (at most 10 readings, 0.5 s apart); print it, copy /proc/slabinfo.
 */
static void reading(const char *name, const char *out)
{
	char p[PATH_MAX];
	struct mem m, prev;
	int n;

	settle();
	read_mem(&m);
	for (n = 1; n < 10; n++) {
		prev = m;
		lt_sleep_ms(500);
		settle();
		read_mem(&m);
		if (m.slab >= prev.slab)
			break;
	}
	snprintf(p, sizeof(p), "%s.%s", out, name);
	copy_file("/proc/slabinfo", p);
	printf("%s slab_kb=%ld sreclaimable_kb=%ld sunreclaim_kb=%ld percpu_kb=%ld settle=%d\n",
	       name, m.slab, m.srecl, m.sunrecl, m.percpu, n);
	fflush(stdout);
}

static int instances(int argc, char **argv)
{
	const char *dir = argc > 4 ? argv[4] : NULL;
	char p[PATH_MAX];
	struct rlimit rl;
	long k, i;
	int *fds = NULL, fd;
	double t;

	if (argc < 4 || argc > 5)
		return usage();
	k = num_arg(argv[2]);
	if (k < 1)
		return usage();
	if (dir) {
		if (lt_private_mounts())
			lt_die("cyclebench: a private mount namespace: %s", strerror(errno));
		for (i = 0; i < k; i++) {
			snprintf(p, sizeof(p), "%s/i%ld", dir, i);
			if (mkdir(p, 0755) && errno != EEXIST)
				lt_die("cyclebench: mkdir %s: %s", p, strerror(errno));
		}
	} else {
		/* room for K fds, the table grown before the first reading */
		if (getrlimit(RLIMIT_NOFILE, &rl))
			lt_die("cyclebench: RLIMIT_NOFILE: %s", strerror(errno));
		if (rl.rlim_cur < (rlim_t)k + 64) {
			rl.rlim_cur = k + 64;
			if (rl.rlim_max < rl.rlim_cur)
				rl.rlim_max = rl.rlim_cur;
			if (setrlimit(RLIMIT_NOFILE, &rl))
				lt_die("cyclebench: RLIMIT_NOFILE %ld: %s", k + 64, strerror(errno));
		}
		fd = dup2(0, k + 63);
		if (fd < 0)
			lt_die("cyclebench: growing the fd table: %s", strerror(errno));
		close(fd);
		fds = calloc(k, sizeof(*fds));
		if (!fds)
			lt_die("cyclebench: out of memory");
	}
	reading("before", argv[3]);
	t = lt_now();
	for (i = 0; i < k; i++) {
		if (dir) {
			snprintf(p, sizeof(p), "%s/i%ld", dir, i);
			if (lt_mount("none", p, "loopfs", 0, NULL))
				lt_die("cyclebench: mount -t loopfs none %s (after %ld): %s", p, i,
				       strerror(errno));
			continue;
		}
		fds[i] = lt_new_instance(0);
		if (fds[i] < 0)
			lt_die("cyclebench: instance %ld: %s", i, strerror(-fds[i]));
	}
	t = lt_now() - t;
	reading("with", argv[3]);
	printf("instances=%ld make_ms=%.0f", k, 1000 * t);
	t = lt_now();
	for (i = 0; i < k; i++) {
		if (dir) {
			snprintf(p, sizeof(p), "%s/i%ld", dir, i);
			if (lt_umount(p, 0))
				lt_die("cyclebench: umount %s: %s", p, strerror(errno));
			continue;
		}
		close(fds[i]);
	}
	t = lt_now() - t;
	printf(" teardown_ms=%.0f\n", 1000 * t);
	fflush(stdout);
	reading("after", argv[3]);
	if (dir) {
		for (i = 0; i < k; i++) {
			snprintf(p, sizeof(p), "%s/i%ld", dir, i);
			rmdir(p);
		}
	}
	free(fds);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "cycle"))
		return cycle(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "instances"))
		return instances(argc, argv);
	return usage();
}
