// SPDX-License-Identifier: GPL-2.0
/*
 * uevent-bench - the timed loops of tests/bench/uevent.sh, in C: how many
 * uevents a second a listener gets while container network namespaces
 * exist, against none.
 *
 *   uevent-bench [-o] [-r ROUNDS] [-k EVENTS] [-b BATCH] [-c CONTROL]
 *                [-q PERMILLE] HOST_DEV LEVEL...
 *
 * HOST_DEV (loopN) is a host loop device: its /sys/block/loopN/uevent is
 * written "change", and a NETLINK_KOBJECT_UEVENT socket (group 1) of this
 * process, in the initial network namespace, receives the events.  With
 * -o, a container (its own user, network and mount namespaces, its ids
 * mapped from 50000000) makes a detached loopfs instance with one device,
 * mounts a sysfs of its own (fsopen), opens the device's uevent file there
 * and a uevent socket in its network namespace, and hands both to this
 * process (SCM_RIGHTS): its events are owned ones, which the kernel sends
 * to the network namespaces of the owning user namespace only.  A
 * measurement writes EVENTS (-k, 2000) "change"s in batches of BATCH (-b,
 * 10), each batch received before the next one is written (no message is
 * lost to a full socket buffer) and timed from its first write to its last
 * event received; before each batch CONTROL (-c, 100) getppid() calls are
 * timed, the machine's speed of the moment.  The measurement's figures are
 * the lower quartiles of the batches' times and of the controls' times:
 * under emulation on a loaded machine a batch is now and then slowed down
 * a lot, never sped up.
 *
 * Container network namespaces: a manager process in a user namespace of
 * its own (P, all ids mapped: a nested container manager, as rootless
 * podman runs) forks the containers, each of which unshares a user
 * namespace and a network namespace (ids mapped from 100000 + 65536 * i);
 * they wait on a socket, and on command open (or close) a uevent socket
 * bound to group 1 in their network namespace, as udev in a container
 * does ("listening").  A network namespace is freed asynchronously
 * (cleanup_net), after its processes are gone; its removal from the
 * kernel's uevent socket lists comes before its charge of P's
 * net-namespace count is given back, so after killing containers the
 * manager waits until that count is down to the containers left: it sets
 * P's max_net_namespaces to their number plus one and tries to unshare a
 * network namespace until that succeeds.
 *
 * Each of ROUNDS (-r, 7) rounds goes up the LEVELs (container counts,
 * ascending; 0 is added first) and down again: 0, L1, .., Lmax, Lmax, ..,
 * L1, 0 (killing the last made first), so that a drift of the machine's
 * speed during a round weighs the same on every level.  At each visit of
 * a level both variants are measured, without and with a listener in
 * every container (up: without first; down: with first), each for the
 * host's device and, with -o, the owned one.  After each change of state it waits (at most 5 s)
 * until the machine is quiet: less than PERMILLE (-q, 50) per mille of the
 * CPU time busy in each of 3 windows of 100 ms in a row.
 *
 * Output, one line each:
 *   m round=R dir=up|down level=L listen=0|1 kind=host|owned batch_ns=T
 *     ctl_ns=C all_ms=A   (the quartiles, and the whole measurement's time)
 *   state level=L op=grow|shrink ms=T          (grow: make, shrink: kill
 *                                               and wait for the teardown)
 *   ratio kind=K listen=B level=L round=R raw=X norm=Y
 *       events/s at L over events/s at 0 in round R, from the sum of the
 *       two visits' batch times (raw) or of their batch times over their
 *       control times (norm)
 *   summary kind=K listen=B level=L eps=E      median events/s at L (from
 *                                              the batch times)
 * Exits 1 on an error, 2 on a usage error.
 *
 * Build: gcc -O2 -Wall -isystem build/hdr/usr/include -pthread
 *        -o build/tools/uevent-bench tests/tools/uevent-bench.c
 */
#include "loopfs-tools.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/netlink.h>

#define MAX_LEVELS	16
#define MAX_ROUNDS	64
#define OWNER_BASE	50000000UL
#define CT_BASE		100000UL
#define SETTLE_MAX_MS	5000
#define SETTLE_WINDOWS	3
#define RECV_TIMEOUT_S	30
#define NETNS_SYSCTL	"/proc/sys/user/max_net_namespaces"

