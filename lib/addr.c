/*
 * addr.c - socket addresses: parsing IP literals, formatting addresses,
 * a device's local and peer address, and non-blocking socket creation.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>


int ep__socket(int family, int type)
{
	return socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

int epaddr_parse(const char *ip, int port, struct sockaddr_storage *ss,
                 socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n;

	if (ss == NULL || len == NULL || port < 0 || port > 65535) {
		errno = EINVAL;
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	if (ip == NULL || *ip == '\0') {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return 0;
	}
	/* "[::1]" as in URLs, or a bare "::1". */
	n = strlen(ip);
	if (n >= 2 && ip[0] == '[' && ip[n - 1] == ']' && n - 2 < sizeof(buf)) {
		memcpy(buf, ip + 1, n - 2);
		buf[n - 2] = '\0';
		ip = buf;
	}
	if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	errno = EINVAL;
	return -1;
}

int epaddr_format(const struct sockaddr *sa, char *buf, size_t len, int *port)
{
	const void *a;
	int p;

	if (sa == NULL || buf == NULL || len == 0) {
		errno = EINVAL;
		return -1;
	}
	switch (sa->sa_family) {
	case AF_INET:
		a = &((const struct sockaddr_in *)sa)->sin_addr;
		p = ntohs(((const struct sockaddr_in *)sa)->sin_port);
		break;
	case AF_INET6:
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		p = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
		break;
	case AF_UNIX:
		if (strlcpy(buf, ((const struct sockaddr_un *)sa)->sun_path,
		            len) >= len) {
			errno = ENOSPC;
			return -1;
		}
		if (port != NULL)
			*port = 0;
		return 0;
	default:
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (inet_ntop(sa->sa_family, a, buf, (socklen_t)len) == NULL) {
		errno = ENOSPC;
		return -1;
	}
	if (port != NULL)
		*port = p;
	return 0;
}

static int dev_addr(const iodev_t *dev, char *buf, size_t len, int *port,
                    int peer)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int r;

	if (dev == NULL || buf == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (ep__dev_gone(dev))
		return -1;
	memset(&ss, 0, sizeof(ss));
	r = peer ? getpeername(dev->fd, (struct sockaddr *)&ss, &sl)
	         : getsockname(dev->fd, (struct sockaddr *)&ss, &sl);
	if (r < 0)
		return -1;
	return epaddr_format((struct sockaddr *)&ss, buf, len, port);
}

int iodev_local_addr(const iodev_t *dev, char *buf, size_t len, int *port)
{
	return dev_addr(dev, buf, len, port, 0);
}

int iodev_peer_addr(const iodev_t *dev, char *buf, size_t len, int *port)
{
	return dev_addr(dev, buf, len, port, 1);
}
