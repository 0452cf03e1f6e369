/*
 * chain.c - the chain benchmark on libepump (tests/bench/chain.h says what
 * is measured; tests/bench/run-chain.sh runs it beside its peers).
 *
 *   chain [-n PAIRS] [-a ACTIVE] [-w WRITES]
 *
 * One core, no workers, and the main thread is its one epump
 * (epump_main_start), as echosrv and httpsrv run theirs: the process has
 * one thread, as every peer's has.  The handlers run on it, and its CPU
 * clock measures both phases:
 *
 *   setup  a timer handler (iotimer_start, 0 ms, started before the loop
 *          and adopted by it): iodev_new() on every read end, then
 *          iodev_bind_epump(BIND_CURRENT_EPUMP), which registers the fd
 *          with the epump's poller at once.  The fds are already
 *          non-blocking (SOCK_NONBLOCK, for every peer), which
 *          IODEV_NONBLOCK tells iodev_new(): no system call but the
 *          epoll_ctl of the bind.
 *   proc   a second timer handler writes the first tokens; the read
 *          handlers (iodev_recv, then write(2) to the next pair) pass them
 *          on; the handler that reads the last byte stops the clock and
 *          the core (epcore_stop), and epump_main_start() returns.
 */
#include <epump.h>

#include <stdint.h>

/* The device whose handler runs: chain_hop() reads its pair through it.
 * No array of devices: a peer keeps nothing per fd but its watcher. */
static iodev_t *cur;

#define CHAIN_READ(c, i, buf, len) iodev_recv(cur, (buf), (len))
#include "chain.h"

static struct chain ch;
static epcore_t *core;
static int failed_errno;        /* set by the setup handler */

static int on_read(void *cbpara, void *obj, int event, int fdtype)
{
	iodev_t *dev = obj;

	if (event != IOE_READ)
		return 0;
	cur = dev;
	if (chain_hop(&ch, (int)(intptr_t)iodev_para(dev))) {
		ch.p1 = chain_now();
		chain_mark(MARK_PROC1);
		epcore_stop(core);
	}
	return 0;
}

static int stage_proc(void *cbpara, void *para, int event, int fdtype)
{
	chain_mark(MARK_PROC0);
	ch.p0 = chain_now();
	chain_start(&ch);
	return 0;
}

static int stage_setup(void *cbpara, void *para, int event, int fdtype)
{
	int i;

	chain_mark(MARK_SETUP0);
	ch.s0 = chain_now();
	for (i = 0; i < ch.npairs; i++) {
		iodev_t *dev = iodev_new(core, ch.rfd[i],
		                         FDT_USOCK_CONNECTED | IODEV_NONBLOCK,
		                         (void *)(intptr_t)i, on_read, NULL);

		if (dev == NULL ||
		    iodev_bind_epump(dev, BIND_CURRENT_EPUMP, 0) < 0) {
			failed_errno = errno;
			break;
		}
	}
	ch.s1 = chain_now();
	chain_mark(MARK_SETUP1);
	if (failed_errno != 0 ||
	    iotimer_start(core, 0, 0, NULL, stage_proc, NULL) == 0) {
		if (failed_errno == 0)
			failed_errno = errno;
		epcore_stop(core);
	}
	return 0;
}

int main(int argc, char **argv)
{
	chain_args(&ch, "libepump", argc, argv);
	core = epcore_new(0); /* raises the fd limit to the hard one */
	if (core == NULL)
		chain_die(&ch, "epcore_new");
	chain_pairs(&ch);
	if (iotimer_start(core, 0, 0, NULL, stage_setup, NULL) == 0)
		chain_die(&ch, "iotimer_start");
	/* Runs until the last byte's handler stops the core (chain_args()'s
	 * alarm ends a run that hangs). */
	if (epump_main_start(core) < 0)
		chain_die(&ch, "epump_main_start");
	if (failed_errno != 0) {
		errno = failed_errno;
		chain_die(&ch, "iodev_new/iodev_bind_epump/iotimer_start");
	}
	chain_report(&ch, epcore_backend(core));
	epcore_free(core); /* closes the read ends */
	return 0;
}
