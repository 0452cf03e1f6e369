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

#include <stdint.h>

#define EP_PR   0x1u   /* readable */
#define EP_PW   0x2u   /* writable */
#define EP_PERR 0x4u   /* error condition */
#define EP_PHUP 0x8u   /* hang-up (peer closed, or both directions) */

struct ep__pevent {
	uint64_t id;
	uint32_t ev;
};

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

/* The backend named name (NULL: the best available), or NULL. */
const struct ep__poller_ops *ep__poller_find(const char *name);

#endif /* EP_POLLER_H */
