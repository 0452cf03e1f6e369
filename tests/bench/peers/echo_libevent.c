/*
 * echo_libevent.c - a peer of examples/echosrv in tests/bench/echo-run.sh:
 * the TCP echo server of echo_epoll.c on libevent 2, one thread, in two
 * tiers:
 *
 *   (default)  callback tier: an event_new() read event per connection
 *              (level-triggered, EV_PERSIST); the callback reads 16 KiB at
 *              a time until EAGAIN or a short read and write(2)s each chunk
 *              back at once; a short write's rest waits for a write event
 *              (reading pauses meanwhile), as in echo_epoll.c.
 *   -B         buffered tier: a bufferevent per connection; the read
 *              callback moves the input evbuffer to the output one
 *              (evbuffer_add_buffer, no copy) and libevent writes it.
 *              Reads are up to 16 KiB (bufferevent_set_max_single_read);
 *              reading pauses while 256 KiB wait to be written.
 *
 * Both accept with accept4(2) and set TCP_NODELAY (echo_peer.c).
 *
 *   echo_libevent [-B] [-p PORT] [-a ADDR]
 *
 * Prints "echo_libevent: listening on ADDR:PORT" when ready; SIGINT or
 * SIGTERM stops it (exit status 0).
 */
#include "echo_peer.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define PROG "echo_libevent"

struct conn {
	int fd;
	struct event *rd, *wr;   /* wr is added only while pend != NULL */
	struct peer_pend *pend;
};

static struct event_base *base;
static int buffered;

static void conn_free(struct conn *c)
{
	event_free(c->rd);
	event_free(c->wr);
	free(c->pend);
	close(c->fd);
	free(c);
}

/* Callback tier: read and echo until the kernel has no more. */
static void on_read(evutil_socket_t fd, short what, void *arg)
{
	static char buf[PEER_BUFSZ];
	struct conn *c = arg;
	ssize_t n;
	int r;

	(void)what;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0 || (r = peer_write(fd, buf, (size_t)n, &c->pend)) < 0) {
			conn_free(c);
			return;
		}
		if (r == 1) {                  /* short write: pause reading */
			event_del(c->rd);
			event_add(c->wr, NULL);
			return;
		}
		if (n < (ssize_t)sizeof(buf))
			return;
	}
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int r;

	(void)what;
	if ((r = peer_flush(fd, &c->pend)) < 0)
		conn_free(c);
	else if (r == 0) {                     /* all gone: read again */
		event_del(c->wr);
		event_add(c->rd, NULL);
	}
}

/* Buffered tier. */
static void bev_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *out = bufferevent_get_output(bev);

	(void)arg;
	evbuffer_add_buffer(out, bufferevent_get_input(bev));
	if (evbuffer_get_length(out) >= PEER_SENDQ)
		bufferevent_disable(bev, EV_READ);
}

static void bev_write(struct bufferevent *bev, void *arg)
{
	(void)arg;                             /* the output has drained */
	bufferevent_enable(bev, EV_READ);
}

static void bev_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct bufferevent *bev;
	struct conn *c;
	int fd;

	(void)what;
	(void)arg;
	while ((fd = peer_accept(lfd)) >= 0) {
		if (buffered) {
			bev = bufferevent_socket_new(base, fd,
			                             BEV_OPT_CLOSE_ON_FREE);
			if (bev == NULL) {
				close(fd);
				continue;
			}
			bufferevent_set_max_single_read(bev, PEER_BUFSZ);
			bufferevent_setcb(bev, bev_read, bev_write, bev_event,
			                  NULL);
			bufferevent_enable(bev, EV_READ | EV_WRITE);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->rd = event_new(base, fd, EV_READ | EV_PERSIST, on_read, c);
		c->wr = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, c);
		if (c->rd == NULL || c->wr == NULL ||
		    event_add(c->rd, NULL) < 0)
			conn_free(c);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
	struct event *lev, *sint, *sterm;
	int lfd;

	lfd = peer_listen(PROG, argc, argv, &buffered);
	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, PROG ": event_base_new failed\n");
		return 1;
	}
	lev = event_new(base, lfd, EV_READ | EV_PERSIST, on_accept, NULL);
	sint = evsignal_new(base, SIGINT, on_signal, NULL);
	sterm = evsignal_new(base, SIGTERM, on_signal, NULL);
	if (lev == NULL || sint == NULL || sterm == NULL ||
	    event_add(lev, NULL) < 0 || event_add(sint, NULL) < 0 ||
	    event_add(sterm, NULL) < 0) {
		fprintf(stderr, PROG ": event_new/event_add failed\n");
		return 1;
	}
	if (event_base_dispatch(base) < 0) {
		fprintf(stderr, PROG ": event_base_dispatch failed\n");
		return 1;
	}
	fprintf(stderr, PROG ": stopping (backend %s)\n",
	        event_base_get_method(base));
	return 0;
}
