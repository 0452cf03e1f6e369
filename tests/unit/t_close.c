/*
 * t_close.c - closing devices: from another thread while the handler runs
 * (the close waits for nothing, the handler finishes, nothing runs after),
 * from the device's own handler, twice, racing with readiness, and racing
 * binds of the same device.
 */
#include <epump.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

/*
 * ---- binding racing another bind and a close ----
 *
 * Epump 0 binds every device to itself from a handler (no lock is taken
 * there) while the main thread binds the same devices to epump 1, in the
 * opposite order so that they meet in the middle (under poll and select,
 * whose binds make no system call, epump 0 may win them all), and closes
 * every third one.  Exactly one bind of a device may win; the loser hears EALREADY (or
 * ENOENT once the device is closed), the device's events then run on the
 * winner's epump, and a closed device's fd is closed whoever won.
 */
enum { BR_MAX = 3000 };
static int br_n;            /* fewer under select: fds below FD_SETSIZE */

struct br_dev {
	iodev_t *dev;
	uint64_t id;
	int peer;
	int r_own, e_own;       /* epump 0's bind */
	int r_main, e_main;     /* the main thread's */
	atomic_int ran_on;      /* 1 + the epump that ran its read */
};

static __thread int br_epump = -1;
static struct br_dev *br;
static atomic_long br_marked, br_own_done;

static int br_mark(void *cbpara, void *para, int event, int fdtype)
{
	br_epump = (int)(intptr_t)para;
	atomic_fetch_add(&br_marked, 1);
	return 0;
}

static int br_read(void *cbpara, void *obj, int event, int fdtype)
{
	struct br_dev *d = cbpara;

	if (event == IOE_READ) {
		atomic_store(&d->ran_on, br_epump + 1);
		drain(iodev_fd(obj));
	}
	return 0;
}

static int br_bind_own(void *cbpara, void *para, int event, int fdtype)
{
	int i;

	for (i = 0; i < br_n; i++) {
		errno = 0;
		br[i].r_own = iodev_bind_epump(br[i].dev, BIND_CURRENT_EPUMP, 0);
		br[i].e_own = errno;
	}
	atomic_store(&br_own_done, 1);
	return 0;
}

static void bind_race(void)
{
	epcore_t *core = epcore_new(0);
	int i, k, both = 0, neither = 0, bad_errno = 0, wrong_epump = 0;
	int not_run = 0, eofs = 0, closed = 0, own_won = 0, main_won = 0;
	uint64_t end;
	long e;

	br_n = core != NULL && strcmp(epcore_backend(core), "select") == 0 ?
	       400 : BR_MAX;
	br = calloc(BR_MAX, sizeof(*br));
	if (core == NULL || br == NULL ||
	    epcore_start_epump(core, 2) != 2) {
		TAP_OK(0, "bind race: a core with 2 epumps");
		goto out;
	}
	atomic_store(&br_marked, 0);
	atomic_store(&br_own_done, 0);
	for (k = 0; k < 2; k++)
		(void)epcore_post(core, EPT_EPUMP, k, IOE_USER_DEFINED,
		                  (void *)(intptr_t)k, br_mark, NULL);
	tu_wait_ge(&br_marked, 2, 5000);
	for (i = 0; i < br_n; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
		               sv) < 0)
			break;
		br[i].dev = iodev_new(core, sv[0],
		                      FDT_USOCK_CONNECTED | IODEV_NONBLOCK,
		                      NULL, br_read, &br[i]);
		br[i].id = iodev_id(br[i].dev);
		br[i].peer = sv[1];
	}
	if (!TAP_OK(i == br_n && br[br_n - 1].id != 0,
	            "bind race: %d unbound devices", br_n))
		goto out;
	(void)epcore_post(core, EPT_EPUMP, 0, IOE_USER_DEFINED, NULL,
	                  br_bind_own, NULL);
	for (i = br_n - 1; i >= 0; i--) {
		errno = 0;
		br[i].r_main = iodev_bind_epump(br[i].dev, BIND_GIVEN_EPUMP, 1);
		br[i].e_main = errno;
		if (i % 3 == 2)
			(void)iodev_close_by(core, br[i].id);
	}
	TAP_OK(tu_wait_ge(&br_own_done, 1, 20000),
	       "bind race: epump 0 went through every device");
	for (i = 0; i < br_n; i++) {
		struct br_dev *d = &br[i];
		int won = (d->r_own == 0) + (d->r_main == 0);

		both += won == 2;
		if (won == 1) {
			e = d->r_own == 0 ? d->e_main : d->e_own; /* loser's */
			bad_errno += e != EALREADY &&
			             (i % 3 != 2 || e != ENOENT);
		}
		if (i % 3 == 2) {
			/* Closed before either bind: both heard ENOENT. */
			bad_errno += won == 0 && (d->e_own != ENOENT ||
			                          d->e_main != ENOENT);
			continue;
		}
		neither += won == 0;
		own_won += d->r_own == 0;
		main_won += d->r_main == 0;
		if (won == 1 && write(d->peer, "x", 1) != 1)
			not_run++;
	}
	end = tu_now_ms() + 10000;
	for (i = 0; i < br_n; i++) {
		struct br_dev *d = &br[i];
		int want = d->r_own == 0 ? 0 : 1;

		if (i % 3 == 2) {
			eofs += peer_sees_eof(d->peer,
			    tu_now_ms() < end ? (unsigned)(end - tu_now_ms()) : 0);
			closed++;
			continue;
		}
		while (atomic_load(&d->ran_on) == 0 && tu_now_ms() < end)
			tu_sleep_ms(1);
		if (atomic_load(&d->ran_on) == 0)
			not_run++;
		else if (atomic_load(&d->ran_on) != want + 1 ||
		         iodev_epump(d->dev) != want)
			wrong_epump++;
	}
	TAP_IS(both, 0, "bind race: no device bound twice");
	TAP_IS(neither, 0, "bind race: every open device bound once");
	TAP_IS(bad_errno, 0, "bind race: the losers heard EALREADY or ENOENT");
	tap_diag("bind race: %d won by epump 0 for itself, %d by the main "
	         "thread for epump 1", own_won, main_won);
	TAP_IS(not_run, 0, "bind race: every bound device heard its read");
	TAP_IS(wrong_epump, 0, "bind race: on the winner's epump");
	TAP_IS(eofs, closed, "bind race: every closed device's fd was closed");
out:
	epcore_free(core);
	if (br != NULL)
		for (i = 0; i < BR_MAX; i++)
			if (br[i].peer > 0)
				close(br[i].peer);
	free(br);
	br = NULL;
}

static void all(void)
{
	close_while_running(1);
	close_in_handler(0);
	close_in_handler(2);
	close_race(0);
	close_race(2);
	bind_race();
}

int main(void)
{
	return tap_backends(all);
}
