/*
 * net_udp.c - UDP devices: a server bound to an address, a client
 * connected to one peer, and datagram receive/send that carry the peer's
 * address.  Any thread may call these.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
#include <unistd.h>

iodev_t *epudp_listen(epcore_t *core, const char *ip, int port, void *para,
                      IOHandler *handler, void *cbpara, int bindtype,
                      int epump)
{
	return ep__listen_dev(core, ip, port, SOCK_DGRAM, FDT_UDPSRV,
	                      PF_SOCKET | PF_DGRAM, para, handler, cbpara,
	                      bindtype, epump);
}

iodev_t *epudp_client(epcore_t *core, const char *host, int port,
                      void *para, IOHandler *handler, void *cbpara)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (core == NULL || handler == NULL || host == NULL || *host == '\0') {
		errno = EINVAL;
		return NULL;
	}
	if (epaddr_parse(host, port, &ss, &len) < 0)
		return NULL;
	fd = ep__socket(ss.ss_family, SOCK_DGRAM);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return NULL;
	}
	return ep__sock_dev(core, fd, FDT_UDPCLI, PF_SOCKET | PF_DGRAM, para,
	                    handler, cbpara, BIND_CURRENT_EPUMP, 0);
}

ssize_t epudp_recvfrom(iodev_t *dev, void *buf, size_t len,
                       struct sockaddr_storage *from, socklen_t *fromlen)
{
	socklen_t sl = sizeof(*from);
	ssize_t n;

	if (dev == NULL || (buf == NULL && len > 0) || len > SSIZE_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (ep__dev_gone(dev))
		return -1;
	n = recvfrom(dev->fd, buf, len, 0, (struct sockaddr *)from,
	             from != NULL ? &sl : NULL);
	if (n >= 0 && fromlen != NULL)
		*fromlen = from != NULL ? sl : 0;
	return n;
}

ssize_t epudp_sendto(iodev_t *dev, const void *buf, size_t len,
                     const struct sockaddr *to, socklen_t tolen)
{
	if (dev == NULL || (buf == NULL && len > 0) || len > SSIZE_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (ep__dev_gone(dev))
		return -1;
	return sendto(dev->fd, buf, len, MSG_NOSIGNAL, to,
	              to != NULL ? tolen : 0);
}
