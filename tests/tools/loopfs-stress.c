// SPDX-License-Identifier: GPL-2.0
/*
 * loopfs-stress - concurrent use and teardown of loopfs instances (contract
 * clauses 6.1 and 6.3).
 *
 *   loopfs-stress SECONDS [THREADS [SEED [MIN_HOLDS]]]
 *	(MIN_HOLDS: past SECONDS, run on until that many holds were taken,
 *	up to 3 x SECONDS: a slow machine takes longer, it does not check less)
 *	8 loopfs instances, about half of them attached in a mount namespace
 *	of the tool's own (on directories in $TMPDIR), the others detached;
 *	THREADS (default 3) worker threads get a device
 *	(LOOP_CTL_GET_FREE), bind it with LOOP_CONFIGURE to a small file in
 *	$TMPDIR, write a block through it, fsync, read it back from the device
 *	and from the backing file, then leave it one of five ways (LOOP_CLR_FD;
 *	closed while bound; node unlinked while open; LOOP_CLR_FD +
 *	LOOP_CTL_REMOVE; AUTOCLEAR).  Meanwhile a remover thread unlinks nodes
 *	and issues LOOP_CTL_REMOVE on devices of all instances (held ones
 *	among them) and LOOP_CTL_ADD of held indexes, a reader opens
 *	nodes and reads them, a recycler closes (and unmounts) an instance's
 *	mount and loop-control fds and makes a new instance in its slot (the
 *	old one ends under the threads that still hold its devices), and a
 *	holder keeps up to 16 holds on nodes (loopN and loopNpM: O_PATH fds,
 *	detached mounts of a node, bind mounts of a node on a file in $TMPDIR),
 *	releases them at random, reopens them O_RDWR through /proc/self/fd/N
 *	or the bind's path, and adds and deletes partitions of devices with
 *	BLKPG and opens and reads them by name (it never writes).  A violation
 *	(contract clause 1.7; see lt_hold_check()) is printed and fails the
 *	run: a held node whose device or partition is gone (its number left
 *	/sys/dev/block -- the hold pins it, so that is final -- or the remover's
 *	LOOP_CTL_REMOVE of it succeeded) opens or fails with anything but
 *	ENXIO, a held number shows up under another name or as another sysfs
 *	directory, or LOOP_CTL_ADD of an index succeeds while a hold on it is
 *	open.  After SECONDS the holds are released,
 *	everything is closed and it waits (30 s at most) until every device it
 *	saw is gone from /sys/block (and every partition from /sys/class/block)
 *	and /sys/block holds the loop devices it held
 *	at the start.  Prints the operation counts; exits 1 on a data mismatch,
 *	a violation or a leftover device, 0 otherwise.  SEED (default 42) seeds
 *	the threads' random choices; with threads racing, a run does not
 *	repeat exactly.
 *
 *   loopfs-stress --limit-check K [INDEX...]
 *	lt_limit_check(): sets /proc/sys/user/max_loop_devices to K (restored
 *	afterwards), and in a fresh detached instance adds devices until the
 *	limit stops it, first the INDEXes given (each must be free:
 *	LOOP_CTL_ADD(INDEX) succeeds), then free indexes from 100 up: exactly
 *	K adds must succeed and the next one fail with ENOSPC; with all K bound,
 *	LOOP_CTL_GET_FREE must fail with ENOSPC too, and so must a BLKPG add of
 *	a partition; with one device removed exactly one partition can be added
 *	and deleting it gives its charge back.  Fewer than K means a
 *	charge of real root's was not given back (devices of this uid in other
 *	instances count too, so nothing else may hold instance devices).
 */
#include "loopfs-tools.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <linux/fs.h>

#define NR_SLOTS	8
#define NR_HOLDS	16
#define NR_PARTS	2048
#define MAP_BITS	(1 << 20)
#define BACK_SIZE	(256 * 1024)
#define BLK		4096

struct slot {
	pthread_mutex_t lock;
	int mfd, ctl;
	int attached;		/* mfd is mounted on dir */
	char dir[PATH_MAX / 2];
};

static struct slot slots[NR_SLOTS];
static volatile int stop;
static uint64_t seed = 42;
static int private_mounts, host_ctl = -1;
static char scratch[PATH_MAX / 4];
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char host_map[MAP_BITS / 8], seen_map[MAP_BITS / 8];
static int seen[8192], nseen;
static int seen_parts[NR_PARTS][2], nseen_parts;	/* under seen_lock */

