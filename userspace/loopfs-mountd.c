// SPDX-License-Identifier: GPL-2.0
/*
 * loopfs-mountd - mount block filesystems from a container's own loopfs
 * devices, for a container that cannot: a seccomp user-notification
 * supervisor (an OCI "seccomp agent").
 *
 * The root of a user namespace can mount a loopfs instance and do every loop
 * and partition ioctl on its devices, but the kernel does not let it mount a
 * block filesystem (ext4, vfat, ...): that final mount(2) needs real root.
 * A container runtime (crun, runc) whose OCI config gives mount(2) the
 * action SCMP_ACT_NOTIFY and sets linux.seccomp.listenerPath to our socket
 * hands us the seccomp listener of each container it starts; we answer the
 * container's mount(2) calls.  LXC (lxc.seccomp.notify.proxy) keeps the
 * listener in its monitor and forwards each notification to us instead, with
 * descriptors of the caller; we answer through LXC.  See usage_text below for
 * the two protocols and the policy; build with
 *
 *	gcc -O2 -Wall -Wextra -o loopfs-mountd loopfs-mountd.c
 *
 * It depends on nothing but the C library and the kernel's UAPI headers.
 *
 * How a mount is done, and why that way.  A mount made by real root is
 * owned by the initial user namespace, and in the container's mount
 * namespace nothing stops the container from changing its per-mount flags:
 * `mount -o remount,bind,suid,dev` (MS_REMOUNT|MS_BIND) and mount_setattr()
 * check no capability over the superblock, only the flags the kernel has
 * locked (MNT_LOCK_NOSUID, MNT_LOCK_NODEV, ...).  A filesystem built by the
 * container and mounted with suid and dev would give it setuid-root programs
 * of the host and device nodes of the host's disks.  Refusing such remounts
 * here would not hold: the kernel resolves the target again after we let a
 * call continue (a FUSE directory on the way can stall it until our check is
 * stale), mount_setattr() and a remount from a nested mount namespace are
 * other doors, and a container may stack a seccomp filter of its own whose
 * listener answers "continue" for everything behind ours.  So the flags are
 * locked by the kernel itself: it locks the flags of a mount that reaches a
 * mount namespace owned by another user namespace by propagation
 * (lock_mnt_tree() in attach_recursive_mnt()), exactly as it does for the
 * mounts a new user namespace inherits.  The helper process that does a
 * mount therefore
 *
 *   1. makes a private mount namespace S of its own (owned by our user
 *      namespace) with a small tmpfs X in it, shared;
 *   2. clones X (a clone of a shared mount is its peer) and attaches that
 *      clone B on the parent directory of the target, in the container's
 *      mount namespace;
 *   3. mounts the filesystem on X/m in S, with MS_NOSUID|MS_NODEV forced:
 *      the kernel propagates a copy of it to B/m in the container's
 *      namespace and, that namespace belonging to another user namespace,
 *      locks nosuid, nodev and the atime flags of the copy (and read-only,
 *      if it is); the root of a propagated copy is not locked in place,
 *      so the container can still unmount it;
 *   4. checks that the copy is locked, makes it and B private, moves the
 *      copy onto the target and detaches B;
 *   5. exits, which ends S and the mount in it.
 * For a few milliseconds B covers the target's parent directory in the
 * container (absolute paths do not see it where that directory is the
 * container's root).
 * After that, the container can use, remount (ro/rw, noexec, ...), bind,
 * move and unmount the filesystem, but never clear nosuid or nodev, and all
 * other mount(2) calls can be let through ("continued") safely: the kernel
 * enforces the rest.
 *
 * The source is a node of the caller's own loopfs instance, checked in the
 * caller's view and pinned by a file descriptor for the whole mount: the
 * kernel's lookup_bdev() follows our /proc/self/fd/N, so no path is looked
 * up twice.  In S, the helper chroots into a private tmpfs holding the
 * source's name as a symlink to that descriptor, so the mount table shows
 * the name the caller gave (/dev/loopfs/loop0p1), not /proc/self/fd/N.
 *
 * Two front ends, one policy.  A container (struct ctr) is either an OCI
 * runtime's seccomp listener, read by us (SECCOMP_IOCTL_NOTIF_RECV), or an
 * LXC monitor's connection to our proxy socket, over which each
 * notification comes as one message.  Each front end only gets the
 * notification into req and the caller's /proc/PID and /proc/PID/mem
 * descriptors, and carries the answer back (answer(), still_pending());
 * decide() and what it calls (the checks, the helper, the log lines) are
 * the same for both.
 *
 * Who touches the caller.  One process serves every container, so it must
 * never wait on one: reading a caller's strings through /proc/PID/mem can
 * fault on a page of a file on a FUSE filesystem the container mounted
 * itself, whose server need never answer, and looking up its paths can
 * stop in such a filesystem just as well.  So the main loop only takes a
 * notification, answers what it can from the notification alone (another
 * system call, a bind, move, remount or propagation change) and forks a
 * worker for the rest: decide_mount() runs in the worker, which reads the
 * strings, makes the checks and, if the mount is to be done, is the
 * helper below.  The worker holds the caller's descriptors; it sends its
 * verdict (an answer, or "the caller left") over a socketpair and the main
 * loop gives the answer, so answers come from one process in order.  A
 * worker that has not asked leave to touch the caller's mount namespace
 * (ask_leave(), just before step 2 attaches B: the strings are read, the
 * source, instance and target looked up) DECIDE_MS after the notification
 * came is killed and the call answered EAGAIN; leave is given only before
 * that, and the worker waits for it, so a worker is killed before it
 * changes anything in the container, or not at all (a mount that then
 * blocks holds up that container alone).  A killed worker may stay stuck
 * in the kernel until the FUSE server goes away; the main loop does not
 * wait for it (SIGCHLD reaps it), but that container's next call waits
 * until it has gone.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>

/* include/uapi/linux/magic.h of a loopfs kernel ("lpfs") */
#ifndef LOOPFS_SUPER_MAGIC
#define LOOPFS_SUPER_MAGIC	0x6c706673
#endif

#define PROG			"loopfs-mountd"
#define DEFAULT_INSTANCE	"/dev/loopfs"
#define DEFAULT_TYPES		"ext4,vfat,squashfs,iso9660"

#define STATE_MAX		(64 * 1024)	/* one container process state */
#define MAX_RIGHTS		16		/* descriptors in one message */
#define MAX_CONNS		16		/* connections being read */
#define MAX_CONTAINERS		1024		/* listeners served */
#define CONN_TIMEOUT_MS		10000		/* to finish a state once begun */
#define MAX_TYPES		32
#define TYPE_MAX		32		/* a filesystem type's name */
#define DATA_MAX		4096		/* mount(2) copies one page */
#define JSON_DEPTH		32		/* JSON nesting below the top object */
#define LXC_COOKIE_MAX		4096		/* lxc.seccomp.notify.cookie */
/*
 * LXC's monitor waits 30 s (SO_RCVTIMEO) for our answer, then answers
 * ENOSYS itself and goes on; an answer of ours that came after that would
 * be read as the answer to its next notification.  One that is not ready
 * LXC_ANSWER_MS after the request came is not sent: the connection is
 * closed instead (LXC reconnects for its next notification).
 */
#define LXC_ANSWER_MS		28000
/*
 * A worker has this long to read the caller's strings and look up its
 * paths, up to its leave to mount (a caller can make either wait as long
 * as it likes: a string on a page of a file on a FUSE filesystem of its
 * own whose server does not answer, a path through such a filesystem).
 * Then the request is answered EAGAIN and the worker killed.  Less than
 * LXC_ANSWER_MS.
 */
#define DECIDE_MS		10000

/* Our private directories in the helper's tmpfs (never a source's name) */
#define Z_PROC			".mountd-proc"
#define Z_STAGE			".mountd-stage"
#define Z_PREFIX		".mountd-"

