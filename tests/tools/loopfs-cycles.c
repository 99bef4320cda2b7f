// SPDX-License-Identifier: GPL-2.0
/*
 * loopfs-cycles - create-use-destroy cycles of detached loopfs instances
 * (contract clause 6.1: an instance's end releases everything it held).
 *
 *   loopfs-cycles CYCLES FULL_EVERY [BUDGET_SECONDS]
 *
 * Runs up to CYCLES cycles.  Every FULL_EVERY-th cycle (and the first) is a
 * full one:
 *	fsopen/fsconfig(max=2)/fsmount, open loop-control, LOOP_CTL_GET_FREE
 *	(adds a device), open loopN, LOOP_CONFIGURE on a 64 KiB file in
 *	$TMPDIR, write a 4 KiB block, fsync, read it back from the device and
 *	from the file, LOOP_CLR_FD, close, LOOP_CTL_REMOVE, close
 *	loop-control and the mount; the device must be gone from /sys/block.
 * The others are instance-only cycles (adding a device costs 0.1-0.3 s on
 * the debugging kernel under TCG, far too much for thousands of cycles):
 *	fsopen/fsconfig/fsmount, open loop-control, LOOP_CTL_REMOVE of an
 *	index the instance does not hold (ENODEV), close everything.
 * Every tenth instance-only cycle also reads the root directory (it must
 * hold loop-control only), closes the mount fd first and uses loop-control
 * after that (its open file keeps the instance), so both orders of release
 * are used.
 *
 * With BUDGET_SECONDS it stops once that much time has gone and says how
 * many cycles fit.  Prints "cycles: N done (F full, I instance-only) in T s:
 * full X ms/cycle, instance-only Y ms/cycle"; exits 1 when any step failed.
 */
#include "loopfs-tools.h"

#include <dirent.h>

#define BACK_SIZE	(64 * 1024)
#define BLK		4096

static int bad;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "cycles: FAIL: " __VA_ARGS__);		\
		fprintf(stderr, " (%m)\n");				\
		bad++;							\
		return -1;						\
	}								\
} while (0)

static int full_cycle(int bfd, unsigned long i)
{
	static unsigned char w[BLK] __attribute__((aligned(BLK)));
	static unsigned char r[BLK] __attribute__((aligned(BLK)));
	int mfd, ctl, nr, dev;
	off_t off = (off_t)BLK * (i % (BACK_SIZE / BLK));

	mfd = lt_new_instance(2);
	CHECK(mfd >= 0, "new instance: %s", strerror(-mfd));
	ctl = lt_open_ctl(mfd);
	CHECK(ctl >= 0, "open loop-control");
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	CHECK(nr >= 0, "LOOP_CTL_GET_FREE");
	dev = lt_open_dev(mfd, nr, O_RDWR);
	CHECK(dev >= 0, "open loop%d", nr);
	CHECK(!lt_configure(dev, bfd, 0), "LOOP_CONFIGURE loop%d", nr);
	memset(w, (int)(i & 0xff), sizeof(w));
	memcpy(w, &i, sizeof(i));
	CHECK(pwrite(dev, w, BLK, off) == BLK, "write loop%d", nr);
	CHECK(!fsync(dev), "fsync loop%d", nr);
	CHECK(pread(dev, r, BLK, off) == BLK && !memcmp(w, r, BLK),
	      "read back from loop%d", nr);
	CHECK(pread(bfd, r, BLK, off) == BLK && !memcmp(w, r, BLK),
	      "read back from loop%d's backing file", nr);
	CHECK(!ioctl(dev, LOOP_CLR_FD), "LOOP_CLR_FD loop%d", nr);
	close(dev);
	CHECK(!ioctl(ctl, LOOP_CTL_REMOVE, nr), "LOOP_CTL_REMOVE loop%d", nr);
	close(ctl);
	close(mfd);
	CHECK(!lt_sys_present(nr), "loop%d still in /sys/block after its removal", nr);
	return 0;
}

static int instance_cycle(unsigned long i)
{
	int mfd, ctl, n;

	mfd = lt_new_instance(i & 1 ? 0 : 3);
	CHECK(mfd >= 0, "new instance: %s", strerror(-mfd));
	ctl = lt_open_ctl(mfd);
	CHECK(ctl >= 0, "open loop-control");
	CHECK(ioctl(ctl, LOOP_CTL_REMOVE, 1000 + (int)(i % 1000)) < 0 && errno == ENODEV,
	      "LOOP_CTL_REMOVE of an absent device in an empty instance: want ENODEV");
	if (i % 10 == 0) {
		n = lt_count_entries(lt_opendir(mfd));
		CHECK(n == 1, "an empty instance holds %d entries, want 1 (loop-control)", n);
		/* the mount goes first, loop-control's open file keeps it */
		close(mfd);
		CHECK(ioctl(ctl, LOOP_CTL_REMOVE, 7) < 0 && errno == ENODEV,
		      "LOOP_CTL_REMOVE after the mount fd's close: want ENODEV");
		close(ctl);
	} else {
		close(ctl);
		close(mfd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long cycles, every, least = 0, i, nfull = 0, ninst = 0;
	double budget = 0, t0, tf = 0, ti = 0, t;
	int bfd;

	if (argc < 3) {
		fprintf(stderr, "usage: %s CYCLES FULL_EVERY [BUDGET_SECONDS [AT_LEAST]]\n",
			argv[0]);
		return 2;
	}
	cycles = strtoul(argv[1], NULL, 0);
	every = strtoul(argv[2], NULL, 0);
	if (argc > 3)
		budget = atof(argv[3]);
	/* The budget ends the run only once AT_LEAST cycles are done. */
	if (argc > 4)
		least = strtoul(argv[4], NULL, 0);
	if (!every)
		every = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	bfd = lt_backing(BACK_SIZE);
	t0 = lt_now();
	for (i = 0; i < cycles && !bad; i++) {
		t = lt_now();
		if (budget > 0 && t - t0 > budget && i >= least)
			break;
		if (i % every == 0) {
			full_cycle(bfd, i);
			tf += lt_now() - t;
			nfull++;
		} else {
			instance_cycle(i);
			ti += lt_now() - t;
			ninst++;
		}
		if (i && i % 1000 == 0)
			printf("cycles: %lu done, %.1f s\n", i, lt_now() - t0);
	}
	close(bfd);
	printf("cycles: %lu of %lu done (%lu full, %lu instance-only) in %.1f s: full %.1f ms/cycle, instance-only %.2f ms/cycle%s\n",
	       i, cycles, nfull, ninst, lt_now() - t0,
	       nfull ? 1000 * tf / nfull : 0.0, ninst ? 1000 * ti / ninst : 0.0,
	       i < cycles && !bad ? " (stopped by the time budget)" : "");
	if (bad) {
		printf("cycles: FAILED in cycle %lu\n", i - 1);
		return 1;
	}
	return 0;
}
