// SPDX-License-Identifier: GPL-2.0
/*
 * loopctl - drive a loop-control node (the host's /dev/loop-control or the
 * loop-control of a loopfs instance) from shell tests.
 *
 *   loopctl CONTROL get_free            LOOP_CTL_GET_FREE, prints N
 *   loopctl CONTROL add N               LOOP_CTL_ADD(N), prints N
 *   loopctl CONTROL remove N            LOOP_CTL_REMOVE(N), prints N (the
 *                                       ioctl itself returns 0)
 *   loopctl CONTROL add_many COUNT [START]
 *                                       LOOP_CTL_ADD on START, START+1, ...
 *                                       (skipping numbers taken: EEXIST)
 *                                       until COUNT devices were added;
 *                                       prints each added number on a line
 *   loopctl CONTROL remove_many         LOOP_CTL_REMOVE of each number read
 *                                       from stdin (one a line); prints
 *                                       "N errno=NAME" for each failure
 *   loopctl CONTROL bench_get_free COUNT [ROUNDS]
 *                                       one GET_FREE to warm up, then ROUNDS
 *                                       (default 1) rounds of COUNT timed
 *                                       GET_FREE calls; prints the best
 *                                       round as "ns_per_op=X dev=N"
 *   loopctl DEVICE change_fd FILE       LOOP_CHANGE_FD of DEVICE (opened
 *                                       read-only) to FILE (opened
 *                                       read-only), prints "changed"
 *   loopctl --mount DIR [OPTS]          mount("none", DIR, "loopfs", 0, OPTS)
 *   loopctl --fsconfig [OPTS [FSTYPE]]  fsopen("loopfs"), one fsconfig() per
 *                                       comma separated key[=value] of OPTS,
 *                                       FSCONFIG_CMD_CREATE; prints the
 *                                       fs_context log as "log: LINE"
 *
 * On success it prints the result and exits 0.  When the (last) call fails it
 * prints "errno=NAME" (for example errno=ENOSPC) on standard output and exits
 * 1.  Usage errors exit 2.
 *
 * Build: gcc -O2 -Wall -Wextra -static -o build/tools/loopctl tests/tools/loopctl.c
 * (static so that it runs in any guest; a dynamic build works as well.)
 */
#include "loopfs-tools.h"

static const struct {
	int err;
	const char *name;
} errnames[] = {
	{ EPERM, "EPERM" },	{ ENOENT, "ENOENT" },	{ ESRCH, "ESRCH" },
	{ EINTR, "EINTR" },	{ EIO, "EIO" },		{ ENXIO, "ENXIO" },
	{ E2BIG, "E2BIG" },	{ EBADF, "EBADF" },	{ EAGAIN, "EAGAIN" },
	{ ENOMEM, "ENOMEM" },	{ EACCES, "EACCES" },	{ EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" },	{ EEXIST, "EEXIST" },	{ EXDEV, "EXDEV" },
	{ ENODEV, "ENODEV" },	{ ENOTDIR, "ENOTDIR" },	{ EISDIR, "EISDIR" },
	{ EINVAL, "EINVAL" },	{ ENFILE, "ENFILE" },	{ EMFILE, "EMFILE" },
	{ ENOTTY, "ENOTTY" },	{ EFBIG, "EFBIG" },	{ ENOSPC, "ENOSPC" },
	{ EROFS, "EROFS" },	{ ERANGE, "ERANGE" },	{ ENOSYS, "ENOSYS" },
	{ EOPNOTSUPP, "EOPNOTSUPP" }, { EOVERFLOW, "EOVERFLOW" },
	{ EDQUOT, "EDQUOT" },	{ ENOTBLK, "ENOTBLK" }, { ENAMETOOLONG, "ENAMETOOLONG" },
};

static void print_errno(int err)
{
	size_t i;

	for (i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++) {
		if (errnames[i].err == err) {
			printf("errno=%s\n", errnames[i].name);
			return;
		}
	}
	printf("errno=%d\n", err);
}

static int fail_errno(int err)
{
	print_errno(err);
	fflush(stdout);
	return 1;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: loopctl CONTROL get_free|add N|remove N|add_many COUNT [START]|remove_many|bench_get_free COUNT [ROUNDS]\n"
		"       loopctl DEVICE change_fd FILE\n"
		"       loopctl --mount DIR [OPTS]\n"
		"       loopctl --fsconfig [OPTS [FSTYPE]]\n");
	return 2;
}

static int parse_num(const char *s, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > INT_MAX)
		return -1;
	*out = v;
	return 0;
}

static int do_mount(int argc, char **argv)
{
	const char *opts = argc > 3 ? argv[3] : NULL;

	if (argc < 3)
		return usage();
	if (lt_mount("none", argv[2], "loopfs", 0, opts) < 0)
		return fail_errno(errno);
	printf("mounted\n");
	return 0;
}

static void dump_fs_log(int fd)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf) - 1);
		if (n <= 0)
			break;
		buf[n] = '\0';
		if (n > 0 && buf[n - 1] == '\n')
			buf[n - 1] = '\0';
		printf("log: %s\n", buf);
	}
}

