/*
 * poller_epoll.c - the epoll backend: edge-triggered, and safe to modify
 * from any thread (the kernel serializes epoll_ctl with epoll_wait).
 */
#include "config.h"

#ifdef HAVE_SYS_EPOLL_H
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "poller.h"
#include "sys.h"

/* The epump's result array is handed to epoll_wait() as it is. */
_Static_assert(EP_PR == EPOLLIN && EP_PW == EPOLLOUT &&
               EP_PERR == EPOLLERR && EP_PHUP == (EPOLLHUP | EPOLLRDHUP),
               "EP_P* are epoll's bits");
_Static_assert(sizeof(struct ep__pevent) == sizeof(struct epoll_event) &&
               offsetof(struct ep__pevent, ev) ==
               offsetof(struct epoll_event, events) &&
               offsetof(struct ep__pevent, id) ==
               offsetof(struct epoll_event, data),
               "struct ep__pevent is laid out as struct epoll_event");

struct ep_epoll {
	int epfd;
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

int ep__epoll_fd(const void *vp)
{
	const struct ep_epoll *p = vp;

	return p->epfd;
}

static int epoll_add_p(void *vp, int fd, uint64_t id, unsigned rw)
{
	struct ep_epoll *p = vp;

	return ep__epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, id, rw);
}

static int epoll_mod_p(void *vp, int fd, uint64_t id, unsigned rw)
{
	struct ep_epoll *p = vp;

	return ep__epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, id, rw);
}

static int epoll_del_p(void *vp, int fd)
{
	struct ep_epoll *p = vp;
	struct epoll_event e = { 0 };

	return ep__sys_epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &e);
}

/* The results need no translation (see the checks above).  An epump's
 * loop makes this system call itself with the fd (epump.c); the ops keep
 * a wait as every backend's do. */
static int epoll_wait_p(void *vp, struct ep__pevent *out, int max,
                        int timeout_ms)
{
	struct ep_epoll *p = vp;

	return ep__sys_epoll_wait(p->epfd, (struct epoll_event *)(void *)out,
	                          max, timeout_ms);
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
