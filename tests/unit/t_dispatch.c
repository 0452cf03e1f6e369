/*
 * t_dispatch.c - how events reach handlers: READ and WRITE readiness in one
 * poller result both arrive; a device's events run on one thread, in order,
 * never concurrently (4 workers, 10^5 events); write interest is one-shot;
 * without workers handlers run on the epump thread.
 */
#include <epump.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* ---- READ and WRITE together ---- */

static atomic_long rw_read, rw_write;

static int rw_handler(void *cbpara, void *obj, int event, int fdtype)
{
	if (event == IOE_READ) {
		drain(iodev_fd(obj));
		atomic_fetch_add(&rw_read, 1);
	} else if (event == IOE_WRITE) {
		atomic_fetch_add(&rw_write, 1);
	}
	return 0;
}

static void read_and_write(int workers)
{
	epcore_t *core = epcore_new(0);
	int sv[2];
	iodev_t *dev;

	atomic_store(&rw_read, 0);
	atomic_store(&rw_write, 0);
	epcore_start_epump(core, 1);
	epcore_start_worker(core, workers);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	/* Readable and writable before it is polled: one result, both. */
	if (write(sv[1], "data", 4) != 4)
		tap_diag("write");
	dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL, rw_handler,
	                NULL);
	TAP_OK(iodev_add_notify(dev, RWF_WRITE) == 0, "%d workers: arm write",
	       workers);
	TAP_IS(iodev_rwflags(dev), RWF_READ | RWF_WRITE, "interest R|W");
	iodev_bind_epump(dev, BIND_ONE_EPUMP, 0);
	TAP_OK(tu_wait_ge(&rw_read, 1, 2000) && tu_wait_ge(&rw_write, 1, 2000),
	       "both IOE_READ and IOE_WRITE arrive");
	tu_sleep_ms(100);
	TAP_IS(atomic_load(&rw_write), 1, "IOE_WRITE is one-shot");
	TAP_IS(iodev_rwflags(dev), RWF_READ, "write interest cleared");
	/* More data makes a new READ, and no WRITE comes with it. */
	if (write(sv[1], "more", 4) != 4)
		tap_diag("write");
	TAP_OK(tu_wait_ge(&rw_read, 2, 2000), "new data: IOE_READ again");
	tu_sleep_ms(50);
	TAP_IS(atomic_load(&rw_write), 1, "still no unasked IOE_WRITE");
	iodev_add_notify(dev, RWF_WRITE);
	TAP_OK(tu_wait_ge(&rw_write, 2, 2000), "re-armed: IOE_WRITE again");
	/* del_notify(READ): data arrives, no READ. */
	iodev_del_notify(dev, RWF_READ);
	{
		long before = atomic_load(&rw_read);

		if (write(sv[1], "quiet", 5) != 5)
			tap_diag("write");
		tu_sleep_ms(100);
		TAP_IS(atomic_load(&rw_read), before,
		       "read interest removed: no IOE_READ");
		iodev_add_notify(dev, RWF_READ);
		TAP_OK(tu_wait_ge(&rw_read, before + 1, 2000),
		       "read interest back: the pending data is reported");
	}
	close(sv[1]);
	epcore_free(core);
}

/* ---- one device, one thread at a time ---- */

enum { NDEV = 8, NPOST = 100000, NPOSTERS = 2 };

struct serial_dev {
	iodev_t *dev;
	uint64_t id;
	atomic_int in;
	atomic_long overlaps;
	atomic_long events;
	pthread_t owner;
	atomic_int owner_set;
	atomic_long thread_changes;
	long next_seq[NPOSTERS];
	atomic_long order_errors;
};

static struct serial_dev sdev[NDEV];
static atomic_long posted_done;

static void serial_enter(struct serial_dev *s)
{
	if (atomic_exchange(&s->in, 1) != 0)
		atomic_fetch_add(&s->overlaps, 1);
	if (!atomic_exchange(&s->owner_set, 1))
		s->owner = pthread_self();
	else if (!pthread_equal(s->owner, pthread_self()))
		atomic_fetch_add(&s->thread_changes, 1);
	atomic_fetch_add(&s->events, 1);
}

