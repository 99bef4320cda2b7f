// SPDX-License-Identifier: GPL-2.0
/*
 * loopfs-stress - concurrent use and teardown of loopfs instances (contract
 * clauses 6.1 and 6.3).
 *
 *   loopfs-stress SECONDS [THREADS]
 *	8 detached instances; THREADS (default 3) worker threads get a device
 *	(LOOP_CTL_GET_FREE), bind it with LOOP_CONFIGURE to a small file in
 *	$TMPDIR, write a block through it, fsync, read it back from the device
 *	and from the backing file, then leave it one of five ways (LOOP_CLR_FD;
 *	closed while bound; node unlinked while open; LOOP_CLR_FD +
 *	LOOP_CTL_REMOVE; AUTOCLEAR).  Meanwhile a remover thread unlinks nodes
 *	and issues LOOP_CTL_REMOVE on devices of all instances, a reader opens
 *	nodes and reads them, and a recycler closes an instance's mount and
 *	loop-control fds and makes a new instance in its slot (the old one
 *	ends under the threads that still hold its devices).  After SECONDS
 *	everything is closed and it waits (30 s at most) until every device it
 *	saw is gone from /sys/block and /sys/block holds the loop devices it held
 *	at the start.  Prints the operation counts; exits 1 on a data mismatch
 *	or a leftover device, 0 otherwise.
 *
 *   loopfs-stress --limit-check K [INDEX...]
 *	Sets /proc/sys/user/max_loop_devices to K (restored afterwards), and in
 *	a fresh detached instance adds devices until the limit stops it, first
 *	the INDEXes given (each must be free: LOOP_CTL_ADD(INDEX) succeeds),
 *	then free indexes from 100 up: exactly
 *	K adds must succeed and the next one fail with ENOSPC; with all K bound,
 *	LOOP_CTL_GET_FREE must fail with ENOSPC too.  Fewer than K means a
 *	charge of real root's was not given back (devices of this uid in other
 *	instances count too, so nothing else may hold instance devices).
 */
#include "loopfs-tools.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <linux/fs.h>

#define NR_SLOTS	8
#define MAP_BITS	(1 << 20)
#define BACK_SIZE	(256 * 1024)
#define BLK		4096

struct slot {
	pthread_mutex_t lock;
	int mfd, ctl;
};

static struct slot slots[NR_SLOTS];
static volatile int stop;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char host_map[MAP_BITS / 8], seen_map[MAP_BITS / 8];
static int seen[8192], nseen;

static struct {
	unsigned long get_free, get_free_err, configure, configure_err, io,
		mismatch, clr, close_bound, unlink_open, remove_after, autoclear,
		unlinks, unlink_ok, removes, remove_ok, reads, recycles,
		read_ok;
} st;
static pthread_mutex_t st_lock = PTHREAD_MUTEX_INITIALIZER;
#define COUNT(f) do { pthread_mutex_lock(&st_lock); st.f++; pthread_mutex_unlock(&st_lock); } while (0)

static void note_nr(int nr)
{
	if (nr < 0 || nr >= MAP_BITS)
		return;
	pthread_mutex_lock(&seen_lock);
	if (!lt_bit(seen_map, nr) && nseen < (int)(sizeof(seen) / sizeof(seen[0]))) {
		seen_map[nr / 8] |= 1 << (nr % 8);
		seen[nseen++] = nr;
	}
	pthread_mutex_unlock(&seen_lock);
}

static int random_seen(uint64_t *rs)
{
	int nr = -1;

	pthread_mutex_lock(&seen_lock);
	if (nseen)
		nr = seen[lt_below(rs, nseen)];
	pthread_mutex_unlock(&seen_lock);
	return nr;
}

/* dups of a slot's mount and loop-control fds (they keep its instance) */
static int grab(int i, int *mfd, int *ctl)
{
	pthread_mutex_lock(&slots[i].lock);
	*mfd = slots[i].mfd >= 0 ? fcntl(slots[i].mfd, F_DUPFD_CLOEXEC, 3) : -1;
	*ctl = slots[i].ctl >= 0 ? fcntl(slots[i].ctl, F_DUPFD_CLOEXEC, 3) : -1;
	pthread_mutex_unlock(&slots[i].lock);
	if (*mfd < 0 || *ctl < 0) {
		if (*mfd >= 0)
			close(*mfd);
		if (*ctl >= 0)
			close(*ctl);
		return -1;
	}
	return 0;
}

