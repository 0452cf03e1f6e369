/*
 * idle_libevent.c - a minimal TCP echo server on libevent 2, the libevent
 * peer of the idle-connection memory benchmark (tests/bench/run-mem.sh):
 * what holding a connection costs an application written on libevent,
 * next to examples/echosrv on libepump.
 *
 *   idle_libevent [-p PORT]
 *
 * Listens on 127.0.0.1:PORT (default 0: any free port), prints
 * "idle_libevent: listening on 127.0.0.1:PORT", accepts every connection
 * and gives it one persistent EV_READ event from event_new() (the epoll
 * backend).  No bufferevent: the lightest way libevent offers.  A
 * readable connection is read until EAGAIN and each chunk written back; a
 * short write (never, for the benchmark's 1-byte round trips) closes it,
 * since this server keeps no send queue.  SIGTERM or SIGINT stops it
 * (exit status 0).
 */
#define _GNU_SOURCE
#include <event2/event.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROG "idle_libevent"

static char buf[16384];
static struct event_base *base;

static void on_client(evutil_socket_t fd, short what, void *arg)
{
	struct event *ev = arg;
	ssize_t n;

	(void)what;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0 || write(fd, buf, (size_t)n) != n) {
			event_free(ev);
			close(fd);
			return;
		}
		if ((size_t)n < sizeof(buf))
			return;
	}
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	int fd;

	(void)what;
	(void)arg;
	while ((fd = accept4(lfd, NULL, NULL,
	                     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct event *ev = event_new(base, fd, EV_READ | EV_PERSIST,
		                             on_client, event_self_cbarg());

		if (ev == NULL || event_add(ev, NULL) < 0) {
			if (ev != NULL)
				event_free(ev);
			close(fd);
		}
	}
	if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		fprintf(stderr, PROG ": accept: %s\n", strerror(errno));
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
	struct sockaddr_in sa = { 0 };
	socklen_t len = sizeof(sa);
	struct event_config *cfg;
	struct event *lev, *sterm, *sint;
	struct rlimit rl;
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
	cfg = event_config_new();
	if (cfg != NULL) {
		(void)event_config_avoid_method(cfg, "poll");
		(void)event_config_avoid_method(cfg, "select");
		base = event_base_new_with_config(cfg);
		event_config_free(cfg);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (base == NULL || fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		fprintf(stderr, PROG ": listen: %s\n", strerror(errno));
		return 1;
	}
	lev = event_new(base, fd, EV_READ | EV_PERSIST, on_accept, NULL);
	sterm = evsignal_new(base, SIGTERM, on_signal, NULL);
	sint = evsignal_new(base, SIGINT, on_signal, NULL);
	if (lev == NULL || sterm == NULL || sint == NULL ||
	    event_add(lev, NULL) < 0 || event_add(sterm, NULL) < 0 ||
	    event_add(sint, NULL) < 0) {
		fprintf(stderr, PROG ": event_add failed\n");
		return 1;
	}
	printf(PROG ": listening on 127.0.0.1:%d (%s)\n", ntohs(sa.sin_port),
	       event_base_get_method(base));
	fflush(stdout);
	event_base_dispatch(base);
	return 0;
}