static const char usage_text[] =
"NAME\n"
"    loopfs-mountd - mount block filesystems of a container's own loopfs\n"
"    devices for it (a seccomp user-notification supervisor)\n"
"\n"
"SYNOPSIS\n"
"    loopfs-mountd [-s SOCKET] [-x LXC_SOCKET] [-i INSTANCE_DIR] [-t TYPES] [-v]\n"
"    loopfs-mountd -h\n"
"\n"
"DESCRIPTION\n"
"    A container in a user namespace can use a loopfs instance of its own\n"
"    (losetup, sfdisk, mkfs), but the kernel does not let it mount a block\n"
"    filesystem.  loopfs-mountd does that mount(2) for it, from the\n"
"    container's own loopfs nodes only, and lets every other mount(2) call\n"
"    of the container go on unchanged.\n"
"\n"
"    It listens on the UNIX stream socket SOCKET (created mode 0600; only\n"
"    peers with our own user id, or 0, are served).  Each connection carries\n"
"    one OCI \"container process state\" (JSON: ociVersion, fds, pid,\n"
"    metadata, state) and, with SCM_RIGHTS, the descriptors named in \"fds\";\n"
"    the one named \"seccompFd\" is the seccomp listener of the container.\n"
"    This is what an OCI runtime sends to linux.seccomp.listenerPath.  A\n"
"    state larger than 64 KiB, malformed, or without seccompFd is refused\n"
"    with a message.  A container is served until its listener reports that\n"
"    no task uses the filter any more.\n"
"\n"
"    It also, or instead, serves LXC's seccomp notify proxy protocol on the\n"
"    UNIX seqpacket socket LXC_SOCKET (created mode 0600; the same peers are\n"
"    served): the container's config names it with\n"
"    lxc.seccomp.notify.proxy = unix:LXC_SOCKET, and its seccomp profile\n"
"    gives mount the action notify.  LXC's monitor connects once for each\n"
"    container, keeps the connection while the container runs, and sends\n"
"    for each notification one message: a header (monitor and init pid,\n"
"    the sizes of the seccomp structures, the length of the cookie), the\n"
"    notification, a response, and lxc.seccomp.notify.cookie if set (up to\n"
"    4 KiB), with the caller's /proc/PID directory and /proc/PID/mem (and,\n"
"    from LXC 5, the listener) as SCM_RIGHTS; we answer with the header,\n"
"    the notification and the response filled in, and LXC passes it on.\n"
"    A message that is short, malformed, of other sizes than the kernel's,\n"
"    with a nonzero reserved field, a cookie too long or other than the\n"
"    connection's first, or with other descriptors, is refused: the\n"
"    connection is closed (LXC answers ENOSYS and reconnects next time).\n"
"    Each connection is one container, named in the log by its monitor\n"
"    and init pid and its cookie.  An answer that is not ready 28 s after\n"
"    the request (LXC waits 30 s) is not sent: the connection is closed.\n"
"\n"
"    For each notified mount(2) (x86_64):\n"
"\n"
"    - A bind, move, remount or propagation change (MS_BIND, MS_MOVE,\n"
"      MS_REMOUNT, MS_SHARED, MS_PRIVATE, MS_SLAVE, MS_UNBINDABLE), and any\n"
"      mount whose type is not in TYPES, is continued: the kernel performs\n"
"      it with the caller's own rights and checks (it refuses block\n"
"      filesystems in a user namespace, and the flags of the mounts made\n"
"      here are locked, see below).  So is every mount of a caller whose\n"
"      mount namespace belongs to our own user namespace: such a caller\n"
"      needs no help.\n"
"\n"
"    - A mount of a type in TYPES is done here if the caller may mount\n"
"      (CAP_SYS_ADMIN in the user namespace that owns its mount namespace)\n"
"      and the source is a block device node of the caller's own loopfs\n"
"      instance: the source must be an absolute path; it is resolved in the\n"
"      caller's root with no escape above it and no /proc magic links; the\n"
"      node must be on loopfs and on the instance mounted at INSTANCE_DIR\n"
"      (resolved the same way); it must open (read-only for MS_RDONLY,\n"
"      else read-write).  The target is resolved as the caller would (its\n"
"      root and working directory, no magic links) and must be a\n"
"      directory.  The filesystem is mounted with the caller's flags plus\n"
"      MS_NOSUID and MS_NODEV, and those two (and the atime flags, and\n"
"      read-only if asked for) are locked: no remount or mount_setattr() of\n"
"      the container can clear them.  The container can unmount it.\n"
"\n"
"    - Anything else (another system call, another architecture) is\n"
"      answered EPERM: the seccomp profile should notify mount(2) only.\n"
"\n"
"    Refusals are answered with EPERM (not a block device, not on loopfs,\n"
"    a node of another instance, no loopfs instance at INSTANCE_DIR, a\n"
"    caller that may not mount), EINVAL (a relative or empty source, mount\n"
"    data longer than a page, a target whose parent's mount is shared),\n"
"    EAGAIN (arguments not read and checked within 10 s, see NOTES), or\n"
"    the error of the lookup or open (ENOENT, ELOOP for a /proc magic link,\n"
"    ENXIO for a node whose device is gone, EACCES or EROFS for a\n"
"    read-write mount of a read-only device, ENOTDIR for a target that is\n"
"    not a directory, EBUSY for a target that is the caller's root, ...).\n"
"    A mount that the kernel refuses gets the kernel's error.  Each\n"
"    refusal and each mount done is logged on standard error, as\n"
"\n"
"        loopfs-mountd: pid P: refused mount of SRC on TGT type T: REASON (ERRNO)\n"
"        loopfs-mountd: pid P: mounted SRC on TGT type T (flags 0x...)\n"
"        loopfs-mountd: pid P: mount of SRC on TGT type T failed: REASON (ERRNO)\n"
"        loopfs-mountd: pid P: refused mount(2): reading and checking its\n"
"            arguments took longer than 10 s (EAGAIN)\n"
"\n"
"    with \"lxc (monitor M, init I, cookie C): \" before \"pid P\" for an LXC\n"
"    container (P, M and I as LXC's monitor sees them).\n"
"\n"
"OPTIONS\n"
"    -s SOCKET\n"
"        The socket to listen on for OCI runtimes (an existing socket\n"
"        nobody listens on is replaced; it is removed at exit).\n"
"    -x LXC_SOCKET\n"
"        The socket to listen on for LXC (the same way).  At least one of -s\n"
"        and -x is needed; with both, one policy serves all containers.\n"
"    -i INSTANCE_DIR\n"
"        Where, in each container, its loopfs instance is mounted; default\n"
"        " DEFAULT_INSTANCE ".  An absolute path.\n"
"    -t TYPES\n"
"        The filesystem types mounted here, comma separated; default\n"
"        " DEFAULT_TYPES ".  Each must live on the one device it\n"
"        is mounted from (its st_dev is the device's number): btrfs, for\n"
"        one, is not.\n"
"    -v  Log every decision, also the continued calls, and each container\n"
"        that comes and goes.\n"
"    -h  Print this text.\n"
"\n"
"EXIT STATUS\n"
"    0 on SIGTERM, SIGINT or SIGHUP; 1 on bad arguments or a failure to\n"
"    set up.\n"
"\n"
"NOTES\n"
"    The runtime's seccomp profile should give mount the action\n"
"    SCMP_ACT_NOTIFY, and make fsopen fail with ENOSYS (errnoRet 38) so\n"
"    that util-linux 2.39 and later falls back to mount(2); in an LXC\n"
"    profile (lxc.seccomp.profile, version 2), \"mount notify\" and\n"
"    \"fsopen errno 38\".  Nothing else\n"
"    needs to be intercepted, and a container that bypasses the supervisor\n"
"    (another filter, another architecture's system call) only gets what\n"
"    the kernel allows it anyway.\n"
"    The instance at INSTANCE_DIR is the container's to choose: a container\n"
"    that can see another instance's mount can bind it there.  Do not\n"
"    expose other instances to a container (their nodes would open for it\n"
"    anyway where their owner and mode allow).\n"
"    For the few milliseconds of a mount, a small tmpfs covers the target's\n"
"    parent directory in the container (see the source); a target whose\n"
"    parent's mount is shared is refused, and so is the caller's root.\n"
"    Each mount(2) call that is not answered from its flags alone is\n"
"    decided and done by a process of its own (a worker), the only one to\n"
"    read the caller's memory and look up its paths: a call whose strings\n"
"    lie on a page that never comes in (a file on a FUSE filesystem of the\n"
"    container's whose server does not answer), or whose paths go through\n"
"    such a filesystem, stalls its worker, never the calls of other\n"
"    containers.  A call not read and checked within 10 s is answered\n"
"    EAGAIN and its worker killed.  A container's calls are answered one\n"
"    at a time: while its worker lives (a killed one may stay stuck in the\n"
"    kernel until the FUSE server goes away) or its mount blocks (a device\n"
"    backed by a file on FUSE, say), that container's next calls wait;\n"
"    other containers' do not.\n"
"    It needs Linux 5.12 or later (the mount API, openat2, mount_setattr)\n"
"    and runs as real root.\n";

/* ------------------------------------------------------------------ state */

static const char *sock_path;			/* -s */
static const char *lxc_path;			/* -x */
static char inst_path[PATH_MAX];		/* -i, normalized */
static char types[MAX_TYPES][TYPE_MAX];		/* -t */
static int ntypes;
static int verbose;				/* -v */

static struct seccomp_notif_sizes sizes;
static struct seccomp_notif_sizes ksizes;	/* as the kernel said */
static struct seccomp_notif *req;		/* one notification */
static struct seccomp_notif_resp *resp;
static struct stat own_userns;			/* /proc/self/ns/user */

/* A connection of a runtime, being read until it closes */
struct conn {
	int fd;
	char *buf;
	size_t len;
	int fds[MAX_RIGHTS];
	int nfds;
	int got_rights;
	/*
	 * A runtime connects early and may send the state only when the
	 * container starts (crun with noNewPrivileges: at `crun start`), so an
	 * idle connection waits as long as it needs (only root can connect,
	 * and MAX_CONNS bounds them); once the first bytes have come, the rest
	 * must follow within CONN_TIMEOUT_MS.
	 */
	int begun;
	struct timespec deadline;
};

/*
 * What LXC (src/lxc/seccomp.h, struct seccomp_notify_proxy_msg) sends
 * before the notification, and we send back before our answer.
 */
struct lxc_proxy_msg {
	uint64_t reserved;		/* 0 both ways */
	int32_t monitor_pid;		/* pids as LXC's monitor sees them */
	int32_t init_pid;
	struct seccomp_notif_sizes sizes;	/* LXC's SECCOMP_GET_NOTIF_SIZES */
	uint64_t cookie_len;		/* bytes of cookie after the response */
};
_Static_assert(sizeof(struct lxc_proxy_msg) == 32, "LXC's proxy message header is 32 bytes");

/* Where a container's notifications come from and its answers go */
enum front {
	F_OCI,		/* fd is its seccomp listener, given to us by the runtime */
	F_LXC,		/* fd is its LXC monitor's connection to -x */
};

/* A container: one seccomp listener, and the mount being done for it */
struct ctr {
	enum front front;
	int fd;				/* the listener or LXC connection; -1 once gone */
	unsigned long nr;		/* ours, for messages */
	char id[64];			/* state.id, for messages */
	long pid;			/* the state's pid (LXC: the peer's) */
	/*
	 * LXC: who the connection is for (from its first message; later ones
	 * must agree), the prefix of our log lines about it, and the request
	 * being answered: its header and notification go back with the
	 * answer.  We hold the request's descriptors only while deciding.
	 */
	char tag[900];			/* "" for OCI (esc() makes <= 803 bytes) */
	int known;
	struct lxc_proxy_msg hdr;
	char *cookie;			/* the first message's, NUL-terminated */
	struct seccomp_notif *notif;	/* sizes.seccomp_notif bytes */
	int lsnfd;			/* the listener, if LXC sent it; else -1 */
	int pending;			/* a request is not answered yet */
	struct timespec answer_by;	/* ... and LXC_ANSWER_MS after it came */
	/*
	 * The request in progress (busy): decided and done by a worker, a
	 * child of ours, the only one to touch the caller (see "Who touches
	 * the caller" above).  We hold our end of a socketpair to it (chan)
	 * until the worker is gone, and a deadline until it may mount.
	 */
	int busy;
	pid_t worker;
	int chan;			/* ours; the worker has the other end */
	__u64 notif_id;
	pid_t caller;
	int committed;			/* the worker mounts: no deadline, no kill */
	int answered;			/* the request is answered (or dropped) */
	struct timespec decide_by;	/* ... or EAGAIN and the worker killed */
};

