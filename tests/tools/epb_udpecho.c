/*
 * epb_udpecho.c - a UDP echo server for tests/epbench.bats (plain
 * sockets, one thread): sends every datagram back to its sender.
 *   epb_udpecho [-a ADDR] [-p PORT]; prints "epb_udpecho: listening on
 *   ADDR:PORT" when ready; SIGTERM ends it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_storage ss, from;
	socklen_t len, flen;
	const char *addr = "127.0.0.1";
	int port = 0, fd, ch, v6;
	char buf[65536], text[64];
	ssize_t n;

	while ((ch = getopt(argc, argv, "a:p:")) != -1) {
		if (ch == 'a')
			addr = optarg;
		else if (ch == 'p')
			port = atoi(optarg);
		else
			return 64;
	}
	memset(&ss, 0, sizeof(ss));
	v6 = strchr(addr, ':') != NULL;
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		len = sizeof(*s4);
	}
	if ((fd = socket(ss.ss_family, SOCK_DGRAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		perror("epb_udpecho");
		return 71;
	}
	port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	inet_ntop(ss.ss_family, v6 ? (void *)&((struct sockaddr_in6 *)&ss)->
	    sin6_addr : (void *)&((struct sockaddr_in *)&ss)->sin_addr, text,
	    sizeof(text));
	printf("epb_udpecho: listening on %s:%d\n", text, port);
	fflush(stdout);
	for (;;) {
		flen = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
		    &flen);
		if (n >= 0)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from,
			    flen);
	}
}