enum { HOST, OWNED, KINDS };
static const char *const kind_name[KINDS] = { "host", "owned" };

static int nlevels, levels[MAX_LEVELS], rounds = 7, events = 2000;
static int batch = 10, control = 100, quiet = 50;
static int kinds = 1;
static int wfd[KINDS], sk[KINDS], devnr[KINDS];
static char buf[16384];

/* ------------------------------------------------------------ helpers */

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("uevent-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* map ids 0..65535 of @pid's user namespace to @base.. (or all, @base 0) */
static int write_maps(pid_t pid, unsigned long base)
{
	char p[64], m[64];

	if (base)
		snprintf(m, sizeof(m), "0 %lu 65536", base);
	else
		snprintf(m, sizeof(m), "0 0 4294967295");
	snprintf(p, sizeof(p), "/proc/%d/uid_map", pid);
	if (write_str(p, m))
		return -1;
	snprintf(p, sizeof(p), "/proc/%d/gid_map", pid);
	return write_str(p, m);
}

/* a uevent socket of the current network namespace, bound to group 1 */
static int uevent_socket(void)
{
	struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	struct timeval tv = { .tv_sec = RECV_TIMEOUT_S };
	int size = 4 << 20;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* close every fd from 3 up but @keep */
static void close_others(int keep)
{
	int fd;

	for (fd = 3; fd < 1024; fd++)
		if (fd != keep)
			close(fd);
}

/* die with the parent (after any change of credentials: it clears this) */
static void die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
}

static int read_byte(int fd, char *c)
{
	ssize_t n;

	do
		n = read(fd, c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

/* ------------------------------------------------- the owner container */

static pid_t owner_pid;
static int owner_sock = -1;

static void owner_main(int fd, pid_t parent)
{
	int mfd, ctl, nr, sfs, smfd, ufd, usk;
	char c, path[64];
	union {
		char b[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &nr, .iov_len = sizeof(nr) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.b, .msg_controllen = sizeof(u.b),
	};
	struct cmsghdr *cm;

	close_others(fd);
	die_with_parent(parent);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS))
		lt_die("owner: unshare: %s", strerror(errno));
	if (write(fd, "u", 1) != 1 || read_byte(fd, &c))
		_exit(1);
	if (setresgid(0, 0, 0) || setresuid(0, 0, 0))
		lt_die("owner: setresuid: %s", strerror(errno));
	die_with_parent(parent);
	mfd = lt_new_instance(0);
	if (mfd < 0)
		lt_die("owner: a loopfs instance: %s", strerror(-mfd));
	ctl = lt_open_ctl(mfd);
	if (ctl < 0)
		lt_die("owner: loop-control: %s", strerror(errno));
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	if (nr < 0)
		lt_die("owner: LOOP_CTL_GET_FREE: %s", strerror(errno));
	sfs = lt_fsopen("sysfs", FSOPEN_CLOEXEC);
	if (sfs < 0 || lt_fsconfig(sfs, LT_FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		lt_die("owner: fsopen sysfs: %s", strerror(errno));
	smfd = lt_fsmount(sfs, FSMOUNT_CLOEXEC, 0);
	if (smfd < 0)
		lt_die("owner: fsmount sysfs: %s", strerror(errno));
	snprintf(path, sizeof(path), "block/loop%d/uevent", nr);
	ufd = openat(smfd, path, O_WRONLY | O_CLOEXEC);
	if (ufd < 0)
		lt_die("owner: its sysfs: %s: %s", path, strerror(errno));
	usk = uevent_socket();
	if (usk < 0)
		lt_die("owner: uevent socket: %s", strerror(errno));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(cm), (int[]){ ufd, usk }, 2 * sizeof(int));
	if (sendmsg(fd, &msg, 0) != sizeof(nr))
		lt_die("owner: sendmsg: %s", strerror(errno));
	close(ufd);
	close(usk);
	/* until the bench ends */
	while (read_byte(fd, &c) == 0)
		;
	if (ioctl(ctl, LOOP_CTL_REMOVE, nr) < 0)
		lt_die("owner: LOOP_CTL_REMOVE(%d): %s", nr, strerror(errno));
	_exit(0);
}

static void owner_start(void)
{
	union {
		char b[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &devnr[OWNED], .iov_len = sizeof(int) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.b, .msg_controllen = sizeof(u.b),
	};
	struct cmsghdr *cm;
	int sv[2], fds[2];
	pid_t self = getpid();
	char c;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair: %s", strerror(errno));
	owner_pid = fork();
	if (owner_pid < 0)
		die("fork: %s", strerror(errno));
	if (!owner_pid)
		owner_main(sv[1], self);
	close(sv[1]);
	owner_sock = sv[0];
	if (read_byte(owner_sock, &c))
		die("the owner container did not start");
	if (write_maps(owner_pid, OWNER_BASE))
		die("owner: writing its id maps: %s", strerror(errno));
	if (write(owner_sock, "m", 1) != 1)
		die("owner: %s", strerror(errno));
	if (recvmsg(owner_sock, &msg, MSG_CMSG_CLOEXEC) != sizeof(int))
		die("the owner container failed");
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(2 * sizeof(int)))
		die("the owner container sent no fds");
	memcpy(fds, CMSG_DATA(cm), sizeof(fds));
	wfd[OWNED] = fds[0];
	sk[OWNED] = fds[1];
}

static void owner_stop(void)
{
	int st;

	if (owner_sock < 0)
		return;
	close(wfd[OWNED]);
	close(sk[OWNED]);
	close(owner_sock);
	if (waitpid(owner_pid, &st, 0) != owner_pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st))
		die("the owner container failed at its end");
}

/* -------------------------------------------------------- the manager */

enum { OP_GROW, OP_SHRINK, OP_LISTEN, OP_QUIT };
struct cmd {
	int op, n;
};
struct rep {
	int err, live;
	long long ns;
};

static pid_t mgr_pid;
static int mgr_sock = -1;

struct ct {
	pid_t pid;
	int fd;
};
static struct ct *cts;
static int live, max_cts;

static void ct_main(int fd, pid_t parent)
{
	int usk = -1;
	char c;

	close_others(fd);
	die_with_parent(parent);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		_exit(1);
	if (write(fd, "u", 1) != 1 || read_byte(fd, &c))
		_exit(1);
	if (setresgid(0, 0, 0) || setresuid(0, 0, 0))
		_exit(1);
	die_with_parent(parent);
	if (write(fd, "r", 1) != 1)
		_exit(1);
	while (read_byte(fd, &c) == 0) {
		if (c == 'L' && usk < 0)
			usk = uevent_socket();
		else if (c == 'U' && usk >= 0)
			close(usk), usk = -1;
		if (write(fd, (c == 'L') == (usk >= 0) ? "k" : "e", 1) != 1)
			_exit(1);
	}
	_exit(0);
}

/* make container @live; 0 or -errno */
static int ct_make(void)
{
	pid_t self = getpid();
	int sv[2], e;
	char c;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	cts[live].pid = fork();
	if (cts[live].pid < 0) {
		e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (!cts[live].pid)
		ct_main(sv[1], self);
	close(sv[1]);
	cts[live].fd = sv[0];
	live++;
	if (read_byte(sv[0], &c))
		return -ECHILD;
	if (write_maps(cts[live - 1].pid, CT_BASE + 65536UL * (live - 1)))
		return -errno;
	if (write(sv[0], "m", 1) != 1 || read_byte(sv[0], &c))
		return -ECHILD;
	return 0;
}

/* does a network namespace fit P's limit (fork, unshare)? */
static int netns_fits(void)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return 0;
	if (!pid)
		_exit(unshare(CLONE_NEWNET) ? 1 : 0);
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st);
}

/* wait until P counts no network namespace but the live containers' */
static int wait_netns_gone(void)
{
	double end = lt_now() + 120;
	char v[32];
	int ok;

	snprintf(v, sizeof(v), "%d", live + 1);
	if (write_str(NETNS_SYSCTL, v))
		return -errno;
	while (!(ok = netns_fits()) && lt_now() < end)
		lt_sleep_ms(10);
	snprintf(v, sizeof(v), "%d", INT_MAX);
	if (write_str(NETNS_SYSCTL, v))
		return -errno;
	return ok ? 0 : -ETIMEDOUT;
}

static int ct_kill(int n)
{
	int st;

	while (n-- > 0 && live > 0) {
		live--;
		close(cts[live].fd);
		waitpid(cts[live].pid, &st, 0);
	}
	return wait_netns_gone();
}

static int ct_listen(int on)
{
	int i, bad = 0;
	char c;

	for (i = 0; i < live; i++)
		if (write(cts[i].fd, on ? "L" : "U", 1) != 1)
			bad++;
	for (i = 0; i < live; i++)
		if (read_byte(cts[i].fd, &c) || c != 'k')
			bad++;
	return bad ? -EIO : 0;
}

static void mgr_main(int fd, pid_t parent)
{
	struct cmd cmd;
	struct rep rep;
	long long t;
	char c;

	close_others(fd);
	die_with_parent(parent);
	if (unshare(CLONE_NEWUSER))
		lt_die("manager: unshare: %s", strerror(errno));
	if (write(fd, "u", 1) != 1 || read_byte(fd, &c))
		_exit(1);
	for (;;) {
		if (read(fd, &cmd, sizeof(cmd)) != sizeof(cmd))
			cmd.op = OP_QUIT;
		memset(&rep, 0, sizeof(rep));
		t = lt_now_ns();
		switch (cmd.op) {
		case OP_GROW:
			while (cmd.n-- > 0 && !rep.err)
				rep.err = live < max_cts ? ct_make() : -ENOSPC;
			break;
		case OP_SHRINK:
			rep.err = ct_kill(cmd.n);
			break;
		case OP_LISTEN:
			rep.err = ct_listen(cmd.n);
			break;
		default:
			ct_kill(live);
			_exit(0);
		}
		rep.ns = lt_now_ns() - t;
		rep.live = live;
		if (write(fd, &rep, sizeof(rep)) != sizeof(rep))
			_exit(1);
	}
}

static void mgr_start(void)
{
	pid_t self = getpid();
	int sv[2];
	char c;

	max_cts = levels[nlevels - 1];
	cts = calloc(max_cts + 1, sizeof(*cts));
	if (!cts)
		die("out of memory");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		die("socketpair: %s", strerror(errno));
	mgr_pid = fork();
	if (mgr_pid < 0)
		die("fork: %s", strerror(errno));
	if (!mgr_pid)
		mgr_main(sv[1], self);
	close(sv[1]);
	mgr_sock = sv[0];
	if (read_byte(mgr_sock, &c))
		die("the manager did not start");
	if (write_maps(mgr_pid, 0))
		die("manager: writing its id maps: %s", strerror(errno));
	if (write(mgr_sock, "m", 1) != 1)
		die("manager: %s", strerror(errno));
}

static struct rep mgr(int op, int n)
{
	struct cmd cmd = { op, n };
	struct rep rep;

	if (write(mgr_sock, &cmd, sizeof(cmd)) != sizeof(cmd) ||
	    read(mgr_sock, &rep, sizeof(rep)) != sizeof(rep))
		die("the manager died");
	if (rep.err)
		die("the manager: %s (%d containers live)", strerror(-rep.err), rep.live);
	return rep;
}

static void mgr_stop(void)
{
	struct cmd cmd = { OP_QUIT, 0 };
	int st;

	if (mgr_sock < 0)
		return;
	if (write(mgr_sock, &cmd, sizeof(cmd)) != sizeof(cmd))
		die("the manager died");
	waitpid(mgr_pid, &st, 0);
	close(mgr_sock);
	mgr_sock = -1;
}

/* ------------------------------------------------------- measurements */

/* busy and total jiffies of all CPUs (/proc/stat) */
static void cpu_jiffies(long long *busy, long long *total)
{
	long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "re");
	int i;

	*busy = *total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		   &v[8], &v[9]) >= 4) {
		for (i = 0; i < 8; i++)
			*total += v[i];
		*busy = *total - v[3] - v[4];
	}
	fclose(f);
}

