// SPDX-License-Identifier: GPL-2.0
/*
 * loopfs-oci-hook - an OCI createContainer hook that gives the container a
 * private loopfs instance at /dev/loopfs, /dev/loop-control -> loopfs/
 * loop-control, and the node linker (loopfs-link) that keeps /dev/loopN ->
 * loopfs/loopN, so that unmodified losetup, mount -o loop, sfdisk and mkfs
 * work in the container on its own loop devices only.  See usage_text below;
 * build with
 *
 *	gcc -O2 -Wall -Wextra -o loopfs-oci-hook loopfs-oci-hook.c
 *
 * It depends on nothing but the C library.
 *
 * Where it runs.  The OCI runtime spec runs createContainer hooks "in the
 * container namespace", after the container's mounts and before
 * pivot_root.  crun (checked with 1.8.1) runs them from the container's
 * init process: in all of the container's namespaces (user, mount, pid,
 * network, ipc, uts), as the root of the container's user namespace with
 * every capability there, with the host's / still as root and the bundle
 * as cwd; the state on standard input says "pid": 0 and gives "root" (the
 * config's root.path, relative to the bundle or absolute).  The container's
 * /dev is then BUNDLE/ROOT/dev (or ROOT/dev), already mounted.  A runtime
 * that runs the hook outside the container gives the container's pid
 * instead; then the hook joins that process's user, mount and pid
 * namespaces first (setns).
 *
 * Why there.  The instance must belong to the container's user namespace
 * (contract 1.2, 4.5): then the container administers its devices, its
 * sysfs lists them (and nobody else's sysfs does), and its uevents go to
 * the container's network namespace only.  So the instance is created
 * (fsopen) by the container's root in that namespace and attached (fsmount,
 * move_mount) at dev/loopfs.  And the linker must die with the container:
 * any process in the container's mount namespace keeps that namespace, and
 * with it the instance's mount, alive.  Started from here it lives in the
 * container's pid namespace, which the kernel empties when the container's
 * init exits.  It holds nothing of the instance but an inotify watch (see
 * loopfs-link.c); it opens the instance through its fd on /dev for its
 * scans, a path that pivot_root does not take away.  And it runs without
 * any capability: it needs none, and a process of the container's root
 * with every capability in the container's user namespace, next to the
 * container's own, would be a better target than they are.
 *
 * What it does not do: give the container any way to make device nodes.
 * No capability, no device cgroup rule, no mknod'able file system: the
 * container reaches block devices through the instance's nodes only
 * (contract 4.6).
 *
 * Before it changes anything it reads and checks all of its input: the
 * state (at most STATE_MAX bytes of JSON, parsed here, strictly), the
 * annotations, the paths, the linker; and it creates the instance (which
 * the kernel may refuse: bad options) before it touches the container's
 * /dev.  A failure after a change (the linker not starting, say) undoes
 * what was done before the hook exits non-zero.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* include/uapi/linux/magic.h of a loopfs kernel ("lpfs") */
#ifndef LOOPFS_SUPER_MAGIC
#define LOOPFS_SUPER_MAGIC	0x6c706673
#endif

/* include/uapi/linux/securebits.h */
#ifndef SECBIT_NOROOT
#define SECBIT_NOROOT		(1 << 0)
#define SECBIT_NOROOT_LOCKED	(1 << 1)
#endif

#define PROG			"loopfs-oci-hook"
#define LINKER_NAME		"loopfs-link"
#define READY_NAME		".loopfs-link.ready"

#define STATE_MAX		(1 << 20)	/* bytes of state JSON */
#define CONFIG_MAX		(4 << 20)	/* bytes of config.json */
#define JSON_MAX_DEPTH		64
#define OPTIONS_MAX		256		/* org.loopfs.options */
#define MAX_PARTS		255		/* loopfs-link -p */
#define DEFAULT_PARTS		"15"
#define READY_TIMEOUT_MS	60000

#define ANN_OPTIONS		"org.loopfs.options"
#define ANN_PARTS		"org.loopfs.parts"

