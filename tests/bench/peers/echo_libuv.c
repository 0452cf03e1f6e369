/*
 * echo_libuv.c - a peer of examples/echosrv in tests/bench/echo-run.sh:
 * the TCP echo server of echo_epoll.c on libuv, one thread (the default
 * loop), in two tiers:
 *
 *   (default)  callback tier: uv_read_start() into one static 16 KiB
 *              buffer; each chunk goes back with uv_try_write(), at once;
 *              only a short write's rest is copied into a uv_write()
 *              request, and reading stops until it is written.
 *   -B         buffered tier: each chunk is copied into its own uv_write()
 *              request (libuv writes at once what the kernel takes and
 *              keeps the rest; the request is freed in its callback);
 *              reading stops while 256 KiB wait to be written.
 *
 * libuv itself reads until a short read, as echo_epoll.c does.  The
 * listening socket comes from echo_peer.c (uv_tcp_open); libuv accepts,
 * and each connection gets uv_tcp_nodelay().
 *
 *   echo_libuv [-B] [-p PORT] [-a ADDR]
 *
 * Prints "echo_libuv: listening on ADDR:PORT" when ready; SIGINT or
 * SIGTERM stops it (exit status 0).
 */
#include "echo_peer.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define PROG "echo_libuv"

struct wreq {
	uv_write_t req;
	size_t len;
	char data[];
};

static uv_loop_t *loop;
static int buffered;

static void on_close(uv_handle_t *h)
{
	free(h);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char data[PEER_BUFSZ];

	(void)h;
	(void)suggested;
	*buf = uv_buf_init(data, sizeof(data));
}

static void on_written(uv_write_t *req, int status);

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct wreq *w;
	uv_buf_t b;
	int done = 0;

	if (nread == 0)                 /* EAGAIN */
		return;
	if (nread < 0) {                /* UV_EOF or an error */
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	if (!buffered) {
		b = uv_buf_init(buf->base, (unsigned)nread);
		done = uv_try_write(s, &b, 1);
		if (done == UV_EAGAIN)
			done = 0;
		if (done < 0) {
			uv_close((uv_handle_t *)s, on_close);
			return;
		}
		if (done == nread)
			return;
	}
	/* The callback tier's rest, or the buffered tier's whole chunk. */
	if ((w = malloc(sizeof(*w) + (size_t)nread - (size_t)done)) == NULL) {
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	w->len = (size_t)nread - (size_t)done;
	memcpy(w->data, buf->base + done, w->len);
	b = uv_buf_init(w->data, (unsigned)w->len);
	if (uv_write(&w->req, s, &b, 1, on_written) < 0) {
		free(w);
		uv_close((uv_handle_t *)s, on_close);
		return;
	}
	if (!buffered || s->write_queue_size >= PEER_SENDQ)
		uv_read_stop(s);
}

static void on_written(uv_write_t *req, int status)
{
	uv_stream_t *s = req->handle;

	free(req);                      /* the struct wreq */
	if (status < 0) {
		if (status != UV_ECANCELED && !uv_is_closing((uv_handle_t *)s))
			uv_close((uv_handle_t *)s, on_close);
		return;
	}
	if (s->write_queue_size == 0 && !uv_is_closing((uv_handle_t *)s))
		uv_read_start(s, on_alloc, on_read);  /* no-op if reading */
}

static void on_conn(uv_stream_t *server, int status)
{
	uv_tcp_t *c;

	if (status < 0)
		return;
	if ((c = malloc(sizeof(*c))) == NULL)
		return;
	uv_tcp_init(loop, c);
	if (uv_accept(server, (uv_stream_t *)c) < 0) {
		uv_close((uv_handle_t *)c, on_close);
		return;
	}
	uv_tcp_nodelay(c, 1);
	uv_read_start((uv_stream_t *)c, on_alloc, on_read);
}

static void on_signal(uv_signal_t *h, int sig)
{
	(void)h;
	(void)sig;
	uv_stop(loop);
}

int main(int argc, char **argv)
{
	static uv_tcp_t server;
	static uv_signal_t sint, sterm;
	int lfd, r;

	lfd = peer_listen(PROG, argc, argv, &buffered);
	loop = uv_default_loop();
	uv_tcp_init(loop, &server);
	uv_signal_init(loop, &sint);
	uv_signal_init(loop, &sterm);
	if ((r = uv_tcp_open(&server, lfd)) < 0 ||
	    (r = uv_listen((uv_stream_t *)&server, SOMAXCONN, on_conn)) < 0 ||
	    (r = uv_signal_start(&sint, on_signal, SIGINT)) < 0 ||
	    (r = uv_signal_start(&sterm, on_signal, SIGTERM)) < 0) {
		fprintf(stderr, PROG ": %s\n", uv_strerror(r));
		return 1;
	}
	uv_run(loop, UV_RUN_DEFAULT);
	fprintf(stderr, PROG ": stopping (libuv %s)\n", uv_version_string());
	return 0;
}
