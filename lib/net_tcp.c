/*
 * net_tcp.c - TCP devices: listening, accepting (with a pause instead of
 * a busy loop when the process runs out of fds), non-blocking connect
 * with a timeout, and socket options.  Also the accept and connect steps
 * that unix sockets share (net_unix.c).
 *
 * Threads: any thread may call these; a connect's outcome and a paused
 * listener's resumption reach the device's handler on its own thread.
 */
#include "internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_PAUSE_MS 100

/* Close fd keeping errno. */
static void close_keep(int fd)
{
	int e = errno;

	close(fd);
	errno = e;
}

/* Binds a new device and hands it back, or closes it and returns NULL. */
iodev_t *ep__dev_bound(iodev_t *dev, int bindtype, int epump)
{
	if (dev == NULL)
		return NULL;
	if (iodev_bind_epump(dev, bindtype, epump) < 0) {
		int e = errno;

		iodev_close(dev);
		errno = e;
		return NULL;
	}
	return dev;
}

/* A bound, listening socket of type for ss; -1 with errno. */
int ep__listen_socket(const struct sockaddr_storage *ss, socklen_t len,
                      int type, int reuseport)
{
	int fd = ep__socket(ss->ss_family, type), on = 1, off = 0;

	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ss->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
		                 sizeof(off));
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0) {
		close_keep(fd);
		return -1;
	}
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)) {
		close_keep(fd);
		return -1;
	}
	return fd;
}

/* ip:port as an address; NULL/"" falls back to IPv4 without IPv6. */
int ep__addr_for(const char *ip, int port, struct sockaddr_storage *ss,
                 socklen_t *len, int type)
{
	if (epaddr_parse(ip, port, ss, len) < 0)
		return -1;
	if ((ip == NULL || *ip == '\0') && ss->ss_family == AF_INET6) {
		int probe = ep__socket(AF_INET6, type);

		if (probe >= 0) {
			close(probe);
		} else if (errno == EAFNOSUPPORT) {
			return epaddr_parse("0.0.0.0", port, ss, len);
		}
	}
	return 0;
}

/* A device of the new socket fd, bound; on any failure fd is closed. */
iodev_t *ep__sock_dev(epcore_t *core, int fd, int fdtype, uint32_t pflags,
                      void *para, IOHandler *handler, void *cbpara,
                      int bindtype, int epump)
{
	iodev_t *dev = ep__dev_make(core, fd, fdtype, pflags, para, handler,
	                            cbpara);

	if (dev == NULL) {
		close_keep(fd);
		return NULL;
	}
	return ep__dev_bound(dev, bindtype, epump);
}

/* A listening stream socket, or a bound datagram socket, on ip:port. */
iodev_t *ep__listen_dev(epcore_t *core, const char *ip, int port, int type,
                        int fdtype, uint32_t pflags, void *para,
                        IOHandler *handler, void *cbpara, int bindtype,
                        int epump)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (core == NULL || handler == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (ep__addr_for(ip, port, &ss, &len, type) < 0)
		return NULL;
	fd = ep__listen_socket(&ss, len, type, 0);
	if (fd < 0)
		return NULL;
	return ep__sock_dev(core, fd, fdtype, pflags, para, handler, cbpara,
	                    bindtype, epump);
}

iodev_t *eptcp_listen(epcore_t *core, const char *ip, int port, void *para,
                      IOHandler *handler, void *cbpara, int bindtype,
                      int epump)
{
	return ep__listen_dev(core, ip, port, SOCK_STREAM, FDT_LISTEN,
	                      PF_SOCKET, para, handler, cbpara, bindtype,
	                      epump);
}

static int accept_resume(void *cbpara, void *obj, int event, int fdtype)
{
	uint64_t devid = ep__dev_timer_devid(obj), tid = iotimer_id(obj);
	struct iodev *dev = ep__dev_lookup(cbpara, devid);

	if (dev != NULL) {
		atomic_compare_exchange_strong(&dev->timer, &tid, 0);
		/* Re-arming reports the connections that waited meanwhile. */
		(void)iodev_add_notify(dev, RWF_READ);
	}
	return 0;
}

/*
 * A connection the kernel holds but we cannot take now (out of fds or
 * memory): readiness, level or edge, would report it again and again, or,
 * once the handler stops at NULL, never again.  Stop listening for a
 * moment; the pause ends with IOE_ACCEPT for what waited meanwhile.
 */
static void accept_pause(iodev_t *ldev, uint64_t lid)
{
	int e = errno;

	if (atomic_load(&ldev->timer) == 0) {
		(void)iodev_del_notify(ldev, RWF_READ);
		if (ep__dev_timer_start(ldev, lid, ACCEPT_PAUSE_MS,
		                        accept_resume) == 0)
			(void)iodev_add_notify(ldev, RWF_READ);
	}
	errno = e;
}

