// SPDX-License-Identifier: GPL-2.0
/*
 * isobench - the timed loops of tests/bench/isolation.sh, in C (an exec in
 * the debug guest costs seconds: loop in C, not in shell).
 *
 *   isobench read COUNT ROUNDS PATH...
 *       For each PATH: ROUNDS rounds of COUNT operations, where an
 *       operation on a directory is opendir() + readdir() to the end +
 *       closedir(), and on a file open() + read() to the end + close().
 *       Prints, per PATH, the best round:
 *           PATH ns_per_op=X entries=N    (directory, without . and ..)
 *           PATH ns_per_op=X lines=N      (file)
 *   isobench add CONTROL COUNT START OUTFILE
 *       LOOP_CTL_ADD on the loop-control CONTROL of START, START+1, ...
 *       (skipping numbers taken: EEXIST) until COUNT devices were added or
 *       an add fails; writes each added number to OUTFILE (a line each)
 *       and prints "added=N ns_per_add=X" plus " errno=E" if an add failed.
 *
 * Exits 1 on an error (a PATH that cannot be read, a failed add), 2 on a
 * usage error.
 *
 * Build: gcc -O2 -Wall -o build/tools/isobench tests/tools/isobench.c
 */
#include "loopfs-tools.h"

static char buf[1 << 20];

/* One listing of @path: the number of entries, or -1. */
static long list_dir(const char *path)
{
	return lt_count_entries(opendir(path));
}

/* One reading of @path: the number of lines, or -1. */
static long read_file(const char *path)
{
	long lines = 0;
	ssize_t len, i;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((len = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < len; i++)
			lines += buf[i] == '\n';
	close(fd);
	return len < 0 ? -1 : lines;
}

static int add(int argc, char **argv)
{
	long count, nr, added = 0;
	int ctl, err = 0;
	long long t;
	FILE *out;

	if (argc != 6) {
		fprintf(stderr, "usage: isobench add CONTROL COUNT START OUTFILE\n");
		return 2;
	}
	count = strtol(argv[3], NULL, 10);
	nr = strtol(argv[4], NULL, 10);
	ctl = open(argv[2], O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		fprintf(stderr, "isobench: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	out = fopen(argv[5], "we");
	if (!out) {
		fprintf(stderr, "isobench: %s: %s\n", argv[5], strerror(errno));
		return 1;
	}
	t = lt_now_ns();
	for (; added < count && nr < (1L << 20); nr++) {
		if (ioctl(ctl, LOOP_CTL_ADD, nr) < 0) {
			if (errno == EEXIST)
				continue;
			err = errno;
			break;
		}
		fprintf(out, "%ld\n", nr);
		added++;
	}
	t = lt_now_ns() - t;
	fclose(out);
	close(ctl);
	printf("added=%ld ns_per_add=%lld", added, added ? t / added : 0);
	if (err)
		printf(" errno=%d", err);
	printf("\n");
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	long count, rounds, r, i, n = 0;
	long long t, best;
	struct stat st;
	int p, is_dir;

	if (argc >= 2 && !strcmp(argv[1], "add"))
		return add(argc, argv);
	if (argc < 5 || strcmp(argv[1], "read")) {
		fprintf(stderr, "usage: isobench read COUNT ROUNDS PATH... | add CONTROL COUNT START OUTFILE\n");
		return 2;
	}
	count = strtol(argv[2], NULL, 10);
	rounds = strtol(argv[3], NULL, 10);
	if (count < 1 || rounds < 1) {
		fprintf(stderr, "isobench: COUNT and ROUNDS must be positive\n");
		return 2;
	}
	for (p = 4; p < argc; p++) {
		if (stat(argv[p], &st)) {
			fprintf(stderr, "isobench: %s: %s\n", argv[p], strerror(errno));
			return 1;
		}
		is_dir = S_ISDIR(st.st_mode);
		best = -1;
		for (r = 0; r < rounds; r++) {
			t = lt_now_ns();
			for (i = 0; i < count; i++) {
				n = is_dir ? list_dir(argv[p]) : read_file(argv[p]);
				if (n < 0) {
					fprintf(stderr, "isobench: %s: %s\n", argv[p],
						strerror(errno));
					return 1;
				}
			}
			t = lt_now_ns() - t;
			if (best < 0 || t < best)
				best = t;
		}
		printf("%s ns_per_op=%lld %s=%ld\n", argv[p], best / count,
		       is_dir ? "entries" : "lines", n);
	}
	return 0;
}
