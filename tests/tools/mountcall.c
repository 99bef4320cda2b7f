// SPDX-License-Identifier: GPL-2.0
/*
 * mountcall - one mount(2), umount2(2) or mount_setattr(2) call exactly as
 * given, for shell tests that need the errno (mount(8) canonicalizes paths,
 * retries and words its errors).
 *
 *   mountcall mount SRC TARGET TYPE FLAGS [DATA]
 *   mountcall umount TARGET [FLAGS]
 *   mountcall setattr PATH SET CLEAR
 *
 * SRC, TYPE or DATA "-" passes NULL.  FLAGS is a comma separated list of
 * names (rdonly, nosuid, nodev, noexec, synchronous, remount, mandlock,
 * dirsync, nosymfollow, noatime, nodiratime, bind, move, rec, silent,
 * unbindable, private, slave, shared, relatime, strictatime, lazytime; for
 * umount: force, detach, expire, nofollow), a number, or "0".  SET and
 * CLEAR of setattr are lists of rdonly, nosuid, nodev, noexec, noatime,
 * strictatime, nodiratime, nosymfollow (or "0"); the path is not followed
 * further than open(2) would (AT_SYMLINK_NOFOLLOW is not set).
 *
 * Prints "ok" and exits 0, or prints "errno=NAME" (errno=EPERM, ...) and
 * exits 1.  Usage errors exit 2.
 *
 * Build: gcc -O2 -Wall -Wextra -o build/tools/mountcall tests/tools/mountcall.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

struct flag {
	const char *name;
	unsigned long val;
};

static const struct flag mount_flags[] = {
	{ "rdonly", MS_RDONLY }, { "nosuid", MS_NOSUID }, { "nodev", MS_NODEV },
	{ "noexec", MS_NOEXEC }, { "synchronous", MS_SYNCHRONOUS },
	{ "remount", MS_REMOUNT }, { "mandlock", MS_MANDLOCK },
	{ "dirsync", MS_DIRSYNC }, { "nosymfollow", 256 /* MS_NOSYMFOLLOW */ },
	{ "noatime", MS_NOATIME }, { "nodiratime", MS_NODIRATIME },
	{ "bind", MS_BIND }, { "move", MS_MOVE }, { "rec", MS_REC },
	{ "silent", MS_SILENT }, { "unbindable", MS_UNBINDABLE },
	{ "private", MS_PRIVATE }, { "slave", MS_SLAVE }, { "shared", MS_SHARED },
	{ "relatime", MS_RELATIME }, { "strictatime", MS_STRICTATIME },
	{ "lazytime", MS_LAZYTIME }, { NULL, 0 }
};

static const struct flag umount_flags[] = {
	{ "force", MNT_FORCE }, { "detach", MNT_DETACH }, { "expire", MNT_EXPIRE },
	{ "nofollow", UMOUNT_NOFOLLOW }, { NULL, 0 }
};

static const struct flag attr_flags[] = {
	{ "rdonly", MOUNT_ATTR_RDONLY }, { "nosuid", MOUNT_ATTR_NOSUID },
	{ "nodev", MOUNT_ATTR_NODEV }, { "noexec", MOUNT_ATTR_NOEXEC },
	{ "noatime", MOUNT_ATTR_NOATIME }, { "strictatime", MOUNT_ATTR_STRICTATIME },
	{ "nodiratime", MOUNT_ATTR_NODIRATIME }, { "nosymfollow", MOUNT_ATTR_NOSYMFOLLOW },
	{ NULL, 0 }
};

static int usage(void)
{
	fprintf(stderr, "usage: mountcall mount SRC TARGET TYPE FLAGS [DATA]\n"
		"       mountcall umount TARGET [FLAGS]\n"
		"       mountcall setattr PATH SET CLEAR\n");
	return 2;
}

/* A comma separated list of names of @tab, or a number; -1 on a bad one. */
static int parse_flags(const char *s, const struct flag *tab, unsigned long *out)
{
	char *copy, *tok, *save = NULL, *end;
	const struct flag *f;

	*out = strtoul(s, &end, 0);
	if (*s && !*end)
		return 0;
	*out = 0;
	copy = strdup(s);
	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (f = tab; f->name && strcmp(f->name, tok); f++)
			;
		if (!f->name) {
			fprintf(stderr, "mountcall: unknown flag '%s'\n", tok);
			free(copy);
			return -1;
		}
		*out |= f->val;
	}
	free(copy);
	return 0;
}

static const char *arg(const char *s)
{
	return strcmp(s, "-") ? s : NULL;
}

static int result(int r)
{
	const char *n;

	if (!r) {
		printf("ok\n");
		return 0;
	}
	n = strerrorname_np(errno);
	printf("errno=%s\n", n ? n : "?");
	return 1;
}

int main(int argc, char **argv)
{
	unsigned long fl = 0, set, clr;
	struct mount_attr ma;

	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "mount") && (argc == 6 || argc == 7)) {
		if (parse_flags(argv[5], mount_flags, &fl))
			return 2;
		return result(mount(arg(argv[2]), argv[3], arg(argv[4]), fl,
				    argc == 7 ? arg(argv[6]) : NULL));
	}
	if (!strcmp(argv[1], "umount") && (argc == 3 || argc == 4)) {
		if (argc == 4 && parse_flags(argv[3], umount_flags, &fl))
			return 2;
		return result(umount2(argv[2], fl));
	}
	if (!strcmp(argv[1], "setattr") && argc == 5) {
		if (parse_flags(argv[3], attr_flags, &set) ||
		    parse_flags(argv[4], attr_flags, &clr))
			return 2;
		memset(&ma, 0, sizeof(ma));
		ma.attr_set = set;
		ma.attr_clr = clr;
		/* (an atime mode is set as a whole) */
		if ((set | clr) & (MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME))
			ma.attr_clr |= MOUNT_ATTR__ATIME;
		return result(mount_setattr(AT_FDCWD, argv[2], 0, &ma, sizeof(ma)));
	}
	return usage();
}
