/*
 * poller_epoll.c - the epoll backend: edge-triggered, and safe to modify
 * from any thread (the kernel serializes epoll_ctl with epoll_wait).
 */
#include "config.h"

#ifdef HAVE_SYS_EPOLL_H
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "poller.h"

#define EP_EPOLL_BATCH 512

struct ep_epoll {
	int epfd;
	struct epoll_event ev[EP_EPOLL_BATCH];
};

static void *epoll_create_p(void)
{
	struct ep_epoll *p = malloc(sizeof(*p));

	if (p == NULL)
		return NULL;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0) {
		int e = errno;
		free(p);
		errno = e;
		return NULL;
	}
	return p;
}

static void epoll_destroy_p(void *vp)
{
	struct ep_epoll *p = vp;

	close(p->epfd);
	free(p);
}

static int epoll_ctl_p(struct ep_epoll *p, int op, int fd, uint64_t id,
                       unsigned rw)
{
	struct epoll_event e = { 0 };

	e.events = EPOLLET;
	if (rw & EP_PR)
		e.events |= EPOLLIN | EPOLLRDHUP;
	if (rw & EP_PW)
		e.events |= EPOLLOUT;
	e.data.u64 = id;
	return epoll_ctl(p->epfd, op, fd, &e);
}

static int epoll_add_p(void *vp, int fd, uint64_t id, unsigned rw)
{
	return epoll_ctl_p(vp, EPOLL_CTL_ADD, fd, id, rw);
}

static int epoll_mod_p(void *vp, int fd, uint64_t id, unsigned rw)
{
	return epoll_ctl_p(vp, EPOLL_CTL_MOD, fd, id, rw);
}

static int epoll_del_p(void *vp, int fd)
{
	struct ep_epoll *p = vp;
	struct epoll_event e = { 0 };

	return epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &e);
}

static int epoll_wait_p(void *vp, struct ep__pevent *out, int max,
                        int timeout_ms)
{
	struct ep_epoll *p = vp;
	int i, n;

	if (max > EP_EPOLL_BATCH)
		max = EP_EPOLL_BATCH;
	n = epoll_wait(p->epfd, p->ev, max, timeout_ms);
	for (i = 0; i < n; i++) {
		uint32_t k = p->ev[i].events, ev = 0;

		if (k & EPOLLIN)
			ev |= EP_PR;
		if (k & EPOLLOUT)
			ev |= EP_PW;
		if (k & EPOLLERR)
			ev |= EP_PERR;
		if (k & (EPOLLHUP | EPOLLRDHUP))
			ev |= EP_PHUP;
		out[i].id = p->ev[i].data.u64;
		out[i].ev = ev;
	}
	return n;
}

const struct ep__poller_ops ep__poller_epoll = {
	.name = "epoll",
	.mt_safe = 1,
	.edge = 1,
	.maxfd = 0x7fffffff,
	.create = epoll_create_p,
	.destroy = epoll_destroy_p,
	.add = epoll_add_p,
	.mod = epoll_mod_p,
	.del = epoll_del_p,
	.wait = epoll_wait_p,
};
#endif /* HAVE_SYS_EPOLL_H */
