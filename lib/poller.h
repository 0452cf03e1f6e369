/*
 * poller.h - the backend interface: one small set of operations per kernel
 * mechanism (poller_epoll.c, poller_poll.c, poller_select.c).
 *
 * A poller belongs to one epump thread.  Only that thread calls wait();
 * add/mod/del are called by that thread, or by any thread when mt_safe is
 * set (epoll).  Each registration carries the device's 64-bit id, which
 * comes back in the results: never a pointer.  Id 0 is the wakeup fd.
 */
#ifndef EP_POLLER_H
#define EP_POLLER_H

#include "config.h"

#include <stdint.h>

/*
 * On the functions every event passes through (the loop, classify, emit,
 * running a handler, the poller's wait, iodev_recv/iodev_send) and those
 * every accepted connection does (iodev_new, the bind, the poller's add):
 * GCC places them together in .text.hot (about 9 KiB), so a loop turn
 * touches two or three pages of code instead of one per source file.
 * Each turn comes back from the kernel with the caches cooled.
 */
#define EP__HOT __attribute__((hot))

/* Readiness, in a result's ev (and EP_PR | EP_PW as interest): epoll's
 * own bits (poller_epoll.c checks), so that backend's results need no
 * translation.  EP_PHUP is a mask of two. */
#define EP_PR   0x001u  /* readable: EPOLLIN */
#define EP_PW   0x004u  /* writable: EPOLLOUT */
#define EP_PERR 0x008u  /* error condition: EPOLLERR */
#define EP_PHUP 0x2010u /* hang-up, peer closed or both directions:
                           EPOLLHUP | EPOLLRDHUP */

/* One result, laid out as struct epoll_event (packed on x86-64, as the
 * kernel's is): epoll_wait() fills an array of these directly. */
struct ep__pevent {
	uint32_t ev;
	uint64_t id;
}
#ifdef __x86_64__
__attribute__((packed))
#endif
;

struct ep__poller_ops {
	const char *name;
	int mt_safe;      /* add/mod/del may run on any thread */
	int edge;         /* readiness is edge-triggered natively */
	int maxfd;        /* fds must be below this (select: FD_SETSIZE) */
	void *(*create)(void);
	void (*destroy)(void *p);
	/* rw: EP_PR | EP_PW interest.  0, or -1 with errno. */
	int (*add)(void *p, int fd, uint64_t id, unsigned rw);
	int (*mod)(void *p, int fd, uint64_t id, unsigned rw);
	int (*del)(void *p, int fd);
	/* Fills out[0..max); returns the count, 0 on timeout, -1 on error. */
	int (*wait)(void *p, struct ep__pevent *out, int max, int timeout_ms);
};

extern const struct ep__poller_ops ep__poller_epoll;
extern const struct ep__poller_ops ep__poller_poll;
extern const struct ep__poller_ops ep__poller_select;

#ifdef HAVE_SYS_EPOLL_H
#include <sys/epoll.h>

#include "sys.h"

/*
 * The epoll backend's registration: fd, for id, edge-triggered, with
 * interest rw (EP_PR | EP_PW); op is EPOLL_CTL_ADD or EPOLL_CTL_MOD.
 * Inline: an epump makes its registrations (ep__poller_apply()) and its
 * wait (epump.c) with its epoll fd, struct epump's epfd, instead of
 * through the ops, so that the system call sits under no frame of the
 * library's but the caller's (sys.h says why that counts).
 */
static inline int ep__epoll_ctl(int epfd, int op, int fd, uint64_t id,
                                unsigned rw)
{
	struct epoll_event e = { 0 };

	e.events = EPOLLET;
	if (rw & EP_PR)
		e.events |= EPOLLIN | EPOLLRDHUP;
	if (rw & EP_PW)
		e.events |= EPOLLOUT;
	e.data.u64 = id;
	return ep__sys_epoll_ctl(epfd, op, fd, &e);
}

/* The epoll fd of p, a poller ep__poller_epoll made. */
int ep__epoll_fd(const void *p);
#endif

/* The backend named name (NULL: the best available), or NULL. */
const struct ep__poller_ops *ep__poller_find(const char *name);

#endif /* EP_POLLER_H */