static pid_t supervisor;			/* our pid, for the workers */
static struct conn conns[MAX_CONNS];
static struct ctr **ctrs;
static int nctrs;
static unsigned long ctr_serial;

/* ------------------------------------------------------------ messages */

#include "common.h"

/* A log line: as warn() */
#define say warn

static const char *errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "E?";
}

/*
 * @s made printable for a log line (strings from containers): backslash,
 * control and non-ASCII bytes as \xNN, cut at 200 bytes.  Four rotating
 * buffers, so that one message can hold four.
 */
static const char *esc(const char *s)
{
	static char bufs[4][1024];
	static int next;
	char *b = bufs[next++ % 4], *o = b;
	size_t n = 0;

	if (!s)
		return "(null)";
	for (; *s && n < 200; s++, n++) {
		unsigned char c = *s;

		if (c >= 0x20 && c < 0x7f && c != '\\')
			*o++ = c;
		else
			o += sprintf(o, "\\x%02x", c);
	}
	if (*s)
		o += sprintf(o, "...");
	*o = 0;
	return b;
}

/* ------------------------------------------------------------ time */

static struct timespec now_plus(long ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* ms from now until @t (0 if past) */
static long ms_until(const struct timespec *t)
{
	struct timespec n;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &n);
	ms = (t->tv_sec - n.tv_sec) * 1000 + (t->tv_nsec - n.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms;
}

/* ------------------------------------------------------------ JSON */

/*
 * A container process state, read whole and checked strictly by json.h,
 * keeping the few fields we use.  Strings are decoded (UTF-8); those we
 * keep are cut to their buffers and printed through esc().
 */
#include "json.h"

struct state {
	int has_version, has_pid, has_state, has_id;
	long long pid;
	int nfds_names;			/* entries in "fds" */
	int seccomp_index;		/* of "seccompFd" in "fds", or -1 */
	char id[64];			/* state.id */
};

/* "fds": an array of strings; note where "seccompFd" is. */
static int fds_element(struct json *j, int depth, void *arg)
{
	struct state *st = arg;
	char name[64];
	size_t n;
	int nul;

	(void)depth;
	if (json_peek(j) != '"')
		return json_error(j, "fds: want an array of strings");
	if (json_string(j, name, sizeof(name), &n, &nul))
		return -1;
	if (n < sizeof(name) && !nul && !strcmp(name, "seccompFd")) {
		if (st->seccomp_index >= 0)
			return json_error(j, "fds: \"seccompFd\" named twice");
		st->seccomp_index = st->nfds_names;
	}
	st->nfds_names++;
	return 0;
}

static int state_member(struct json *j, int depth, const char *key, void *arg)
{
	struct state *st = arg;
	size_t n, i;

	if (key && !strcmp(key, "id")) {
		if (st->has_id++)
			return json_error(j, "state.id given twice");
		if (json_peek(j) != '"')
			return json_error(j, "state.id: want a string");
		if (json_string(j, st->id, sizeof(st->id), &n, NULL))
			return -1;
		for (i = 0; i < n && i + 1 < sizeof(st->id); i++)
			if (!st->id[i])
				st->id[i] = '?';	/* a \u0000 */
		if (!st->id[0])
			snprintf(st->id, sizeof(st->id), "?");
		return 0;
	}
	return json_skip(j, depth);
}

static int top_member(struct json *j, int depth, const char *key, void *arg)
{
	struct state *st = arg;
	int r;

	if (!key)
		return json_skip(j, depth);
	if (!strcmp(key, "ociVersion")) {
		if (st->has_version++)
			return json_error(j, "ociVersion given twice");
		if (json_peek(j) != '"')
			return json_error(j, "ociVersion: want a string");
		return json_string(j, NULL, 0, NULL, NULL);
	}
	if (!strcmp(key, "fds")) {
		if (st->nfds_names || st->seccomp_index >= 0)
			return json_error(j, "fds given twice");
		if (json_peek(j) != '[')
			return json_error(j, "fds: want an array of strings");
		return json_array(j, depth, fds_element, st);
	}
	if (!strcmp(key, "pid")) {
		if (st->has_pid++)
			return json_error(j, "pid given twice");
		if (json_peek(j) != '-' && (json_peek(j) < '0' || json_peek(j) > '9'))
			return json_error(j, "pid: want a number");
		r = json_number(j, &st->pid);
		if (r < 0)
			return -1;
		return r ? 0 : json_error(j, "pid: want a whole number");
	}
	if (!strcmp(key, "state")) {
		if (st->has_state++)
			return json_error(j, "state given twice");
		if (json_peek(j) != '{')
			return json_error(j, "state: want an object");
		return json_object(j, depth, state_member, st);
	}
	return json_skip(j, depth);	/* metadata, and what a later spec adds */
}

/* Parse a container process state; NULL or what is wrong with it. */
static const char *parse_state(const char *buf, size_t len, struct state *st)
{
	static char why[128];
	struct json j;

	memset(st, 0, sizeof(*st));
	st->seccomp_index = -1;
	/* (nesting: the top object and JSON_DEPTH levels below it) */
	if (json_document(&j, buf, len, "the state", JSON_DEPTH + 1, top_member, st)) {
		snprintf(why, sizeof(why), "malformed JSON at byte %zu: %s",
			 j.err_at, j.err);
		return why;
	}
	if (!st->has_version || !st->has_pid || !st->has_state)
		return "not a container process state (ociVersion, pid or state missing)";
	if (st->seccomp_index < 0)
		return "no \"seccompFd\" in \"fds\"";
	return NULL;
}

/* ------------------------------------------------------------ containers */

static void close_conn(struct conn *c)
{
	int i;

	for (i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* @fd is a seccomp listener ("anon_inode:seccomp notify") */
static int is_listener(int fd)
{
	char p[64], t[64];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, t, sizeof(t) - 1);
	if (n < 0)
		return 0;
	t[n] = 0;
	return !strcmp(t, "anon_inode:seccomp notify");
}

/* A connection closed: take the container its state describes. */
static void conn_done(struct conn *c)
{
	struct state st;
	const char *why;
	struct ctr *ct;
	int fd;

	why = parse_state(c->buf ? c->buf : "", c->len, &st);
	if (!why && st.seccomp_index >= c->nfds)
		why = "\"seccompFd\" names a descriptor that was not sent";
	if (!why && !is_listener(c->fds[st.seccomp_index]))
		why = "\"seccompFd\" is not a seccomp listener";
	if (!why && nctrs >= MAX_CONTAINERS)
		why = "too many containers";
	if (why) {
		say("refused a container process state (%zu bytes, %d descriptors): %s",
		    c->len, c->nfds, why);
		close_conn(c);
		return;
	}
	fd = c->fds[st.seccomp_index];
	c->fds[st.seccomp_index] = c->fds[--c->nfds];
	close_conn(c);

	ct = calloc(1, sizeof(*ct));
	if (!ct || !(ctrs = reallocarray(ctrs, nctrs + 1, sizeof(*ctrs)))) {
		say("out of memory");
		free(ct);
		close(fd);
		return;
	}
	ct->front = F_OCI;
	ct->fd = fd;
	ct->nr = ++ctr_serial;
	ct->pid = st.pid;
	ct->chan = -1;
	ct->lsnfd = -1;
	snprintf(ct->id, sizeof(ct->id), "%s", esc(st.id[0] ? st.id : "?"));
	ctrs[nctrs++] = ct;
	if (verbose)
		say("container %s (pid %ld): serving its mount(2) calls", ct->id, ct->pid);
}

/* Read what there is on a connection; finish it at EOF. */
static void conn_read(struct conn *c)
{
	char cbuf[CMSG_SPACE(sizeof(int) * MAX_RIGHTS)];
	char tmp[4096];
	struct msghdr mh;
	struct cmsghdr *cm;
	struct iovec iov;
	ssize_t n;

	iov.iov_base = tmp;
	iov.iov_len = sizeof(tmp);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	for (cm = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm)) {
		int k, cnt;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < cnt; k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			if (c->nfds < MAX_RIGHTS && !c->got_rights)
				c->fds[c->nfds++] = fd;
			else
				close(fd);
		}
		if (cnt && c->got_rights)
			n = -2;		/* descriptors in a later message */
		c->got_rights = 1;
	}
	if (n >= 0 && (mh.msg_flags & MSG_CTRUNC))
		n = -3;
	if (n == -1) {
		say("reading a container process state: %m");
		close_conn(c);
		return;
	}
	if (n < -1) {
		say("refused a container process state: %s", n == -2 ?
		    "descriptors sent after the first message" :
		    "too many descriptors");
		close_conn(c);
		return;
	}
	if (n == 0) {
		conn_done(c);
		return;
	}
	if (c->len + n > STATE_MAX) {
		say("refused a container process state: larger than %d bytes", STATE_MAX);
		close_conn(c);
		return;
	}
	c->buf = realloc(c->buf, c->len + n + 1);
	if (!c->buf) {
		say("out of memory");
		close_conn(c);
		return;
	}
	memcpy(c->buf + c->len, tmp, n);
	c->len += n;
	c->buf[c->len] = 0;
	if (!c->begun) {
		c->begun = 1;
		c->deadline = now_plus(CONN_TIMEOUT_MS);
	}
}

/*
 * A connection on listening socket @lfd, from root or our own user (the
 * socket is mode 0600, but may be reached through a descriptor): the
 * descriptor (non-blocking) and @cred, or -1.
 */
static int accept_ours(int lfd, struct ucred *cred)
{
	socklen_t sl = sizeof(*cred);
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			say("accept: %m");
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &sl) ||
	    (cred->uid != 0 && cred->uid != geteuid())) {
		say("refused a connection from uid %d (pid %d): not ours",
		    sl == sizeof(*cred) ? (int)cred->uid : -1,
		    sl == sizeof(*cred) ? (int)cred->pid : -1);
		close(fd);
		return -1;
	}
	return fd;
}

static void accept_conn(int lfd)
{
	struct ucred cred;
	int fd, i;

	fd = accept_ours(lfd, &cred);
	if (fd < 0)
		return;
	for (i = 0; i < MAX_CONNS && conns[i].fd >= 0; i++)
		;
	if (i == MAX_CONNS) {
		say("refused a connection from pid %d: %d others are being read",
		    (int)cred.pid, MAX_CONNS);
		close(fd);
		return;
	}
	memset(&conns[i], 0, sizeof(conns[i]));
	conns[i].fd = fd;
}

