/*
 * t_close.c - closing devices: from another thread while the handler runs
 * (the close waits for nothing, the handler finishes, nothing runs after),
 * from the device's own handler, twice, and racing with readiness.
 */
#include <epump.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

/* Did the peer of our socket see EOF (our end closed) within ms? */
static int peer_sees_eof(int peer, unsigned ms)
{
	uint64_t end = tu_now_ms() + ms;
	char buf[256];

	fcntl(peer, F_SETFL, fcntl(peer, F_GETFL) | O_NONBLOCK);
	for (;;) {
		struct pollfd p = { peer, POLLIN, 0 };
		uint64_t now = tu_now_ms();
		ssize_t n;

		if (now >= end)
			return 0;
		(void)poll(&p, 1, (int)(end - now));
		n = read(peer, buf, sizeof(buf));
		/* Unread data makes the close a reset. */
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		if (n < 0 && errno != EAGAIN)
			return 0;
	}
}

static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* ---- close from another thread while the handler runs ---- */

static atomic_long slow_in, slow_out, slow_calls, slow_after;
static atomic_int slow_closed;

static int slow_handler(void *cbpara, void *obj, int event, int fdtype)
{
	iodev_t *dev = obj;

	if (atomic_load(&slow_closed))
		atomic_fetch_add(&slow_after, 1);
	atomic_fetch_add(&slow_calls, 1);
	drain(iodev_fd(dev));
	atomic_fetch_add(&slow_in, 1);
	tu_sleep_ms(300);
	atomic_fetch_add(&slow_out, 1);
	return 0;
}

static void close_while_running(int workers)
{
	epcore_t *core = epcore_new(0);
	int sv[2];
	iodev_t *dev;
	uint64_t id, t0, took;

	atomic_store(&slow_in, 0);
	atomic_store(&slow_out, 0);
	atomic_store(&slow_calls, 0);
	atomic_store(&slow_after, 0);
	atomic_store(&slow_closed, 0);
	epcore_start_epump(core, 1);
	epcore_start_worker(core, workers);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL, slow_handler,
	                NULL);
	id = iodev_id(dev);
	iodev_bind_epump(dev, BIND_ONE_EPUMP, 0);
	if (write(sv[1], "a", 1) != 1)
		tap_diag("write");
	TAP_OK(tu_wait_ge(&slow_in, 1, 2000), "%d workers: handler running",
	       workers);
	t0 = tu_now_ms();
	atomic_store(&slow_closed, 1);
	TAP_OK(iodev_close_by(core, id) == 0, "closed by id from main");
	took = tu_now_ms() - t0;
	TAP_OK(took < 250, "the close returned without waiting for the "
	       "handler (%llu ms)", (unsigned long long)took);
	TAP_IS(atomic_load(&slow_out), 0, "the handler is still running");
	if (write(sv[1], "b", 1) != 1)
		tap_diag("write");
	TAP_OK(peer_sees_eof(sv[1], 3000),
	       "the fd is closed once the handler returned");
	TAP_IS(atomic_load(&slow_out), 1, "the handler finished");
	tu_sleep_ms(50);
	TAP_IS(atomic_load(&slow_after), 0,
	       "no handler ran after the close returned");
	TAP_OK(iodev_close_by(core, id) == -1 && errno == ENOENT,
	       "a second close: ENOENT");
	close(sv[1]);
	epcore_free(core);
}

/* ---- close from the device's own handler ---- */

static atomic_long self_calls;

static int self_closer(void *cbpara, void *obj, int event, int fdtype)
{
	iodev_t *dev = obj;

	atomic_fetch_add(&self_calls, 1);
	drain(iodev_fd(dev));
	iodev_close(dev);
	iodev_close(dev); /* twice: harmless */
	return 0;
}

static void close_in_handler(int workers)
{
	epcore_t *core = epcore_new(0);
	int sv[2];
	iodev_t *dev;

	atomic_store(&self_calls, 0);
	epcore_start_epump(core, 1);
	epcore_start_worker(core, workers);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL, self_closer,
	                NULL);
	iodev_bind_epump(dev, BIND_ONE_EPUMP, 0);
	if (write(sv[1], "a", 1) != 1)
		tap_diag("write");
	TAP_OK(peer_sees_eof(sv[1], 3000),
	       "%d workers: closing in the handler closes the fd", workers);
	if (write(sv[1], "b", 1) < 0 && errno != EPIPE)
		tap_diag("write");
	tu_sleep_ms(50);
	TAP_IS(atomic_load(&self_calls), 1, "the handler ran exactly once");
	close(sv[1]);
	epcore_free(core);
}

/* ---- foreign closes racing readiness ---- */

/*
 * A handler claimed just before the close may reach its first line just
 * after close_by() returned (the claim is invisible to the test), so one
 * late entry per device is allowed; a second would be a handler started
 * after the close.
 */
struct race_dev {
	atomic_int closed;
	atomic_int late;
};

static int race_handler(void *cbpara, void *obj, int event, int fdtype)
{
	struct race_dev *rd = cbpara;

	if (atomic_load(&rd->closed))
		atomic_fetch_add(&rd->late, 1);
	drain(iodev_fd(obj));
	return 0;
}

static void close_race(int workers)
{
	enum { N = 10000 };
	epcore_t *core = epcore_new(0);
	struct race_dev *rd = calloc(N, sizeof(*rd));
	int i, fails = 0, eofs = 0, twice = 0, once = 0;

	epcore_start_epump(core, 2);
	epcore_start_worker(core, workers);
	for (i = 0; i < N; i++) {
		int sv[2];
		iodev_t *dev;
		uint64_t id;

		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL,
		                race_handler, &rd[i]);
		id = iodev_id(dev);
		iodev_bind_epump(dev, BIND_ONE_EPUMP, -1);
		if (write(sv[1], "x", 1) != 1)
			fails++;
		if (iodev_close_by(core, id) < 0 && errno != ENOENT)
			fails++;
		/* A handler that reads this at its entry started after the
		 * close returned. */
		atomic_store(&rd[i].closed, 1);
		eofs += peer_sees_eof(sv[1], 2000);
		close(sv[1]);
	}
	TAP_OK(fails == 0, "%d workers: 10^4 closes racing readiness (%d failures)",
	       workers, fails);
	TAP_IS(eofs, N, "every fd was closed");
	epcore_free(core);
	for (i = 0; i < N; i++) {
		once += atomic_load(&rd[i].late) == 1;
		twice += atomic_load(&rd[i].late) > 1;
	}
	TAP_IS(twice, 0, "no handler started after close");
	if (once > 0)
		tap_diag("%d handlers claimed before their close entered "
		         "just after it", once);
	free(rd);
}

static void all(void)
{
	close_while_running(1);
	close_in_handler(0);
	close_in_handler(2);
	close_race(0);
	close_race(2);
}

int main(void)
{
	return tap_backends(all);
}
