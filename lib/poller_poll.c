/*
 * poller_poll.c - the poll(2) backend: level-triggered (the epump emulates
 * the edge contract above it), used only by its own epump thread.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "poller.h"

/* Linux reports a peer's half-close apart from data: end of file. */
#ifdef POLLRDHUP
#define EP_POLLRDHUP POLLRDHUP
#else
#define EP_POLLRDHUP 0
#endif

/*
 * An fd with no interest is stored negated, which poll(2) skips: POLLHUP
 * and POLLERR are reported whatever the events mask, and a masked fd must
 * not wake the loop.
 */
static inline int pfd_fd(int stored)
{
	return stored < 0 ? ~stored : stored;
}

struct ep_poll {
	struct pollfd *pfd;
	uint64_t *ids;        /* parallel to pfd */
	int n, cap;
	int *where;           /* fd -> index in pfd, -1 */
	int nwhere;
	int scan;             /* where the next report starts: fairness */
};

static void *poll_create_p(void)
{
	return calloc(1, sizeof(struct ep_poll));
}

static void poll_destroy_p(void *vp)
{
	struct ep_poll *p = vp;

	free(p->pfd);
	free(p->ids);
	free(p->where);
	free(p);
}

static short poll_mask(unsigned rw)
{
	short m = 0;

	if (rw & EP_PR)
		m |= POLLIN | EP_POLLRDHUP;
	if (rw & EP_PW)
		m |= POLLOUT;
	return m;
}

static int poll_index(struct ep_poll *p, int fd)
{
	if (fd < 0 || fd >= p->nwhere)
		return -1;
	return p->where[fd];
}

static int poll_add_p(void *vp, int fd, uint64_t id, unsigned rw)
{
	struct ep_poll *p = vp;

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (poll_index(p, fd) >= 0) {
		errno = EEXIST;
		return -1;
	}
	if (fd >= p->nwhere) {
		int nw = p->nwhere ? p->nwhere : 64;
		int *w;

		while (nw <= fd)
			nw *= 2;
		w = realloc(p->where, (size_t)nw * sizeof(*w));
		if (w == NULL)
			return -1;
		memset(w + p->nwhere, 0xff,
		       (size_t)(nw - p->nwhere) * sizeof(*w));
		p->where = w;
		p->nwhere = nw;
	}
	if (p->n == p->cap) {
		int nc = p->cap ? p->cap * 2 : 64;
		struct pollfd *np = realloc(p->pfd, (size_t)nc * sizeof(*np));
		uint64_t *ni;

		if (np == NULL)
			return -1;
		p->pfd = np;
		ni = realloc(p->ids, (size_t)nc * sizeof(*ni));
		if (ni == NULL)
			return -1;
		p->ids = ni;
		p->cap = nc;
	}
	p->pfd[p->n].events = poll_mask(rw);
	p->pfd[p->n].fd = p->pfd[p->n].events ? fd : ~fd;
	p->pfd[p->n].revents = 0;
	p->ids[p->n] = id;
	p->where[fd] = p->n++;
	return 0;
}

static int poll_mod_p(void *vp, int fd, uint64_t id, unsigned rw)
{
	struct ep_poll *p = vp;
	int i = poll_index(p, fd);

	if (i < 0) {
		errno = ENOENT;
		return -1;
	}
	p->pfd[i].events = poll_mask(rw);
	p->pfd[i].fd = p->pfd[i].events ? fd : ~fd;
	p->ids[i] = id;
	return 0;
}

static int poll_del_p(void *vp, int fd)
{
	struct ep_poll *p = vp;
	int i = poll_index(p, fd), last;

	if (i < 0) {
		errno = ENOENT;
		return -1;
	}
	last = --p->n;
	if (i != last) {
		p->pfd[i] = p->pfd[last];
		p->ids[i] = p->ids[last];
		p->where[pfd_fd(p->pfd[i].fd)] = i;
	}
	p->where[fd] = -1;
	return 0;
}

static int poll_wait_p(void *vp, struct ep__pevent *out, int max,
                       int timeout_ms)
{
	struct ep_poll *p = vp;
	int r, i, k, got = 0;

	r = poll(p->pfd, (nfds_t)p->n, timeout_ms);
	if (r <= 0)
		return r;
	if (p->scan >= p->n)
		p->scan = 0;
	for (k = 0, i = p->scan; k < p->n && got < max && r > 0; k++) {
		short re = p->pfd[i].revents;

		if (re != 0) {
			uint32_t ev = 0;

			r--;
			if (re & POLLIN)
				ev |= EP_PR;
			if (re & POLLOUT)
				ev |= EP_PW;
			if (re & (POLLERR | POLLNVAL))
				ev |= EP_PERR;
			if (re & (POLLHUP | EP_POLLRDHUP))
				ev |= EP_PHUP;
			out[got].id = p->ids[i];
			out[got].ev = ev;
			got++;
		}
		if (++i == p->n)
			i = 0;
	}
	p->scan = i;
	return got;
}

const struct ep__poller_ops ep__poller_poll = {
	.name = "poll",
	.mt_safe = 0,
	.edge = 0,
	.maxfd = 0x7fffffff,
	.create = poll_create_p,
	.destroy = poll_destroy_p,
	.add = poll_add_p,
	.mod = poll_mod_p,
	.del = poll_del_p,
	.wait = poll_wait_p,
};
