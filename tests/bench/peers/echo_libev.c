/*
 * echo_libev.c - a peer of examples/echosrv in tests/bench/echo-run.sh:
 * the TCP echo server of echo_epoll.c on libev, one thread, callback tier
 * (libev has no buffers of its own): an ev_io read watcher per connection
 * (level-triggered); the callback reads 16 KiB at a time until EAGAIN or
 * a short read and write(2)s each chunk back at once; a short write's
 * rest waits for an ev_io write watcher, reading paused meanwhile.
 * Accepts with accept4(2) and sets TCP_NODELAY (echo_peer.c).
 *
 *   echo_libev [-p PORT] [-a ADDR]
 *
 * Prints "echo_libev: listening on ADDR:PORT" when ready; SIGINT or
 * SIGTERM stops it (exit status 0).
 */
#include "echo_peer.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ev.h>

#define PROG "echo_libev"

struct conn {
	ev_io rd, wr;              /* wr runs only while pend != NULL */
	struct peer_pend *pend;
};

static void conn_free(struct ev_loop *loop, struct conn *c)
{
	ev_io_stop(loop, &c->rd);
	ev_io_stop(loop, &c->wr);
	close(c->rd.fd);
	free(c->pend);
	free(c);
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
	static char buf[PEER_BUFSZ];
	struct conn *c = w->data;
	ssize_t n;
	int r;

	(void)revents;
	for (;;) {
		n = read(w->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0 ||
		    (r = peer_write(w->fd, buf, (size_t)n, &c->pend)) < 0) {
			conn_free(loop, c);
			return;
		}
		if (r == 1) {              /* short write: pause reading */
			ev_io_stop(loop, &c->rd);
			ev_io_start(loop, &c->wr);
			return;
		}
		if (n < (ssize_t)sizeof(buf))
			return;
	}
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	int r;

	(void)revents;
	if ((r = peer_flush(w->fd, &c->pend)) < 0)
		conn_free(loop, c);
	else if (r == 0) {             /* all gone: read again */
		ev_io_stop(loop, &c->wr);
		ev_io_start(loop, &c->rd);
	}
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c;
	int fd;

	(void)revents;
	while ((fd = peer_accept(w->fd)) >= 0) {
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		ev_io_init(&c->rd, on_read, fd, EV_READ);
		ev_io_init(&c->wr, on_write, fd, EV_WRITE);
		c->rd.data = c->wr.data = c;
		ev_io_start(loop, &c->rd);
	}
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	struct ev_loop *loop;
	ev_io lw;
	ev_signal sint, sterm;
	int lfd;

	lfd = peer_listen(PROG, argc, argv, NULL);
	if ((loop = ev_default_loop(EVBACKEND_EPOLL)) == NULL) {
		fprintf(stderr, PROG ": no epoll backend in libev\n");
		return 1;
	}
	ev_io_init(&lw, on_accept, lfd, EV_READ);
	ev_io_start(loop, &lw);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_start(loop, &sint);
	ev_signal_start(loop, &sterm);
	ev_run(loop, 0);
	fprintf(stderr, PROG ": stopping\n");
	return 0;
}
