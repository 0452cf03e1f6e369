/*
 * poller_select.c - the select(2) backend: level-triggered, used only by
 * its own epump thread, and refusing fds >= FD_SETSIZE (EINVAL) instead of
 * writing past the fd_set.  Errors and hang-ups show as readable or
 * writable, as select reports them; exceptfds (TCP urgent data) is unused.
 * End of file is recognised with FIONREAD (readable, nothing to read) so
 * the epump can report it once, as an edge-triggered backend would.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>

#include "poller.h"

struct ep_select {
	fd_set rd, wr;          /* interest */
	fd_set rr, wr_out;      /* results of the last wait */
	uint64_t ids[FD_SETSIZE];
	unsigned char used[FD_SETSIZE];
	unsigned char dgram[FD_SETSIZE]; /* datagram socket: no EOF */
	int maxfd;              /* highest registered fd, -1 */
	int scan;
};

static void *select_create_p(void)
{
	struct ep_select *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	FD_ZERO(&p->rd);
	FD_ZERO(&p->wr);
	p->maxfd = -1;
	return p;
}

static void select_destroy_p(void *vp)
{
	free(vp);
}

static int select_check(int fd)
{
	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (fd >= FD_SETSIZE) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static void select_set(struct ep_select *p, int fd, unsigned rw)
{
	if (rw & EP_PR)
		FD_SET(fd, &p->rd);
	else
		FD_CLR(fd, &p->rd);
	if (rw & EP_PW)
		FD_SET(fd, &p->wr);
	else
		FD_CLR(fd, &p->wr);
}

static int select_add_p(void *vp, int fd, uint64_t id, unsigned rw)
{
	struct ep_select *p = vp;

	if (select_check(fd) < 0)
		return -1;
	if (p->used[fd]) {
		errno = EEXIST;
		return -1;
	}
	p->used[fd] = 1;
	p->ids[fd] = id;
	{
		int type = 0;
		socklen_t len = sizeof(type);

		p->dgram[fd] = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type,
		                          &len) == 0 && type != SOCK_STREAM;
	}
	select_set(p, fd, rw);
	if (fd > p->maxfd)
		p->maxfd = fd;
	return 0;
}

static int select_mod_p(void *vp, int fd, uint64_t id, unsigned rw)
{
	struct ep_select *p = vp;

	if (select_check(fd) < 0)
		return -1;
	if (!p->used[fd]) {
		errno = ENOENT;
		return -1;
	}
	p->ids[fd] = id;
	select_set(p, fd, rw);
	return 0;
}

static int select_del_p(void *vp, int fd)
{
	struct ep_select *p = vp;

	if (select_check(fd) < 0)
		return -1;
	if (!p->used[fd]) {
		errno = ENOENT;
		return -1;
	}
	p->used[fd] = 0;
	select_set(p, fd, 0);
	while (p->maxfd >= 0 && !p->used[p->maxfd])
		p->maxfd--;
	return 0;
}

static int select_wait_p(void *vp, struct ep__pevent *out, int max,
                         int timeout_ms)
{
	struct ep_select *p = vp;
	struct timeval tv, *tvp = NULL;
	int r, fd, k, span, got = 0;

	if (timeout_ms >= 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		tvp = &tv;
	}
	p->rr = p->rd;
	p->wr_out = p->wr;
	r = select(p->maxfd + 1, &p->rr, &p->wr_out, NULL, tvp);
	if (r <= 0)
		return r;
	span = p->maxfd + 1;
	if (p->scan >= span)
		p->scan = 0;
	for (k = 0, fd = p->scan; k < span && got < max; k++) {
		uint32_t ev = 0;

		if (FD_ISSET(fd, &p->rr)) {
			int avail = -1;

			ev |= EP_PR;
			/* select has no hang-up bit: readable with nothing to
			 * read is end of file (or an error) on a stream. */
			if (p->used[fd] && !p->dgram[fd] &&
			    ioctl(fd, FIONREAD, &avail) == 0 && avail == 0)
				ev |= EP_PHUP;
		}
		if (FD_ISSET(fd, &p->wr_out))
			ev |= EP_PW;
		if (ev != 0 && p->used[fd]) {
			out[got].id = p->ids[fd];
			out[got].ev = ev;
			got++;
		}
		if (++fd == span)
			fd = 0;
	}
	p->scan = fd;
	return got;
}

const struct ep__poller_ops ep__poller_select = {
	.name = "select",
	.mt_safe = 0,
	.edge = 0,
	.maxfd = FD_SETSIZE,
	.create = select_create_p,
	.destroy = select_destroy_p,
	.add = select_add_p,
	.mod = select_mod_p,
	.del = select_del_p,
	.wait = select_wait_p,
};