/*
 * The holder's holds.  Only the holder adds and releases them (a hold
 * leaves the pool before it is released); the remover reads the pool and
 * marks holds gone under hold_lock.
 */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lt_hold holds[NR_HOLDS];
static int nholds;
static unsigned long next_hold_id = 1;

static struct {
	unsigned long get_free, get_free_err, configure, configure_err, io,
		mismatch, clr, close_bound, unlink_open, remove_after, autoclear,
		unlinks, unlink_ok, removes, remove_ok, reads, recycles,
		read_ok;
	unsigned long taken[LT_HOLD_HOWS], take_failed, released, reopens,
		reopen_gone, reopen_live, reopen_live_failed, part_add,
		part_add_ok, part_add_nospc, part_del, part_del_ok, part_open,
		part_open_ok, removes_held, removes_held_ok, readds_held,
		readds_eexist, readds_nospc, violations;
} st;
static pthread_mutex_t st_lock = PTHREAD_MUTEX_INITIALIZER;
#define COUNT(f) do { pthread_mutex_lock(&st_lock); st.f++; pthread_mutex_unlock(&st_lock); } while (0)

/* Holds taken so far, of any kind. */
static unsigned long holds_taken(void)
{
	unsigned long n;

	pthread_mutex_lock(&st_lock);
	n = st.taken[LT_HOLD_PATH] + st.taken[LT_HOLD_TREE] + st.taken[LT_HOLD_BIND];
	pthread_mutex_unlock(&st_lock);
	return n;
}

static void note_nr(int nr)
{
	if (nr < 0 || nr >= MAP_BITS)
		return;
	pthread_mutex_lock(&seen_lock);
	if (!lt_bit(seen_map, nr) && nseen < (int)(sizeof(seen) / sizeof(seen[0]))) {
		seen_map[nr / 8] |= 1 << (nr % 8);
		seen[nseen++] = nr;
	}
	pthread_mutex_unlock(&seen_lock);
}

static int random_seen(uint64_t *rs)
{
	int nr = -1;

	pthread_mutex_lock(&seen_lock);
	if (nseen)
		nr = seen[lt_below(rs, nseen)];
	pthread_mutex_unlock(&seen_lock);
	return nr;
}

static void note_part(int nr, int pno)
{
	int i;

	pthread_mutex_lock(&seen_lock);
	for (i = 0; i < nseen_parts; i++)
		if (seen_parts[i][0] == nr && seen_parts[i][1] == pno)
			break;
	if (i == nseen_parts && nseen_parts < NR_PARTS) {
		seen_parts[i][0] = nr;
		seen_parts[i][1] = pno;
		nseen_parts++;
	}
	pthread_mutex_unlock(&seen_lock);
}

/* a partition seen: 0, or -1 when none was */
static int random_part(uint64_t *rs, int *nr, int *pno)
{
	int k, ret = -1;

	pthread_mutex_lock(&seen_lock);
	if (nseen_parts) {
		k = lt_below(rs, nseen_parts);
		*nr = seen_parts[k][0];
		*pno = seen_parts[k][1];
		ret = 0;
	}
	pthread_mutex_unlock(&seen_lock);
	return ret;
}

static void violation(const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("stress: VIOLATION: %s (seed %llu)\n", msg, (unsigned long long)seed);
	COUNT(violations);
}

/* the index of a random hold, or -1 */
static int random_held(uint64_t *rs, int *slot)
{
	int nr = -1, k;

	pthread_mutex_lock(&hold_lock);
	if (nholds) {
		k = lt_below(rs, nholds);
		nr = holds[k].nr;
		*slot = holds[k].inst;
	}
	pthread_mutex_unlock(&hold_lock);
	return nr;
}

/* where holds are taken from now on (see holds_gone()) */
static unsigned long hold_epoch(void)
{
	unsigned long e;

	pthread_mutex_lock(&hold_lock);
	e = next_hold_id;
	pthread_mutex_unlock(&hold_lock);
	return e;
}

/*
 * LOOP_CTL_REMOVE(@nr) succeeded after hold_epoch() returned @epoch: the
 * holds on index @nr taken before then were on the removed device (they
 * pin the index), so that device and its partitions are gone.
 */
