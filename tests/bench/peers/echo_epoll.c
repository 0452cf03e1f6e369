/*
 * echo_epoll.c - the peer of examples/echosrv in tests/bench/echo-run.sh:
 * a TCP echo server on raw epoll, one thread, written the way echosrv and
 * libepump work so that the difference between the two is libepump's own
 * cost:
 *
 *   - edge-triggered (EPOLLIN | EPOLLRDHUP | EPOLLET, as lib/poller_epoll.c),
 *     up to 512 events per epoll_wait (as lib/epump.c);
 *   - TCP_NODELAY on every accepted socket; accept4 until EAGAIN;
 *   - per edge: read 16 KiB at a time until EAGAIN or a short read, and
 *     write back each chunk at once;
 *   - write interest only while a short write left bytes to send (then
 *     reading pauses until they are gone, so nothing is dropped).
 *
 * No library, no timers, no per-connection object until a write is short.
 *
 *   echo_epoll [-p PORT] [-a ADDR]
 *
 * Prints "echo_epoll: listening on ADDR:PORT" on stdout when ready;
 * SIGINT or SIGTERM stops it (exit status 0).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROG  "echo_epoll"
#define BUFSZ (16 * 1024) /* one read(2), as examples/echosrv */
#define BATCH 512         /* events per epoll_wait, as lib/epump.c */

/* Bytes a short write left behind, per fd (NULL: none, the usual case). */
struct pending {
	size_t len, off;
	char data[];
};

static int epfd;
static struct pending **pend; /* indexed by fd */
static int npend;

static void drop(int fd)
{
	if (fd < npend) {
		free(pend[fd]);
		pend[fd] = NULL;
	}
	close(fd); /* also removes it from the epoll set */
}

static int want_write(int fd, int on)
{
	struct epoll_event e = { 0 };

	e.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (on ? EPOLLOUT : 0);
	e.data.fd = fd;
	return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &e);
}

/* Send what is pending; 1: all gone, 0: try again later, -1: dropped. */
static int flush(int fd)
{
	struct pending *p = pend[fd];
	ssize_t w;

	while (p->off < p->len) {
		w = write(fd, p->data + p->off, p->len - p->off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return 0;
		if (w < 0) {
			drop(fd);
			return -1;
		}
		p->off += (size_t)w;
	}
	free(p);
	pend[fd] = NULL;
	if (want_write(fd, 0) < 0) {
		drop(fd);
		return -1;
	}
	return 1;
}

/* Read and echo until the kernel has no more (edge-triggered). */
static void echo(int fd)
{
	static char buf[BUFSZ];
	struct pending *p;
	ssize_t n, w;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) /* drained: wait for the next edge */
			return;
		if (n <= 0) {                 /* EOF or error */
			drop(fd);
			return;
		}
		do
			w = write(fd, buf, (size_t)n);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN) {
			drop(fd);
			return;
		}
		if (w < 0)
			w = 0;
		if (w < n) {                  /* keep the rest, pause reading */
			p = malloc(sizeof(*p) + (size_t)(n - w));
			if (p == NULL || fd >= npend || want_write(fd, 1) < 0) {
				free(p);
				drop(fd);
				return;
			}
			p->len = (size_t)(n - w);
			p->off = 0;
			memcpy(p->data, buf + w, p->len);
			pend[fd] = p;
			return;
		}
		if (n < (ssize_t)sizeof(buf)) /* short read: nothing more now */
			return;
	}
}

static void accept_all(int lfd)
{
	struct epoll_event e = { 0 };
	int fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		e.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
		e.data.fd = fd;
		if (fd >= npend || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0)
			close(fd);
	}
	if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		perror(PROG ": accept4");
}

int main(int argc, char **argv)
{
	static struct epoll_event ev[BATCH];
	const char *addr = "127.0.0.1";
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	struct epoll_event e = { 0 };
	struct rlimit rl;
	sigset_t sigs;
	int port = 7000, lfd, sfd, one = 1, c, i, n, stop = 0;
	char host[INET6_ADDRSTRLEN];

	while ((c = getopt(argc, argv, "p:a:h")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'a': addr = optarg; break;
		default:
			fprintf(c == 'h' ? stdout : stderr,
			    "usage: " PROG " [-p PORT (0 picks one)] [-a ADDR]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*s6);
	} else {
		fprintf(stderr, PROG ": -a wants a numeric address, not '%s'\n", addr);
		return 2;
	}

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	npend = rl.rlim_cur > 1000000 ? 1000000 : (int)rl.rlim_cur;
	pend = calloc((size_t)npend, sizeof(*pend));

	/* SIGINT/SIGTERM arrive on a signalfd in the epoll set. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pend == NULL || epfd < 0 || sfd < 0 || lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&ss, sl) < 0 ||
	    listen(lfd, SOMAXCONN) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &sl) < 0) {
		fprintf(stderr, PROG ": listen on %s:%d: %s\n", addr, port,
		        strerror(errno));
		return 1;
	}
	e.events = EPOLLIN | EPOLLET;
	e.data.fd = lfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &e);
	e.data.fd = sfd;
	epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &e);

	port = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
	inet_ntop(ss.ss_family, ss.ss_family == AF_INET ?
	          (void *)&s4->sin_addr : (void *)&s6->sin6_addr, host,
	          sizeof(host));
	printf(PROG ": listening on %s%s%s:%d\n", ss.ss_family == AF_INET6 ?
	       "[" : "", host, ss.ss_family == AF_INET6 ? "]" : "", port);
	fflush(stdout);

	while (!stop) {
		n = epoll_wait(epfd, ev, BATCH, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror(PROG ": epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			uint32_t k = ev[i].events;

			if (fd == lfd)
				accept_all(lfd);
			else if (fd == sfd)
				stop = 1;
			else if (pend[fd] != NULL) {
				/* Paused: flush first, then read what came. */
				if (k & (EPOLLOUT | EPOLLERR | EPOLLHUP))
					if (flush(fd) == 1)
						echo(fd);
			} else if (k & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
				echo(fd);
		}
	}
	fprintf(stderr, PROG ": stopping\n");
	return 0;
}