static void slot_new(int i, uint64_t *rs)
{
	int mfd, ctl;

	mfd = lt_new_instance(lt_below(rs, 3) ? 0 : 2 + lt_below(rs, 3));
	if (mfd < 0) {
		fprintf(stderr, "stress: new instance: %s\n", strerror(-mfd));
		return;
	}
	ctl = lt_open_ctl(mfd);
	if (ctl < 0) {
		fprintf(stderr, "stress: open loop-control: %m\n");
		close(mfd);
		return;
	}
	pthread_mutex_lock(&slots[i].lock);
	if (slots[i].mfd >= 0)
		close(slots[i].mfd);
	if (slots[i].ctl >= 0)
		close(slots[i].ctl);
	slots[i].mfd = mfd;
	slots[i].ctl = ctl;
	pthread_mutex_unlock(&slots[i].lock);
}

static void *worker(void *arg)
{
	uint64_t rs = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);
	int bfd = lt_backing(BACK_SIZE);
	unsigned char *wbuf = aligned_alloc(BLK, BLK), *rbuf = aligned_alloc(BLK, BLK);
	unsigned long iter = 0;

	while (!stop) {
		int i = lt_below(&rs, NR_SLOTS), mfd, ctl, nr, dev;
		off_t off;
		char name[32];

		if (grab(i, &mfd, &ctl))
			continue;
		nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		COUNT(get_free);
		if (nr < 0) {
			COUNT(get_free_err);
			goto out;
		}
		note_nr(nr);
		dev = lt_open_dev(mfd, nr, O_RDWR);
		if (dev < 0)
			goto out;	/* removed or unlinked by the remover */
		COUNT(configure);
		if (lt_configure(dev, bfd, 0)) {
			COUNT(configure_err);	/* another worker got it first */
			close(dev);
			goto out;
		}
		iter++;
		off = (off_t)BLK * (iter % (BACK_SIZE / BLK));
		memset(wbuf, (int)(iter & 0xff), BLK);
		memcpy(wbuf, &iter, sizeof(iter));
		memcpy(wbuf + 8, &nr, sizeof(nr));
		if (pwrite(dev, wbuf, BLK, off) != BLK || fsync(dev) ||
		    pread(dev, rbuf, BLK, off) != BLK || memcmp(wbuf, rbuf, BLK) ||
		    pread(bfd, rbuf, BLK, off) != BLK || memcmp(wbuf, rbuf, BLK)) {
			fprintf(stderr, "stress: loop%d: write/read back at %lld failed or differs: %m\n",
				nr, (long long)off);
			COUNT(mismatch);
		}
		COUNT(io);
		switch (lt_below(&rs, 5)) {
		case 0:
			ioctl(dev, LOOP_CLR_FD);
			close(dev);
			COUNT(clr);
			break;
		case 1:
			close(dev);	/* stays bound; the instance's end detaches it */
			COUNT(close_bound);
			break;
		case 2:
			snprintf(name, sizeof(name), "loop%d", nr);
			unlinkat(mfd, name, 0);
			close(dev);
			COUNT(unlink_open);
			break;
		case 3:
			ioctl(dev, LOOP_CLR_FD);
			close(dev);
			ioctl(ctl, LOOP_CTL_REMOVE, nr);
			COUNT(remove_after);
			break;
		default: {
			struct loop_info64 li;

			if (!ioctl(dev, LOOP_GET_STATUS64, &li)) {
				li.lo_flags |= LO_FLAGS_AUTOCLEAR;
				ioctl(dev, LOOP_SET_STATUS64, &li);
			}
			close(dev);
			COUNT(autoclear);
		}
		}
out:
		close(mfd);
		close(ctl);
	}
	close(bfd);
	free(wbuf);
	free(rbuf);
	return NULL;
}

static void *remover(void *arg)
{
	uint64_t rs = 0x1234567ULL;

	while (!stop) {
		int i = lt_below(&rs, NR_SLOTS), mfd, ctl, nr = random_seen(&rs);
		char name[32];

		if (nr < 0 || grab(i, &mfd, &ctl)) {
			lt_sleep_ms(10);
			continue;
		}
		if (lt_below(&rs, 2)) {
			snprintf(name, sizeof(name), "loop%d", nr);
			COUNT(unlinks);
			if (!unlinkat(mfd, name, 0))
				COUNT(unlink_ok);
		} else {
			COUNT(removes);
			if (!ioctl(ctl, LOOP_CTL_REMOVE, nr))
				COUNT(remove_ok);
		}
		close(mfd);
		close(ctl);
		lt_sleep_ms(lt_below(&rs, 40));
	}
	return NULL;
}

static void *reader(void *arg)
{
	uint64_t rs = 0xabcdef12345ULL;
	char *b = aligned_alloc(BLK, BLK);

	while (!stop) {
		int i = lt_below(&rs, NR_SLOTS), mfd, ctl, nr = random_seen(&rs), dev;
		struct loop_info64 li;
		uint64_t sz;

		if (nr < 0 || grab(i, &mfd, &ctl)) {
			lt_sleep_ms(10);
			continue;
		}
		COUNT(reads);
		dev = lt_open_dev(mfd, nr, O_RDONLY);
		if (dev >= 0) {
			ioctl(dev, BLKGETSIZE64, &sz);
			ioctl(dev, LOOP_GET_STATUS64, &li);
			if (pread(dev, b, BLK, 0) >= 0)
				COUNT(read_ok);
			close(dev);
		}
		close(mfd);
		close(ctl);
		lt_sleep_ms(lt_below(&rs, 20));
	}
	free(b);
	return NULL;
}

