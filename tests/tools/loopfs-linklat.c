// SPDX-License-Identifier: GPL-2.0
/*
 * loopfs-linklat - how long after a device is added its DEV_DIR/loopN link
 * (made by userspace/loopfs-link) takes to appear; run inside a container.
 *
 *   loopfs-linklat CTL DEV_DIR COUNT
 *
 * COUNT times: LOOP_CTL_GET_FREE on CTL (the instance's loop-control, or a
 * symlink to it such as /dev/loop-control), which adds a device N, as
 * `losetup -f` does; then poll (lstat in a tight loop with sched_yield, for
 * up to 2 s) until DEV_DIR/loopN exists as a symlink, and record the time
 * from GET_FREE's return; check that the link leads to the instance's node
 * of N; LOOP_CTL_REMOVE N, and wait (up to 2 s) until DEV_DIR/loopN and
 * DEV_DIR/loopNp1 are gone.  (util-linux gives /dev/loopN about 400 ms to
 * appear after GET_FREE.)
 *
 * GET_FREE hands out an unbound device of the instance if it has one (a
 * spare, such as a bare `losetup -f` leaves) instead of adding one, and
 * its link is there already.  Devices that are in the instance when the tool
 * starts are therefore set aside when GET_FREE returns them: bound
 * read-only, with autoclear, to a file in $TMPDIR, and unbound again at the
 * end (or when the tool dies), so the instance is left as it was.
 *
 * Prints
 *	linklat: count=C median_us=X p90_us=X p99_us=X max_us=X late=L not_gone=G bad=B remove_max_us=X
 * (latencies in microseconds; late: links not there within 2 s, not_gone:
 * links still there 2 s after the removal, bad: links that do not lead to
 * the device's node or removals that failed) and exits 1 when L, G or B is
 * not 0.  Usage errors exit 2.
 */
#include "loopfs-tools.h"

#include <libgen.h>

#define TIMEOUT_S	2.0
#define MAX_SPARES	64
#define MAX_INDEX	(1 << 20)	/* loop indexes are below 1 << MINORBITS */

static int dev_dir, inst_dir;

/* DEV_DIR/@name is a symlink */
static int is_link(const char *name)
{
	struct stat st;

	return !fstatat(dev_dir, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode);
}

/* DEV_DIR/@name does not exist, not even as a dangling symlink */
static int is_gone(const char *name)
{
	struct stat st;

	return fstatat(dev_dir, name, &st, AT_SYMLINK_NOFOLLOW) && errno == ENOENT;
}