/* The container's listener is gone, and nothing is in progress: forget it. */
static void ctr_reap(void)
{
	int i, j;

	for (i = j = 0; i < nctrs; i++) {
		if (ctrs[i]->fd < 0 && !ctrs[i]->busy) {
			if (verbose && ctrs[i]->front == F_OCI)
				say("container %s (pid %ld): gone", ctrs[i]->id, ctrs[i]->pid);
			else if (verbose)
				say("%sconnection closed", ctrs[i]->tag);
			free(ctrs[i]->cookie);
			free(ctrs[i]->notif);
			free(ctrs[i]);
			continue;
		}
		ctrs[j++] = ctrs[i];
	}
	nctrs = j;
}

/* ------------------------------------------------------------ answers */

static void lxc_send_answer(struct ctr *c);

/* What a worker tells the main loop, one message each (SOCK_SEQPACKET) */
struct verdict {
	enum {
		V_ANSWER,	/* answer -err (0: done) */
		V_CONTINUE,	/* let the call continue */
		V_DROPPED,	/* the caller left the call: no answer wanted */
		V_COMMIT,	/* may I mount?  (the main loop sends a byte: yes) */
	} kind;
	int err;
};

/* In a worker: its end of the socketpair to the main loop; else -1 */
static int verdict_fd = -1;

static void send_verdict(int kind, int err)
{
	struct verdict v = { .kind = kind, .err = err };

	if (send(verdict_fd, &v, sizeof(v), MSG_NOSIGNAL) != sizeof(v))
		_exit(1);	/* the main loop is gone, or killed us meanwhile */
}

/*
 * Answer notification @id of @c: -errno, 0, or continue (@cont).  To an
 * OCI container's listener directly; to LXC as the reply to its message
 * (LXC hands resp to the kernel as it is, flags and all).  In a worker:
 * to the main loop, which answers.
 */
static void answer(struct ctr *c, __u64 id, int err, int cont)
{
	if (verdict_fd >= 0) {
		send_verdict(cont ? V_CONTINUE : V_ANSWER, err);
		return;
	}
	memset(resp, 0, sizes.seccomp_notif_resp);
	resp->id = id;
	resp->error = cont ? 0 : -err;
	resp->val = 0;
	resp->flags = cont ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
	if (c->front == F_LXC) {
		lxc_send_answer(c);
		return;
	}
	if (ioctl(c->fd, SECCOMP_IOCTL_NOTIF_SEND, resp) && (verbose || errno != ENOENT))
		say("answering notification %llu: %m%s", (unsigned long long)id,
		    errno == ENOENT ? " (the caller is gone)" : "");
}

/* ------------------------------------------------------------ the caller */

/*
 * The request being decided.  The caller is reached through @procfd only
 * (its /proc/PID directory, opened right after the notification came): if
 * it dies and its pid is reused, lookups through @procfd fail instead of
 * reaching the new process.
 */
struct mreq {
	pid_t pid;
	int procfd, memfd;
	unsigned long flags;
	char src[PATH_MAX], tgt[PATH_MAX], type[TYPE_MAX + 1];
	char data[DATA_MAX];
	int has_data;
	/* for the helper */
	int rootfd, cwdfd, mntnsfd, nodefd, devfd;
	dev_t rdev;
};

static struct mreq mr;

static void mreq_close(struct mreq *m)
{
	int *fds[] = { &m->procfd, &m->memfd, &m->rootfd, &m->cwdfd,
		       &m->mntnsfd, &m->nodefd, &m->devfd };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/*
 * A NUL-terminated string of at most @len - 1 bytes at @addr in the caller:
 * 0, -EFAULT (unreadable), or -ENAMETOOLONG (no NUL within @len bytes).
 * Read a page at most at a time, so a string that ends just before an
 * unmapped page is read.
 */
static int read_cstr(int memfd, unsigned long addr, char *buf, size_t len)
{
	size_t have = 0;

	if (!addr)
		return -EFAULT;
	while (have < len) {
		size_t chunk = 4096 - ((addr + have) & 4095);
		ssize_t n;
		char *z;

		if (chunk > len - have)
			chunk = len - have;
		n = pread(memfd, buf + have, chunk, addr + have);
		if (n <= 0)
			return -EFAULT;
		z = memchr(buf + have, 0, n);
		if (z)
			return 0;
		have += n;
	}
	return -ENAMETOOLONG;
}

/* The notification is still pending (the caller is still in the call). */
static int notif_valid(int fd, __u64 id)
{
	return !ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id);
}

/*
 * Notification req of @c is still pending: what we read through @procfd
 * and the caller's memory was the caller's while it was in the call.
 *
 * LXC 5 sends the listener along, so we ask the kernel as for OCI.  LXC 4
 * does not, and then all we know is that the task behind @procfd lives.
 * That is enough for safety, not for freshness: everything about the
 * caller (its memory, root, cwd, namespaces, status) is reached through
 * the /proc/PID directory and /proc/PID/mem that LXC opened while the
 * notification was valid (it checked ID_VALID after opening them), never
 * through its pid, and lookups below the directory of a task that has died
 * fail instead of reaching a process that got the pid since.  A caller that
 * left the call (a signal) and made another one is decided on what it
 * asks now, by its own rights, which is what its next call would get; the
 * kernel drops our answer to the stale notification.
 */
static int still_pending(struct ctr *c, int procfd)
{
	int fd;

	if (c->front == F_OCI)
		return notif_valid(c->fd, req->id);
	if (c->lsnfd >= 0)
		return notif_valid(c->lsnfd, req->id);
	fd = openat(procfd, "stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/*
 * The caller of req left its mount(2) before we decided: the kernel has
 * dropped the notification.  (In a worker: the main loop answers, see
 * worker_msg().)
 */
static void dropped(struct ctr *c)
{
	(void)c;
	send_verdict(V_DROPPED, 0);
}

/* The effective capabilities of the caller, from its status. */
static int caller_capeff(int procfd, unsigned long long *cap)
{
	char buf[4096], *p;
	ssize_t n;
	int fd = openat(procfd, "status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, "\nCapEff:");
	if (!p || sscanf(p + 8, "%llx", cap) != 1)
		return -1;
	return 0;
}

/* fstat() of a namespace file of the caller */
static int ns_stat(int fd, struct stat *st)
{
	return fstat(fd, st);
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * openat2() of absolute @path in the caller's root, as the caller would see
 * it: ".." and absolute symlinks stop at that root, /proc magic links are
 * refused.  The descriptor, or -errno.
 */
static int open_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

/* ------------------------------------------------------------ the helper */

/*
 * In a worker, before it changes anything in the caller's mount namespace:
 * ask the main loop for leave (V_COMMIT), and wait for it.  After its
 * deadline the main loop gives none and kills us instead, so a worker is
 * killed before the staging clone is attached, or not at all.
 */
static void ask_leave(void)
{
	char yes;

	send_verdict(V_COMMIT, 0);
	if (recv(verdict_fd, &yes, 1, 0) != 1)
		_exit(1);
}

/* How the helper did: the error (0: mounted) and where it failed. */
struct report {
	int err;
	char step[120];
};

/* "/proc/self/fd/N"-like names of our descriptors, relative to fddir */
static void fdname(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "%d", fd);
}

/*
 * Lexically normalize absolute @src (no "", "." or ".." components) into
 * @out, relative to "/" (so "a/b/c"): what the mount table will show,
 * made as a path in our private tmpfs.  -1 if nothing is left or the first
 * component is one of ours.
 */
static int display_path(const char *src, char *out, size_t len)
{
	char buf[PATH_MAX], *tok, *save = NULL;
	size_t n = 0, starts[PATH_MAX / 2];
	int depth = 0;

	if (strlen(src) >= sizeof(buf))
		return -1;
	strcpy(buf, src);
	out[0] = 0;
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			if (depth) {
				n = starts[--depth];
				out[n] = 0;
			}
			continue;
		}
		starts[depth++] = n;
		n += snprintf(out + n, len - n, "%s%s", n ? "/" : "", tok);
		if (n >= len)
			return -1;
	}
	if (!n || !strncmp(out, Z_PREFIX, strlen(Z_PREFIX)))
		return -1;
	return 0;
}

/*
 * Create the directories of relative path @rel below @dfd and a symlink
 * @target at its end, never following anything but our own fresh
 * directories.
 */
static int make_link_path(int dfd, const char *rel, const char *target)
{
	char buf[PATH_MAX], *slash, *comp;
	int fd = dup(dfd), next;

	if (fd < 0)
		return -1;
	snprintf(buf, sizeof(buf), "%s", rel);
	comp = buf;
	while ((slash = strchr(comp, '/'))) {
		struct open_how how = {
			.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
				   RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS,
		};

		*slash = 0;
		if (mkdirat(fd, comp, 0700) && errno != EEXIST)
			goto fail;
		next = syscall(SYS_openat2, fd, comp, &how, sizeof(how));
		if (next < 0)
			goto fail;
		close(fd);
		fd = next;
		comp = slash + 1;
	}
	if (symlinkat(target, fd, comp))
		goto fail;
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

/* Read our mountinfo (@selffd: our /proc/PID) for mount @id: shared? */
static int mount_is_shared(int selffd, unsigned long long id)
{
	char line[8192];
	int fd = openat(selffd, "mountinfo", O_RDONLY | O_CLOEXEC), shared = -1;
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;

	if (!f) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long mid;
		char *sep;

		if (sscanf(line, "%llu ", &mid) != 1 || mid != id)
			continue;
		sep = strstr(line, " - ");
		if (sep)
			*sep = 0;
		shared = strstr(line, " shared:") != NULL;
		break;
	}
	fclose(f);
	return shared;
}

static int statx_of(int fd, struct statx *sx)
{
	return statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		     STATX_TYPE | STATX_INO | STATX_MNT_ID, sx);
}

/*
 * The helper: mount mr.type from the pinned node on mr.tgt in the caller's
 * mount namespace with nosuid and nodev locked (see the top of this file).
 * Runs in @c's worker, with leave to mount; logs, answers (to the main
 * loop) and exits.
 */
