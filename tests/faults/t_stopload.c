/*
 * t_stopload.c - epcore_stop() and epcore_free() while the core is under
 * full echo load: 64 connections pumping verified bytes through 2 epump
 * threads and 2 workers.  Three ways, on every backend: stop then free
 * from the main thread; free alone (it stops first); stop from a handler
 * on a worker, then free.  Each must return, no handler may run after
 * epcore_free() returned, every client must see its connection closed,
 * no echoed byte may be wrong, and the process must end with the fds it
 * had (memory: make check-valgrind runs this too).
 */
#include "faultutil.h"

#define NCONN 64
#define EV_STOP (IOE_USER_DEFINED + 7)

enum how { STOP_FREE, FREE_ONLY, STOP_IN_HANDLER };

static const char *const hows[] = {
	"epcore_stop then epcore_free",
	"epcore_free alone",
	"epcore_stop in a handler, then epcore_free",
};

static atomic_int stopped_in_handler;

static int on_stop(void *cbpara, void *obj, int event, int fdtype)
{
	(void)obj;
	(void)event;
	(void)fdtype;
	epcore_stop(cbpara);
	atomic_store(&stopped_in_handler, 1);
	return 0;
}

static void under_load(enum how how, uint32_t seed)
{
	struct fu_srv srv;
	struct fu_load load;
	epcore_t *core;
	int fds0, ok;
	long calls;
	uint64_t t0, took;
	unsigned wait_ms = fu_in_valgrind() ? 30000 : 5000;

	memset(&srv, 0, sizeof(srv));
	atomic_store(&stopped_in_handler, 0);
	fds0 = fu_nfds();
	core = epcore_new(0);
	epcore_start_epump(core, 2);
	epcore_start_worker(core, 2);
	if (fu_srv_start(&srv, core) != 0 ||
	    fu_load_start(&load, srv.port, NCONN, 60000, seed, 0) != 0) {
		TAP_OK(0, "%s: server and load started", hows[how]);
		epcore_free(core);
		return;
	}
	ok = fu_load_progress(&load, 256 * 1024, wait_ms);
	TAP_OK(ok, "%s: echo load on %d connections (%lld bytes verified)",
	       hows[how], NCONN, (long long)atomic_load(&load.verified));
	tu_sleep_ms(100); /* in full swing: queues and send queues filled */

	t0 = tu_now_ms();
	switch (how) {
	case STOP_FREE:
		epcore_stop(core);
		break;
	case FREE_ONLY:
		break;
	case STOP_IN_HANDLER:
		TAP_IS(epcore_post(core, EPT_WORKER, -1, EV_STOP, NULL, on_stop,
		                   core), 0, "the stopping event posted");
		ok = 0;
		while (!(ok = atomic_load(&stopped_in_handler)) &&
		       tu_now_ms() < t0 + wait_ms)
			tu_sleep_ms(1);
		TAP_OK(ok, "a handler stopped the core");
		break;
	}
	TAP_IS(epcore_free(core), 0, "epcore_free under load returned 0");
	took = tu_now_ms() - t0;
	calls = atomic_load(&srv.handler_calls);
	tu_sleep_ms(50);
	TAP_IS(atomic_load(&srv.handler_calls) - calls, 0,
	       "no handler ran after epcore_free returned");

	/* The load thread ends by itself once every connection is closed. */
	{
		uint64_t end = tu_now_ms() + wait_ms;

		while (atomic_load(&load.running) && tu_now_ms() < end)
			tu_sleep_ms(2);
	}
	TAP_IS(fu_load_stop(&load), 0, "every client saw its connection "
	       "closed by epcore_free");
	TAP_IS(atomic_load(&load.ended), NCONN, "closed, not failed");
	TAP_IS(atomic_load(&load.mismatched), 0, "no echoed byte was wrong");
	TAP_IS(fu_nfds(), fds0, "no fd left");
	tap_diag("%s: %lld bytes verified, %ld handler calls, stop+free took "
	         "%llu ms", hows[how], (long long)atomic_load(&load.verified),
	         calls, (unsigned long long)took);
}

static void all(void)
{
	int round;

	for (round = 0; round < 2; round++) {
		under_load(STOP_FREE, 100u + (uint32_t)round);
		under_load(FREE_ONLY, 200u + (uint32_t)round);
		under_load(STOP_IN_HANDLER, 300u + (uint32_t)round);
	}
}

int main(void)
{
	fu_watchdog(300);
	return tap_backends(all);
}
