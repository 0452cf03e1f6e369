/*
 * echo_peer.c - the shared part of the echo peers: see echo_peer.h.
 */
#define _GNU_SOURCE
#include "echo_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int peer_listen(const char *prog, int argc, char **argv, int *buffered)
{
	const char *addr = "127.0.0.1";
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	struct rlimit rl;
	int port = 7000, lfd, one = 1, c;
	char host[INET6_ADDRSTRLEN];

	while ((c = getopt(argc, argv, buffered ? "p:a:Bh" : "p:a:h")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'a': addr = optarg; break;
		case 'B': *buffered = 1; break;
		default:
			fprintf(c == 'h' ? stdout : stderr, "usage: %s "
			    "[-p PORT (0 picks one)] [-a ADDR]%s\n", prog,
			    buffered ? " [-B (the library's buffered writes)]" : "");
			exit(c == 'h' ? 0 : 2);
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
		fprintf(stderr, "%s: -a wants a numeric address, not '%s'\n",
		        prog, addr);
		exit(2);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&ss, sl) < 0 ||
	    listen(lfd, SOMAXCONN) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &sl) < 0) {
		fprintf(stderr, "%s: listen on %s:%d: %s\n", prog, addr, port,
		        strerror(errno));
		exit(1);
	}
	port = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
	inet_ntop(ss.ss_family, ss.ss_family == AF_INET ?
	          (void *)&s4->sin_addr : (void *)&s6->sin6_addr, host,
	          sizeof(host));
	printf("%s: listening on %s%s%s:%d\n", prog, ss.ss_family == AF_INET6 ?
	       "[" : "", host, ss.ss_family == AF_INET6 ? "]" : "", port);
	fflush(stdout);
	return lfd;
}

int peer_accept(int lfd)
{
	int fd, one = 1;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int peer_write(int fd, const char *buf, size_t n, struct peer_pend **pend)
{
	struct peer_pend *p;
	ssize_t w;

	do
		w = write(fd, buf, n);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno != EAGAIN)
		return -1;
	if (w < 0)
		w = 0;
	if ((size_t)w == n)
		return 0;
	if ((p = malloc(sizeof(*p) + n - (size_t)w)) == NULL)
		return -1;
	p->len = n - (size_t)w;
	p->off = 0;
	memcpy(p->data, buf + w, p->len);
	*pend = p;
	return 1;
}

int peer_flush(int fd, struct peer_pend **pend)
{
	struct peer_pend *p = *pend;
	ssize_t w;

	while (p->off < p->len) {
		w = write(fd, p->data + p->off, p->len - p->off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return 1;
		if (w < 0)
			return -1;
		p->off += (size_t)w;
	}
	free(p);
	*pend = NULL;
	return 0;
}