static const char usage_text[] =
"NAME\n"
"    loopfs-oci-hook - OCI createContainer hook: a private loopfs instance\n"
"    in the container's /dev\n"
"\n"
"SYNOPSIS\n"
"    loopfs-oci-hook [-v] [-l LOOPFS_LINK] < STATE\n"
"    loopfs-oci-hook --lxc [-v] [-l LOOPFS_LINK] [-p PARTS] [NAME lxc autodev]\n"
"    loopfs-oci-hook -h\n"
"\n"
"DESCRIPTION\n"
"    Run by the OCI runtime as a createContainer hook, with the container's\n"
"    state (JSON) on standard input.  In the container's /dev (ROOT/dev, ROOT\n"
"    being the state's \"root\", or root.path of BUNDLE/config.json, relative\n"
"    to the state's \"bundle\"), it\n"
"\n"
"      - creates a new loopfs instance as the root of the container's user\n"
"        namespace (so the instance belongs to that namespace) and mounts it\n"
"        (nosuid, noexec) on dev/loopfs, made if missing;\n"
"      - makes the symlink dev/loop-control -> loopfs/loop-control;\n"
"      - starts the node linker, LOOPFS_LINK -p PARTS ROOT/dev/loopfs\n"
"        ROOT/dev, in the container's pid namespace, so that it dies with\n"
"        the container, as the container's root without any capability; it\n"
"        keeps dev/loopN -> loopfs/loopN (and loopNpM) links for tools that\n"
"        open /dev/loopN themselves;\n"
"\n"
"    and exits 0 once the linker has linked what the instance holds.\n"
"\n"
"    It runs in the container's namespaces, as runtimes run createContainer\n"
"    hooks (crun: from the container's init, before pivot_root; the state's\n"
"    pid is then 0).  When the state gives the pid of a process in other\n"
"    namespaces than the hook's, it joins that process's user, mount and\n"
"    pid namespaces first.\n"
"\n"
"    It gives the container no way to make device nodes (no capability, no\n"
"    device cgroup rule): block devices are reached through the instance's\n"
"    nodes only.  It refuses a container that has no user namespace and\n"
"    keeps CAP_MKNOD in any capability set of BUNDLE/config.json: the\n"
"    runtimes allow mknod of every device in their default device rules,\n"
"    so such a container could make a node for any loop device.\n"
"\n"
"ANNOTATIONS\n"
"    org.loopfs.options\n"
"        Mount options of the instance, e.g. \"max=8\" or \"mode=0660,gid=6\":\n"
"        KEY or KEY=VALUE separated by commas; letters, digits, '_', '-' and\n"
"        '.' only, at most 256 characters.  The kernel checks them (uid=,\n"
"        gid=, mode=, max=).  Default: none.\n"
"    org.loopfs.parts\n"
"        Partition links per device made by the linker, 0 to 255.\n"
"        Default 15.\n"
"    org.loopfs.enable\n"
"        Not read here: hooks.d files select the hook with it.\n"
"\n"
"LXC\n"
"    With --lxc it is an lxc.hook.autodev (see loopfs.conf, the LXC config\n"
"    include): LXC runs it in the container's namespaces before pivot_root,\n"
"    with the container's root in LXC_ROOTFS_MOUNT and its own arguments\n"
"    appended.  The instance is then LXC's to mount (the include's\n"
"    lxc.mount.entry, with the instance's options): dev/loopfs must be a\n"
"    loopfs instance already.  The hook makes the dev/loop-control link and\n"
"    starts the linker as above, with -p PARTS partition links per device\n"
"    (default 15).\n"
"\n"
"OPTIONS\n"
"    --lxc\n"
"        Run as LXC's autodev hook (above); no state is read.\n"
"    -p PARTS\n"
"        With --lxc: partition links per device, 0 to 255.\n"
"    -l LOOPFS_LINK\n"
"        The node linker.  Default: loopfs-link in the directory of this\n"
"        program (/proc/self/exe).\n"
"    -v  Say what is done, on standard error.\n"
"    -h  Print this text.\n"
"\n"
"EXIT STATUS\n"
"    0   the instance is mounted, the link made and the linker ready.\n"
"    1   anything else: bad or oversized state, bad annotation, no or a bad\n"
"        BUNDLE/config.json, CAP_MKNOD without a user namespace, no /dev in\n"
"        the container's root, dev/loopfs already an instance or\n"
"        dev/loop-control already there, the kernel refusing the instance\n"
"        (its messages are printed), the linker failing to start.  What was\n"
"        done before the failure is undone.\n"
"\n"
"NOTES\n"
"    crun sends a hook's standard output and error to /dev/null unless the\n"
"    annotations run.oci.hooks.stdout and run.oci.hooks.stderr name files.\n"
"    The linker inherits standard error, and warns there, unless it is a\n"
"    pipe or a socket: runc and LXC read a hook's output through one until\n"
"    its end, and would wait for the linker as long as the container runs;\n"
"    then the linker's is /dev/null.\n"
"    The linker's ready file, dev/.loopfs-link.ready, is removed once seen.\n"
"    Re-reading a partition table (sfdisk, partprobe: BLKRRPART) and a few\n"
"    loop ioctls want CAP_SYS_ADMIN; for the instance's devices, in the\n"
"    container's user namespace is enough.\n"
"\n"
"EXAMPLE\n"
"    In config.json:\n"
"\n"
"        \"hooks\": { \"createContainer\": [ {\n"
"            \"path\": \"/usr/local/libexec/loopfs/loopfs-oci-hook\" } ] },\n"
"        \"annotations\": { \"org.loopfs.options\": \"max=8\" }\n"
"\n"
"    With podman or CRI-O, the hooks.d file loopfs.json (in\n"
"    /usr/share/containers/oci/hooks.d) adds the hook to containers run with\n"
"    the annotation org.loopfs.enable=true:\n"
"\n"
"        podman run --annotation org.loopfs.enable=true \\\n"
"            --annotation org.loopfs.options=max=8 --cap-add SYS_ADMIN ...\n";