static void holds_gone(int nr, unsigned long epoch)
{
	int k;

	pthread_mutex_lock(&hold_lock);
	for (k = 0; k < nholds; k++)
		if (holds[k].nr == nr && holds[k].id < epoch)
			holds[k].gone = 1;
	pthread_mutex_unlock(&hold_lock);
}

/* dups of a slot's mount and loop-control fds (they keep its instance) */
static int grab(int i, int *mfd, int *ctl)
{
	pthread_mutex_lock(&slots[i].lock);
	*mfd = slots[i].mfd >= 0 ? fcntl(slots[i].mfd, F_DUPFD_CLOEXEC, 3) : -1;
	*ctl = slots[i].ctl >= 0 ? fcntl(slots[i].ctl, F_DUPFD_CLOEXEC, 3) : -1;
	pthread_mutex_unlock(&slots[i].lock);
	if (*mfd < 0 || *ctl < 0) {
		if (*mfd >= 0)
			close(*mfd);
		if (*ctl >= 0)
			close(*ctl);
		return -1;
	}
	return 0;
}

/* Called with the slot's lock held: unmount its instance (lazily) */
static void slot_unmount(int i)
{
	if (slots[i].attached && lt_umount(slots[i].dir, LT_MNT_DETACH))
		fprintf(stderr, "stress: umount %s: %m\n", slots[i].dir);
	slots[i].attached = 0;
}

static void slot_new(int i, uint64_t *rs)
{
	int mfd, ctl;

	mfd = lt_new_instance(lt_below(rs, 3) ? 0 : 2 + lt_below(rs, 3));
	if (mfd < 0) {
		fprintf(stderr, "stress: new instance: %s\n", strerror(-mfd));
		return;
	}
	ctl = lt_open_ctl(mfd);
	if (ctl < 0) {
		fprintf(stderr, "stress: open loop-control: %m\n");
		close(mfd);
		return;
	}
	pthread_mutex_lock(&slots[i].lock);
	slot_unmount(i);
	if (slots[i].mfd >= 0)
		close(slots[i].mfd);
	if (slots[i].ctl >= 0)
		close(slots[i].ctl);
	/* attached ones: their nodes can be cloned and bind mounted */
	if (private_mounts && lt_below(rs, 2) && !lt_attach(mfd, slots[i].dir))
		slots[i].attached = 1;
	slots[i].mfd = mfd;
	slots[i].ctl = ctl;
	pthread_mutex_unlock(&slots[i].lock);
}

static void *worker(void *arg)
{
	uint64_t rs = (0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1)) ^ seed;
	int bfd = lt_backing(BACK_SIZE);
	unsigned char *wbuf = aligned_alloc(BLK, BLK), *rbuf = aligned_alloc(BLK, BLK);
	unsigned long iter = 0;

	while (!stop) {
		int i = lt_below(&rs, NR_SLOTS), mfd, ctl, nr, dev;
		off_t off;
		char name[32];

		if (grab(i, &mfd, &ctl))
			continue;
		nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		COUNT(get_free);
		if (nr < 0) {
			COUNT(get_free_err);
			goto out;
		}
		note_nr(nr);
		dev = lt_open_dev(mfd, nr, O_RDWR);
		if (dev < 0)
			goto out;	/* removed or unlinked by the remover */
		COUNT(configure);
		if (lt_configure(dev, bfd, 0)) {
			COUNT(configure_err);	/* another worker got it first */
			close(dev);
			goto out;
		}
		iter++;
		off = (off_t)BLK * (iter % (BACK_SIZE / BLK));
		memset(wbuf, (int)(iter & 0xff), BLK);
		memcpy(wbuf, &iter, sizeof(iter));
		memcpy(wbuf + 8, &nr, sizeof(nr));
		if (pwrite(dev, wbuf, BLK, off) != BLK || fsync(dev) ||
		    pread(dev, rbuf, BLK, off) != BLK || memcmp(wbuf, rbuf, BLK) ||
		    pread(bfd, rbuf, BLK, off) != BLK || memcmp(wbuf, rbuf, BLK)) {
			fprintf(stderr, "stress: loop%d: write/read back at %lld failed or differs: %m\n",
				nr, (long long)off);
			COUNT(mismatch);
		}
		COUNT(io);
		switch (lt_below(&rs, 5)) {
		case 0:
			ioctl(dev, LOOP_CLR_FD);
			close(dev);
			COUNT(clr);
			break;
		case 1:
			close(dev);	/* stays bound; the instance's end detaches it */
			COUNT(close_bound);
			break;
		case 2:
			snprintf(name, sizeof(name), "loop%d", nr);
			unlinkat(mfd, name, 0);
			close(dev);
			COUNT(unlink_open);
			break;
		case 3: {
			unsigned long epoch = hold_epoch();

			ioctl(dev, LOOP_CLR_FD);
			close(dev);
			if (!ioctl(ctl, LOOP_CTL_REMOVE, nr))
				holds_gone(nr, epoch);
			COUNT(remove_after);
			break;
		}
		default: {
			struct loop_info64 li;

			if (!ioctl(dev, LOOP_GET_STATUS64, &li)) {
				li.lo_flags |= LO_FLAGS_AUTOCLEAR;
				ioctl(dev, LOOP_SET_STATUS64, &li);
			}
			close(dev);
			COUNT(autoclear);
		}
		}
out:
		close(mfd);
		close(ctl);
	}
	close(bfd);
	free(wbuf);
	free(rbuf);
	return NULL;
}

