/*
 * chain_libev.c - the chain benchmark on libev (tests/bench/chain.h says
 * what is measured).
 *
 *   chain_libev [-n PAIRS] [-a ACTIVE] [-w WRITES]
 *
 * One ev_loop on the epoll backend, one ev_io (EV_READ) per read end, in
 * an array allocated before the clock starts (libev's watchers live in the
 * user's memory).  ev_io_start() only records the change; libev calls
 * epoll_ctl when the loop next runs, so setup includes one
 * ev_run(EVRUN_NOWAIT).
 */
#include <ev.h>

#include "../chain.h"

static struct chain ch;

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	if (chain_hop(&ch, (int)(intptr_t)w->data))
		ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	struct ev_loop *loop;
	ev_io *ws;
	int i;

	chain_args(&ch, "libev", argc, argv);
	chain_pairs(&ch);
	loop = ev_loop_new(EVBACKEND_EPOLL);
	ws = calloc((size_t)ch.npairs, sizeof(*ws));
	if (loop == NULL || ws == NULL)
		chain_die(&ch, "ev_loop_new (epoll)");

	chain_mark(MARK_SETUP0);
	ch.s0 = chain_now();
	for (i = 0; i < ch.npairs; i++) {
		ev_io_init(&ws[i], on_read, ch.rfd[i], EV_READ);
		ws[i].data = (void *)(intptr_t)i;
		ev_io_start(loop, &ws[i]);
	}
	ev_run(loop, EVRUN_NOWAIT); /* the epoll_ctl calls happen here */
	ch.s1 = chain_now();
	chain_mark(MARK_SETUP1);

	chain_mark(MARK_PROC0);
	ch.p0 = chain_now();
	chain_start(&ch);
	ev_run(loop, 0);
	ch.p1 = chain_now();
	chain_mark(MARK_PROC1);

	chain_report(&ch, "epoll");
	ev_loop_destroy(loop);
	free(ws);
	return 0;
}