static void __attribute__((noreturn)) helper(struct ctr *c)
{
	struct report rep = { 0, "" };
	struct mount_attr ma;
	struct statx sx, px;
	struct stat st;
	char disp[PATH_MAX], link[64], name[32];
	int selffd = -1, fddir = -1, sfd = -1, fs, zfd = -1, qfd = -1, bfd = -1;
	int tgtfd = -1, pfd = -1, efd = -1, attached = 0, in_s = 0, r;
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_NO_MAGICLINKS,
	};

#define FAIL(...) do {							\
		rep.err = errno ? errno : EIO;				\
		snprintf(rep.step, sizeof(rep.step), __VA_ARGS__);	\
		goto out;						\
	} while (0)

	if (display_path(mr.src, disp, sizeof(disp))) {
		errno = EINVAL;
		FAIL("source %s cannot be shown in the mount table", esc(mr.src));
	}
	/* Our own /proc/PID (the host's proc), for paths to our descriptors. */
	selffd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (selffd < 0)
		FAIL("open /proc/self");
	fddir = openat(selffd, "fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fddir < 0)
		FAIL("open /proc/self/fd");

	/* 1. S: a mount namespace of our own, private. */
	if (unshare(CLONE_NEWNS))
		FAIL("unshare(CLONE_NEWNS)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		FAIL("making our mounts private");
	in_s = 1;
	sfd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (sfd < 0)
		FAIL("open our mount namespace");
	/* Z: our scratch root, over "/" of S: the host's proc and the source's name */
	fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0700", 0) ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		FAIL("scratch tmpfs");
	zfd = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
		      MOUNT_ATTR_NOEXEC);
	close(fs);
	if (zfd < 0 || move_mount(zfd, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH))
		FAIL("attaching the scratch tmpfs");
	if (mkdirat(zfd, Z_PROC, 0700) || mkdirat(zfd, Z_STAGE, 0700) || fchdir(zfd) ||
	    mount("/proc", Z_PROC, NULL, MS_BIND | MS_REC, NULL))
		FAIL("binding /proc into the scratch tmpfs");
	snprintf(link, sizeof(link), "/" Z_PROC "/self/fd/%d", mr.nodefd);
	if (make_link_path(zfd, disp, link))
		FAIL("making %s in the scratch tmpfs", esc(disp));
	/* X: a small tmpfs, shared, at Z/.mountd-stage, with a directory m */
	fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0700", 0) ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "size", "64k", 0) ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		FAIL("staging tmpfs");
	qfd = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
		      MOUNT_ATTR_NOEXEC);
	close(fs);
	if (qfd < 0 || mkdirat(qfd, "m", 0700) ||
	    move_mount(qfd, "", zfd, Z_STAGE, MOVE_MOUNT_F_EMPTY_PATH))
		FAIL("attaching the staging tmpfs");
	memset(&ma, 0, sizeof(ma));
	ma.propagation = MS_SHARED;
	if (mount_setattr(qfd, "", AT_EMPTY_PATH, &ma, sizeof(ma)))
		FAIL("making the staging tmpfs shared");
	/* 2. B: its clone, a peer, to go into the caller's namespace */
	bfd = open_tree(qfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (bfd < 0)
		FAIL("cloning the staging tmpfs");

	/* In the caller's mount namespace, root and working directory */
	if (setns(mr.mntnsfd, CLONE_NEWNS))
		FAIL("joining the caller's mount namespace");
	in_s = 0;
	if (fchdir(mr.rootfd) || chroot(".") || fchdir(mr.cwdfd))
		FAIL("taking the caller's root and working directory");
	r = syscall(SYS_openat2, AT_FDCWD, mr.tgt, &how, sizeof(how));
	if (r < 0)
		FAIL("target %s", esc(mr.tgt));
	tgtfd = r;
	if (fstat(tgtfd, &st))
		FAIL("target %s", esc(mr.tgt));
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		FAIL("target %s is not a directory", esc(mr.tgt));
	}
	pfd = openat(tgtfd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 || statx_of(tgtfd, &sx) || statx_of(pfd, &px))
		FAIL("the target's parent directory");
	if (sx.stx_mnt_id == px.stx_mnt_id && sx.stx_ino == px.stx_ino) {
		errno = EBUSY;
		FAIL("target %s is the caller's root", esc(mr.tgt));
	}
	r = mount_is_shared(selffd, px.stx_mnt_id);
	if (r) {
		errno = r < 0 ? EIO : EINVAL;
		FAIL(r < 0 ? "reading mountinfo" :
		     "the mount holding the target's parent directory is shared");
	}
	ask_leave();	/* (no deadline, no kill from here on) */
	if (move_mount(bfd, "", pfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH))
		FAIL("attaching the staging clone over the target's parent");
	attached = 1;

	/* 3. the mount, in S, on X/m: propagates to B/m, locked */
	if (setns(sfd, CLONE_NEWNS))
		FAIL("going back to our mount namespace");
	in_s = 1;
	if (fchdir(zfd) || chroot("."))
		FAIL("entering the scratch tmpfs");
	{
		char src[PATH_MAX + 1];

		snprintf(src, sizeof(src), "/%s", disp);
		if (mount(src, "/" Z_STAGE "/m", mr.type,
			  mr.flags | MS_NOSUID | MS_NODEV,
			  mr.has_data ? mr.data : NULL))
			FAIL("mount");
	}

	/* 4. in the caller's namespace: check, tidy, move, detach B */
	if (setns(mr.mntnsfd, CLONE_NEWNS))
		FAIL("joining the caller's mount namespace again");
	in_s = 0;
	efd = openat(bfd, "m", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (efd < 0 || fstat(efd, &st))
		FAIL("finding the propagated mount");
	if (statx(efd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) ||
	    !(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
	    !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) || st.st_dev != mr.rdev) {
		errno = EBUSY;
		FAIL("the mount did not reach the caller's namespace");
	}
	/*
	 * Locked?  A change of the atime flags is refused (EPERM) exactly
	 * when lock_mnt_tree() ran, which locked nosuid and nodev with them.
	 */
	memset(&ma, 0, sizeof(ma));
	ma.attr_clr = MOUNT_ATTR__ATIME;
	ma.attr_set = (mr.flags & MS_NOATIME) ? MOUNT_ATTR_STRICTATIME : MOUNT_ATTR_NOATIME;
	if (!mount_setattr(efd, "", AT_EMPTY_PATH, &ma, sizeof(ma)) || errno != EPERM) {
		errno = EPERM;
		FAIL("the kernel did not lock the mount's flags");
	}
	memset(&ma, 0, sizeof(ma));
	ma.propagation = MS_PRIVATE;
	if (mount_setattr(bfd, "", AT_EMPTY_PATH, &ma, sizeof(ma)) ||
	    mount_setattr(efd, "", AT_EMPTY_PATH, &ma, sizeof(ma)))
		FAIL("making the mounts private");
	if (move_mount(efd, "", tgtfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH))
		FAIL("moving the mount onto the target");
	rep.err = 0;
	snprintf(rep.step, sizeof(rep.step), "mounted");
out:
	/* Detach B (and, on failure, whatever is on it) */
	if (attached) {
		if (in_s && setns(mr.mntnsfd, CLONE_NEWNS)) {
			if (!rep.err)
				rep.err = errno;
			snprintf(rep.step, sizeof(rep.step), "joining the caller's namespace to clean up");
		} else {
			fdname(name, sizeof(name), bfd);
			if (fchdir(fddir) || umount2(name, MNT_DETACH)) {
				if (!rep.err) {
					rep.err = errno;
					snprintf(rep.step, sizeof(rep.step),
						 "detaching the staging clone");
				}
			}
		}
	}
	rep.step[sizeof(rep.step) - 1] = 0;
	if (!rep.err)
		say("%spid %d: mounted %s on %s type %s (flags 0x%lx, nosuid and nodev forced and locked)",
		    c->tag, mr.pid, esc(mr.src), esc(mr.tgt), esc(mr.type), mr.flags);
	else
		say("%spid %d: mount of %s on %s type %s failed: %s (%s)", c->tag, mr.pid,
		    esc(mr.src), esc(mr.tgt), esc(mr.type), rep.step, errname(rep.err));
	answer(c, req->id, rep.err, 0);
	_exit(0);
#undef FAIL
}

/* ------------------------------------------------------------ decisions */

static int type_allowed(const char *t)
{
	int i;

	for (i = 0; i < ntypes; i++)
		if (!strcmp(types[i], t))
			return 1;
	return 0;
}

