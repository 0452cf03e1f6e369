/*
 * t_ids.c - device ids: never reused under churn, and a stale id (or a
 * stale queued event) never reaches a later device, even one that gets the
 * same slot or the same fd number.
 */
#include <epump.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

static int nop(void *cbpara, void *obj, int event, int fdtype)
{
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* 10^5 devices made and closed, bound or not: every id is new. */
static void churn(void)
{
	enum { N = 100000 };
	epcore_t *core = epcore_new(0);
	uint64_t *ids = malloc(N * sizeof(*ids));
	int i, dup = 0, zero = 0, failed = 0;

	epcore_start_epump(core, 2);
	for (i = 0; i < N; i++) {
		int fd = eventfd(0, 0);
		uint64_t end = tu_now_ms() + 10000;
		iodev_t *dev;

		/* Closes of bound devices finish on their epump: a slow one
		 * (valgrind) lets fds pile up; wait for it to catch up. */
		while (fd < 0 && errno == EMFILE && tu_now_ms() < end) {
			tu_sleep_ms(1);
			fd = eventfd(0, 0);
		}
		dev = iodev_new(core, fd, FDT_FILEDEV, NULL, nop, NULL);

		if (dev == NULL) {
			failed++;
			close(fd);
			ids[i] = 0;
			continue;
		}
		/* Bind every third: its close then travels to an epump. */
		if (i % 3 == 0 && iodev_bind_epump(dev, BIND_ONE_EPUMP, 0) < 0)
			failed++;
		ids[i] = iodev_id(dev);
		if (ids[i] == 0)
			zero++;
		if (iodev_close_by(core, ids[i]) < 0)
			failed++;
	}
	qsort(ids, N, sizeof(*ids), cmp_u64);
	for (i = 1; i < N; i++)
		if (ids[i] == ids[i - 1])
			dup++;
	TAP_IS(failed, 0, "10^5 devices created, bound and closed");
	TAP_IS(zero, 0, "no device has id 0");
	TAP_IS(dup, 0, "no id is handed out twice");
	free(ids);
	epcore_free(core);
}

/* A closed id stays dead after its slot is reused. */
static void stale_id(void)
{
	epcore_t *core = epcore_new(0);
	iodev_t *a, *b;
	uint64_t ida, idb;
	int r, e;

	a = iodev_new(core, eventfd(0, 0), FDT_FILEDEV, NULL, nop, NULL);
	ida = iodev_id(a);
	iodev_close(a);
	/* Unbound devices free their slot at once: b takes a's slot. */
	b = iodev_new(core, eventfd(0, 0), FDT_FILEDEV, NULL, nop, NULL);
	idb = iodev_id(b);
	TAP_OK(b == a, "the slot is reused (same memory)");
	TAP_OK(idb != ida && idb != 0, "but the id is new");
	errno = 0;
	r = iodev_close_by(core, ida);
	e = errno;
	TAP_OK(r == -1 && e == ENOENT, "closing by the old id: ENOENT");
	TAP_OK(iodev_by_id(core, ida) == NULL && errno == ENOENT,
	       "looking up the old id: NULL, ENOENT");
	TAP_OK(iodev_by_id(core, idb) == b, "the new device is untouched");
	TAP_OK(iodev_close_by(core, idb) == 0, "and closes by its own id");
	epcore_free(core);
}

/*
 * A READ event queued for device A behind a busy worker, A closed, and a
 * new device B made on the same fd number: A's handler never runs again
 * and B never sees A's event.
 */
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static atomic_long a_calls, a_after_close, b_wrong, blocker_in;
static atomic_int a_closed;
static iodev_t *b_dev;

static int block_worker(void *cbpara, void *para, int event, int fdtype)
{
	atomic_fetch_add(&blocker_in, 1);
	pthread_mutex_lock(&gate);
	pthread_mutex_unlock(&gate);
	return 0;
}

static int a_handler(void *cbpara, void *obj, int event, int fdtype)
{
	atomic_fetch_add(&a_calls, 1);
	if (atomic_load(&a_closed))
		atomic_fetch_add(&a_after_close, 1);
	return 0;
}

static int b_handler(void *cbpara, void *obj, int event, int fdtype)
{
	if (obj != b_dev || cbpara != (void *)&b_dev)
		atomic_fetch_add(&b_wrong, 1);
	return 0;
}

static void stale_event(void)
{
	epcore_t *core = epcore_new(0);
	int sa[2], sb[2], fd_a;
	iodev_t *a;
	uint64_t ida;

	atomic_store(&a_calls, 0);
	atomic_store(&a_after_close, 0);
	atomic_store(&b_wrong, 0);
	atomic_store(&blocker_in, 0);
	atomic_store(&a_closed, 0);
	epcore_start_epump(core, 1);
	epcore_start_worker(core, 1);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sa);
	fd_a = sa[0];
	a = iodev_new(core, sa[0], FDT_USOCK_CONNECTED, NULL, a_handler, NULL);
	ida = iodev_id(a);
	iodev_bind_epump(a, BIND_ONE_EPUMP, 0);

	pthread_mutex_lock(&gate);
	epcore_post(core, EPT_WORKER, 0, IOE_USER_DEFINED, NULL, block_worker,
	            NULL);
	TAP_OK(tu_wait_ge(&blocker_in, 1, 2000), "the worker is held busy");
	if (write(sa[1], "x", 1) != 1)
		tap_diag("write failed");
	tu_sleep_ms(100); /* the epump queues READ for A behind the blocker */
	atomic_store(&a_closed, 1);
	TAP_OK(iodev_close_by(core, ida) == 0, "A closed by id from main");
	/* Wait until A's fd is really closed, then reuse the number. */
	{
		uint64_t end = tu_now_ms() + 2000;
		char c;

		while (read(sa[1], &c, 1) != 0 && tu_now_ms() < end)
			tu_sleep_ms(1);
	}
	socketpair(AF_UNIX, SOCK_STREAM, 0, sb);
	TAP_IS(sb[0], fd_a, "B's socket got A's fd number");
	b_dev = iodev_new(core, sb[0], FDT_USOCK_CONNECTED, NULL, b_handler,
	                  &b_dev);
	iodev_bind_epump(b_dev, BIND_ONE_EPUMP, 0);
	if (write(sb[1], "y", 1) != 1)
		tap_diag("write failed");
	pthread_mutex_unlock(&gate);
	tu_sleep_ms(200);
	TAP_IS(atomic_load(&a_after_close), 0,
	       "A's queued event is dropped after its close");
	TAP_IS(atomic_load(&b_wrong), 0, "B only ever sees its own events");
	close(sa[1]);
	close(sb[1]);
	epcore_free(core);
}

static void all(void)
{
	churn();
	stale_id();
	stale_event();
}

int main(void)
{
	return tap_backends(all);
}