/* ------------------------------------------------------------------ state */

static int verbose;				/* -v */

/* What must be undone if we fail after a change */
static int dev_fd = -1;			/* the container's /dev, O_PATH */
static int made_dir, mounted, made_link;
static pid_t linker_pid;

/* ------------------------------------------------------------ messages */

#include "common.h"

#define info(...)	do { if (verbose) warn(__VA_ARGS__); } while (0)

/* ------------------------------------------------------------ JSON */

/*
 * The state and config.json are read whole and checked strictly by
 * json.h, and the members we need are taken out on the way.  Any error
 * ends the program (die(): before it has changed anything).
 */
#include "json.h"

/* The error json.h (or a member function) recorded in @j */
static void __attribute__((noreturn)) json_fail(struct json *j)
{
	die("%s: not valid JSON at byte %zu: %s", j->what, j->err_at, j->err);
}

/* A string value we keep: not too long, no NUL, not given twice. */
static int json_take_string(struct json *j, const char *key, char *out,
			    size_t len, int *seen)
{
	size_t n;
	int nul;

	if (*seen)
		return json_error(j, "member given twice");
	*seen = 1;
	if (json_peek(j) != '"')
		die("%s: %s: want a string", j->what, key);
	if (json_string(j, out, len, &n, &nul))
		return -1;
	if (n >= len)
		die("%s: %s: longer than %zu bytes", j->what, key, len - 1);
	if (nul)
		die("%s: %s: holds a NUL character", j->what, key);
	return 0;
}

/* Parse a whole document, an object, calling @member for its members. */
static void json_read(const char *buf, size_t len, const char *what,
		      json_member_fn member, void *arg)
{
	struct json j;

	if (json_document(&j, buf, len, what, JSON_MAX_DEPTH, member, arg))
		json_fail(&j);
}

/* ------------------------------------------------------------ input */

struct state {
	long long pid;
	int has_pid;
	char bundle[PATH_MAX];
	int has_bundle;
	char root[PATH_MAX];
	int has_root;
	char options[OPTIONS_MAX + 1];
	int has_options;
	char parts[8];
	int has_parts;
	/* from config.json: a user namespace, CAP_MKNOD in any set */
	int has_userns;
	int keeps_mknod;
};

static int annotation_member(struct json *j, int depth, const char *key, void *arg)
{
	struct state *s = arg;

	if (key && !strcmp(key, ANN_OPTIONS))
		return json_take_string(j, key, s->options, sizeof(s->options),
					&s->has_options);
	if (key && !strcmp(key, ANN_PARTS))
		return json_take_string(j, key, s->parts, sizeof(s->parts),
					&s->has_parts);
	return json_skip(j, depth);
}

/* "root": a string (crun's state) or an object with "path" (config.json) */
static int root_path_member(struct json *j, int depth, const char *key, void *arg)
{
	struct state *s = arg;

	if (key && !strcmp(key, "path"))
		return json_take_string(j, "root.path", s->root, sizeof(s->root),
					&s->has_root);
	return json_skip(j, depth);
}

static int take_root(struct json *j, int depth, struct state *s)
{
	if (json_peek(j) == '{')
		return json_object(j, depth, root_path_member, s);
	return json_take_string(j, "root", s->root, sizeof(s->root), &s->has_root);
}

static int state_member(struct json *j, int depth, const char *key, void *arg)
{
	struct state *s = arg;
	static int seen_ann;
	int r;

	if (!key)
		return json_skip(j, depth);
	if (!strcmp(key, "pid")) {
		if (s->has_pid)
			return json_error(j, "member given twice");
		s->has_pid = 1;
		if (json_peek(j) != '-' && (json_peek(j) < '0' || json_peek(j) > '9'))
			die("%s: pid: want a number", j->what);
		r = json_number(j, &s->pid);
		if (r < 0)
			return -1;
		if (!r || s->pid < 0 || s->pid > INT_MAX)
			die("%s: pid: want a whole number from 0 to %d", j->what, INT_MAX);
		return 0;
	}
	if (!strcmp(key, "bundle"))
		return json_take_string(j, key, s->bundle, sizeof(s->bundle),
					&s->has_bundle);
	if (!strcmp(key, "root"))
		return take_root(j, depth, s);
	if (!strcmp(key, "annotations")) {
		if (seen_ann)
			return json_error(j, "member given twice");
		seen_ann = 1;
		if (json_peek(j) != '{')
			die("%s: annotations: want an object", j->what);
		return json_object(j, depth, annotation_member, s);
	}
	return json_skip(j, depth);
}

