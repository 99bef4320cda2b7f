// SPDX-License-Identifier: GPL-2.0
/*
 * fuse-stall - make a mount(2) whose string argument lies on a page that
 * never arrives: the attack of a hostile container on a seccomp supervisor
 * that reads the caller's memory (tests/e2e/mount_supervisor_survives_a_
 * stalled_caller.sh).
 *
 *   fuse-stall DIR source|type READY
 *
 * Run as root of a user namespace with a mount namespace of its own (FUSE
 * is mountable there).  Plain C, no libfuse:
 *
 *   1. opens /dev/fuse and mounts it on DIR (-t fuse, fd=N,rootmode=40000,
 *      user_id=0,group_id=0);
 *   2. forks the server: it answers INIT, and LOOKUP, GETATTR and OPEN for
 *      one regular file DIR/file of 4 KiB; a READ it never answers, and
 *      creates the file READY instead (a reader is now stuck in a page
 *      fault); everything else gets ENOSYS (FORGET and INTERRUPT: nothing);
 *   3. maps DIR/file (nothing is read yet) and prints "pids TOOL SERVER";
 *   4. calls mount(SRC, "/", TYPE, 0, NULL) with SRC (source) or TYPE
 *      (type) pointing at the mapping, the other "/dev/fuse-stall" and
 *      "ext4";
 *   5. prints "ok" or "errno=NAME" when (if) mount(2) returns, and waits to
 *      be killed, the server and the mapping still there.
 *
 * Whoever reads the string (the kernel, or a supervisor through
 * /proc/PID/mem) faults on the page and waits for the server.  Kill both
 * pids to end it: when the server's /dev/fuse closes, the kernel aborts the
 * connection and the stuck read fails with EFAULT.
 *
 * Build: gcc -O2 -Wall -Wextra -o build/tools/fuse-stall tests/tools/fuse-stall.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <linux/fuse.h>

#define PROG		"fuse-stall"
#define FILE_INO	2
#define FILE_SIZE	4096

static void __attribute__((noreturn)) die(const char *msg)
{
	fprintf(stderr, PROG ": %s: %s\n", msg, strerror(errno));
	exit(1);
}

/* Reply to request @unique: @err (negative errno) or @len bytes of @arg. */
static void reply(int fd, __u64 unique, int err, const void *arg, size_t len)
{
	char buf[sizeof(struct fuse_out_header) + 256];
	struct fuse_out_header *oh = (void *)buf;

	oh->len = sizeof(*oh) + (err ? 0 : len);
	oh->error = err;
	oh->unique = unique;
	if (!err)
		memcpy(buf + sizeof(*oh), arg, len);
	if (write(fd, buf, oh->len) != (ssize_t)oh->len)
		fprintf(stderr, PROG ": server: reply: %s\n", strerror(errno));
}

/* The attributes of the root directory (1) or of the file */
static void attr_of(__u64 ino, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->nlink = ino == FUSE_ROOT_ID ? 2 : 1;
	a->mode = ino == FUSE_ROOT_ID ? 040755 : 0100644;
	a->size = ino == FUSE_ROOT_ID ? 0 : FILE_SIZE;
	a->blksize = 4096;
}

/* The server: reads /dev/fuse until the connection ends. */
static void __attribute__((noreturn)) serve(int fd, const char *ready)
{
	/* (the kernel wants room for a WRITE of max_write, at least 8 KiB) */
	static char buf[FUSE_MIN_READ_BUFFER + 65536];
	const struct fuse_in_header *ih = (void *)buf;
	const void *in = buf + sizeof(*ih);
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == ENOENT))
			continue;	/* (ENOENT: a request interrupted meanwhile) */
		if (n < (ssize_t)sizeof(*ih))
			_exit(0);	/* ENODEV: unmounted or aborted */
		switch (ih->opcode) {
		case FUSE_INIT: {
			const struct fuse_init_in *ii = in;
			struct fuse_init_out io = {
				.major = FUSE_KERNEL_VERSION,
				.minor = FUSE_KERNEL_MINOR_VERSION,
				.max_readahead = ii->max_readahead,
				.max_write = 4096,
			};

			reply(fd, ih->unique, 0, &io, sizeof(io));
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out eo = { .nodeid = FILE_INO };

			if (ih->nodeid != FUSE_ROOT_ID || strcmp(in, "file")) {
				reply(fd, ih->unique, -ENOENT, NULL, 0);
				break;
			}
			attr_of(FILE_INO, &eo.attr);
			reply(fd, ih->unique, 0, &eo, sizeof(eo));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out ao = { 0 };

			attr_of(ih->nodeid, &ao.attr);
			reply(fd, ih->unique, 0, &ao, sizeof(ao));
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out oo = { 0 };

			reply(fd, ih->unique, 0, &oo, sizeof(oo));
			break;
		}
		case FUSE_READ:
			/* The stall: no answer, ever.  Say that it began. */
			fprintf(stderr, PROG ": server: READ of the file (pid %u): not answering\n",
				ih->pid);
			close(open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
			break;
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;		/* no reply wanted (INTERRUPT: still none) */
		default:
			reply(fd, ih->unique, -ENOSYS, NULL, 0);
		}
	}
}

int main(int argc, char **argv)
{
	char opts[128], file[4096];
	const char *src = "/dev/fuse-stall", *type = "ext4", *name;
	pid_t server;
	void *page;
	int fd, f, r;

	if (argc != 4 || (strcmp(argv[2], "source") && strcmp(argv[2], "type"))) {
		fprintf(stderr, "usage: " PROG " DIR source|type READY\n");
		return 2;
	}
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open /dev/fuse");
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
	if (mount("fuse-stall", argv[1], "fuse", MS_NOSUID | MS_NODEV, opts))
		die("mount -t fuse");
	server = fork();
	if (server < 0)
		die("fork");
	if (!server) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		serve(fd, argv[3]);
	}
	/* The server holds the only /dev/fuse: its death aborts the mount. */
	close(fd);

	snprintf(file, sizeof(file), "%s/file", argv[1]);
	f = open(file, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		die("open DIR/file");
	page = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, f, 0);
	if (page == MAP_FAILED)
		die("mmap DIR/file");
	printf("pids %d %d\n", (int)getpid(), (int)server);
	fflush(stdout);

	if (!strcmp(argv[2], "source"))
		src = page;
	else
		type = page;
	r = mount(src, "/", type, 0, NULL);
	name = r ? strerrorname_np(errno) : NULL;
	if (r)
		printf("errno=%s\n", name ? name : "?");
	else
		printf("ok\n");
	fflush(stdout);
	for (;;)
		pause();
}