static int do_fsconfig(int argc, char **argv)
{
	char *opts = argc > 2 ? strdup(argv[2]) : NULL;
	char *tok, *save = NULL;
	int fd, err;

	fd = lt_fsopen(argc > 3 ? argv[3] : "loopfs", FSOPEN_CLOEXEC);
	if (fd < 0)
		return fail_errno(errno);

	for (tok = opts ? strtok_r(opts, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *val = strchr(tok, '=');
		long ret;

		if (val) {
			*val++ = '\0';
			ret = lt_fsconfig(fd, LT_FSCONFIG_SET_STRING, tok, val, 0);
		} else {
			ret = lt_fsconfig(fd, LT_FSCONFIG_SET_FLAG, tok, NULL, 0);
		}
		if (ret < 0) {
			err = errno;
			dump_fs_log(fd);
			printf("failed-key=%s\n", tok);
			return fail_errno(err);
		}
	}
	if (lt_fsconfig(fd, LT_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		err = errno;
		dump_fs_log(fd);
		printf("failed-key=create\n");
		return fail_errno(err);
	}
	dump_fs_log(fd);
	printf("created\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd;
	long n = 0, count = 0;
	int fd, ret;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "--mount"))
		return do_mount(argc, argv);
	if (!strcmp(argv[1], "--fsconfig"))
		return do_fsconfig(argc, argv);
	if (argc < 3)
		return usage();

	cmd = argv[2];
	/* LOOP_CHANGE_FD is only for read-only devices: open them so. */
	fd = open(argv[1], (strcmp(cmd, "change_fd") ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "loopctl: open %s: %s\n", argv[1], strerror(errno));
		return fail_errno(errno);
	}

	if (!strcmp(cmd, "change_fd")) {
		int ffd;

		if (argc < 4)
			return usage();
		ffd = open(argv[3], O_RDONLY | O_CLOEXEC);
		if (ffd < 0) {
			fprintf(stderr, "loopctl: open %s: %s\n", argv[3], strerror(errno));
			return fail_errno(errno);
		}
		if (ioctl(fd, LOOP_CHANGE_FD, ffd) < 0)
			return fail_errno(errno);
		printf("changed\n");
		return 0;
	}

	if (!strcmp(cmd, "get_free")) {
		ret = ioctl(fd, LOOP_CTL_GET_FREE);
		if (ret < 0)
			return fail_errno(errno);
		printf("%d\n", ret);
		return 0;
	}

	if (!strcmp(cmd, "add") || !strcmp(cmd, "remove")) {
		if (argc < 4 || parse_num(argv[3], &n))
			return usage();
		ret = ioctl(fd, !strcmp(cmd, "add") ? LOOP_CTL_ADD : LOOP_CTL_REMOVE,
			    (unsigned long)n);
		if (ret < 0)
			return fail_errno(errno);
		/* ADD returns the number added; REMOVE returns 0: print N */
		printf("%d\n", !strcmp(cmd, "add") ? ret : (int)n);
		return 0;
	}

	if (!strcmp(cmd, "add_many")) {
		long added = 0;

		if (argc < 4 || parse_num(argv[3], &count))
			return usage();
		if (argc > 4 && parse_num(argv[4], &n))
			return usage();
		for (; added < count; n++) {
			if (n > (1L << 20)) {
				fprintf(stderr, "loopctl: ran out of numbers\n");
				return fail_errno(ENOSPC);
			}
			ret = ioctl(fd, LOOP_CTL_ADD, (unsigned long)n);
			if (ret < 0) {
				if (errno == EEXIST)
					continue;
				fprintf(stderr, "loopctl: add %ld failed after %ld added\n",
					n, added);
				return fail_errno(errno);
			}
			printf("%d\n", ret);
			added++;
		}
		return 0;
	}

	if (!strcmp(cmd, "remove_many")) {
		char line[64];
		int failed = 0;

		while (fgets(line, sizeof(line), stdin)) {
			line[strcspn(line, "\r\n")] = '\0';
			if (!*line)
				continue;
			if (parse_num(line, &n)) {
				fprintf(stderr, "loopctl: bad number '%s'\n", line);
				failed = 1;
				continue;
			}
			if (ioctl(fd, LOOP_CTL_REMOVE, (unsigned long)n) < 0) {
				printf("%ld ", n);
				print_errno(errno);
				failed = 1;
			}
		}
		return failed;
	}

	if (!strcmp(cmd, "bench_get_free")) {
		long long t0, best = -1;
		long i, r, rounds = 1;
		int dev;

		if (argc < 4 || parse_num(argv[3], &count) || count < 1)
			return usage();
		if (argc > 4 && (parse_num(argv[4], &rounds) || rounds < 1))
			return usage();
		dev = ioctl(fd, LOOP_CTL_GET_FREE);
		if (dev < 0)
			return fail_errno(errno);
		for (r = 0; r < rounds; r++) {
			t0 = lt_now_ns();
			for (i = 0; i < count; i++) {
				ret = ioctl(fd, LOOP_CTL_GET_FREE);
				if (ret < 0)
					return fail_errno(errno);
				if (ret != dev) {
					fprintf(stderr, "loopctl: GET_FREE returned %d, then %d\n",
						dev, ret);
					return fail_errno(EAGAIN);
				}
			}
			t0 = lt_now_ns() - t0;
			if (best < 0 || t0 < best)
				best = t0;
		}
		printf("ns_per_op=%.1f dev=%d\n", (double)best / count, dev);
		return 0;
	}

	return usage();
}