/* An element of a capability set: CAP_MKNOD? */
static int cap_element(struct json *j, int depth, void *arg)
{
	struct state *s = arg;
	char cap[32];
	size_t n;
	int nul;

	if (json_peek(j) != '"')
		return json_skip(j, depth);
	if (json_string(j, cap, sizeof(cap), &n, &nul))
		return -1;
	if (n < sizeof(cap) && !nul && !strcmp(cap, "CAP_MKNOD"))
		s->keeps_mknod = 1;
	return 0;
}

/* process.capabilities: bounding, effective, permitted, ... (arrays) */
static int caps_member(struct json *j, int depth, const char *key, void *arg)
{
	if (key && json_peek(j) == '[')
		return json_array(j, depth, cap_element, arg);
	return json_skip(j, depth);
}

static int process_member(struct json *j, int depth, const char *key, void *arg)
{
	if (key && !strcmp(key, "capabilities") && json_peek(j) == '{')
		return json_object(j, depth, caps_member, arg);
	return json_skip(j, depth);
}

/* An element of linux.namespaces: { "type": "user", ... }? */
static int ns_member(struct json *j, int depth, const char *key, void *arg)
{
	struct state *s = arg;
	char type[16];
	size_t n;
	int nul;

	if (!key || strcmp(key, "type") || json_peek(j) != '"')
		return json_skip(j, depth);
	if (json_string(j, type, sizeof(type), &n, &nul))
		return -1;
	if (n < sizeof(type) && !nul && !strcmp(type, "user"))
		s->has_userns = 1;
	return 0;
}

static int ns_element(struct json *j, int depth, void *arg)
{
	if (json_peek(j) == '{')
		return json_object(j, depth, ns_member, arg);
	return json_skip(j, depth);
}

static int linux_member(struct json *j, int depth, const char *key, void *arg)
{
	if (key && !strcmp(key, "namespaces") && json_peek(j) == '[')
		return json_array(j, depth, ns_element, arg);
	return json_skip(j, depth);
}

static int config_member(struct json *j, int depth, const char *key, void *arg)
{
	struct state *s = arg;

	if (key && !strcmp(key, "root")) {
		if (json_peek(j) != '{')
			die("%s: root: want an object", j->what);
		/* (the state's "root", when it has one, wins) */
		if (s->has_root)
			return json_skip(j, depth);
		return json_object(j, depth, root_path_member, arg);
	}
	if (key && !strcmp(key, "process") && json_peek(j) == '{')
		return json_object(j, depth, process_member, arg);
	if (key && !strcmp(key, "linux") && json_peek(j) == '{')
		return json_object(j, depth, linux_member, arg);
	return json_skip(j, depth);
}

/* All of @fd, at most @max bytes; dies if there is more. */
static char *read_all(int fd, size_t max, const char *what, size_t *len)
{
	size_t n = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t r;

	if (!buf)
		die("out of memory");
	for (;;) {
		if (n == cap) {
			if (cap > max)
				die("%s: larger than %zu bytes", what, max);
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("reading %s: %m", what);
		if (!r)
			break;
		n += r;
		if (n > max)
			die("%s: larger than %zu bytes", what, max);
	}
	*len = n;
	return buf;
}

/*
 * org.loopfs.options: KEY or KEY=VALUE, comma-separated, from letters,
 * digits, '_', '-' and '.'.  (The kernel checks the keys and values; this
 * keeps out anything that is not an option list.)
 */
static void check_options(const char *opts)
{
	const char *p;
	int in_value = 0, empty = 1;

	for (p = opts; *p; p++) {
		unsigned char c = *p;

		if (c == ',') {
			if (empty)
				break;
			in_value = 0;
			empty = 1;
		} else if (c == '=') {
			if (in_value || empty)
				break;
			in_value = 1;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '_' || c == '-' ||
			   c == '.') {
			empty = 0;
		} else {
			break;
		}
	}
	if (*p || (*opts && empty))
		die("annotation %s=\"%s\": want KEY or KEY=VALUE separated by commas, from letters, digits, '_', '-' and '.' (at byte %zu)",
		    ANN_OPTIONS, opts, (size_t)(p - opts));
}

/* org.loopfs.parts or -p: 0 to 255, as loopfs-link -p wants it */
static void check_parts(const char *what, const char *s)
{
	unsigned long v = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '9' && v <= MAX_PARTS; p++)
		v = v * 10 + (*p - '0');
	if (!*s || *p || v > MAX_PARTS || (s[0] == '0' && s[1]))
		die("%s=\"%s\": want a number of partitions from 0 to %d",
		    what, s, MAX_PARTS);
}

/* ------------------------------------------------------------ namespaces */