static void refuse(struct ctr *c, struct mreq *m, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void refuse(struct ctr *c, struct mreq *m, int err, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	say("%spid %d: refused mount of %s on %s type %s: %s (%s)", c->tag, m->pid,
	    esc(m->src), esc(m->tgt), esc(m->type), why, errname(err));
	answer(c, req->id, err, 0);
}

static void cont(struct ctr *c, const char *why)
{
	if (verbose)
		say("%spid %d: mount(2) continued: %s", c->tag, req->pid, why);
	answer(c, req->id, 0, 1);
}

/*
 * Decide mount(2) notification req of container @c, in its worker (never in
 * the main loop: here the caller's memory and paths are read): answer it,
 * or mount and answer.  @procfd and @memfd are the caller's /proc/PID
 * directory and memory if the front end has them (LXC), else -1 and we
 * open them; they are ours to close.
 */
static void decide_mount(struct ctr *c, int procfd, int memfd)
{
	const struct seccomp_data *d = &req->data;
	struct mreq *m = &mr;
	struct stat st, ist, ns_owner, caller_ns;
	struct statfs sfs;
	unsigned long long cap;
	char p[64];
	int r, ifd, ufd, nsown;

	memset(m, 0, offsetof(struct mreq, src));
	m->procfd = m->memfd = m->rootfd = m->cwdfd = m->mntnsfd = -1;
	m->nodefd = m->devfd = -1;
	m->procfd = procfd;
	m->memfd = memfd;
	m->src[0] = m->tgt[0] = m->type[0] = 0;
	m->has_data = 0;
	m->pid = req->pid;
	m->flags = d->args[3];

	if (m->procfd < 0) {
		snprintf(p, sizeof(p), "/proc/%d", m->pid);
		m->procfd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (m->procfd >= 0)
			m->memfd = openat(m->procfd, "mem", O_RDONLY | O_CLOEXEC);
	}
	if (m->memfd < 0) {
		r = errno;
		if (still_pending(c, m->procfd))
			refuse(c, m, EPERM, "cannot read the caller's memory: %s",
			       strerror(r));
		else
			dropped(c);
		goto out;
	}
	r = d->args[2] ? read_cstr(m->memfd, d->args[2], m->type, sizeof(m->type)) : -EFAULT;
	if (r || !type_allowed(m->type)) {
		/* (a type we do not mount, or none the kernel will accept) */
		mreq_close(m);
		cont(c, "not a filesystem type we mount");
		return;
	}
	r = read_cstr(m->memfd, d->args[0], m->src, sizeof(m->src));
	if (!r)
		r = read_cstr(m->memfd, d->args[1], m->tgt, sizeof(m->tgt));
	if (!r && d->args[4]) {
		m->has_data = 1;
		r = read_cstr(m->memfd, d->args[4], m->data, sizeof(m->data));
		if (r == -ENAMETOOLONG)
			r = -EINVAL;
	}
	/* The strings were the caller's if it is still in the call. */
	if (!still_pending(c, m->procfd)) {
		dropped(c);
		goto out;
	}
	if (r) {
		refuse(c, m, -r, "cannot read the arguments");
		goto out;
	}

	/* May the caller mount at all?  (CAP_SYS_ADMIN over its mount ns) */
	m->mntnsfd = openat(m->procfd, "ns/mnt", O_RDONLY | O_CLOEXEC);
	ufd = openat(m->procfd, "ns/user", O_RDONLY | O_CLOEXEC);
	nsown = m->mntnsfd >= 0 ? ioctl(m->mntnsfd, NS_GET_USERNS) : -1;
	r = ufd < 0 || nsown < 0 || ns_stat(ufd, &caller_ns) || ns_stat(nsown, &ns_owner);
	if (ufd >= 0)
		close(ufd);
	if (nsown >= 0)
		close(nsown);
	if (r) {
		refuse(c, m, EPERM, "cannot read the caller's namespaces: %s", strerror(errno));
		goto out;
	}
	if (same_file(&ns_owner, &own_userns)) {
		mreq_close(m);
		cont(c, "the caller's mount namespace is owned by our user namespace");
		return;
	}
	if (!same_file(&caller_ns, &ns_owner) || caller_capeff(m->procfd, &cap) ||
	    !(cap & (1ULL << 21 /* CAP_SYS_ADMIN */))) {
		refuse(c, m, EPERM, "the caller has no CAP_SYS_ADMIN in the user namespace owning its mount namespace");
		goto out;
	}

	/* The source: a node of the caller's own instance, in its view. */
	if (m->src[0] != '/') {
		refuse(c, m, EINVAL, "the source is not an absolute path");
		goto out;
	}
	m->rootfd = openat(m->procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	m->cwdfd = openat(m->procfd, "cwd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (m->rootfd < 0 || m->cwdfd < 0 || m->mntnsfd < 0) {
		refuse(c, m, EPERM, "cannot open the caller's root, cwd or mount namespace: %s",
		       strerror(errno));
		goto out;
	}
	r = open_in_root(m->rootfd, m->src, O_PATH);
	if (r < 0) {
		refuse(c, m, -r, "looking the source up in the caller's root: %s", strerror(-r));
		goto out;
	}
	m->nodefd = r;
	if (fstat(m->nodefd, &st) || fstatfs(m->nodefd, &sfs)) {
		refuse(c, m, EPERM, "stat of the source: %s", strerror(errno));
		goto out;
	}
	if (!S_ISBLK(st.st_mode)) {
		refuse(c, m, EPERM, "not a block device node");
		goto out;
	}
	if (sfs.f_type != LOOPFS_SUPER_MAGIC) {
		refuse(c, m, EPERM, "not a node of a loopfs instance (file system type 0x%lx)",
		       (unsigned long)sfs.f_type);
		goto out;
	}
	ifd = open_in_root(m->rootfd, inst_path, O_PATH | O_DIRECTORY);
	if (ifd < 0) {
		refuse(c, m, EPERM, "no loopfs instance at %s in the caller's root: %s",
		       inst_path, strerror(-ifd));
		goto out;
	}
	r = fstat(ifd, &ist) || fstatfs(ifd, &sfs);
	close(ifd);
	if (r || sfs.f_type != LOOPFS_SUPER_MAGIC) {
		refuse(c, m, EPERM, "no loopfs instance at %s in the caller's root", inst_path);
		goto out;
	}
	if (ist.st_dev != st.st_dev) {
		refuse(c, m, EPERM, "a node of another loopfs instance than the caller's at %s",
		       inst_path);
		goto out;
	}
	/* It must open: a node whose device is gone does not (ENXIO). */
	snprintf(p, sizeof(p), "/proc/self/fd/%d", m->nodefd);
	m->devfd = open(p, ((m->flags & MS_RDONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (m->devfd < 0) {
		r = errno;
		refuse(c, m, r, "opening the node: %s", strerror(r));
		goto out;
	}
	m->rdev = st.st_rdev;
	if (!still_pending(c, m->procfd)) {
		dropped(c);
		goto out;
	}
	helper(c);
out:
	mreq_close(m);
}

/* Close our descriptors from 3 up, but the @n (sorted, or -1) of @keep. */
static void close_all_but(const int *keep, int n)
{
	unsigned int from = 3;
	int i;

	for (i = 0; i < n; i++) {
		if (keep[i] < (int)from)
			continue;
		if ((unsigned int)keep[i] > from)
			close_range(from, keep[i] - 1, 0);
		from = keep[i] + 1;
	}
	close_range(from, ~0U, 0);
}

/*
 * @c's worker, a child of the main loop: it holds the caller's @procfd and
 * @memfd (or -1), the listener (to ask whether the call is still pending)
 * and @chan, and nothing else of ours (not the other containers'
 * descriptors: a worker stuck in a fault keeps what it holds).
 */
static void __attribute__((noreturn)) worker(struct ctr *c, int chan, int procfd,
					     int memfd)
{
	int keep[4] = { chan, procfd, memfd, c->front == F_OCI ? c->fd : c->lsnfd };
	int i, j, t;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != supervisor)
		_exit(1);
	for (i = 1; i < 4; i++)
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	close_all_but(keep, 4);
	if (c->front == F_LXC)
		c->fd = -1;		/* (closed: the main loop answers LXC) */
	verdict_fd = chan;
	decide_mount(c, procfd, memfd);
	_exit(0);
}

/*
 * Start @c's worker for req (@procfd, @memfd: as for decide_mount(); ours
 * to close).  @c is busy until the worker is gone; its other calls wait in
 * the kernel, or in LXC's monitor, meanwhile.
 */
static void start_worker(struct ctr *c, int procfd, int memfd)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		say("%spid %d: refused mount(2): socketpair: %m (EAGAIN)", c->tag, req->pid);
		pid = -1;
		goto fail;
	}
	fflush(stderr);
	pid = fork();
	if (!pid) {
		close(sv[0]);
		worker(c, sv[1], procfd, memfd);
	}
	close(sv[1]);
	if (pid < 0) {
		say("%spid %d: refused mount(2): fork: %m (EAGAIN)", c->tag, req->pid);
		close(sv[0]);
	}
fail:
	if (procfd >= 0)
		close(procfd);
	if (memfd >= 0)
		close(memfd);
	if (pid < 0) {
		answer(c, req->id, EAGAIN, 0);
		return;
	}
	c->busy = 1;
	c->worker = pid;
	c->chan = sv[0];
	c->notif_id = req->id;
	c->caller = req->pid;
	c->committed = 0;
	c->answered = 0;
	c->decide_by = now_plus(DECIDE_MS);
}

/*
 * A message (or the end) from @c's worker: 1 if one was taken, 0 if none
 * was there, -1 when the worker is gone (then @c is no longer busy).
 */
static int worker_msg(struct ctr *c)
{
	struct verdict v;
	ssize_t n;

	n = recv(c->chan, &v, sizeof(v), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == sizeof(v) && v.kind == V_COMMIT) {
		/* (answered: too late, it is being killed; no leave) */
		if (!c->answered && send(c->chan, "y", 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
			c->committed = 1;
		return 1;
	}
	if (n == sizeof(v)) {
		if (c->answered)
			return 1;
		c->answered = 1;
		if (c->fd < 0)
			return 1;	/* (the container is gone) */
		if (v.kind == V_DROPPED) {
			/* A listener wants no answer; LXC waits for one (ENOENT) */
			if (c->front == F_LXC)
				answer(c, c->notif_id, ENOENT, 0);
			return 1;
		}
		answer(c, c->notif_id, v.err, v.kind == V_CONTINUE);
		return 1;
	}
	/* EOF: the worker is gone (SIGCHLD reaps it) */
	if (!c->answered) {
		say("%spid %d: mount(2) not decided: the worker died (EIO)", c->tag, c->caller);
		if (c->fd >= 0)
			answer(c, c->notif_id, EIO, 0);
	}
	close(c->chan);
	c->chan = -1;
	c->busy = 0;
	return -1;
}

/*
 * @c's worker has not asked leave to mount by its deadline: the caller's
 * memory or paths keep it waiting (or it is slow).  Answer EAGAIN and kill
 * it; @c stays busy until it is gone (it may stay stuck in the kernel until
 * what it waits for goes away).
 */
static void worker_late(struct ctr *c)
{
	while (worker_msg(c) > 0 && !c->committed && !c->answered)
		;			/* (take what it said in time) */
	if (!c->busy || c->committed || c->answered)
		return;
	say("%spid %d: refused mount(2): reading and checking its arguments took longer than %d s (EAGAIN)",
	    c->tag, c->caller, DECIDE_MS / 1000);
	c->answered = 1;
	if (c->fd >= 0)
		answer(c, c->notif_id, EAGAIN, 0);
	kill(c->worker, SIGKILL);
}

/*
 * Notification req of @c, whichever front end it came through (@procfd,
 * @memfd: as for decide_mount()).
 */
static void decide(struct ctr *c, int procfd, int memfd)
{
	/* What the notification alone decides; the rest is the worker's. */
	if (req->data.arch != AUDIT_ARCH_X86_64 || req->data.nr != SYS_mount) {
		say("%spid %d: refused system call %d (arch 0x%x): only x86_64 mount(2) is handled",
		    c->tag, req->pid, req->data.nr, req->data.arch);
		answer(c, req->id, EPERM, 0);
	} else if (req->data.args[3] & (MS_REMOUNT | MS_BIND | MS_MOVE | MS_SHARED |
					MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)) {
		cont(c, "remount, bind, move or propagation change");
	} else if (!req->pid) {
		answer(c, req->id, EPERM, 0);
		say("%srefused a mount(2) of a task outside our pid namespace", c->tag);
	} else {
		start_worker(c, procfd, memfd);
		return;
	}
	if (procfd >= 0)
		close(procfd);
	if (memfd >= 0)
		close(memfd);
}

/* A notification on @c's listener (OCI). */
static void handle_notif(struct ctr *c)
{
	memset(req, 0, sizes.seccomp_notif);
	if (ioctl(c->fd, SECCOMP_IOCTL_NOTIF_RECV, req)) {
		if (errno != ENOENT && errno != EINTR)
			say("container %s: receiving a notification: %m", c->id);
		return;
	}
	decide(c, -1, -1);
}

/* ------------------------------------------------------------ LXC */

/*
 * LXC's seccomp notify proxy protocol (src/lxc/seccomp.c of LXC:
 * lxc_seccomp_setup_proxy(), seccomp_notify_handler()).  The container's
 * monitor holds the listener.  At the container's start it connects to us
 * (SOCK_SEQPACKET, 30 s send and receive timeouts) and keeps the connection;
 * for each notification it opens /proc/PID and /proc/PID/mem of the caller,
 * checks that the notification is still valid (so both are the caller's),
 * and sends one message:
 *
 *	struct lxc_proxy_msg, the struct seccomp_notif, a struct
 *	seccomp_notif_resp (sizes as in the header), the cookie
 *	(cookie_len bytes, no NUL); SCM_RIGHTS: /proc/PID, /proc/PID/mem,
 *	and, since LXC 5, the listener.
 *
 * It then waits for one message of exactly the header, notification and
 * response (no cookie), takes the response as it is (resp.id must be the
 * notification's), and hands it to the kernel; for anything else (a short
 * message, a closed connection, no answer within 30 s) it answers ENOSYS
 * itself.  It sends the next notification only after that, so there is at
 * most one request on a connection, and while its worker lives, we
 * simply do not read it.
 */

static char *lxc_buf;				/* one message */
static size_t lxc_bufsz;

/* @c's connection is done with: LXC reconnects for its next notification. */
static void ctr_close(struct ctr *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->lsnfd >= 0)
		close(c->lsnfd);
	c->lsnfd = -1;
	c->pending = 0;
}

/* The reply to @c's request: its header and notification, and resp. */
static void lxc_send_answer(struct ctr *c)
{
	struct iovec iov[3] = {
		{ &c->hdr, sizeof(c->hdr) },
		{ c->notif, c->hdr.sizes.seccomp_notif },
		{ resp, c->hdr.sizes.seccomp_notif_resp },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };
	size_t len = iov[0].iov_len + iov[1].iov_len + iov[2].iov_len;
	ssize_t n;

	if (c->fd < 0 || !c->pending)
		return;
	c->pending = 0;
	if (!ms_until(&c->answer_by)) {
		say("%spid %d: the answer (%s) came too late for LXC, which waits 30 s: closing the connection",
		    c->tag, (int)c->notif->pid,
		    resp->flags ? "continue" : resp->error ? errname(-resp->error) : "0");
		ctr_close(c);
		return;
	}
	c->hdr.reserved = 0;
	n = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
		say("%sanswering: %s: closing the connection", c->tag,
		    n < 0 ? strerror(errno) : "short send");
		ctr_close(c);
	}
}

/* Is @fd what LXC says it is: a /proc/PID directory (@dir) or /proc/PID/mem? */
static int lxc_proc_fd(int fd, int dir)
{
	struct statfs sfs;
	struct stat st;

	if (fstat(fd, &st) || fstatfs(fd, &sfs) || sfs.f_type != PROC_SUPER_MAGIC)
		return 0;
	return dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

/* Check the message of @n bytes in lxc_buf with @nfds descriptors @fds. */
static const char *lxc_check(struct ctr *c, ssize_t n, const int *fds, int nfds,
			     struct lxc_proxy_msg *hdr)
{
	static char why[160];
	size_t base = sizeof(*hdr) + ksizes.seccomp_notif + ksizes.seccomp_notif_resp;
	const char *cookie;

	if ((size_t)n < sizeof(*hdr)) {
		snprintf(why, sizeof(why), "%zd bytes, shorter than its header", n);
		return why;
	}
	memcpy(hdr, lxc_buf, sizeof(*hdr));
	if (hdr->reserved)
		return "the reserved field is not 0";
	if (hdr->sizes.seccomp_notif != ksizes.seccomp_notif ||
	    hdr->sizes.seccomp_notif_resp != ksizes.seccomp_notif_resp ||
	    hdr->sizes.seccomp_data != ksizes.seccomp_data) {
		snprintf(why, sizeof(why), "structure sizes %u, %u, %u, not the kernel's %u, %u, %u",
			 hdr->sizes.seccomp_notif, hdr->sizes.seccomp_notif_resp,
			 hdr->sizes.seccomp_data, ksizes.seccomp_notif,
			 ksizes.seccomp_notif_resp, ksizes.seccomp_data);
		return why;
	}
	if (hdr->cookie_len > LXC_COOKIE_MAX) {
		snprintf(why, sizeof(why), "a cookie of %llu bytes (at most %d)",
			 (unsigned long long)hdr->cookie_len, LXC_COOKIE_MAX);
		return why;
	}
	if ((size_t)n != base + hdr->cookie_len) {
		snprintf(why, sizeof(why), "%zd bytes, want %zu", n,
			 base + (size_t)hdr->cookie_len);
		return why;
	}
	cookie = lxc_buf + base;
	if (memchr(cookie, 0, hdr->cookie_len))
		return "a NUL byte in the cookie";
	if (nfds != 2 && nfds != 3) {
		snprintf(why, sizeof(why), "%d descriptors, want 2 or 3", nfds);
		return why;
	}
	if (!lxc_proc_fd(fds[0], 1) || !lxc_proc_fd(fds[1], 0))
		return "the descriptors are not a /proc/PID directory and its mem";
	if (nfds == 3 && !is_listener(fds[2]))
		return "the third descriptor is not a seccomp listener";
	/* One connection, one container: its first message says which. */
	if (c->known && (hdr->monitor_pid != c->hdr.monitor_pid ||
			 hdr->init_pid != c->hdr.init_pid ||
			 hdr->cookie_len != strlen(c->cookie) ||
			 memcmp(cookie, c->cookie, hdr->cookie_len)))
		return "another container (monitor, init or cookie) than the connection's first message";
	return NULL;
}

/*
 * A message (or the end) on LXC connection @c.  Anything wrong with it
 * closes the connection: LXC answers that notification ENOSYS itself and
 * connects again for its next one.
 */
static void lxc_read(struct ctr *c)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * MAX_RIGHTS)];
		struct cmsghdr align;
	} cbuf;
	struct lxc_proxy_msg hdr;
	struct cmsghdr *cm;
	struct msghdr mh;
	struct iovec iov;
	int fds[MAX_RIGHTS], nfds = 0, k;
	const char *why;
	ssize_t n;

	iov.iov_base = lxc_buf;
	iov.iov_len = lxc_bufsz;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.b;
	mh.msg_controllen = sizeof(cbuf.b);
	/* (MSG_TRUNC: the length of the message, also of one too long) */
	n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		say("%sreceiving: %m: closing the connection", c->tag);
		ctr_close(c);
		return;
	}
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		int cnt;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < cnt; k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			if (nfds < MAX_RIGHTS)
				fds[nfds++] = fd;
			else
				close(fd);
		}
	}
	if (!n && !nfds) {
		/* LXC's monitor closed it: the container stopped. */
		ctr_close(c);
		return;
	}
	if (mh.msg_flags & MSG_CTRUNC)
		why = "too many descriptors";
	else
		why = lxc_check(c, n, fds, nfds, &hdr);
	if (why) {
		say("%srefused a message of LXC (%zd bytes, %d descriptors): %s: closing the connection",
		    c->tag, n, nfds, why);
		for (k = 0; k < nfds; k++)
			close(fds[k]);
		ctr_close(c);
		return;
	}
	if (!c->known) {
		size_t base = sizeof(hdr) + ksizes.seccomp_notif + ksizes.seccomp_notif_resp;

		c->cookie = strndup(lxc_buf + base, hdr.cookie_len);
		if (!c->cookie) {
			say("out of memory");
			for (k = 0; k < nfds; k++)
				close(fds[k]);
			ctr_close(c);
			return;
		}
		c->known = 1;
		if (hdr.cookie_len)
			snprintf(c->tag, sizeof(c->tag), "lxc (monitor %d, init %d, cookie %s): ",
				 (int)hdr.monitor_pid, (int)hdr.init_pid, esc(c->cookie));
		else
			snprintf(c->tag, sizeof(c->tag), "lxc (monitor %d, init %d): ",
				 (int)hdr.monitor_pid, (int)hdr.init_pid);
		if (verbose)
			say("%sserving its mount(2) calls (LXC %s the listener)", c->tag,
			    nfds == 3 ? "sends" : "does not send");
	}
	c->hdr = hdr;
	memcpy(c->notif, lxc_buf + sizeof(hdr), ksizes.seccomp_notif);
	memset(req, 0, sizes.seccomp_notif);
	memcpy(req, lxc_buf + sizeof(hdr), ksizes.seccomp_notif);
	c->lsnfd = nfds == 3 ? fds[2] : -1;
	c->pending = 1;
	c->answer_by = now_plus(LXC_ANSWER_MS);
	decide(c, fds[0], fds[1]);
	if (c->lsnfd >= 0)
		close(c->lsnfd);
	c->lsnfd = -1;
	if (c->pending && !c->busy) {
		/* (every way through decide() answers or starts a helper) */
		say("%spid %d: no answer was given: EPERM", c->tag, (int)req->pid);
		answer(c, req->id, EPERM, 0);
	}
}

