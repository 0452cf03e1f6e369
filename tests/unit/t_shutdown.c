/*
 * t_shutdown.c - stopping and freeing: under load, with timers and events
 * pending, from a signal handler, with the main thread as an epump; every
 * device's fd is closed and every thread joined (valgrind, run by CI,
 * checks that nothing leaks).
 */
#include <epump.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

enum { NCONN = 100 };

static atomic_long handled;
static atomic_int writers_stop;

static int echo_handler(void *cbpara, void *obj, int event, int fdtype)
{
	char buf[4096];
	ssize_t n;

	if (event != IOE_READ)
		return 0;
	while ((n = read(iodev_fd(obj), buf, sizeof(buf))) > 0)
		if (write(iodev_fd(obj), buf, (size_t)n) < 0)
			break;
	if (n == 0)
		iodev_close(obj);
	atomic_fetch_add(&handled, 1);
	return 0;
}

static int timer_nop(void *cbpara, void *obj, int event, int fdtype)
{
	return 0;
}

static int user_nop(void *cbpara, void *para, int event, int fdtype)
{
	return 0;
}

struct writer_arg {
	int *peers;
	int n;
};

static void *writer(void *arg)
{
	struct writer_arg *wa = arg;
	char buf[512];
	int i = 0;
	uint64_t end = tu_now_ms() + 10000; /* bounded, whatever happens */

	memset(buf, 'x', sizeof(buf));
	while (!atomic_load(&writers_stop) && tu_now_ms() < end) {
		int fd = wa->peers[i++ % wa->n];
		char sink[4096];

		if (write(fd, buf, sizeof(buf)) < 0 && errno != EAGAIN)
			continue;
		while (read(fd, sink, sizeof(sink)) > 0)
			;
	}
	return NULL;
}

/* Is every peer's other end closed (EOF or reset)? */
static int all_closed(int *peers, int n)
{
	int i, closed = 0;

	for (i = 0; i < n; i++) {
		char buf[4096];
		ssize_t r;

		while ((r = read(peers[i], buf, sizeof(buf))) > 0)
			;
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			closed++;
	}
	return closed == n;
}

static void under_load(int workers)
{
	epcore_t *core = epcore_new(0);
	int peers[NCONN], i;
	pthread_t th[2];
	struct writer_arg wa[2];

	atomic_store(&handled, 0);
	atomic_store(&writers_stop, 0);
	epcore_start_epump(core, 2);
	epcore_start_worker(core, workers);
	for (i = 0; i < NCONN; i++) {
		int sv[2];
		iodev_t *dev;

		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
		peers[i] = sv[1];
		dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL,
		                echo_handler, NULL);
		iodev_bind_epump(dev, BIND_ONE_EPUMP, 0);
	}
	for (i = 0; i < 1000; i++)
		iotimer_start(core, 10 + i * 10, i, NULL, timer_nop, NULL);
	for (i = 0; i < 2; i++) {
		wa[i].peers = peers + i * (NCONN / 2);
		wa[i].n = NCONN / 2;
		pthread_create(&th[i], NULL, writer, &wa[i]);
	}
	TAP_OK(tu_wait_ge(&handled, 1000, 5000),
	       "%d workers: serving %d connections", workers, NCONN);
	for (i = 0; i < 10000; i++)
		epcore_post(core, workers ? EPT_WORKER : EPT_EPUMP, -1,
		            IOE_USER_DEFINED, NULL, user_nop, NULL);
	epcore_stop(core);
	epcore_stop(core); /* idempotent */
	TAP_OK(epcore_free(core) == 0, "epcore_free under load returns 0");
	atomic_store(&writers_stop, 1);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	TAP_OK(all_closed(peers, NCONN), "every device's fd was closed");
	for (i = 0; i < NCONN; i++)
		close(peers[i]);
}

/* ---- epcore_stop from a signal handler ends epump_main_start ---- */

static epcore_t *sig_core;

static void on_alarm(int sig)
{
	(void)sig;
	epcore_stop(sig_core);
}

static void stop_from_signal(void)
{
	struct itimerval it = { { 0, 0 }, { 0, 100000 } };
	uint64_t t0;
	int r;

	sig_core = epcore_new(0);
	epcore_start_epump(sig_core, 1);
	epcore_start_worker(sig_core, 1);
	signal(SIGALRM, on_alarm);
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = tu_now_ms();
	r = epump_main_start(sig_core);
	TAP_OK(r == 0, "epump_main_start returns 0 after a SIGALRM handler "
	       "called epcore_stop (%llu ms)",
	       (unsigned long long)(tu_now_ms() - t0));
	TAP_OK(epump_main_start(sig_core) == -1 && errno == ECANCELED,
	       "a stopped core cannot be restarted: ECANCELED");
	TAP_OK(epcore_start_epump(sig_core, 1) == -1 && errno == ECANCELED,
	       "nor get new epump threads");
	TAP_OK(epcore_free(sig_core) == 0, "and frees");
	signal(SIGALRM, SIG_DFL);
}

/* ---- freeing from another thread while main runs an epump ---- */

static void *free_later(void *arg)
{
	tu_sleep_ms(100);
	epcore_stop(arg);
	return NULL;
}

static void main_epump(void)
{
	epcore_t *core = epcore_new(0);
	pthread_t th;

	pthread_create(&th, NULL, free_later, core);
	TAP_OK(epump_main_start(core) == 0,
	       "the main thread's epump returns when another thread stops "
	       "the core");
	pthread_join(th, NULL);
	TAP_OK(epcore_free(core) == 0, "then the core frees");
}

/* ---- repeated create and free ---- */

static void cycles(void)
{
	int i, ok = 0;

	for (i = 0; i < 50; i++) {
		epcore_t *core = epcore_new(0);

		if (core != NULL && epcore_start_epump(core, 2) == 2 &&
		    epcore_start_worker(core, 2) == 2 &&
		    iotimer_start(core, 1, 0, NULL, timer_nop, NULL) != 0 &&
		    epcore_free(core) == 0)
			ok++;
	}
	TAP_IS(ok, 50, "50 cores started and freed");
}

static void all(void)
{
	under_load(0);
	under_load(2);
	stop_from_signal();
	main_epump();
	cycles();
}

int main(void)
{
	return tap_backends(all);
}