/* Same namespace: the same nsfs inode */
static int same_file(int fd, const char *path)
{
	struct stat a, b;

	return !fstat(fd, &a) && !stat(path, &b) && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/*
 * Join the container's namespaces if we are not in them.  With "pid": 0
 * (crun) we are: the runtime forked us from the container's init.  We are
 * too when our /proc is not our pid namespace's (readlink /proc/self is not
 * getpid()): then we were forked inside the container's pid namespace,
 * before its /proc was mounted, and the state's pid could not even be
 * looked up in /proc.  Otherwise join the user, mount and pid namespaces
 * of that process where they are not ours: the user namespace first (it
 * gives the capabilities the others need), then the mount namespace
 * (which also moves our root and cwd to its root), then the pid namespace,
 * which the linker, forked later, enters.
 */
static void enter_container(const struct state *s)
{
	static const struct {
		const char *name;
		int type;
	} ns[] = {
		{ "user", CLONE_NEWUSER },
		{ "mnt", CLONE_NEWNS },
		{ "pid", CLONE_NEWPID },
	};
	char path[64], self[32];
	int fds[3], i, joined_user = 0;
	ssize_t n;

	if (!s->has_pid || s->pid == 0) {
		info("state pid %s: in the container's namespaces already",
		     s->has_pid ? "0" : "absent");
		return;
	}
	n = readlink("/proc/self", self, sizeof(self) - 1);
	if (n <= 0)
		die("readlink /proc/self: %m (is /proc mounted?)");
	self[n] = 0;
	if (strtol(self, NULL, 10) != getpid()) {
		info("/proc is not our pid namespace's: forked in the container, in its namespaces already (state pid %lld ignored)",
		     s->pid);
		return;
	}
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/proc/%lld/ns/%s", s->pid, ns[i].name);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			die("state pid %lld: %s: %m", s->pid, path);
	}
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i].name);
		if (same_file(fds[i], path)) {
			close(fds[i]);
			continue;
		}
		if (setns(fds[i], ns[i].type))
			die("joining the %s namespace of pid %lld: %m", ns[i].name, s->pid);
		close(fds[i]);
		info("joined the %s namespace of pid %lld", ns[i].name, s->pid);
		if (ns[i].type == CLONE_NEWUSER)
			joined_user = 1;
	}
	/*
	 * As the container's root: files we make in its /dev are its root's,
	 * and a uid that is not mapped there could not make them at all.
	 */
	if (joined_user) {
		if (setgroups(0, NULL) && errno != EPERM)
			die("setgroups: %m");
		if (setresgid(0, 0, 0) || setresuid(0, 0, 0))
			die("becoming root of the container's user namespace: %m");
	}
}

/* ------------------------------------------------------------ the instance */