/* An LXC monitor connects (on -x): a container, until it closes. */
static void lxc_accept(int lfd)
{
	struct ucred cred;
	struct ctr *ct, **n;
	int fd;

	fd = accept_ours(lfd, &cred);
	if (fd < 0)
		return;
	if (nctrs >= MAX_CONTAINERS) {
		say("refused a connection of LXC (pid %d): too many containers", (int)cred.pid);
		close(fd);
		return;
	}
	ct = calloc(1, sizeof(*ct));
	n = ct ? reallocarray(ctrs, nctrs + 1, sizeof(*ctrs)) : NULL;
	if (n)
		ctrs = n;
	if (!ct || !n || !(ct->notif = calloc(1, sizes.seccomp_notif))) {
		say("out of memory");
		free(ct);
		close(fd);
		return;
	}
	ct->front = F_LXC;
	ct->fd = fd;
	ct->nr = ++ctr_serial;
	ct->pid = cred.pid;
	ct->chan = -1;
	ct->lsnfd = -1;
	snprintf(ct->id, sizeof(ct->id), "lxc-%lu", ct->nr);
	snprintf(ct->tag, sizeof(ct->tag), "lxc (connection %lu, pid %d): ", ct->nr,
		 (int)cred.pid);
	ctrs[nctrs++] = ct;
	if (verbose)
		say("%sconnected", ct->tag);
}