iodev_t *ep__accept(epcore_t *core, iodev_t *ldev, void *para,
                    IOHandler *handler, void *cbpara, int bindtype,
                    int epump)
{
	struct ep__thread *self;
	iodev_t *dev;
	uint64_t lid, ltag;
	int fd, type;

	if (core == NULL || ldev == NULL || handler == NULL ||
	    ldev->core != core ||
	    !(atomic_load(&ldev->pflags) & PF_LISTEN)) {
		errno = EINVAL;
		return NULL;
	}
	lid = ep__dev_live_id(ldev);
	if (lid == 0) {
		errno = ENOENT;
		return NULL;
	}
	for (;;) {
		fd = accept4(ldev->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			break;
		if (errno == ECONNABORTED || errno == EINTR)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			accept_pause(ldev, lid);
		return NULL;
	}
	type = ldev->fdtype == FDT_USOCK_LISTEN ? FDT_USOCK_ACCEPTED
	                                        : FDT_ACCEPTED;
	dev = ep__dev_make(core, fd, type, PF_SOCKET, para, handler, cbpara);
	if (dev == NULL) {
		close_keep(fd);
		accept_pause(ldev, lid); /* the rest waits for memory */
		return NULL;
	}
	self = ep__self_in(core);
	ltag = atomic_load(&ldev->tag);
	if (bindtype == BIND_CURRENT_EPUMP &&
	    (self == NULL || self->cur_src < 0) &&
	    ep__tag_bound(ltag) == DEVB_ONE) {
		bindtype = BIND_GIVEN_EPUMP; /* the listener's epump */
		epump = ep__tag_epump(ltag);
	}
	dev = ep__dev_bound(dev, bindtype, epump);
	if (dev == NULL && errno != ECANCELED && errno != EINVAL &&
	    errno != ESRCH)
		accept_pause(ldev, lid);
	return dev;
}

iodev_t *eptcp_accept(epcore_t *core, iodev_t *listendev, void *para,
                      IOHandler *handler, void *cbpara, int bindtype,
                      int epump)
{
	return ep__accept(core, listendev, para, handler, cbpara, bindtype,
	                  epump);
}

static int connect_timeout(void *cbpara, void *obj, int event, int fdtype)
{
	uint64_t devid = ep__dev_timer_devid(obj), tid = iotimer_id(obj);
	struct iodev *dev = ep__dev_lookup(cbpara, devid);

	if (dev != NULL) {
		uint32_t pf = atomic_load(&dev->pflags);

		atomic_compare_exchange_strong(&dev->timer, &tid, 0);
		/* Only a connect still in progress times out: one that the
		 * epump saw complete keeps its interest. */
		while ((pf & PF_CONNECTING) &&
		       !atomic_compare_exchange_weak(&dev->pflags, &pf,
		           pf & ~(uint32_t)(PF_CONNECTING | PF_WRITE | PF_READ)))
			;
		if (pf & PF_CONNECTING) {
			/* The poller keeps the fd until the close; with no
			 * interest left it reports nothing more. */
			dev->error = ETIMEDOUT;
			ep__dev_apply(dev, devid);
			ep__dev_deliver(dev, devid, IOE_CONNFAIL);
		}
	}
	return 0;
}

/* Starts a non-blocking connect of a new socket to sa; the device gets
 * IOE_CONNECTED or IOE_CONNFAIL from the epump (or the timeout). */
iodev_t *ep__connect(epcore_t *core, const struct sockaddr *sa,
                     socklen_t salen, int fdtype, void *para,
                     IOHandler *handler, void *cbpara, int timeout_ms)
{
	iodev_t *dev;
	uint64_t id;
	int fd;

	fd = ep__socket(sa->sa_family, SOCK_STREAM);
	if (fd < 0)
		return NULL;
	/* EAGAIN (a unix listener's full backlog, or no ephemeral port) is
	 * a failure now, not a connect in progress. */
	if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) {
		close_keep(fd);
		return NULL;
	}
	/* Done at once or not: the poller reports it writable, and the
	 * outcome comes to the handler the same way either way. */
	dev = ep__dev_make(core, fd, fdtype,
	                   PF_SOCKET | PF_CONNECTING | PF_WRITE, para, handler,
	                   cbpara);
	if (dev == NULL) {
		close_keep(fd);
		return NULL;
	}
	id = iodev_id(dev);
	if (ep__dev_bound(dev, BIND_CURRENT_EPUMP, 0) == NULL)
		return NULL;
	/* Started once bound, so a timeout always has a thread to go to;
	 * a connect done before it makes the timeout a no-op. */
	if (timeout_ms > 0 &&
	    ep__dev_timer_start(dev, id, timeout_ms, connect_timeout) == 0) {
		int e = errno;

		iodev_close(dev);
		errno = e;
		return NULL;
	}
	return dev;
}

iodev_t *eptcp_connect(epcore_t *core, const char *host, int port,
                       void *para, IOHandler *handler, void *cbpara,
                       int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (core == NULL || handler == NULL || host == NULL || *host == '\0' ||
	    timeout_ms < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (epaddr_parse(host, port, &ss, &len) < 0) {
		if (errno != EINVAL || port < 1 || port > 65535)
			return NULL;
		/* Not a literal: a host name, resolved first (dns.c). */
		return ep__connect_name(core, host, port, para, handler,
		                        cbpara, timeout_ms);
	}
	return ep__connect(core, (struct sockaddr *)&ss, len, FDT_CONNECTED,
	                   para, handler, cbpara, timeout_ms);
}

static int tcp_opt(iodev_t *dev, int opt, int on)
{
	int v = on ? 1 : 0;

	if (dev == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (ep__dev_gone(dev))
		return -1;
	return setsockopt(dev->fd, IPPROTO_TCP, opt, &v, sizeof(v));
}

int eptcp_nodelay(iodev_t *dev, int on)
{
	return tcp_opt(dev, TCP_NODELAY, on);
}

int eptcp_cork(iodev_t *dev, int on)
{
	return tcp_opt(dev, TCP_CORK, on);
}
