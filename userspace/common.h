/* SPDX-License-Identifier: GPL-2.0 */
/*
 * common.h - the message helpers of the loopfs programs: one line on
 * standard error, "PROG: MESSAGE".  Define PROG (the program's name)
 * before including it.  Header-only (static functions), so that each
 * program still builds from its one .c file and the C library.
 *
 * die() prints, runs die_cleanup if the program set it (what must be
 * undone before it exits: loopfs-oci-hook's undo()), and exits 1.
 */
#ifndef LOOPFS_COMMON_H
#define LOOPFS_COMMON_H

#ifndef PROG
#error "define PROG before including common.h"
#endif

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Run by die() before it exits; at most once. */
static void (*die_cleanup)(void) __attribute__((unused));

static inline void __attribute__((format(printf, 1, 0))) vwarn(const char *fmt, va_list ap)
{
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static inline void __attribute__((format(printf, 1, 2))) warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

static inline void __attribute__((format(printf, 1, 2), noreturn)) die(const char *fmt, ...)
{
	void (*cleanup)(void) = die_cleanup;
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	die_cleanup = NULL;
	if (cleanup)
		cleanup();
	exit(1);
}

/*
 * Block SIGTERM, SIGINT and SIGHUP into @sigs, to be taken through a
 * signalfd when the program is ready for them (even one that comes during
 * start-up), and ignore SIGPIPE: a closed stdout or socket must not kill
 * the program without its clean-up.
 */
static inline void block_stop_signals(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGHUP);
	if (sigprocmask(SIG_BLOCK, sigs, NULL))
		die("sigprocmask: %m");
	signal(SIGPIPE, SIG_IGN);
}

#endif /* LOOPFS_COMMON_H */