static void serial_leave(struct serial_dev *s)
{
	/* A little work inside, so overlaps would have time to show. */
	volatile int spin;

	for (spin = 0; spin < 200; spin++)
		;
	atomic_store(&s->in, 0);
}

static int serial_io(void *cbpara, void *obj, int event, int fdtype)
{
	struct serial_dev *s = cbpara;

	serial_enter(s);
	if (event == IOE_READ)
		drain(iodev_fd(obj));
	serial_leave(s);
	return 0;
}

/* para encodes poster << 24 | sequence. */
static int serial_user(void *cbpara, void *para, int event, int fdtype)
{
	struct serial_dev *s = cbpara;
	uintptr_t v = (uintptr_t)para;
	int poster = (int)(v >> 24);
	long seq = (long)(v & 0xffffff);

	serial_enter(s);
	if (seq != s->next_seq[poster])
		atomic_fetch_add(&s->order_errors, 1);
	s->next_seq[poster] = seq + 1;
	atomic_fetch_add(&posted_done, 1);
	serial_leave(s);
	return 0;
}

struct poster_arg {
	epcore_t *core;
	int poster;
	int peers[NDEV];
};

static void *poster(void *arg)
{
	struct poster_arg *pa = arg;
	long seq[NDEV] = { 0 };
	int i;

	for (i = 0; i < NPOST / NPOSTERS; i++) {
		int d = i % NDEV;
		uintptr_t para = ((uintptr_t)pa->poster << 24) |
		                 (uintptr_t)seq[d]++;

		while (iodev_post(pa->core, sdev[d].id, IOE_USER_DEFINED,
		                  (void *)para, serial_user, &sdev[d]) < 0)
			tu_sleep_ms(1); /* ENOMEM only; retried */
		if (i % 64 == 0 && write(pa->peers[d], "z", 1) != 1)
			break;
	}
	return NULL;
}

static void one_thread_per_device(int workers)
{
	epcore_t *core = epcore_new(0);
	struct poster_arg pa[NPOSTERS];
	pthread_t th[NPOSTERS];
	int peers[NDEV], i;
	long overlaps = 0, changes = 0, order = 0, events = 0;

	memset(sdev, 0, sizeof(sdev));
	atomic_store(&posted_done, 0);
	epcore_start_epump(core, 2);
	epcore_start_worker(core, workers);
	for (i = 0; i < NDEV; i++) {
		int sv[2];

		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		peers[i] = sv[1];
		sdev[i].dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL,
		                        serial_io, &sdev[i]);
		sdev[i].id = iodev_id(sdev[i].dev);
		iodev_bind_epump(sdev[i].dev, BIND_ONE_EPUMP, 0);
	}
	for (i = 0; i < NPOSTERS; i++) {
		pa[i].core = core;
		pa[i].poster = i;
		memcpy(pa[i].peers, peers, sizeof(peers));
		pthread_create(&th[i], NULL, poster, &pa[i]);
	}
	for (i = 0; i < NPOSTERS; i++)
		pthread_join(th[i], NULL);
	i = tu_wait_ge(&posted_done, NPOST, 30000);
	TAP_OK(i, "%d workers: all %d posted events ran (%ld)", workers, NPOST,
	       (long)atomic_load(&posted_done));
	tu_sleep_ms(50);
	for (i = 0; i < NDEV; i++) {
		overlaps += atomic_load(&sdev[i].overlaps);
		changes += atomic_load(&sdev[i].thread_changes);
		order += atomic_load(&sdev[i].order_errors);
		events += atomic_load(&sdev[i].events);
	}
	TAP_OK(events >= NPOST, "%ld events over %d devices", events, NDEV);
	TAP_IS(overlaps, 0, "a device's handlers never overlap");
	TAP_IS(changes, 0, "a device's events always run on one thread");
	TAP_IS(order, 0, "a device's events run in FIFO order");
	for (i = 0; i < NDEV; i++)
		close(peers[i]);
	epcore_free(core);
}

