/*
 * chain_epoll.c - the chain benchmark on raw epoll, the floor the others
 * are compared with (tests/bench/chain.h says what is measured).
 *
 *   chain_epoll [-n PAIRS] [-a ACTIVE] [-w WRITES]
 *
 * Written the way libepump drives epoll (lib/poller_epoll.c, lib/epump.c):
 * edge-triggered EPOLLIN | EPOLLRDHUP | EPOLLET, the pair's index in the
 * event's data, up to 512 events per epoll_wait.  Setup is one
 * EPOLL_CTL_ADD per read end: the fewest system calls it can take.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>

#include "../chain.h"

#define BATCH 512

int main(int argc, char **argv)
{
	static struct epoll_event evs[BATCH];
	struct chain ch;
	int epfd, i, n, over = 0;

	chain_args(&ch, "raw-epoll", argc, argv);
	chain_pairs(&ch);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		chain_die(&ch, "epoll_create1");

	chain_mark(MARK_SETUP0);
	ch.s0 = chain_now();
	for (i = 0; i < ch.npairs; i++) {
		struct epoll_event e = { 0 };

		e.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
		e.data.u64 = (uint64_t)i;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, ch.rfd[i], &e) < 0)
			chain_die(&ch, "epoll_ctl");
	}
	ch.s1 = chain_now();
	chain_mark(MARK_SETUP1);

	chain_mark(MARK_PROC0);
	ch.p0 = chain_now();
	chain_start(&ch);
	while (!over) {
		n = epoll_wait(epfd, evs, BATCH, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			chain_die(&ch, "epoll_wait");
		for (i = 0; i < n; i++)
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP |
			                     EPOLLRDHUP))
				over |= chain_hop(&ch, (int)evs[i].data.u64);
	}
	ch.p1 = chain_now();
	chain_mark(MARK_PROC1);

	chain_report(&ch, "epoll");
	return 0;
}
