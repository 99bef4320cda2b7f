// SPDX-License-Identifier: GPL-2.0
/*
 * loopfs-lookup-race SECONDS: look up loopNp1 in a detached instance while
 * another thread adds and removes device N there, for SECONDS seconds.
 *
 * A device being added is not yet a member of its instance: a lookup of
 * one of its partitions must find nothing (ENOENT), never a half-built
 * device (which once oopsed the kernel). N has no partitions, so every
 * lookup must fail with ENOENT. Prints
 *	lookup-race: A adds, L lookups of loopNp1, 0 found
 * and exits 0; exits 1 on any other result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/loop.h>
#include <sys/ioctl.h>

#include "loopfs-tools.h"

static int mfd, ctl, nr;
static volatile int stop;
static unsigned long adds, looks, found, other;
static char name[32];

static void *adder(void *arg)
{
	while (!stop) {
		if (ioctl(ctl, LOOP_CTL_ADD, nr) == nr)
			adds++;
		ioctl(ctl, LOOP_CTL_REMOVE, nr);
	}
	return NULL;
}

static void *looker(void *arg)
{
	while (!stop) {
		int fd = openat(mfd, name, O_PATH | O_CLOEXEC);

		looks++;
		if (fd >= 0) {
			found++;
			close(fd);
		} else if (errno != ENOENT) {
			other++;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 10;
	pthread_t t1, t2;
	double end;

	mfd = lt_new_instance(0);
	if (mfd < 0)
		lt_die("new instance: %s", strerror(-mfd));
	ctl = lt_open_ctl(mfd);
	if (ctl < 0)
		lt_die("open loop-control: %s", strerror(errno));
	/* a number free everywhere: the instance's first device, removed */
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	if (nr < 0 || ioctl(ctl, LOOP_CTL_REMOVE, nr))
		lt_die("GET_FREE/REMOVE: %s", strerror(errno));
	snprintf(name, sizeof(name), "loop%dp1", nr);
	if (pthread_create(&t1, NULL, adder, NULL) ||
	    pthread_create(&t2, NULL, looker, NULL))
		lt_die("pthread_create");
	end = lt_now() + secs;
	while (lt_now() < end)
		lt_sleep_ms(200);
	stop = 1;
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	printf("lookup-race: %lu adds, %lu lookups of %s, %lu found, %lu other errors\n",
	       adds, looks, name, found, other);
	return adds && looks && !found && !other ? 0 : 1;
}