/* ---- which thread runs handlers ---- */

static pthread_t seen_thread;
static atomic_long seen;

static int whoami(void *cbpara, void *obj, int event, int fdtype)
{
	if (event == IOE_READ)
		drain(iodev_fd(obj));
	/* The first call records its thread; main reads it after seeing
	 * the count go up, so the write happens before the read. */
	if (atomic_load(&seen) == 0)
		seen_thread = pthread_self();
	atomic_fetch_add(&seen, 1);
	return 0;
}

static void handler_thread(void)
{
	epcore_t *core = epcore_new(0);
	int sv[2];
	iodev_t *dev;

	atomic_store(&seen, 0);
	epcore_start_epump(core, 1);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL, whoami, NULL);
	iodev_bind_epump(dev, BIND_GIVEN_EPUMP, 0);
	TAP_IS(iodev_epump(dev), 0, "bound to the given epump");
	if (write(sv[1], "a", 1) != 1)
		tap_diag("write");
	TAP_OK(tu_wait_ge(&seen, 1, 2000), "no workers: the handler ran");
	TAP_OK(!pthread_equal(seen_thread, pthread_self()),
	       "on an epump thread, not the caller's");
	TAP_IS(iodev_worker(dev), -1, "and no worker was assigned");
	close(sv[1]);
	epcore_free(core);
}

/* ---- devices bound before any epump exists ---- */

static void parked(void)
{
	epcore_t *core = epcore_new(0);
	int sv[2];
	iodev_t *dev;

	atomic_store(&seen, 0);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL, whoami, NULL);
	TAP_OK(iodev_bind_epump(dev, BIND_ONE_EPUMP, 0) == 0,
	       "binding before any epump runs: parked");
	TAP_IS(iodev_epump(dev), -1, "not on an epump yet");
	if (write(sv[1], "a", 1) != 1)
		tap_diag("write");
	epcore_start_epump(core, 1);
	TAP_OK(tu_wait_ge(&seen, 1, 2000), "the first epump adopts it");
	TAP_IS(iodev_epump(dev), 0, "and polls it");
	close(sv[1]);
	epcore_free(core);
}

/* ---- BIND_ALL_EPUMP: every epump polls one fd ---- */

static atomic_long all_in, all_overlap, all_reads;

static int all_handler(void *cbpara, void *obj, int event, int fdtype)
{
	if (atomic_exchange(&all_in, 1) != 0)
		atomic_fetch_add(&all_overlap, 1);
	drain(iodev_fd(obj));
	atomic_fetch_add(&all_reads, 1);
	atomic_store(&all_in, 0);
	return 0;
}

static void bind_all(int workers)
{
	epcore_t *core = epcore_new(0);
	int sv[2], i;
	iodev_t *dev;

	atomic_store(&all_overlap, 0);
	atomic_store(&all_reads, 0);
	epcore_start_epump(core, 2);
	epcore_start_worker(core, workers);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL, all_handler,
	                NULL);
	TAP_OK(iodev_bind_epump(dev, BIND_ALL_EPUMP, 0) == 0,
	       "%d workers: bound to all epumps", workers);
	epcore_start_epump(core, 1); /* a later epump joins in */
	for (i = 0; i < 200; i++) {
		if (write(sv[1], "x", 1) != 1)
			break;
		tu_sleep_ms(1);
	}
	TAP_OK(tu_wait_ge(&all_reads, 1, 2000), "reads are reported");
	TAP_IS(atomic_load(&all_overlap), 0,
	       "its handler never runs on two threads at once");
	iodev_close(dev);
	{
		char c;
		uint64_t end = tu_now_ms() + 2000;
		ssize_t n;

		while ((n = read(sv[1], &c, 1)) != 0 && tu_now_ms() < end)
			tu_sleep_ms(1);
		TAP_IS(n, 0, "closing it closes the fd once every epump let go");
	}
	close(sv[1]);
	epcore_free(core);
}

