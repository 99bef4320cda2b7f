// SPDX-License-Identifier: GPL-2.0
/*
 * uevent-listen - record kernel uevents (NETLINK_KOBJECT_UEVENT, group 1)
 * for shell tests.
 *
 *   uevent-listen [-u] [-n] [-t SECONDS] [READY_FILE]
 *
 *   -u   first unshare a user namespace whose root is the caller's uid and
 *        gid (as unshare --user --map-root-user)
 *   -n   then unshare a network namespace: listen in a new netns (owned by
 *        the new user namespace with -u, else by the caller's)
 *   -t   stop after SECONDS (default 600)
 *
 * Once the socket is bound it creates READY_FILE (if given) and prints
 * "ready"; then one line per event on standard output, flushed at once:
 *
 *   ACTION DEVNAME DEVPATH SUBSYSTEM      ("-" for a missing field)
 *
 * for example "add loop5 /devices/virtual/block/loop5 block".  On SIGTERM or
 * SIGINT it reads what is still queued, prints "end lost=N" (N: messages
 * lost to a full socket buffer, ENOBUFS) and exits 0.  Errors exit 1.
 *
 * Build: gcc -O2 -Wall -o build/tools/uevent-listen tests/tools/uevent-listen.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int write_file(const char *path, const char *str)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t len;

	if (fd < 0)
		return -1;
	len = write(fd, str, strlen(str));
	close(fd);
	return len == (ssize_t)strlen(str) ? 0 : -1;
}

static int map_root(unsigned int uid, unsigned int gid)
{
	char map[64];

	if (write_file("/proc/self/setgroups", "deny"))
		return -1;
	snprintf(map, sizeof(map), "0 %u 1", uid);
	if (write_file("/proc/self/uid_map", map))
		return -1;
	snprintf(map, sizeof(map), "0 %u 1", gid);
	return write_file("/proc/self/gid_map", map);
}

static void print_event(char *buf, ssize_t len)
{
	const char *action = "-", *devname = "-", *devpath = "-", *subsys = "-";
	char *p;

	buf[len] = '\0';
	if (!strcmp(buf, "libudev"))
		return;
	for (p = buf; p < buf + len; p += strlen(p) + 1) {
		if (!strncmp(p, "ACTION=", 7))
			action = p + 7;
		else if (!strncmp(p, "DEVNAME=", 8))
			devname = p + 8;
		else if (!strncmp(p, "DEVPATH=", 8))
			devpath = p + 8;
		else if (!strncmp(p, "SUBSYSTEM=", 10))
			subsys = p + 10;
	}
	printf("%s %s %s %s\n", action, devname, devpath, subsys);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	unsigned int uid = getuid(), gid = getgid();
	int opt, fd, userns = 0, netns = 0, size = 1 << 20, lost = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	long timeout = 600;
	static char buf[16384];
	struct pollfd pfd;
	time_t end;
	ssize_t len;

	while ((opt = getopt(argc, argv, "unt:")) != -1) {
		switch (opt) {
		case 'u':
			userns = 1;
			break;
		case 'n':
			netns = 1;
			break;
		case 't':
			timeout = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
				"usage: uevent-listen [-u] [-n] [-t SECONDS] [READY_FILE]\n");
			return 2;
		}
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (userns && (unshare(CLONE_NEWUSER) || map_root(uid, gid))) {
		perror("uevent-listen: user namespace");
		return 1;
	}
	if (netns && unshare(CLONE_NEWNET)) {
		perror("uevent-listen: unshare(CLONE_NEWNET)");
		return 1;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    NETLINK_KOBJECT_UEVENT);
	if (fd < 0) {
		perror("uevent-listen: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("uevent-listen: bind");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if (optind < argc) {
		int rfd = open(argv[optind], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (rfd < 0) {
			perror(argv[optind]);
			return 1;
		}
		close(rfd);
	}
	end = time(NULL) + timeout;
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		len = recv(fd, buf, sizeof(buf) - 1, 0);
		if (len > 0) {
			print_event(buf, len);
			continue;
		}
		if (len < 0 && errno == ENOBUFS) {
			lost++;
			continue;
		}
		if (len < 0 && errno != EAGAIN && errno != EINTR) {
			perror("uevent-listen: recv");
			return 1;
		}
		/* Nothing queued: whatever came before the signal was read. */
		if (stop || time(NULL) >= end)
			break;
		poll(&pfd, 1, 200);
	}
	printf("end lost=%d\n", lost);
	return 0;
}
