/*
 * chain_libuv.c - the chain benchmark on libuv (tests/bench/chain.h says
 * what is measured).
 *
 *   chain_libuv [-n PAIRS] [-a ACTIVE] [-w WRITES]
 *
 * One uv_loop_t, one uv_poll_t (UV_READABLE) per read end, in an array
 * allocated before the clock starts.  uv_poll_init() sets the fd
 * non-blocking again (an ioctl); uv_poll_start() only queues the watcher:
 * libuv calls epoll_ctl when the loop next polls, so setup includes one
 * uv_run(UV_RUN_NOWAIT).  uv_poll, not uv_pipe: the handler does its own
 * read(2) and write(2), as in every other implementation.
 */
#include <uv.h>

#include "../chain.h"

static struct chain ch;

static void on_read(uv_poll_t *h, int status, int events)
{
	if (status < 0) {
		fprintf(stderr, "chain libuv: poll: %s\n", uv_strerror(status));
		exit(1);
	}
	(void)events;
	if (chain_hop(&ch, (int)(intptr_t)h->data))
		uv_stop(h->loop);
}

static void on_close(uv_handle_t *h)
{
	(void)h;
}

int main(int argc, char **argv)
{
	uv_loop_t loop;
	uv_poll_t *ps;
	int i, r;

	chain_args(&ch, "libuv", argc, argv);
	chain_pairs(&ch);
	ps = calloc((size_t)ch.npairs, sizeof(*ps));
	if (ps == NULL || uv_loop_init(&loop) != 0)
		chain_die(&ch, "uv_loop_init");

	chain_mark(MARK_SETUP0);
	ch.s0 = chain_now();
	for (i = 0; i < ch.npairs; i++) {
		if ((r = uv_poll_init(&loop, &ps[i], ch.rfd[i])) != 0 ||
		    (r = uv_poll_start(&ps[i], UV_READABLE, on_read)) != 0) {
			errno = -r;
			chain_die(&ch, "uv_poll_init/uv_poll_start");
		}
		ps[i].data = (void *)(intptr_t)i;
	}
	uv_run(&loop, UV_RUN_NOWAIT); /* the epoll_ctl calls happen here */
	ch.s1 = chain_now();
	chain_mark(MARK_SETUP1);

	chain_mark(MARK_PROC0);
	ch.p0 = chain_now();
	chain_start(&ch);
	uv_run(&loop, UV_RUN_DEFAULT);
	ch.p1 = chain_now();
	chain_mark(MARK_PROC1);

	chain_report(&ch, "epoll");
	for (i = 0; i < ch.npairs; i++)
		uv_close((uv_handle_t *)&ps[i], on_close);
	uv_run(&loop, UV_RUN_DEFAULT);
	(void)uv_loop_close(&loop);
	free(ps);
	return 0;
}
