/*
 * chain.c - the chain benchmark on libepump (tests/bench/chain.h says what
 * is measured; tests/bench/run-chain.sh runs it beside its peers).
 *
 *   chain [-n PAIRS] [-a ACTIVE] [-w WRITES]
 *
 * One core, one epump thread, no workers: the handlers run on the epump
 * thread.  Setup and processing both run on that thread, so its CPU clock
 * measures them:
 *
 *   setup  inside a user event (epcore_post to epump 0): iodev_new() on
 *          every read end, then iodev_bind_epump(BIND_CURRENT_EPUMP), which
 *          registers the fd with the epump's poller at once.  The fds are
 *          already non-blocking (SOCK_NONBLOCK, for every peer), which
 *          IODEV_NONBLOCK tells iodev_new(): no system call but the
 *          epoll_ctl of the bind.
 *   proc   a second user event writes the first tokens; the read handlers
 *          (iodev_recv, then write(2) to the next pair) pass them on; the
 *          handler that reads the last byte stops the clock.
 *
 * The main thread only posts the two events and waits.
 */
#include <epump.h>

#include <pthread.h>
#include <stdint.h>

static iodev_t **devs;

#define CHAIN_READ(c, i, buf, len) iodev_recv(devs[i], (buf), (len))
#include "chain.h"

#define EV_SETUP (IOE_USER_DEFINED + 1)
#define EV_PROC  (IOE_USER_DEFINED + 2)

static struct chain ch;
static epcore_t *core;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int done;
static int failed_errno;        /* set on the epump thread by setup */

static void signal_done(void)
{
	pthread_mutex_lock(&lock);
	done = 1;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

static void wait_done(const char *what)
{
	struct timespec ts;
	int r = 0;

	/* CLOCK_REALTIME: the condition variable's default clock. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += CHAIN_LIMIT_S;
	pthread_mutex_lock(&lock);
	while (!done && r == 0)
		r = pthread_cond_timedwait(&cond, &lock, &ts);
	r = done;
	done = 0;
	pthread_mutex_unlock(&lock);
	if (!r) {
		fprintf(stderr, "chain libepump: %s: no end after %d s\n",
		        what, CHAIN_LIMIT_S);
		exit(1);
	}
}

static int on_read(void *cbpara, void *obj, int event, int fdtype)
{
	iodev_t *dev = obj;

	if (event != IOE_READ)
		return 0;
	if (chain_hop(&ch, (int)(intptr_t)iodev_para(dev))) {
		ch.p1 = chain_now();
		chain_mark(MARK_PROC1);
		signal_done();
	}
	return 0;
}

static int stage_setup(void *cbpara, void *para, int event, int fdtype)
{
	int i;

	chain_mark(MARK_SETUP0);
	ch.s0 = chain_now();
	for (i = 0; i < ch.npairs; i++) {
		devs[i] = iodev_new(core, ch.rfd[i],
		                    FDT_USOCK_CONNECTED | IODEV_NONBLOCK,
		                    (void *)(intptr_t)i, on_read, NULL);
		if (devs[i] == NULL ||
		    iodev_bind_epump(devs[i], BIND_CURRENT_EPUMP, 0) < 0) {
			failed_errno = errno;
			break;
		}
	}
	ch.s1 = chain_now();
	chain_mark(MARK_SETUP1);
	signal_done();
	return 0;
}

static int stage_proc(void *cbpara, void *para, int event, int fdtype)
{
	chain_mark(MARK_PROC0);
	ch.p0 = chain_now();
	chain_start(&ch);
	return 0;
}

static void post(IOHandler *stage, int event, const char *what)
{
	if (epcore_post(core, EPT_EPUMP, 0, event, NULL, stage, NULL) < 0)
		chain_die(&ch, what);
}

int main(int argc, char **argv)
{
	chain_args(&ch, "libepump", argc, argv);
	core = epcore_new(0); /* raises the fd limit to the hard one */
	if (core == NULL)
		chain_die(&ch, "epcore_new");
	chain_pairs(&ch);
	devs = calloc((size_t)ch.npairs, sizeof(*devs));
	if (devs == NULL)
		chain_die(&ch, "calloc");
	if (epcore_start_epump(core, 1) != 1)
		chain_die(&ch, "epcore_start_epump");

	post(stage_setup, EV_SETUP, "epcore_post (setup)");
	wait_done("setup");
	if (failed_errno != 0) {
		errno = failed_errno;
		chain_die(&ch, "iodev_new/iodev_bind_epump");
	}
	post(stage_proc, EV_PROC, "epcore_post (proc)");
	wait_done("processing");

	chain_report(&ch, epcore_backend(core));
	epcore_free(core); /* closes the read ends */
	free(devs);
	return 0;
}