static void *recycler(void *arg)
{
	uint64_t rs = 0x5555aaaa1111ULL;

	while (!stop) {
		lt_sleep_ms(200 + lt_below(&rs, 400));
		if (stop)
			break;
		slot_new(lt_below(&rs, NR_SLOTS), &rs);
		COUNT(recycles);
	}
	return NULL;
}

static int limit_check(int k, char **idx, int nidx)
{
	long saved = lt_read_long(LT_MAX_LOOP_SYSCTL);
	int mfd, ctl, n = 0, nr, bad = 0, devs[64], ndev = 0, i, err = 0;
	int bfd = lt_backing(BACK_SIZE);
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
		int dev = lt_open_dev(mfd, devs[i], O_RDWR);

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

int main(int argc, char **argv)
{
	static unsigned char now[MAP_BITS / 8];
	pthread_t th[16];
	int secs, nthreads = 3, i, n = 0, left, bad = 0;
	uint64_t rs = 42;
	double t0, end;

	if (argc >= 3 && !strcmp(argv[1], "--limit-check"))
		return limit_check(atoi(argv[2]), argv + 3, argc - 3);
	if (argc < 2) {
		fprintf(stderr, "usage: %s SECONDS [THREADS] | --limit-check K [INDEX...]\n", argv[0]);
		return 2;
	}
	secs = atoi(argv[1]);
	if (argc > 2)
		nthreads = atoi(argv[2]);
	if (nthreads < 1 || nthreads > 12)
		nthreads = 3;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (lt_sys_loops(host_map, MAP_BITS) < 0)
		lt_die("/sys/block: %m");
	for (i = 0; i < NR_SLOTS; i++) {
		pthread_mutex_init(&slots[i].lock, NULL);
		slots[i].mfd = slots[i].ctl = -1;
		slot_new(i, &rs);
		if (slots[i].mfd < 0)
			lt_die("stress: cannot make instance %d", i);
	}
	t0 = lt_now();
	for (i = 0; i < nthreads; i++)
		pthread_create(&th[n++], NULL, worker, (void *)(uintptr_t)i);
	pthread_create(&th[n++], NULL, remover, NULL);
	pthread_create(&th[n++], NULL, reader, NULL);
	pthread_create(&th[n++], NULL, recycler, NULL);
	while (lt_now() - t0 < secs)
		lt_sleep_ms(100);
	stop = 1;
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	printf("stress: %.1f s with %d workers: GET_FREE %lu (failed %lu), LOOP_CONFIGURE %lu (failed %lu), write+fsync+read back %lu (mismatches %lu)\n",
	       lt_now() - t0, nthreads, st.get_free, st.get_free_err, st.configure,
	       st.configure_err, st.io, st.mismatch);
	printf("stress: left by CLR_FD %lu, closed bound %lu, unlinked while open %lu, CLR_FD+REMOVE %lu, AUTOCLEAR %lu\n",
	       st.clr, st.close_bound, st.unlink_open, st.remove_after, st.autoclear);
	printf("stress: remover: unlinkat %lu (ok %lu), LOOP_CTL_REMOVE %lu (ok %lu); reader: %lu opens tried, %lu reads; instances recycled %lu\n",
	       st.unlinks, st.unlink_ok, st.removes, st.remove_ok, st.reads, st.read_ok,
	       st.recycles);
	for (i = 0; i < NR_SLOTS; i++) {
		close(slots[i].ctl);
		close(slots[i].mfd);
	}
	end = lt_now();
	left = lt_wait_gone(seen, nseen, 30);
	printf("stress: %d devices used; %d left in /sys/block %.1f s after the last close\n",
	       nseen, left, lt_now() - end);
	for (i = 0; i < nseen; i++) {
		if (lt_sys_present(seen[i])) {
			printf("stress: FAIL: loop%d outlived its instance\n", seen[i]);
			bad++;
		}
	}
	lt_sys_loops(now, MAP_BITS);
	if (memcmp(now, host_map, sizeof(now))) {
		printf("stress: FAIL: /sys/block's loop devices differ from the start\n");
		bad++;
	}
	if (st.mismatch) {
		printf("stress: FAIL: %lu data mismatches\n", st.mismatch);
		bad++;
	}
	if (!st.io) {
		printf("stress: FAIL: no I/O was done at all\n");
		bad++;
	}
	printf("stress: %s\n", bad ? "FAILED" : "ok");
	return bad ? 1 : 0;
}