/* ------------------------------------------------------------ set-up */

static void parse_types(const char *list)
{
	const char *s = list;

	ntypes = 0;
	while (*s) {
		size_t n = strcspn(s, ",");
		size_t k;

		if (!n || n >= TYPE_MAX || ntypes == MAX_TYPES)
			die("bad -t '%s': want names of up to %d characters, comma separated",
			    list, TYPE_MAX - 1);
		for (k = 0; k < n; k++)
			if (!isalnum((unsigned char)s[k]) && !strchr("._-", s[k]))
				die("bad -t '%s': '%.*s' is not a filesystem type name",
				    list, (int)n, s);
		memcpy(types[ntypes], s, n);
		types[ntypes++][n] = 0;
		s += n;
		if (*s == ',')
			s++;
	}
	if (!ntypes)
		die("bad -t '': want at least one filesystem type");
}

/* -i: absolute, no "." or "..", no repeated or trailing slash */
static void parse_instance(const char *path)
{
	char buf[PATH_MAX], *tok, *save = NULL;
	size_t n = 0;

	if (path[0] != '/' || strlen(path) >= sizeof(buf))
		die("bad -i '%s': want an absolute path", path);
	strcpy(buf, path);
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, ".") || !strcmp(tok, ".."))
			die("bad -i '%s': no . or .. components, please", path);
		n += snprintf(inst_path + n, sizeof(inst_path) - n, "/%s", tok);
	}
	if (!n)
		die("bad -i '%s': the instance cannot be the root", path);
}

/* Listen on UNIX socket @path of @type (SOCK_STREAM, SOCK_SEQPACKET). */
static int listen_on(const char *path, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, probe;

	if (strlen(path) >= sizeof(sa.sun_path))
		die("socket path %s: too long", path);
	strcpy(sa.sun_path, path);
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			die("%s exists and is not a socket", path);
		probe = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
		if (probe >= 0 && !connect(probe, (struct sockaddr *)&sa, sizeof(sa)))
			die("%s: another supervisor listens there", path);
		if (probe >= 0 && errno == EPROTOTYPE)
			die("%s: another program listens there (on a socket of another type)",
			    path);
		if (probe >= 0)
			close(probe);
		if (unlink(path))
			die("removing the stale socket %s: %m", path);
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die("socket: %m");
	old = umask(0077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("bind %s: %m", path);
	umask(old);
	if (listen(fd, 16))
		die("listen %s: %m", path);
	return fd;
}

/* ------------------------------------------------------------ main */

enum { P_SIG, P_LISTEN, P_LXC_LISTEN, P_CONN, P_CTR, P_WORKER };

/*
 * Signals: a stop signal, or SIGCHLD (a worker ended: reap it, and any
 * other; we never wait for one).  1 to stop.
 */
static int take_signals(int sfd)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(sfd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo != SIGCHLD)
			stop = 1;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return stop;
}

int main(int argc, char **argv)
{
	struct pollfd *pfd = NULL;
	int *tag = NULL, *idx = NULL;
	const char *type_list = DEFAULT_TYPES;
	int c, lfd = -1, xfd = -1, sfd, stop = 0, i, n, cap = 0;
	sigset_t sigs;

	strcpy(inst_path, DEFAULT_INSTANCE);
	for (c = 1; c < argc; c++)
		if (!strcmp(argv[c], "--help")) {
			fputs(usage_text, stdout);
			return 0;
		}
	while ((c = getopt(argc, argv, "s:x:i:t:vh")) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 'x':
			lxc_path = optarg;
			break;
		case 'i':
			parse_instance(optarg);
			break;
		case 't':
			type_list = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc || (!sock_path && !lxc_path))
		goto usage;
	if (sock_path && lxc_path && !strcmp(sock_path, lxc_path))
		die("-s and -x name the same socket %s", sock_path);
	parse_types(type_list);
	setvbuf(stderr, NULL, _IOLBF, 0);

	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes))
		die("seccomp(SECCOMP_GET_NOTIF_SIZES): %m (a kernel without seccomp user notifications?)");
	ksizes = sizes;
	if (sizes.seccomp_notif < sizeof(struct seccomp_notif))
		sizes.seccomp_notif = sizeof(struct seccomp_notif);
	if (sizes.seccomp_notif_resp < sizeof(struct seccomp_notif_resp))
		sizes.seccomp_notif_resp = sizeof(struct seccomp_notif_resp);
	req = calloc(1, sizes.seccomp_notif);
	resp = calloc(1, sizes.seccomp_notif_resp);
	lxc_bufsz = sizeof(struct lxc_proxy_msg) + ksizes.seccomp_notif +
		    ksizes.seccomp_notif_resp + LXC_COOKIE_MAX;
	lxc_buf = malloc(lxc_bufsz);
	if (!req || !resp || !lxc_buf)
		die("out of memory");
	supervisor = getpid();
	if (stat("/proc/self/ns/user", &own_userns))
		die("/proc/self/ns/user: %m");

	block_stop_signals(&sigs);
	sigaddset(&sigs, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL))
		die("sigprocmask: %m");
	sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd: %m");
	for (i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	if (sock_path) {
		lfd = listen_on(sock_path, SOCK_STREAM);
		say("listening on %s (instance %s, types %s)", sock_path, inst_path, type_list);
	}
	if (lxc_path) {
		xfd = listen_on(lxc_path, SOCK_SEQPACKET);
		say("listening for LXC on %s (instance %s, types %s)", lxc_path, inst_path,
		    type_list);
	}

	while (!stop) {
		long timeout = -1;

		if (cap < 3 + MAX_CONNS + 2 * nctrs) {
			cap = 3 + MAX_CONNS + 2 * nctrs + 16;
			pfd = reallocarray(pfd, cap, sizeof(*pfd));
			tag = reallocarray(tag, cap, sizeof(*tag));
			idx = reallocarray(idx, cap, sizeof(*idx));
			if (!pfd || !tag || !idx)
				die("out of memory");
		}
		n = 0;
		pfd[n] = (struct pollfd){ sfd, POLLIN, 0 };
		tag[n++] = P_SIG;
		if (lfd >= 0) {
			pfd[n] = (struct pollfd){ lfd, POLLIN, 0 };
			tag[n++] = P_LISTEN;
		}
		if (xfd >= 0) {
			pfd[n] = (struct pollfd){ xfd, POLLIN, 0 };
			tag[n++] = P_LXC_LISTEN;
		}
		for (i = 0; i < MAX_CONNS; i++) {
			long ms;

			if (conns[i].fd < 0)
				continue;
			ms = conns[i].begun ? ms_until(&conns[i].deadline) : -1;
			if (!ms) {
				say("refused a container process state: not complete %d s after it began",
				    CONN_TIMEOUT_MS / 1000);
				close_conn(&conns[i]);
				continue;
			}
			if (ms > 0 && (timeout < 0 || ms < timeout))
				timeout = ms;
			pfd[n] = (struct pollfd){ conns[i].fd, POLLIN, 0 };
			tag[n] = P_CONN;
			idx[n++] = i;
		}
		for (i = 0; i < nctrs; i++) {
			long ms;

			/* A worker deciding: its deadline (it may end it here) */
			if (!ctrs[i]->busy || ctrs[i]->committed || ctrs[i]->answered)
				continue;
			ms = ms_until(&ctrs[i]->decide_by);
			if (!ms)
				worker_late(ctrs[i]);
			else if (timeout < 0 || ms < timeout)
				timeout = ms;
		}
		for (i = 0; i < nctrs; i++) {
			/* A busy container's calls wait in the kernel (or LXC). */
			if (ctrs[i]->fd >= 0 && !ctrs[i]->busy) {
				pfd[n] = (struct pollfd){ ctrs[i]->fd, POLLIN, 0 };
				tag[n] = P_CTR;
				idx[n++] = i;
			}
			if (ctrs[i]->busy) {
				pfd[n] = (struct pollfd){ ctrs[i]->chan, POLLIN, 0 };
				tag[n] = P_WORKER;
				idx[n++] = i;
			}
		}
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %m");
		}
		for (i = 0; i < n; i++) {
			struct ctr *ct;

			if (!pfd[i].revents)
				continue;
			switch (tag[i]) {
			case P_SIG:
				stop = take_signals(sfd);
				break;
			case P_LISTEN:
				accept_conn(lfd);
				break;
			case P_LXC_LISTEN:
				lxc_accept(xfd);
				break;
			case P_CONN:
				conn_read(&conns[idx[i]]);
				break;
			case P_CTR:
				ct = ctrs[idx[i]];
				if (ct->front == F_LXC)
					lxc_read(ct);	/* a message, EOF or an error */
				else if (pfd[i].revents & POLLIN)
					handle_notif(ct);
				else if (pfd[i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
					close(ct->fd);
					ct->fd = -1;
				}
				break;
			case P_WORKER:
				worker_msg(ctrs[idx[i]]);
				break;
			}
		}
		ctr_reap();
	}
	say("stopping");
	if (sock_path)
		unlink(sock_path);
	if (lxc_path)
		unlink(lxc_path);
	return 0;
usage:
	fprintf(stderr, "usage: %s [-s SOCKET] [-x LXC_SOCKET] [-i INSTANCE_DIR] [-t TYPES] [-v]\n"
		"       (at least one of -s and -x)\n"
		"       %s -h\n", PROG, PROG);
	return 1;
}
