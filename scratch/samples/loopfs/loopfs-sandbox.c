// SPDX-License-Identifier: GPL-2.0
/*
 * loopfs-sandbox - build a partitioned disk image with loop devices that
 * nobody else can see or touch, and that vanish with the program.
 *
 *	loopfs-sandbox [-k] IMAGE [SIZE_MB]
 *
 * An image builder needs loop devices: to partition an image, to make file
 * systems on the partitions and to fill them.  With global loop devices it
 * competes with everybody else for /dev/loop-control, can reach everybody
 * else's devices, and leaves devices behind when it crashes.  Here the
 * program holds a loopfs instance of its own, created with the new mount
 * API and never attached anywhere (fsopen(), fsconfig(), fsmount()): the
 * instance, its loop-control and its devices are reachable only through
 * this process's file descriptors.  The file system is mounted the same way
 * (fsopen("ext4") with /proc/self/fd/N as its source, fsmount()) and
 * filled through the mount's file descriptor.
 *
 * Steps: make the image as an unnamed file (O_TMPFILE) next to IMAGE, get a
 * device from the instance's loop-control, bind it with LO_FLAGS_PARTSCAN,
 * write an MBR with two Linux partitions, re-read it (loopNp1 and loopNp2
 * appear in the instance only), run mkfs.ext4 on both through
 * /proc/self/fd/N, mount the first one detached and write /hello into it,
 * unmount, and give the image its name.
 *
 * Whatever happens, and whenever the program dies (even by SIGKILL), nothing
 * is left behind: the image has no name until the end, the mount and the
 * instance go with the last file descriptor, the instance's devices go
 * with the instance, and mkfs children die with their parent
 * (PR_SET_PDEATHSIG).  With -k the program stops with the file system
 * mounted and the devices bound, prints "sandbox: waiting to be killed",
 * and waits: kill it there to see that nothing survives it.
 *
 * Needs CAP_SYS_ADMIN (loopfs and ext4 mounts), CONFIG_BLK_DEV_LOOPFS and
 * mkfs.ext4 (set $MKFS to use another mkfs program).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <linux/mount.h>

#ifndef __NR_fsopen
#define __NR_fsopen	430
#define __NR_fsconfig	431
#define __NR_fsmount	432
#endif

static int fsopen(const char *fs, unsigned int flags)
{
	return syscall(__NR_fsopen, fs, flags);
}

static int fsconfig(int fd, unsigned int cmd, const char *key,
		    const void *value, int aux)
{
	return syscall(__NR_fsconfig, fd, cmd, key, value, aux);
}

static int fsmount(int fd, unsigned int flags, unsigned int attr_flags)
{
	return syscall(__NR_fsmount, fd, flags, attr_flags);
}

static void die(const char *what)
{
	fprintf(stderr, "sandbox: %s: %s\n", what, strerror(errno));
	exit(EXIT_FAILURE);
}

/* A detached mount of @fstype (with @source if not NULL); its fd. */
static int mount_detached(const char *fstype, const char *source)
{
	int fsfd, mfd;

	fsfd = fsopen(fstype, FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -1;
	if ((source && fsconfig(fsfd, FSCONFIG_SET_STRING, "source", source, 0)) ||
	    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		close(fsfd);
		return -1;
	}
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
	close(fsfd);
	return mfd;
}

/* Open @name in the instance, waiting a little for partition nodes. */
static int open_node(int instance, const char *name, int flags)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int fd, i;

	for (i = 0; i < 250; i++) {
		fd = openat(instance, name, flags | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			return fd;
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* mkfs on the device open at @fd, by its /proc/self/fd path */
static int run_mkfs(int fd)
{
	const char *mkfs = getenv("MKFS") ? getenv("MKFS") : "mkfs.ext4";
	char path[64];
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* dies with us, so that it does not keep the device */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		fcntl(fd, F_SETFD, 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		execlp(mkfs, mkfs, "-q", "-F", path, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* An MBR with two Linux partitions: 1 MiB .. half, half .. end. */
static void make_mbr(unsigned char *mbr, uint32_t sectors)
{
	uint32_t start1 = 2048, half = sectors / 2;
	unsigned char *e = mbr + 446;

	memset(mbr, 0, 512);
	put_le32(mbr + 440, 0x4c4f4f50);	/* disk identifier */
	e[4] = 0x83;
	put_le32(e + 8, start1);
	put_le32(e + 12, half - start1);
	e += 16;
	e[4] = 0x83;
	put_le32(e + 8, half);
	put_le32(e + 12, sectors - half);
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
}

int main(int argc, char *argv[])
{
	static const char hello[] = "built in a loopfs sandbox\n";
	unsigned char mbr[512];
	char name[32], proc[64], *dir, *copy;
	int opt, wait_midway = 0, img, instance, ctl, nr, dev, part[2];
	int ext4, fd, i;
	struct loop_config cfg;
	unsigned long size_mb = 64;

	while ((opt = getopt(argc, argv, "k")) != -1) {
		if (opt != 'k')
			goto usage;
		wait_midway = 1;
	}
	if (optind >= argc || argc - optind > 2)
		goto usage;
	if (argc - optind == 2)
		size_mb = strtoul(argv[optind + 1], NULL, 10);
	if (size_mb < 8 || size_mb > 65536)
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* The image: nameless until it is complete. */
	copy = strdup(argv[optind]);
	dir = dirname(copy);
	img = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (img < 0)
		die("O_TMPFILE next to the image");
	if (ftruncate(img, size_mb << 20))
		die("size the image");

	/* A loopfs instance of our own, attached nowhere. */
	instance = mount_detached("loopfs", NULL);
	if (instance < 0)
		die("detached loopfs instance");
	ctl = openat(instance, "loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		die("open the instance's loop-control");
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	if (nr < 0)
		die("LOOP_CTL_GET_FREE");
	snprintf(name, sizeof(name), "loop%d", nr);
	dev = openat(instance, name, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		die("open the device");
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = img;
	cfg.info.lo_flags = LO_FLAGS_PARTSCAN;
	if (ioctl(dev, LOOP_CONFIGURE, &cfg))
		die("LOOP_CONFIGURE");
	printf("sandbox: %s bound to the image, visible only to this process\n", name);

	/* Partition it; the partitions appear in the instance. */
	make_mbr(mbr, (uint32_t)(size_mb << 11));
	if (pwrite(dev, mbr, sizeof(mbr), 0) != sizeof(mbr) || fsync(dev))
		die("write the partition table");
	if (ioctl(dev, BLKRRPART))
		die("BLKRRPART");
	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "loop%dp%d", nr, i + 1);
		part[i] = open_node(instance, name, O_RDWR);
		if (part[i] < 0)
			die("open a partition");
		printf("sandbox: partition %s, formatting\n", name);
		if (run_mkfs(part[i]))
			die("mkfs");
	}

	/* Mount the first partition detached and fill it. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", part[0]);
	ext4 = mount_detached("ext4", proc);
	if (ext4 < 0)
		die("mount the first partition");
	fd = openat(ext4, "hello", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, hello, sizeof(hello) - 1) != sizeof(hello) - 1 ||
	    fsync(fd) || close(fd))
		die("write /hello");
	printf("sandbox: /hello written to loop%dp1\n", nr);
	if (wait_midway) {
		printf("sandbox: waiting to be killed\n");
		for (;;)
			pause();
	}

	/* Unmount (closing the last reference unmounts), release, name it. */
	close(ext4);
	for (i = 0; i < 2; i++)
		close(part[i]);
	if (ioctl(dev, LOOP_CLR_FD))
		die("LOOP_CLR_FD");
	close(dev);
	close(ctl);
	close(instance);
	if (fsync(img))
		die("fsync the image");
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", img);
	if (unlink(argv[optind]) && errno != ENOENT)
		die("replace the image");
	if (linkat(AT_FDCWD, proc, AT_FDCWD, argv[optind], AT_SYMLINK_FOLLOW))
		die("name the image");
	printf("sandbox: %s: %lu MiB, two ext4 partitions\n", argv[optind], size_mb);
	free(copy);
	return EXIT_SUCCESS;

usage:
	fprintf(stderr, "usage: %s [-k] IMAGE [SIZE_MB]\n", argv[0]);
	return EXIT_FAILURE;
}
