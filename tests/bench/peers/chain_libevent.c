/*
 * chain_libevent.c - the chain benchmark on libevent 2 (tests/bench/chain.h
 * says what is measured).
 *
 *   chain_libevent [-n PAIRS] [-a ACTIVE] [-w WRITES]
 *
 * One event_base on the epoll backend (without the changelist, libevent's
 * default), one persistent EV_READ event per read end, made with
 * event_assign() in an array allocated before the clock starts, as
 * libevent's own test/bench.c does.  event_add() calls epoll_ctl at once.
 */
#include <event2/event.h>

#include "../chain.h"

static struct chain ch;
static struct event_base *base;

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (chain_hop(&ch, (int)(intptr_t)arg))
		event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
	struct event_config *cfg;
	size_t evsz = event_get_struct_event_size();
	char *evs;
	int i;

	chain_args(&ch, "libevent", argc, argv);
	chain_pairs(&ch);
	cfg = event_config_new();
	if (cfg == NULL || event_config_avoid_method(cfg, "poll") < 0 ||
	    event_config_avoid_method(cfg, "select") < 0)
		chain_die(&ch, "event_config");
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	evs = calloc((size_t)ch.npairs, evsz);
	if (base == NULL || evs == NULL)
		chain_die(&ch, "event_base_new");

	chain_mark(MARK_SETUP0);
	ch.s0 = chain_now();
	for (i = 0; i < ch.npairs; i++) {
		struct event *ev = (struct event *)(evs + (size_t)i * evsz);

		if (event_assign(ev, base, ch.rfd[i], EV_READ | EV_PERSIST,
		                 on_read, (void *)(intptr_t)i) < 0 ||
		    event_add(ev, NULL) < 0)
			chain_die(&ch, "event_add");
	}
	ch.s1 = chain_now();
	chain_mark(MARK_SETUP1);

	chain_mark(MARK_PROC0);
	ch.p0 = chain_now();
	chain_start(&ch);
	if (event_base_loop(base, 0) < 0)
		chain_die(&ch, "event_base_loop");
	ch.p1 = chain_now();
	chain_mark(MARK_PROC1);

	chain_report(&ch, event_base_get_method(base));
	for (i = 0; i < ch.npairs; i++)
		event_del((struct event *)(evs + (size_t)i * evsz));
	event_base_free(base);
	free(evs);
	return 0;
}