/* The kernel's messages about a refused instance (the fs_context log) */
static void print_fc_log(int fsfd)
{
	char buf[512];
	ssize_t n;

	while ((n = read(fsfd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = 0;
		if (buf[n - 1] == '\n')
			buf[n - 1] = 0;
		warn("kernel: %s", buf);
	}
}

/*
 * A new instance with @opts, as a detached mount (nosuid, noexec): its fd.
 * The instance belongs to our user namespace, which is the container's.
 */
static int create_instance(const char *opts)
{
	char buf[OPTIONS_MAX + 1], *tok, *save = NULL, *val;
	int fsfd, mntfd;

	fsfd = fsopen("loopfs", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		die("fsopen loopfs: %m%s", errno == ENODEV ?
		    " (this kernel has no loopfs: CONFIG_BLK_DEV_LOOPFS)" :
		    errno == EPERM ? " (not root of the user namespace that owns our mount namespace?)" : "");
	snprintf(buf, sizeof(buf), "%s", opts);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		val = strchr(tok, '=');
		if (val)
			*val++ = 0;
		if (fsconfig(fsfd, val ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG,
			     tok, val, 0)) {
			int err = errno;

			print_fc_log(fsfd);
			errno = err;
			die("loopfs option %s%s%s: %m", tok, val ? "=" : "", val ? val : "");
		}
	}
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		int err = errno;

		print_fc_log(fsfd);
		errno = err;
		die("creating the loopfs instance (options \"%s\"): %m", opts);
	}
	mntfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
	if (mntfd < 0)
		die("fsmount loopfs: %m");
	close(fsfd);
	return mntfd;
}

/* ------------------------------------------------------------ the linker */

/* LOOPFS_LINK's default: loopfs-link next to this program */
static char *default_linker(void)
{
	static char path[PATH_MAX];
	char *slash;
	ssize_t n;

	n = readlink("/proc/self/exe", path, sizeof(path) - sizeof(LINKER_NAME) - 1);
	if (n <= 0 || (size_t)n >= sizeof(path) - sizeof(LINKER_NAME) - 1)
		die("readlink /proc/self/exe: %s; give the linker with -l",
		    n < 0 ? strerror(errno) : "path too long");
	path[n] = 0;
	slash = strrchr(path, '/');
	if (!slash)
		die("/proc/self/exe is %s; give the linker with -l", path);
	strcpy(slash + 1, LINKER_NAME);
	return path;
}

/*
 * Is our standard error a pipe or a socket?  runc and LXC read a hook's
 * output through one until its end, and would wait for a linker that
 * inherited it as long as the container runs (runc 1.1.5 hangs in
 * `runc create`).
 */
static int stderr_is_pipe(void)
{
	struct stat st;

	return !fstat(2, &st) && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

/*
 * Start the linker on @dev_path/loopfs and @dev_path, in the container's
 * pid namespace (ours, or the one joined: our children enter it), and wait
 * until it has written its ready file.  Its standard input and output are
 * /dev/null; its standard error is ours, or /dev/null when ours is a pipe
 * or socket (stderr_is_pipe()).  It is a session of its own, with
 * no signal blocked or ignored (it takes SIGTERM through a signalfd), / as
 * cwd (pivot_root moves it to the container's /), and nothing but those
 * three fds.  Ours are all close-on-exec, but not all that we inherit:
 * runc runs its hooks from its container init, which passes on its sync
 * socket, a pipe and the exec fifo; a linker that kept them would keep
 * `runc create` waiting for as long as the container runs.  So every fd
 * above 2 is closed before the exec.  It has no capability: it makes
 * symlinks in a /dev its uid owns and reads the instance's root, which
 * needs none; no ambient and no bounding capability, and SECBIT_NOROOT
 * (locked) so that exec as uid 0 grants none, and no_new_privs.  When we
 * exit it becomes a child of the container's init.
 */
static void start_linker(const char *linker, const char *dev_path, const char *parts)
{
	char inst[PATH_MAX], ready[PATH_MAX];
	char *argv[] = { (char *)LINKER_NAME, (char *)"-p", (char *)parts,
			 (char *)"-r", ready, inst, (char *)dev_path, NULL };
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	int status, waited, fd, sig, cap;
	sigset_t none;

	if ((size_t)snprintf(inst, sizeof(inst), "%s/loopfs", dev_path) >= sizeof(inst) ||
	    (size_t)snprintf(ready, sizeof(ready), "%s/" READY_NAME, dev_path) >= sizeof(ready))
		die("%s: path too long", dev_path);
	fflush(stderr);
	linker_pid = fork();
	if (linker_pid < 0) {
		linker_pid = 0;
		die("fork: %m");
	}
	if (!linker_pid) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);	/* (fails for some: fine) */
		setsid();
		if (chdir("/"))
			_exit(127);
		prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
		/* (EINVAL: past the last capability) */
		for (cap = 0; !prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) || errno != EINVAL; cap++)
			;
		if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED, 0, 0, 0) ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
			fprintf(stderr, PROG ": dropping the linker's capabilities: %m\n");
			_exit(127);
		}
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			if (stderr_is_pipe())
				dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		if (close_range(3, ~0U, 0))
			for (fd = 3; fd < 1024; fd++)
				close(fd);
		execv(linker, argv);
		fprintf(stderr, PROG ": exec %s: %m\n", linker);
		_exit(127);
	}
	info("started %s (pid %d): %s -p %s -r %s %s %s", linker, (int)linker_pid,
	     LINKER_NAME, parts, ready, inst, dev_path);

	for (waited = 0; ; waited += 10) {
		if (!faccessat(dev_fd, READY_NAME, F_OK, AT_SYMLINK_NOFOLLOW))
			break;
		if (waitpid(linker_pid, &status, WNOHANG) == linker_pid) {
			linker_pid = 0;
			if (WIFEXITED(status))
				die("the linker exited with status %d before it was ready",
				    WEXITSTATUS(status));
			die("the linker was killed by signal %d before it was ready",
			    WTERMSIG(status));
		}
		if (waited >= READY_TIMEOUT_MS)
			die("the linker is not ready after %d s", READY_TIMEOUT_MS / 1000);
		nanosleep(&nap, NULL);
	}
	/*
	 * The linker would remove its ready file at exit, by path; after
	 * pivot_root that path leads nowhere, so remove it now: the container
	 * sees a /dev without it.
	 */
	if (unlinkat(dev_fd, READY_NAME, 0))
		warn("cannot remove %s: %m", ready);
}

/* ------------------------------------------------------------ undo */

/* Undo what was done, last first: used by die() */
static void undo(void)
{
	char path[64];

	if (linker_pid > 0) {
		kill(linker_pid, SIGKILL);
		waitpid(linker_pid, NULL, 0);
		linker_pid = 0;
		unlinkat(dev_fd, READY_NAME, 0);
	}
	if (made_link && unlinkat(dev_fd, "loop-control", 0))
		warn("undo: cannot remove dev/loop-control: %m");
	made_link = 0;
	if (mounted) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d/loopfs", dev_fd);
		if (umount2(path, MNT_DETACH))
			warn("undo: cannot unmount dev/loopfs: %m");
	}
	mounted = 0;
	if (made_dir && unlinkat(dev_fd, "loopfs", AT_REMOVEDIR))
		warn("undo: cannot remove dev/loopfs: %m");
	made_dir = 0;
}