/*
 * LOOP_CTL_ADD of a held index, on loop-control @ctl or the host's: EEXIST
 * everywhere while the hold is open.  hold_lock is held across the call, so
 * the hold is open throughout (a hold leaves the pool before its release).
 */
static void readd_held(uint64_t *rs, int ctl)
{
	int nr = -1, r = -1, e = 0, host = host_ctl >= 0 && lt_below(rs, 4) == 0;

	pthread_mutex_lock(&hold_lock);
	if (nholds) {
		nr = holds[lt_below(rs, nholds)].nr;
		r = ioctl(host ? host_ctl : ctl, LOOP_CTL_ADD, nr);
		e = errno;
	}
	pthread_mutex_unlock(&hold_lock);
	if (nr < 0)
		return;
	COUNT(readds_held);
	if (r < 0) {
		if (e == EEXIST)
			COUNT(readds_eexist);
		if (e == ENOSPC)
			COUNT(readds_nospc);	/* a limit is checked first */
		return;
	}
	violation("LOOP_CTL_ADD(%d) on %s succeeded while a hold on index %d was open",
		  nr, host ? "the host's loop-control" : "an instance's loop-control", nr);
	if (host)
		ioctl(host_ctl, LOOP_CTL_REMOVE, r);	/* not ours to keep */
	else
		note_nr(r);
}

static void *remover(void *arg)
{
	uint64_t rs = 0x1234567ULL ^ seed;

	while (!stop) {
		int i = lt_below(&rs, NR_SLOTS), mfd, ctl, nr, hi = -1;
		unsigned long epoch;
		char name[32];

		/* a held device now and then, from its own instance */
		nr = lt_below(&rs, 3) ? random_seen(&rs) : (hi = random_held(&rs, &i));
		if (nr < 0 || grab(i, &mfd, &ctl)) {
			lt_sleep_ms(10);
			continue;
		}
		if (lt_below(&rs, 5) == 0) {
			readd_held(&rs, ctl);
		} else if (lt_below(&rs, 2)) {
			snprintf(name, sizeof(name), "loop%d", nr);
			COUNT(unlinks);
			if (hi >= 0)
				COUNT(removes_held);
			if (!unlinkat(mfd, name, 0)) {
				COUNT(unlink_ok);
				if (hi >= 0)
					COUNT(removes_held_ok);
			}
		} else {
			COUNT(removes);
			if (hi >= 0)
				COUNT(removes_held);
			epoch = hold_epoch();
			if (!ioctl(ctl, LOOP_CTL_REMOVE, nr)) {
				COUNT(remove_ok);
				holds_gone(nr, epoch);
				if (hi >= 0)
					COUNT(removes_held_ok);
			}
		}
		close(mfd);
		close(ctl);
		lt_sleep_ms(lt_below(&rs, 40));
	}
	return NULL;
}

static void *reader(void *arg)
{
	uint64_t rs = 0xabcdef12345ULL ^ seed;
	char *b = aligned_alloc(BLK, BLK);

	while (!stop) {
		int i = lt_below(&rs, NR_SLOTS), mfd, ctl, nr = random_seen(&rs), dev;
		struct loop_info64 li;
		uint64_t sz;

		if (nr < 0 || grab(i, &mfd, &ctl)) {
			lt_sleep_ms(10);
			continue;
		}
		COUNT(reads);
		dev = lt_open_dev(mfd, nr, O_RDONLY);
		if (dev >= 0) {
			ioctl(dev, BLKGETSIZE64, &sz);
			ioctl(dev, LOOP_GET_STATUS64, &li);
			if (pread(dev, b, BLK, 0) >= 0)
				COUNT(read_ok);
			close(dev);
		}
		close(mfd);
		close(ctl);
		lt_sleep_ms(lt_below(&rs, 20));
	}
	free(b);
	return NULL;
}