/* ---- BIND_CURRENT_EPUMP: the epump behind the running event ---- */

static atomic_long cur_done;
static int cur_epump = -2;
static int cur_peer = -1;

static int cur_handler(void *cbpara, void *obj, int event, int fdtype)
{
	epcore_t *core = iodev_core(obj);
	int sv[2];
	iodev_t *b;

	while (read(iodev_fd(obj), (char[64]){ 0 }, 64) > 0)
		;
	if (atomic_load(&cur_done))
		return 0;
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	b = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL, cur_handler, NULL);
	if (iodev_bind_epump(b, BIND_CURRENT_EPUMP, 0) == 0)
		cur_epump = iodev_epump(b);
	cur_peer = sv[1];
	atomic_store(&cur_done, 1);
	return 0;
}

static void bind_current(int workers)
{
	epcore_t *core = epcore_new(0);
	int sv[2];
	iodev_t *a;

	atomic_store(&cur_done, 0);
	cur_epump = -2;
	epcore_start_epump(core, 3);
	epcore_start_worker(core, workers);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	a = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL, cur_handler, NULL);
	iodev_bind_epump(a, BIND_GIVEN_EPUMP, 2);
	if (write(sv[1], "x", 1) != 1)
		tap_diag("write");
	TAP_OK(tu_wait_ge(&cur_done, 1, 2000), "%d workers: handler ran",
	       workers);
	TAP_IS(cur_epump, 2, "BIND_CURRENT_EPUMP in a handler picks the "
	       "epump behind its event");
	close(sv[1]);
	close(cur_peer);
	epcore_free(core);
}

/* ---- end of file reaches a handler that stops at a short read ---- */

static atomic_long eof_calls, eof_seen, eof_bytes;

static int short_reader(void *cbpara, void *obj, int event, int fdtype)
{
	char buf[64];
	ssize_t n;

	atomic_fetch_add(&eof_calls, 1);
	/* The cheap contract: stop as soon as a read comes back short. */
	for (;;) {
		n = read(iodev_fd(obj), buf, sizeof(buf));
		if (n > 0)
			atomic_fetch_add(&eof_bytes, n);
		if (n != (ssize_t)sizeof(buf))
			break;
	}
	if (n == 0)
		atomic_fetch_add(&eof_seen, 1); /* and keep it open */
	return 0;
}

static void eof_after_short_read(int workers)
{
	epcore_t *core = epcore_new(0);
	int sv[2];
	iodev_t *dev;

	atomic_store(&eof_calls, 0);
	atomic_store(&eof_seen, 0);
	atomic_store(&eof_bytes, 0);
	epcore_start_epump(core, 1);
	epcore_start_worker(core, workers);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	/* Data and end of file arrive together, before polling starts. */
	if (write(sv[1], "last words", 10) != 10)
		tap_diag("write");
	close(sv[1]);
	dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL, short_reader,
	                NULL);
	iodev_bind_epump(dev, BIND_ONE_EPUMP, 0);
	TAP_OK(tu_wait_ge(&eof_seen, 1, 2000), "%d workers: a handler that "
	       "stops at a short read still sees end of file", workers);
	TAP_IS(atomic_load(&eof_bytes), 10, "after the data");
	tu_sleep_ms(200);
	TAP_OK(atomic_load(&eof_calls) <= 3, "end of file is reported once, "
	       "not again and again (%ld handler calls)",
	       (long)atomic_load(&eof_calls));
	epcore_free(core);
}

static void all(void)
{
	eof_after_short_read(0);
	eof_after_short_read(1);
	bind_current(0);
	bind_current(2);
	read_and_write(0);
	read_and_write(2);
	one_thread_per_device(4);
	one_thread_per_device(0);
	handler_thread();
	parked();
	bind_all(0);
	bind_all(2);
}

int main(void)
{
	return tap_backends(all);
}
