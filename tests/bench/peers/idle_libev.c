/*
 * idle_libev.c - a minimal TCP echo server on libev, the libev peer of the
 * idle-connection memory benchmark (tests/bench/run-mem.sh): what holding
 * a connection costs an application written on libev, next to
 * examples/echosrv on libepump.
 *
 *   idle_libev [-p PORT]
 *
 * Listens on 127.0.0.1:PORT (default 0: any free port), prints
 * "idle_libev: listening on 127.0.0.1:PORT", accepts every connection and
 * gives it one malloc'd ev_io (EV_READ) on the default loop (epoll).  A
 * readable connection is read until EAGAIN and each chunk written back;
 * a short write (never, for the benchmark's 1-byte round trips) closes
 * it, since this server keeps no send queue.  SIGTERM or SIGINT stops it
 * (exit status 0).
 */
#define _GNU_SOURCE
#include <ev.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROG "idle_libev"

static char buf[16384];

static void drop(struct ev_loop *loop, ev_io *w)
{
	ev_io_stop(loop, w);
	close(w->fd);
	free(w);
}

static void on_client(struct ev_loop *loop, ev_io *w, int revents)
{
	ssize_t n;

	(void)revents;
	for (;;) {
		n = read(w->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0 || write(w->fd, buf, (size_t)n) != n) {
			drop(loop, w);
			return;
		}
		if ((size_t)n < sizeof(buf))
			return;
	}
}

static void on_accept(struct ev_loop *loop, ev_io *lw, int revents)
{
	int fd;

	(void)revents;
	while ((fd = accept4(lw->fd, NULL, NULL,
	                     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		ev_io *w = malloc(sizeof(*w));

		if (w == NULL) {
			close(fd);
			continue;
		}
		ev_io_init(w, on_client, fd, EV_READ);
		ev_io_start(loop, w);
	}
	if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		fprintf(stderr, PROG ": accept: %s\n", strerror(errno));
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { 0 };
	socklen_t len = sizeof(sa);
	struct rlimit rl;
	struct ev_loop *loop;
	ev_io lw;
	ev_signal sterm, sint;
	int port = 0, fd, one = 1, o;

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
	loop = ev_default_loop(EVBACKEND_EPOLL);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (loop == NULL || fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		fprintf(stderr, PROG ": listen: %s\n", strerror(errno));
		return 1;
	}
	ev_io_init(&lw, on_accept, fd, EV_READ);
	ev_io_start(loop, &lw);
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_start(loop, &sterm);
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_start(loop, &sint);
	printf(PROG ": listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	ev_run(loop, 0);
	return 0;
}