/* ------------------------------------------------------------ main */

/*
 * The container's /dev, ROOT/dev, as dev_fd (O_PATH) and @dev_path, its
 * name in the kernel's words (for the linker, which takes paths).
 */
static void open_dev(const char *root_path, char *dev_path, size_t size)
{
	char proc[64];
	struct stat st, st2;
	int root_fd;
	ssize_t n;

	root_fd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		die("the container's root %s: %m", root_path);
	/* dev itself is no symlink: it is what the runtime mounted */
	dev_fd = openat(root_fd, "dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dev_fd < 0)
		die("%s/dev: %s", root_path, errno == ENOTDIR ?
		    "not a directory (a symlink?)" : strerror(errno));
	close(root_fd);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dev_fd);
	n = readlink(proc, dev_path, size - 1);
	if (n <= 0 || (size_t)n >= size - sizeof("/loopfs/" READY_NAME))
		die("readlink %s (%s/dev): %s", proc, root_path,
		    n < 0 ? strerror(errno) : "path too long");
	dev_path[n] = 0;
	if (dev_path[0] != '/' || stat(dev_path, &st) || fstat(dev_fd, &st2) ||
	    st.st_dev != st2.st_dev || st.st_ino != st2.st_ino)
		die("%s/dev: cannot name it by a path (%s)", root_path, dev_path);
	info("the container's /dev is %s", dev_path);
}