/*
 * The holder's moves.  Take a hold on node @name (or a random one) of the
 * instance of slot @i (root @mfd).
 */
static void hold_take(uint64_t *rs, int i, int mfd, const char *name)
{
	static const int hows[] = { LT_HOLD_PATH, LT_HOLD_PATH, LT_HOLD_TREE, LT_HOLD_BIND };
	int nr, pno = 0, how = hows[lt_below(rs, 4)];
	struct lt_hold h;
	char buf[40];

	if (nholds == NR_HOLDS)		/* (only we add holds) */
		return;
	if (!name && lt_below(rs, 4) && !lt_pick_node(mfd, rs, 0, buf, sizeof(buf)))
		name = buf;	/* a node the instance has */
	if (!name) {
		if (lt_below(rs, 3) || random_part(rs, &nr, &pno))
			nr = random_seen(rs), pno = 0;
		if (nr < 0)
			return;
		if (pno)
			snprintf(buf, sizeof(buf), "loop%dp%d", nr, pno);
		else
			snprintf(buf, sizeof(buf), "loop%d", nr);
		name = buf;
	}
	if (lt_hold_take(&h, mfd, name, how, scratch)) {
		COUNT(take_failed);
		return;
	}
	COUNT(taken[how]);
	h.inst = i;
	pthread_mutex_lock(&hold_lock);
	h.id = next_hold_id++;
	holds[nholds++] = h;
	pthread_mutex_unlock(&hold_lock);
}

static void hold_release(uint64_t *rs)
{
	struct lt_hold h;
	int k;

	pthread_mutex_lock(&hold_lock);
	if (!nholds) {
		pthread_mutex_unlock(&hold_lock);
		return;
	}
	k = lt_below(rs, nholds);
	h = holds[k];
	holds[k] = holds[--nholds];
	pthread_mutex_unlock(&hold_lock);
	lt_hold_release(&h);
	COUNT(released);
}

/* Reopen a held node O_RDWR (and read it; never write) */
static void hold_reopen(uint64_t *rs, char *b)
{
	struct lt_hold h;
	char why[400];
	ssize_t n;
	int fd;

	pthread_mutex_lock(&hold_lock);
	if (!nholds) {
		pthread_mutex_unlock(&hold_lock);
		return;
	}
	h = holds[lt_below(rs, nholds)];	/* only we release it */
	pthread_mutex_unlock(&hold_lock);
	COUNT(reopens);
	switch (lt_hold_check(&h, &fd, why, sizeof(why))) {
	case LT_HOLD_LIVE:
		COUNT(reopen_live);
		n = pread(fd, b, BLK, 0);	/* (an unbound device reads nothing) */
		(void)n;
		close(fd);
		break;
	case LT_HOLD_LIVE_FAILED:
		COUNT(reopen_live_failed);
		break;
	case LT_HOLD_GONE:
		COUNT(reopen_gone);
		break;
	default:
		violation("%s", why);
	}
}

/*
 * BLKPG add or delete of partition 1..8 of a device of a slot's instance;
 * a partition added is opened by name and read (and held, sometimes)
 */
