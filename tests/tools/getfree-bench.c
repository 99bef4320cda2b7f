// SPDX-License-Identifier: GPL-2.0
/*
 * getfree-bench - the timed loops and bulk binds of tests/bench/getfree.sh.
 *
 *   getfree-bench rounds CONTROL MILLISECONDS ROUNDS
 *       One LOOP_CTL_GET_FREE on the loop-control node CONTROL to warm up,
 *       then ROUNDS rounds, each GET_FREE calls for MILLISECONDS followed
 *       by calls of a control for as long (getppid(): a system call that
 *       looks at no device, to see how fast the machine runs just then).
 *       A round lasts as long whatever a call costs, so that a slow
 *       GET_FREE is timed over as many timer ticks as a fast one.  Every
 *       GET_FREE must return the same device.  Prints a line a round:
 *           getfree_ns=X control_ns=Y dev=N calls=C  (ns per call)
 *   getfree-bench bind DIR FILE
 *       For each number N read from standard input (one a line):
 *       LOOP_CONFIGURE of DIR/loopN to FILE (read-only, no flags).
 *   getfree-bench unbind DIR
 *       For each number N read from standard input: LOOP_CLR_FD of DIR/loopN.
 *
 * bind and unbind print "done=N" and, for each failure, "N errno=E".
 * Exits 1 when a call failed, 2 on a usage error.
 *
 * Build: gcc -O2 -Wall -o build/tools/getfree-bench tests/tools/getfree-bench.c
 */
#include "loopfs-tools.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: getfree-bench rounds CONTROL MILLISECONDS ROUNDS\n"
		"       getfree-bench bind DIR FILE   (numbers on stdin)\n"
		"       getfree-bench unbind DIR      (numbers on stdin)\n");
	return 2;
}

/* calls of GET_FREE on @fd (@dev expected) or of getppid() (@fd < 0) for @ns */
static long timed_calls(int fd, int dev, long long ns, long long *took)
{
	long long t0 = lt_now_ns(), t;
	long calls = 0;
	int i, ret;

	do {
		for (i = 0; i < 16; i++) {
			if (fd < 0) {
				syscall(SYS_getppid);
				continue;
			}
			ret = ioctl(fd, LOOP_CTL_GET_FREE);
			if (ret != dev) {
				fprintf(stderr, "getfree-bench: GET_FREE gave %d, then %d (%s)\n",
					dev, ret, ret < 0 ? strerror(errno) : "another device");
				return -1;
			}
		}
		calls += 16;
		t = lt_now_ns() - t0;
	} while (t < ns);
	*took = t;
	return calls;
}

static int rounds(const char *control, long ms, long nr)
{
	long long gf, ctl;
	long r, n, nc;
	int fd, dev;

	fd = open(control, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "getfree-bench: %s: %s\n", control, strerror(errno));
		return 1;
	}
	dev = ioctl(fd, LOOP_CTL_GET_FREE);
	if (dev < 0) {
		fprintf(stderr, "getfree-bench: GET_FREE: %s\n", strerror(errno));
		return 1;
	}
	for (r = 0; r < nr; r++) {
		n = timed_calls(fd, dev, ms * 1000000LL, &gf);
		if (n < 0)
			return 1;
		nc = timed_calls(-1, 0, ms * 1000000LL, &ctl);
		printf("getfree_ns=%.1f control_ns=%.1f dev=%d calls=%ld\n",
		       (double)gf / n, (double)ctl / nc, dev, n);
	}
	close(fd);
	return 0;
}

/* LOOP_CONFIGURE (bind) or LOOP_CLR_FD (unbind) DIR/loopN for each N read */
static int each_device(const char *dir, const char *file)
{
	struct loop_config cfg;
	char line[64], path[4096];
	long done = 0;
	int failed = 0, ffd = -1, fd, ret;
	char *end;
	long n;

	if (file) {
		ffd = open(file, O_RDONLY | O_CLOEXEC);
		if (ffd < 0) {
			fprintf(stderr, "getfree-bench: %s: %s\n", file, strerror(errno));
			return 1;
		}
	}
	while (fgets(line, sizeof(line), stdin)) {
		errno = 0;
		n = strtol(line, &end, 10);
		if (end == line || (*end && *end != '\n') || n < 0 || errno)
			continue;
		snprintf(path, sizeof(path), "%s/loop%ld", dir, n);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			printf("%ld errno=%d\n", n, errno);
			failed = 1;
			continue;
		}
		if (file) {
			memset(&cfg, 0, sizeof(cfg));
			cfg.fd = ffd;
			cfg.info.lo_flags = LO_FLAGS_READ_ONLY;
			ret = ioctl(fd, LOOP_CONFIGURE, &cfg);
		} else {
			ret = ioctl(fd, LOOP_CLR_FD);
		}
		if (ret < 0) {
			printf("%ld errno=%d\n", n, errno);
			failed = 1;
		} else {
			done++;
		}
		close(fd);
	}
	printf("done=%ld\n", done);
	if (ffd >= 0)
		close(ffd);
	return failed;
}

int main(int argc, char **argv)
{
	char *end;
	long ms, nr;

	if (argc == 5 && !strcmp(argv[1], "rounds")) {
		ms = strtol(argv[3], &end, 10);
		if (*end || ms < 1)
			return usage();
		nr = strtol(argv[4], &end, 10);
		if (*end || nr < 1)
			return usage();
		return rounds(argv[2], ms, nr);
	}
	if (argc == 4 && !strcmp(argv[1], "bind"))
		return each_device(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "unbind"))
		return each_device(argv[2], NULL);
	return usage();
}
