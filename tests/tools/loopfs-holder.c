// SPDX-License-Identifier: GPL-2.0
/*
 * loopfs-holder - hold a detached loopfs instance only through file
 * descriptors, use it, and wait to be killed (contract clause 6.2).
 *
 *   loopfs-holder EXT4_IMAGE RAW_FILE DATA READY
 *
 * In a private mount namespace it makes a detached instance
 * (fsopen/fsmount), adds three devices: A bound to EXT4_IMAGE (an ext4
 * made by the caller), B bound to RAW_FILE (created, 4 MiB, if it does not
 * exist), C left unbound.  It mounts the
 * ext4 from A through /proc/self/fd/N, copies DATA into it as /data, fsyncs
 * and syncfs()es it, and then writes "A B C FA FB MNT" to READY (the device
 * numbers, the fds it holds A and B open on, and the ext4's mount point in
 * its namespace, reachable as /proc/PID/root/MNT) through a rename, so the
 * file appears complete.  After that it keeps
 * I/O going until it is killed: it appends to /scratch in the ext4 (never
 * synced) and writes through B with O_DIRECT.
 *
 * Exits 1 (without writing READY) when a step fails.
 */
#include "loopfs-tools.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <signal.h>

static void xfail(const char *what)
{
	fprintf(stderr, "holder: %s: %m\n", what);
	exit(1);
}

int main(int argc, char **argv)
{
	int mfd, ctl, a, b, c, fa, fb, img, raw, in, out, fd;
	char mnt[PATH_MAX], src[64], p[PATH_MAX + 16], tmp[PATH_MAX + 8];
	static char buf[65536] __attribute__((aligned(4096)));
	const char *td = getenv("TMPDIR");
	ssize_t n;
	unsigned long i;

	if (argc != 5) {
		fprintf(stderr, "usage: %s EXT4_IMAGE RAW_FILE DATA READY\n", argv[0]);
		return 2;
	}
	if (unshare(CLONE_NEWNS))
		xfail("unshare(CLONE_NEWNS)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		xfail("make / private");
	mfd = lt_new_instance(0);
	if (mfd < 0) {
		errno = -mfd;
		xfail("detached instance");
	}
	ctl = lt_open_ctl(mfd);
	if (ctl < 0)
		xfail("open loop-control");
	img = open(argv[1], O_RDWR | O_CLOEXEC);
	raw = open(argv[2], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (img < 0 || raw < 0)
		xfail("open backing files");
	if (lseek(raw, 0, SEEK_END) == 0 && ftruncate(raw, 4 << 20))
		xfail("size RAW_FILE");

	a = ioctl(ctl, LOOP_CTL_GET_FREE);
	if (a < 0)
		xfail("GET_FREE (A)");
	fa = lt_open_dev(mfd, a, O_RDWR);
	if (fa < 0 || lt_configure(fa, img, 0))
		xfail("bind A");
	b = ioctl(ctl, LOOP_CTL_GET_FREE);
	if (b < 0)
		xfail("GET_FREE (B)");
	fb = lt_open_dev(mfd, b, O_RDWR | O_DIRECT);
	if (fb < 0 || lt_configure(fb, raw, 0))
		xfail("bind B");
	c = ioctl(ctl, LOOP_CTL_GET_FREE);
	if (c < 0)
		xfail("GET_FREE (C)");
	close(img);
	close(raw);

	/* mount the ext4 from A in this private namespace, through the fd */
	snprintf(mnt, sizeof(mnt), "%s/holder-mnt.XXXXXX", td && *td ? td : "/tmp");
	if (!mkdtemp(mnt))
		xfail("mkdtemp");
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fa);
	if (mount(src, mnt, "ext4", 0, NULL))
		xfail("mount ext4 from /proc/self/fd/N");
	/* the directory only matters in this namespace; it may go at once */
	snprintf(p, sizeof(p), "%s/data", mnt);
	in = open(argv[3], O_RDONLY | O_CLOEXEC);
	out = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (in < 0 || out < 0)
		xfail("open data files");
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			xfail("write /data");
	if (n < 0 || fsync(out) || syncfs(out))
		xfail("sync /data");
	close(in);

	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[4]);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || dprintf(fd, "%d %d %d %d %d %s\n", a, b, c, fa, fb, mnt) < 0 || close(fd) ||
	    rename(tmp, argv[4]))
		xfail("write READY");

	/* keep I/O going until killed: unsynced ext4 appends, direct writes */
	snprintf(p, sizeof(p), "%s/scratch", mnt);
	out = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	for (i = 0;; i++) {
		memset(buf, (int)i, sizeof(buf));
		if (out >= 0 && write(out, buf, 4096) < 0) {
			close(out);
			out = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		}
		if (pwrite(fb, buf, 4096, (off_t)4096 * (i % 256)) < 0)
			lt_sleep_ms(10);
		if (i % 64 == 63)
			lt_sleep_ms(5);
	}
}