static void part_op(uint64_t *rs, int i, int mfd, char *b)
{
	int nr, dev, pno = 1 + lt_below(rs, 8), pfd, del;
	char name[40];
	ssize_t n;

	/* a partition the instance has, to delete, or a device */
	if (lt_below(rs, 3) == 0 && !lt_pick_node(mfd, rs, 2, name, sizeof(name)) &&
	    sscanf(name, "loop%dp%d", &nr, &pno) == 2) {
		del = 1;
	} else if (lt_pick_node(mfd, rs, 1, name, sizeof(name))) {
		return;
	} else {
		nr = atoi(name + 4);
		del = lt_below(rs, 4) == 0;
	}
	dev = lt_open_dev(mfd, nr, O_RDWR);
	if (dev < 0)
		return;
	if (del) {
		COUNT(part_del);
		if (!lt_blkpg(dev, BLKPG_DEL_PARTITION, pno, 0, 0))
			COUNT(part_del_ok);
		close(dev);
		return;
	}
	COUNT(part_add);
	if (lt_blkpg(dev, BLKPG_ADD_PARTITION, pno, 512LL * lt_below(rs, BACK_SIZE / 512),
		     512LL * (1 + lt_below(rs, 128)))) {
		if (errno == ENOSPC)
			COUNT(part_add_nospc);
		close(dev);
		return;
	}
	COUNT(part_add_ok);
	note_part(nr, pno);
	snprintf(name, sizeof(name), "loop%dp%d", nr, pno);
	COUNT(part_open);
	pfd = openat(mfd, name, O_RDONLY | O_CLOEXEC);
	if (pfd >= 0) {
		COUNT(part_open_ok);
		n = pread(pfd, b, 512, 0);
		(void)n;
		close(pfd);
	}
	close(dev);
	if (lt_below(rs, 3) == 0)
		hold_take(rs, i, mfd, name);
}

static void *holder(void *arg)
{
	uint64_t rs = 0x686f6c646572ULL ^ seed;
	char *b = aligned_alloc(BLK, BLK);

	while (!stop) {
		unsigned int w = lt_below(&rs, 100);
		int i = lt_below(&rs, NR_SLOTS), mfd, ctl;

		if (w < 12 || (w < 40 && nholds == NR_HOLDS)) {
			hold_release(&rs);
		} else if (w < 40) {
			hold_reopen(&rs, b);
		} else if (!grab(i, &mfd, &ctl)) {
			if (w < 70)
				hold_take(&rs, i, mfd, NULL);
			else
				part_op(&rs, i, mfd, b);
			close(mfd);
			close(ctl);
		}
		lt_sleep_ms(lt_below(&rs, 10));
	}
	free(b);
	return NULL;
}