/*
 * Wait until the machine is quiet: SETTLE_WINDOWS windows of 100 ms in a
 * row with less than @quiet per mille of the CPU time busy (the work a
 * change of state leaves behind, such as RCU callbacks freeing sockets,
 * runs a while after it).  The time waited (ms); the last window's busy
 * per mille in *@busy.
 */
static long settle(int *busy)
{
	double t0 = lt_now();
	long long b0, t0j, b1, t1j;
	int row = 0;

	*busy = -1;
	while (row < SETTLE_WINDOWS && (lt_now() - t0) * 1000 < SETTLE_MAX_MS) {
		cpu_jiffies(&b0, &t0j);
		lt_sleep_ms(100);
		cpu_jiffies(&b1, &t1j);
		if (t1j <= t0j)
			continue;
		*busy = (b1 - b0) * 1000 / (t1j - t0j);
		row = *busy < quiet ? row + 1 : 0;
	}
	return (lt_now() - t0) * 1000;
}

/* a message of @kind's device's "change"? */
static int is_ours(int kind, const char *msg, ssize_t len)
{
	char tail[32];
	size_t tl, hl;

	if (len < 8 || strncmp(msg, "change@", 7))
		return 0;
	hl = strnlen(msg, len);
	tl = snprintf(tail, sizeof(tail), "/loop%d", devnr[kind]);
	return hl > tl && !memcmp(msg + hl - tl, tail, tl);
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* the lower quartile of @v[0..@n) (sorted) */
static long long quartile(long long *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_ll);
	return v[n / 4];
}

