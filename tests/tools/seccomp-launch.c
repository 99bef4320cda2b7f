// SPDX-License-Identifier: GPL-2.0
/*
 * seccomp-launch - run a command under a seccomp filter that hands its
 * mount(2) calls to a seccomp agent, the way an OCI runtime does with
 * linux.seccomp.listenerPath (a stand-in for crun or runc in the tests).
 *
 *   seccomp-launch SOCKET -- CMD [ARGS...]
 *
 * Forks.  The child sets no_new_privs, installs the filter (x86_64 mount(2):
 * SECCOMP_RET_USER_NOTIF; everything else, other architectures included:
 * allow) with SECCOMP_FILTER_FLAG_NEW_LISTENER, passes the listener to the
 * parent over a socketpair and waits.  The parent connects to the UNIX
 * stream socket SOCKET and sends, as the OCI runtime spec says (config-linux
 * "The Container Process State"), one JSON document
 *
 *   {"ociVersion":"1.0.2","fds":["seccompFd"],"pid":P,"metadata":"",
 *    "state":{"ociVersion":"1.0.2","id":"test","status":"creating",
 *             "pid":P,"bundle":"/"}}
 *
 * (P: the child's pid, as the parent sees it) with the listener in
 * SCM_RIGHTS of the same sendmsg(), then closes the connection and its copy
 * of the listener, and tells the child to exec CMD.  The filter, and with it
 * the agent's supervision, is inherited by everything CMD starts (new
 * namespaces included).  The parent waits for the child and exits with its
 * status (128 + N for a signal N); it exits 125 if it could not hand the
 * listener over, and then CMD never runs.
 *
 * Build: gcc -O2 -Wall -Wextra -o build/tools/seccomp-launch tests/tools/seccomp-launch.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#define PROG "seccomp-launch"

static void __attribute__((noreturn)) die(const char *msg)
{
	fprintf(stderr, PROG ": %s: %s\n", msg, strerror(errno));
	exit(125);
}

/* Send @fd over @sock in SCM_RIGHTS, with @len bytes of @buf. */
static int send_fd(int sock, int fd, const void *buf, size_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { 0 };
	struct cmsghdr *cm;

	memset(cbuf, 0, sizeof(cbuf));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], c;
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { 0 };
	struct cmsghdr *cm;
	int fd;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int))) {
		errno = EPROTO;
		return -1;
	}
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* In the child: the filter, its listener to the parent, exec on "go". */
static void __attribute__((noreturn)) child(int sock, char **cmd)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mount, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	char go;
	int lfd;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("prctl(PR_SET_NO_NEW_PRIVS)");
	lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		      SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (lfd < 0)
		die("seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER)");
	if (send_fd(sock, lfd, "L", 1))
		die("passing the listener to the parent");
	close(lfd);
	if (read(sock, &go, 1) != 1) {
		fprintf(stderr, PROG ": the listener was not handed to the agent; not running %s\n",
			cmd[0]);
		_exit(125);
	}
	close(sock);
	execvp(cmd[0], cmd);
	fprintf(stderr, PROG ": exec %s: %s\n", cmd[0], strerror(errno));
	_exit(127);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char json[512];
	int sp[2], lfd, agent, status, n;
	pid_t pid;

	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: " PROG " SOCKET -- CMD [ARGS...]\n");
		return 2;
	}
	if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, PROG ": %s: socket path too long\n", argv[1]);
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		die("socketpair");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		close(sp[0]);
		child(sp[1], argv + 3);
	}
	close(sp[1]);
	lfd = recv_fd(sp[0]);
	if (lfd < 0)
		goto failed;
	agent = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (agent < 0 || connect(agent, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, PROG ": connect %s: %s\n", argv[1], strerror(errno));
		goto failed;
	}
	n = snprintf(json, sizeof(json),
		     "{\"ociVersion\":\"1.0.2\",\"fds\":[\"seccompFd\"],\"pid\":%d,"
		     "\"metadata\":\"\",\"state\":{\"ociVersion\":\"1.0.2\",\"id\":\"test\","
		     "\"status\":\"creating\",\"pid\":%d,\"bundle\":\"/\"}}",
		     (int)pid, (int)pid);
	if (send_fd(agent, lfd, json, n)) {
		fprintf(stderr, PROG ": sending the container process state: %s\n",
			strerror(errno));
		goto failed;
	}
	close(agent);
	close(lfd);
	if (write(sp[0], "G", 1) != 1)
		goto failed;
	close(sp[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
failed:
	/* The child sees EOF and exits without running CMD. */
	close(sp[0]);
	waitpid(pid, &status, 0);
	return 125;
}