static void *recycler(void *arg)
{
	uint64_t rs = 0x5555aaaa1111ULL ^ seed;

	while (!stop) {
		lt_sleep_ms(200 + lt_below(&rs, 400));
		if (stop)
			break;
		slot_new(lt_below(&rs, NR_SLOTS), &rs);
		COUNT(recycles);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static unsigned char now[MAP_BITS / 8];
	const char *td = getenv("TMPDIR");
	pthread_t th[17];
	int secs, nthreads = 3, i, n = 0, left, bad = 0;
	unsigned long min_holds = 0;
	uint64_t rs;
	double t0, end;

	if (argc >= 3 && !strcmp(argv[1], "--limit-check"))
		return lt_limit_check(atoi(argv[2]), argv + 3, argc - 3);
	if (argc < 2) {
		fprintf(stderr, "usage: %s SECONDS [THREADS [SEED [MIN_HOLDS]]] | --limit-check K [INDEX...]\n", argv[0]);
		return 2;
	}
	secs = atoi(argv[1]);
	if (argc > 2)
		nthreads = atoi(argv[2]);
	if (nthreads < 1 || nthreads > 12)
		nthreads = 3;
	if (argc > 3 && strtoull(argv[3], NULL, 0))
		seed = strtoull(argv[3], NULL, 0);
	if (argc > 4)
		min_holds = strtoul(argv[4], NULL, 0);
	rs = seed;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	printf("stress: seed %llu\n", (unsigned long long)seed);
	if (lt_sys_loops(host_map, MAP_BITS) < 0)
		lt_die("/sys/block: %m");
	snprintf(scratch, sizeof(scratch), "%s", td && *td ? td : "/tmp");
	/* attached instances and bind mounts stay in a mount namespace of ours */
	private_mounts = !lt_private_mounts();
	if (!private_mounts)
		printf("stress: no mount namespace of its own (%m): no attached instances, no bind or detached mounts of nodes\n");
	host_ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	for (i = 0; i < NR_SLOTS; i++) {
		pthread_mutex_init(&slots[i].lock, NULL);
		slots[i].mfd = slots[i].ctl = -1;
		snprintf(slots[i].dir, sizeof(slots[i].dir), "%s/loopfs-stress-mnt%d", scratch, i);
		if (private_mounts && mkdir(slots[i].dir, 0700) && errno != EEXIST)
			lt_die("mkdir %s: %m", slots[i].dir);
		slot_new(i, &rs);
		if (slots[i].mfd < 0)
			lt_die("stress: cannot make instance %d", i);
	}
	t0 = lt_now();
	for (i = 0; i < nthreads; i++)
		pthread_create(&th[n++], NULL, worker, (void *)(uintptr_t)i);
	pthread_create(&th[n++], NULL, remover, NULL);
	pthread_create(&th[n++], NULL, reader, NULL);
	pthread_create(&th[n++], NULL, recycler, NULL);
	pthread_create(&th[n++], NULL, holder, NULL);
	/* a slow machine runs longer (up to 3 x SECONDS) for MIN_HOLDS */
	while (lt_now() - t0 < secs ||
	       (holds_taken() < min_holds && lt_now() - t0 < 3.0 * secs))
		lt_sleep_ms(100);
	stop = 1;
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	printf("stress: %.1f s with %d workers: GET_FREE %lu (failed %lu), LOOP_CONFIGURE %lu (failed %lu), write+fsync+read back %lu (mismatches %lu)\n",
	       lt_now() - t0, nthreads, st.get_free, st.get_free_err, st.configure,
	       st.configure_err, st.io, st.mismatch);
	printf("stress: left by CLR_FD %lu, closed bound %lu, unlinked while open %lu, CLR_FD+REMOVE %lu, AUTOCLEAR %lu\n",
	       st.clr, st.close_bound, st.unlink_open, st.remove_after, st.autoclear);
	printf("stress: remover: unlinkat %lu (ok %lu), LOOP_CTL_REMOVE %lu (ok %lu); reader: %lu opens tried, %lu reads; instances recycled %lu\n",
	       st.unlinks, st.unlink_ok, st.removes, st.remove_ok, st.reads, st.read_ok,
	       st.recycles);
	printf("stress: holds taken %lu (O_PATH fd %lu, detached mount %lu, bind mount %lu; %lu failed), released %lu; reopens %lu (gone: ENXIO %lu; live: opened %lu, failed %lu); partitions: BLKPG add %lu (ok %lu, ENOSPC %lu), del %lu (ok %lu), opened by name after add %lu (ok %lu), %d seen; held devices removed or unlinked %lu (ok %lu); LOOP_CTL_ADD of held indexes %lu (EEXIST %lu, ENOSPC %lu); violations %lu\n",
	       st.taken[LT_HOLD_PATH] + st.taken[LT_HOLD_TREE] + st.taken[LT_HOLD_BIND],
	       st.taken[LT_HOLD_PATH], st.taken[LT_HOLD_TREE], st.taken[LT_HOLD_BIND],
	       st.take_failed, st.released + nholds, st.reopens, st.reopen_gone,
	       st.reopen_live, st.reopen_live_failed, st.part_add, st.part_add_ok,
	       st.part_add_nospc, st.part_del, st.part_del_ok, st.part_open,
	       st.part_open_ok, nseen_parts, st.removes_held, st.removes_held_ok,
	       st.readds_held, st.readds_eexist, st.readds_nospc, st.violations);
	/* the holds go first, then the instances */
	while (nholds)
		lt_hold_release(&holds[--nholds]);
	for (i = 0; i < NR_SLOTS; i++) {
		slot_unmount(i);
		close(slots[i].ctl);
		close(slots[i].mfd);
	}
	if (host_ctl >= 0)
		close(host_ctl);
	end = lt_now();
	left = lt_wait_gone(seen, nseen, 30);
	printf("stress: %d devices used; %d left in /sys/block %.1f s after the last close\n",
	       nseen, left, lt_now() - end);
	bad += lt_leftovers(stdout, "stress: ", seen, nseen, seen_parts, nseen_parts,
			    seen_map, MAP_BITS);
	lt_sys_loops(now, MAP_BITS);
	if (memcmp(now, host_map, sizeof(now))) {
		printf("stress: FAIL: /sys/block's loop devices differ from the start\n");
		bad++;
	}
	if (st.mismatch) {
		printf("stress: FAIL: %lu data mismatches\n", st.mismatch);
		bad++;
	}
	if (st.violations) {
		printf("stress: FAIL: %lu violations (seed %llu)\n", st.violations,
		       (unsigned long long)seed);
		bad++;
	}
	if (!st.io) {
		printf("stress: FAIL: no I/O was done at all\n");
		bad++;
	}
	printf("stress: %s\n", bad ? "FAILED" : "ok");
	return bad ? 1 : 0;
}