/*
 * EVENTS events of @kind, BATCH a time, each batch timed from its first
 * write to its last event received, after CONTROL getppid() calls timed
 * too: the lower quartile of the batches' times (ns), of the controls'
 * in *@ctl_ns, the whole time in *@all_ns.
 */
static long long measure(int kind, long long *ctl_ns, long long *all_ns)
{
	static long long bt[100000], ct[100000];
	int s = sk[kind], nb = 0, i, got;
	long long t, t0 = lt_now_ns();
	ssize_t len;

	while (recv(s, buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
		;
	for (nb = 0; nb < events / batch; nb++) {
		t = lt_now_ns();
		for (i = 0; i < control; i++)
			getppid();
		ct[nb] = lt_now_ns() - t;
		t = lt_now_ns();
		for (i = 0; i < batch; i++)
			if (pwrite(wfd[kind], "change", 6, 0) != 6)
				die("writing the %s device's uevent file: %s",
				    kind_name[kind], strerror(errno));
		for (got = 0; got < batch;) {
			len = recv(s, buf, sizeof(buf) - 1, 0);
			if (len < 0 && errno == EINTR)
				continue;
			if (len < 0)
				die("%s events: %s after %d of %d (lower -b?)",
				    kind_name[kind], strerror(errno), nb * batch + got, events);
			got += is_ours(kind, buf, len);
		}
		bt[nb] = lt_now_ns() - t;
	}
	*all_ns = lt_now_ns() - t0;
	*ctl_ns = quartile(ct, nb);
	return quartile(bt, nb);
}

/* times [round][dir][level][listen][kind] */
static long long tm[MAX_ROUNDS][2][MAX_LEVELS][2][KINDS];
static long long tc[MAX_ROUNDS][2][MAX_LEVELS][2][KINDS];

static void visit(int r, int dir, int li)
{
	int l, k, listen, kind, busy;
	long long ctl, all;

	for (l = 0; l < 2; l++) {
		listen = dir ? 1 - l : l;
		if (listen && levels[li]) {
			mgr(OP_LISTEN, 1);
			settle(&busy);
		}
		for (k = 0; k < kinds; k++) {
			kind = dir ? kinds - 1 - k : k;
			tm[r][dir][li][listen][kind] = measure(kind, &ctl, &all);
			tc[r][dir][li][listen][kind] = ctl;
			printf("m round=%d dir=%s level=%d listen=%d kind=%s batch_ns=%lld ctl_ns=%lld all_ms=%lld\n",
			       r, dir ? "down" : "up", levels[li], listen, kind_name[kind],
			       tm[r][dir][li][listen][kind], ctl, all / 1000000);
		}
		if (listen && levels[li]) {
			mgr(OP_LISTEN, 0);
			settle(&busy);
		}
	}
	fflush(stdout);
}

static void set_level(int li)
{
	int want = levels[li], have = live, busy;
	struct rep rep;
	long ms;

	if (want == have)
		return;
	if (want > have)
		rep = mgr(OP_GROW, want - have);
	else
		rep = mgr(OP_SHRINK, have - want);
	live = rep.live;
	ms = settle(&busy);
	printf("state level=%d op=%s ms=%lld settle_ms=%ld busy_permille=%d\n", want,
	       want > have ? "grow" : "shrink", rep.ns / 1000000, ms, busy);
}

/* the time of a visit: raw, or over its control */
static double vt(int r, int d, int li, int b, int k, int norm)
{
	return (double)tm[r][d][li][b][k] / (norm ? tc[r][d][li][b][k] : 1);
}

/* events/s at level @li over events/s at level 0, in round @r */
static double rel(int r, int li, int b, int k, int norm)
{
	return (vt(r, 0, 0, b, k, norm) + vt(r, 1, 0, b, k, norm)) /
	       (vt(r, 0, li, b, k, norm) + vt(r, 1, li, b, k, norm));
}

static void report(void)
{
	double eps[2 * MAX_ROUNDS];
	int r, li, b, k;

	for (k = 0; k < kinds; k++)
		for (b = 0; b < 2; b++)
			for (li = 0; li < nlevels; li++) {
				for (r = 0; r < rounds; r++) {
					if (li)
						printf("ratio kind=%s listen=%d level=%d round=%d raw=%.4f norm=%.4f\n",
						       kind_name[k], b, levels[li], r,
						       rel(r, li, b, k, 0), rel(r, li, b, k, 1));
					eps[2 * r] = batch * 1e9 / tm[r][0][li][b][k];
					eps[2 * r + 1] = batch * 1e9 / tm[r][1][li][b][k];
				}
				printf("summary kind=%s listen=%d level=%d eps=%.0f\n",
				       kind_name[k], b, levels[li], median(eps, 2 * rounds));
			}
}

int main(int argc, char **argv)
{
	int opt, r, li, owned = 0, i, busy;
	char path[64];
	long ms;

	while ((opt = getopt(argc, argv, "or:k:b:c:q:")) != -1) {
		switch (opt) {
		case 'o':
			owned = 1;
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'k':
			events = atoi(optarg);
			break;
		case 'b':
			batch = atoi(optarg);
			break;
		case 'c':
			control = atoi(optarg);
			break;
		case 'q':
			quiet = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind < 2 || argc - optind > MAX_LEVELS ||
	    sscanf(argv[optind], "loop%d", &devnr[HOST]) != 1 || rounds < 1 ||
	    rounds > MAX_ROUNDS || batch < 1 || events < batch ||
	    events / batch > 100000 || control < 1)
		goto usage;
	levels[nlevels++] = 0;
	for (i = optind + 1; i < argc; i++) {
		levels[nlevels] = atoi(argv[i]);
		if (levels[nlevels] <= levels[nlevels - 1])
			goto usage;
		nlevels++;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	snprintf(path, sizeof(path), "/sys/block/%s/uevent", argv[optind]);
	wfd[HOST] = open(path, O_WRONLY | O_CLOEXEC);
	if (wfd[HOST] < 0)
		die("%s: %s", path, strerror(errno));
	sk[HOST] = uevent_socket();
	if (sk[HOST] < 0)
		die("uevent socket: %s", strerror(errno));
	if (owned) {
		owner_start();
		kinds = 2;
		printf("owner container: loop%d of its own loopfs instance\n", devnr[OWNED]);
	}
	mgr_start();
	ms = settle(&busy);
	printf("settle_ms=%ld busy_permille=%d\n", ms, busy);

	for (r = 0; r < rounds; r++) {
		for (li = 0; li < nlevels; li++) {
			set_level(li);
			visit(r, 0, li);
		}
		for (li = nlevels - 1; li >= 0; li--) {
			set_level(li);
			visit(r, 1, li);
		}
	}
	mgr_stop();
	owner_stop();
	report();
	return 0;
usage:
	fprintf(stderr, "usage: uevent-bench [-o] [-r ROUNDS] [-k EVENTS] [-b BATCH] [-c CONTROL]\n"
		"                    [-q PERMILLE] loopN LEVEL...\n");
	return 2;
}