/* Spin (yielding the CPU) until @cond(@name) or @secs past @t0; the time. */
static double spin_until(int (*cond)(const char *), const char *name, double t0,
			 double secs)
{
	double t;

	for (;;) {
		t = lt_now();
		if (cond(name))
			return t - t0;
		if (t - t0 > secs)
			return -1;
		sched_yield();
	}
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* the @p-th percentile of sorted @v[0..n), nearest rank */
static long long pct(const long long *v, int n, int p)
{
	int k = (p * n + 99) / 100;

	return v[k > 0 ? k - 1 : 0];
}

int main(int argc, char **argv)
{
	static unsigned char before[MAX_INDEX / 8];
	char name[32], pname[40], ctlpath[PATH_MAX];
	int ctl, count, i, nr, n = 0, late = 0, not_gone = 0, bad = 0;
	int spare_fd[MAX_SPARES], spares = 0, bfd = -1;
	long long *lat, remove_max = 0;
	struct stat ls, ns;
	struct dirent *e;
	double t0, t;
	char *end, c;
	DIR *d;

	if (argc != 4) {
		fprintf(stderr, "usage: %s CTL DEV_DIR COUNT\n", argv[0]);
		return 2;
	}
	count = strtol(argv[3], &end, 10);
	if (*end || count < 1 || count > 1000000) {
		fprintf(stderr, "linklat: COUNT must be 1..1000000, not '%s'\n", argv[3]);
		return 2;
	}
	lat = calloc(count, sizeof(*lat));
	if (!lat)
		lt_die("linklat: out of memory");
	ctl = open(argv[1], O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		lt_die("linklat: open %s: %s", argv[1], strerror(errno));
	dev_dir = open(argv[2], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dev_dir < 0)
		lt_die("linklat: open %s: %s", argv[2], strerror(errno));
	/* the instance: the directory CTL is in, symlinks followed */
	if (!realpath(argv[1], ctlpath))
		lt_die("linklat: realpath %s: %s", argv[1], strerror(errno));
	inst_dir = open(dirname(ctlpath), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (inst_dir < 0)
		lt_die("linklat: open %s: %s", ctlpath, strerror(errno));
	d = lt_opendir(inst_dir);
	if (!d)
		lt_die("linklat: read %s: %s", ctlpath, strerror(errno));
	while ((e = readdir(d)))
		if (sscanf(e->d_name, "loop%d%c", &nr, &c) == 1 && nr >= 0 &&
		    nr < MAX_INDEX)
			before[nr / 8] |= 1 << (nr % 8);
	closedir(d);

	while (n < count) {
		nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		t0 = lt_now();
		if (nr < 0)
			lt_die("linklat: LOOP_CTL_GET_FREE on %s: %s", argv[1], strerror(errno));
		if (nr < MAX_INDEX && lt_bit(before, nr)) {
			/* a device the instance had: hold it bound meanwhile */
			int fd = lt_open_dev(inst_dir, nr, O_RDONLY);

			if (spares == MAX_SPARES)
				lt_die("linklat: more than %d unbound devices in the instance", MAX_SPARES);
			if (bfd < 0)
				bfd = lt_backing(1 << 20);
			if (fd < 0 || lt_configure(fd, bfd, LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR))
				lt_die("linklat: setting aside loop%d: %s", nr, strerror(errno));
			spare_fd[spares++] = fd;
			printf("linklat: loop%d was in the instance already: set aside until the end\n", nr);
			continue;
		}
		snprintf(name, sizeof(name), "loop%d", nr);
		snprintf(pname, sizeof(pname), "loop%dp1", nr);
		t = spin_until(is_link, name, t0, TIMEOUT_S);
		if (t < 0) {
			printf("linklat: FAIL: %s/%s not there %.0f s after GET_FREE returned %d\n",
			       argv[2], name, TIMEOUT_S, nr);
			late++;
			t = lt_now() - t0;
		} else if (fstatat(dev_dir, name, &ls, 0) || !S_ISBLK(ls.st_mode) ||
			   fstatat(inst_dir, name, &ns, 0) || ls.st_rdev != ns.st_rdev) {
			printf("linklat: FAIL: %s/%s does not lead to the instance's node %s\n",
			       argv[2], name, name);
			bad++;
		}
		lat[n++] = (long long)(t * 1e6);

		if (ioctl(ctl, LOOP_CTL_REMOVE, nr)) {
			/* (GET_FREE would hand it out again: stop here) */
			printf("linklat: FAIL: LOOP_CTL_REMOVE %d: %s\n", nr, strerror(errno));
			bad++;
			break;
		}
		t0 = lt_now();
		t = spin_until(is_gone, name, t0, TIMEOUT_S);
		if (t >= 0)
			t = spin_until(is_gone, pname, t0, TIMEOUT_S);
		if (t < 0) {
			printf("linklat: FAIL: %s/%s or %s still there %.0f s after loop%d was removed\n",
			       argv[2], name, pname, TIMEOUT_S, nr);
			not_gone++;
		} else if ((long long)(t * 1e6) > remove_max) {
			remove_max = (long long)(t * 1e6);
		}
	}

	for (i = 0; i < spares; i++) {
		if (ioctl(spare_fd[i], LOOP_CLR_FD))
			printf("linklat: unbinding a set-aside device: %s\n", strerror(errno));
		close(spare_fd[i]);
	}
	if (bfd >= 0)
		close(bfd);
	qsort(lat, n, sizeof(*lat), cmp_ll);
	printf("linklat: count=%d median_us=%lld p90_us=%lld p99_us=%lld max_us=%lld late=%d not_gone=%d bad=%d remove_max_us=%lld\n",
	       n, pct(lat, n, 50), pct(lat, n, 90), pct(lat, n, 99), lat[n - 1],
	       late, not_gone, bad, remove_max);
	return late || not_gone || bad ? 1 : 0;
}
