/*
 * epb_stub.c - misbehaving and unix-socket servers for tests/epbench.bats
 * (plain sockets, poll, one thread).  Modes:
 *   epb_stub rst            TCP: accept, reset (SO_LINGER 0) on the first data
 *   epb_stub garbage        TCP: answer every read with "HELLO\r\n\r\n"
 *   epb_stub unix PATH      unix stream socket at PATH: echo
 *   epb_stub unixhttp PATH  unix stream socket at PATH: a 200 per request
 * Prints "epb_stub: listening on ADDR:PORT" (or PATH) when ready.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAXC 1024

static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";

/* Requests (heads ending in an empty line) completed by these bytes. */
static int heads(const char *b, ssize_t n, int *state)
{
	int count = 0;

	for (ssize_t i = 0; i < n; i++) {
		if (b[i] == '\n') {
			if (++*state == 2) {
				count++;
				*state = 0;
			}
		} else if (b[i] != '\r')
			*state = 0;
	}
	return count;
}

int main(int argc, char **argv)
{
	struct pollfd p[MAXC];
	int st[MAXC], n = 1, lfd, fd, i, k;
	const char *mode = argc > 1 ? argv[1] : "";
	char buf[65536];
	ssize_t r;

	if (strncmp(mode, "unix", 4) == 0) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		if (argc < 3 || strlen(argv[2]) >= sizeof(sun.sun_path))
			return 64;
		strcpy(sun.sun_path, argv[2]);
		unlink(argv[2]);
		lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun,
		    sizeof(sun)) < 0 || listen(lfd, 128) < 0) {
			perror("epb_stub");
			return 71;
		}
		printf("epb_stub: listening on %s\n", argv[2]);
	} else if (!strcmp(mode, "rst") || !strcmp(mode, "garbage")) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		socklen_t len = sizeof(sin);

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin,
		    sizeof(sin)) < 0 || listen(lfd, 128) < 0 ||
		    getsockname(lfd, (struct sockaddr *)&sin, &len) < 0) {
			perror("epb_stub");
			return 71;
		}
		printf("epb_stub: listening on 127.0.0.1:%d\n",
		    ntohs(sin.sin_port));
	} else {
		fprintf(stderr, "usage: epb_stub rst|garbage|unix PATH|"
		    "unixhttp PATH\n");
		return 64;
	}
	fflush(stdout);
	p[0].fd = lfd;
	p[0].events = POLLIN;
	for (;;) {
		if (poll(p, (nfds_t)n, -1) < 0 && errno != EINTR)
			return 71;
		if (p[0].revents & POLLIN) {
			fd = accept(lfd, NULL, NULL);
			if (fd >= 0 && n < MAXC) {
				p[n].fd = fd;
				p[n].events = POLLIN;
				p[n].revents = 0;
				st[n++] = 0;
			} else if (fd >= 0)
				close(fd);
		}
		for (i = 1; i < n; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(p[i].fd, buf, sizeof(buf));
			if (r > 0 && !strcmp(mode, "rst")) {
				struct linger l = { 1, 0 };

				setsockopt(p[i].fd, SOL_SOCKET, SO_LINGER, &l,
				    sizeof(l));
				r = 0;              /* close: RST */
			}
			if (r <= 0) {
				close(p[i].fd);
				p[i] = p[--n];
				st[i] = st[n];
				i--;
				continue;
			}
			if (!strcmp(mode, "garbage"))
				(void)!write(p[i].fd, "HELLO\r\n\r\n", 9);
			else if (!strcmp(mode, "unix"))
				(void)!write(p[i].fd, buf, (size_t)r);
			else
				for (k = heads(buf, r, &st[i]); k > 0; k--)
					(void)!write(p[i].fd, ok,
					    sizeof(ok) - 1);
		}
	}
}