/* Is dev/loopfs a loopfs instance?  (It dies if dev/loopfs is in the way.) */
static int dev_has_instance(const char *dev_path)
{
	struct statfs sfs;
	struct stat st;
	int fd, is;

	if (fstatat(dev_fd, "loopfs", &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno != ENOENT)
			die("%s/loopfs: %m", dev_path);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		die("%s/loopfs exists and is not a directory", dev_path);
	fd = openat(dev_fd, "loopfs", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstatfs(fd, &sfs))
		die("%s/loopfs: %m", dev_path);
	is = sfs.f_type == LOOPFS_SUPER_MAGIC;
	close(fd);
	return is;
}

/*
 * The LXC mode (--lxc), run as lxc.hook.autodev: LXC runs autodev hooks in
 * the container's namespaces, as the root of its user namespace, after the
 * container's mounts (the lxc.mount.entry of loopfs.conf has mounted the
 * instance on dev/loopfs, as that root) and before pivot_root, with the
 * container's root at $LXC_ROOTFS_MOUNT.  LXC appends the container's
 * name, "lxc" and "autodev" to the hook's arguments (hook version 0), or
 * gives them in LXC_NAME, LXC_HOOK_SECTION and LXC_HOOK_TYPE (version 1).
 * Only the link and the linker are ours to make (and to undo).
 */
static void lxc_hook(int argc, char **argv, const char *linker, const char *parts)
{
	const char *root = getenv("LXC_ROOTFS_MOUNT");
	const char *type = getenv("LXC_HOOK_TYPE");
	char dev_path[PATH_MAX];
	struct stat st;

	if (argc > 3)
		die("--lxc: too many arguments (want at most NAME SECTION TYPE, as LXC gives them)");
	if (argc == 3)
		type = argv[2];
	if (type && strcmp(type, "autodev"))
		die("--lxc: run as an LXC \"%s\" hook; want lxc.hook.autodev", type);
	if (!root || root[0] != '/')
		die("--lxc: LXC_ROOTFS_MOUNT is %s; want the container's root, as LXC sets it for its hooks",
		    root ? "not an absolute path" : "not set");
	open_dev(root, dev_path, sizeof(dev_path));
	if (!dev_has_instance(dev_path))
		die("%s/loopfs is no loopfs instance: want the lxc.mount.entry of loopfs.conf (and lxc.autodev = 1)",
		    dev_path);
	if (!fstatat(dev_fd, "loop-control", &st, AT_SYMLINK_NOFOLLOW))
		die("%s/loop-control exists already", dev_path);
	if (errno != ENOENT)
		die("%s/loop-control: %m", dev_path);
	if (access(linker, X_OK))
		die("the linker %s: %m", linker);

	if (symlinkat("loopfs/loop-control", dev_fd, "loop-control"))
		die("symlink %s/loop-control -> loopfs/loop-control: %m", dev_path);
	made_link = 1;
	start_linker(linker, dev_path, parts);
	info("the linker is ready");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "lxc", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct state s;
	char root_path[PATH_MAX], dev_path[PATH_MAX], *buf;
	const char *linker = NULL, *parts = NULL;
	struct stat st;
	int c, fd, mntfd, lxc = 0;
	size_t len;
	ssize_t n;

	die_cleanup = undo;
	while ((c = getopt_long(argc, argv, "+l:p:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			linker = optarg;
			break;
		case 'p':
			parts = optarg;
			break;
		case 'L':
			lxc = 1;
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
	if ((optind != argc && !lxc) || (parts && !lxc))
		goto usage;
	if (linker && !*linker)
		die("bad -l '': want the path of loopfs-link");
	if (!linker)
		linker = default_linker();

	if (lxc) {
		parts = parts ? parts : DEFAULT_PARTS;
		check_parts("-p", parts);
		lxc_hook(argc - optind, argv + optind, linker, parts);
		return 0;
	}

	/* The state, and what we need of it */
	buf = read_all(0, STATE_MAX, "the state (standard input)", &len);
	json_read(buf, len, "the state", state_member, &s);
	free(buf);
	if (!s.has_bundle || s.bundle[0] != '/')
		die("the state: want \"bundle\", an absolute path");
	if (s.has_options)
		check_options(s.options);
	parts = s.has_parts ? s.parts : DEFAULT_PARTS;
	check_parts("annotation " ANN_PARTS, parts);

	enter_container(&s);
	if (verbose) {
		char cwd[PATH_MAX], root[PATH_MAX];

		n = readlink("/proc/self/root", root, sizeof(root) - 1);
		root[n > 0 ? n : 0] = 0;
		info("uid %d (of our user namespace), cwd %s, root %s", (int)getuid(),
		     getcwd(cwd, sizeof(cwd)) ? cwd : "?", root);
	}

	/*
	 * BUNDLE/config.json: the container's root, if the state has none,
	 * and whether the container could make device nodes.  A container
	 * without a user namespace that keeps CAP_MKNOD can make a node for
	 * any loop device of the machine, whatever its instance: the runtimes
	 * allow mknod ("m") of every device in their default device rules.
	 * Refuse it rather than give it an instance that isolates nothing.
	 */
	{
		char cfg[PATH_MAX];

		if ((size_t)snprintf(cfg, sizeof(cfg), "%s/config.json", s.bundle) >= sizeof(cfg))
			die("%s: path too long", s.bundle);
		fd = open(cfg, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("%s: %m", cfg);
		buf = read_all(fd, CONFIG_MAX, cfg, &len);
		close(fd);
		json_read(buf, len, cfg, config_member, &s);
		free(buf);
		if (!s.has_root)
			die("no \"root\" in the state, and no root.path in %s", cfg);
		if (!s.has_userns && s.keeps_mknod)
			die("%s: the container has no user namespace and keeps CAP_MKNOD: it could make a node for any loop device of the machine; drop CAP_MKNOD (loopfs.rst: containers without a user namespace)",
			    cfg);
	}
	if (!s.root[0])
		die("the container's root path is empty");
	if ((size_t)snprintf(root_path, sizeof(root_path), "%s%s%s",
			     s.root[0] == '/' ? "" : s.bundle,
			     s.root[0] == '/' ? "" : "/", s.root) >= sizeof(root_path))
		die("the container's root path is too long");
	open_dev(root_path, dev_path, sizeof(dev_path));

	/* Nothing of ours there yet, nothing in the way */
	if (dev_has_instance(dev_path))
		die("%s/loopfs is a loopfs instance already", dev_path);
	if (!fstatat(dev_fd, "loop-control", &st, AT_SYMLINK_NOFOLLOW))
		die("%s/loop-control exists already", dev_path);
	if (errno != ENOENT)
		die("%s/loop-control: %m", dev_path);
	if (access(linker, X_OK))
		die("the linker %s: %m", linker);

	/*
	 * The changes.  The instance first: if the kernel refuses it, nothing
	 * has changed.
	 */
	mntfd = create_instance(s.has_options ? s.options : "");
	if (mkdirat(dev_fd, "loopfs", 0755)) {
		if (errno != EEXIST)
			die("mkdir %s/loopfs: %m", dev_path);
	} else {
		made_dir = 1;
	}
	fd = openat(dev_fd, "loopfs", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		die("%s/loopfs: %m", dev_path);
	if (move_mount(mntfd, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH))
		die("mounting the instance on %s/loopfs: %m", dev_path);
	mounted = 1;
	close(fd);
	close(mntfd);		/* the instance is held by its mount alone */
	info("mounted a new loopfs instance (options \"%s\") on %s/loopfs",
	     s.has_options ? s.options : "", dev_path);

	if (symlinkat("loopfs/loop-control", dev_fd, "loop-control"))
		die("symlink %s/loop-control -> loopfs/loop-control: %m", dev_path);
	made_link = 1;

	start_linker(linker, dev_path, parts);
	info("the linker is ready");
	return 0;

usage:
	fprintf(stderr,
		"usage: %s [-v] [-l LOOPFS_LINK] < STATE\n"
		"       %s --lxc [-v] [-l LOOPFS_LINK] [-p PARTS] [NAME lxc autodev]\n"
		"       (%s -h for the whole text)\n", PROG, PROG, PROG);
	return 1;
}
