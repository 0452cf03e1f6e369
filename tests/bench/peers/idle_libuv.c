/*
 * idle_libuv.c - a minimal TCP echo server on libuv, the libuv peer of the
 * idle-connection memory benchmark (tests/bench/run-mem.sh): what holding
 * a connection costs an application written on libuv, next to
 * examples/echosrv on libepump.
 *
 *   idle_libuv [-p PORT]
 *
 * Listens on 127.0.0.1:PORT (default 0: any free port), prints
 * "idle_libuv: listening on 127.0.0.1:PORT", accepts every connection
 * into one malloc'd uv_tcp_t and reads it with uv_read_start() into one
 * static buffer (nothing is allocated per read).  Each chunk read is
 * written back with uv_try_write(); a short write (never, for the
 * benchmark's 1-byte round trips) closes the connection, since this
 * server keeps no send queue.  SIGTERM or SIGINT stops it (exit status 0).
 */
#include <uv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define PROG "idle_libuv"

static char buf[16384];
static uv_loop_t *loop;

static void on_closed(uv_handle_t *h)
{
	free(h);
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
	(void)h;
	(void)want;
	*b = uv_buf_init(buf, sizeof(buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	uv_buf_t out;

	if (n == 0)
		return; /* EAGAIN */
	if (n > 0) {
		out = uv_buf_init(b->base, (unsigned)n);
		if (uv_try_write(s, &out, 1) == n)
			return;
	}
	uv_close((uv_handle_t *)s, on_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
	uv_tcp_t *c;

	if (status < 0)
		return;
	c = malloc(sizeof(*c));
	if (c == NULL || uv_tcp_init(loop, c) != 0) {
		free(c);
		return;
	}
	if (uv_accept(server, (uv_stream_t *)c) != 0 ||
	    uv_read_start((uv_stream_t *)c, on_alloc, on_read) != 0)
		uv_close((uv_handle_t *)c, on_closed);
}

static void on_signal(uv_signal_t *h, int sig)
{
	(void)sig;
	uv_stop(h->loop);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct sockaddr_storage got;
	int len = sizeof(got), port = 0, o, r;
	struct rlimit rl;
	uv_tcp_t server;
	uv_signal_t sterm, sint;

	while ((o = getopt(argc, argv, "p:")) != -1) {
		if (o != 'p') {
			fprintf(stderr, "usage: " PROG " [-p PORT]\n");
			return 2;
		}
		port = atoi(optarg);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	loop = uv_default_loop();
	if ((r = uv_ip4_addr("127.0.0.1", port, &sa)) != 0 ||
	    (r = uv_tcp_init(loop, &server)) != 0 ||
	    (r = uv_tcp_bind(&server, (struct sockaddr *)&sa, 0)) != 0 ||
	    (r = uv_listen((uv_stream_t *)&server, SOMAXCONN,
	                   on_connection)) != 0 ||
	    (r = uv_tcp_getsockname(&server, (struct sockaddr *)&got,
	                            &len)) != 0) {
		fprintf(stderr, PROG ": listen: %s\n", uv_strerror(r));
		return 1;
	}
	uv_signal_init(loop, &sterm);
	uv_signal_start(&sterm, on_signal, SIGTERM);
	uv_signal_init(loop, &sint);
	uv_signal_start(&sint, on_signal, SIGINT);
	printf(PROG ": listening on 127.0.0.1:%d\n",
	       ntohs(((struct sockaddr_in *)&got)->sin_port));
	fflush(stdout);
	uv_run(loop, UV_RUN_DEFAULT);
	return 0;
}
