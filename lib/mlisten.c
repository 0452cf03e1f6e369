/*
 * mlisten.c - eptcp_mlisten(): one listening socket per epump thread with
 * SO_REUSEPORT, so the kernel spreads connections over the threads; epump
 * threads started later get theirs when they start (epcore.c calls
 * ep__mlisten_adopt under core->lock).  Where the kernel refuses
 * SO_REUSEPORT, one socket that every epump polls (BIND_ALL_EPUMP).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct ep__mlisten {
	struct ep__mlisten *next;
	struct sockaddr_storage ss;   /* with the port actually bound */
	socklen_t len;
	int port;
	bool reuseport;
	uint64_t parked;              /* socket waiting for the first epump */
	void *para;
	IOHandler *handler;
	void *cbpara;
	struct ep__idvec ids;         /* its listening devices */
};

/* A listening device on ml's address, bound as bindtype/idx, or given to
 * adopter (an epump not looping yet).  Caller holds core->lock. */
static int ml_open(epcore_t *core, struct ep__mlisten *ml, int bindtype,
                   int idx, struct epump *adopter)
{
	iodev_t *dev;
	uint64_t id;
	int fd, e;

	fd = ep__listen_socket(&ml->ss, ml->len, SOCK_STREAM, ml->reuseport);
	if (fd < 0)
		return -1;
	dev = ep__dev_make(core, fd, FDT_LISTEN, PF_SOCKET, ml->para,
	                   ml->handler, ml->cbpara);
	if (dev == NULL) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	id = iodev_id(dev);
	if (adopter != NULL) {
		ep__dev_adopt(adopter, dev);
		e = 0;
	} else {
		e = ep__dev_bind_locked(dev, id, bindtype, idx);
	}
	if (e == 0 && ep__idvec_add(&ml->ids, id) < 0)
		e = ENOMEM;
	if (e != 0) {
		ep__dev_finish(dev); /* never polled, or polled by nobody yet */
		errno = e;
		return -1;
	}
	return 0;
}

/* The address the first socket got: with port 0, every later socket of
 * the registration must use the port it was given. */
static void ml_bound_addr(epcore_t *core, struct ep__mlisten *ml)
{
	struct iodev *first = ep__dev_lookup(core, ml->ids.v[0]);
	struct sockaddr_storage got;
	socklen_t gl = sizeof(got);

	if (first != NULL &&
	    getsockname(first->fd, (struct sockaddr *)&got, &gl) == 0) {
		ml->ss = got;
		ml->len = gl;
	}
}

/* Opens ml's sockets; caller holds core->lock.  0, or an errno value
 * (the sockets opened so far stay in ml->ids for the caller to close). */
static int ml_register(epcore_t *core, struct ep__mlisten *ml, int port)
{
	struct ep__mlisten *o;
	int i, n = ep__nepumps(core);
	char text[64];

	/* SO_REUSEPORT would let a second set bind the port too, and
	 * eptcp_mlisten_close(port) could not tell them apart. */
	for (o = core->mlistens; port != 0 && o != NULL; o = o->next)
		if (o->port == port)
			return EADDRINUSE;
	if (!ml->reuseport) {
		/* The fallback: one socket that every epump polls. */
		if (ml_open(core, ml, BIND_ALL_EPUMP, 0, NULL) < 0)
			return errno;
	} else if (n == 0) {
		/* No epump yet: one socket, parked for the first one; later
		 * epumps open theirs in ep__mlisten_adopt(). */
		if (ml_open(core, ml, BIND_ONE_EPUMP, 0, NULL) < 0)
			return errno;
		ml->parked = ml->ids.v[0];
	} else {
		for (i = 0; i < n; i++) {
			if (ml_open(core, ml, BIND_GIVEN_EPUMP, i, NULL) < 0)
				return errno;
			if (i == 0)
				ml_bound_addr(core, ml); /* the others: its port */
		}
	}
	ml_bound_addr(core, ml);
	/* The port itself, which the kernel chose for port 0. */
	(void)epaddr_format((struct sockaddr *)&ml->ss, text, sizeof(text),
	                    &ml->port);
	return 0;
}

int eptcp_mlisten(epcore_t *core, const char *ip, int port, void *para,
                  IOHandler *handler, void *cbpara)
{
	struct ep__mlisten *ml;
	int fd, on = 1, i, e;

	if (core == NULL || handler == NULL) {
		errno = EINVAL;
		return -1;
	}
	ml = calloc(1, sizeof(*ml));
	if (ml == NULL)
		return -1;
	if (ep__addr_for(ip, port, &ml->ss, &ml->len, SOCK_STREAM) < 0) {
		free(ml);
		return -1;
	}
	ml->para = para;
	ml->handler = handler;
	ml->cbpara = cbpara;
	/* Does the kernel take SO_REUSEPORT here? */
	fd = ep__socket(ml->ss.ss_family, SOCK_STREAM);
	if (fd < 0) {
		free(ml);
		return -1;
	}
	ml->reuseport = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
	                           sizeof(on)) == 0;
	close(fd);

	pthread_mutex_lock(&core->lock);
	e = ml_register(core, ml, port);
	if (e == 0) {
		ml->next = core->mlistens;
		core->mlistens = ml;
	}
	pthread_mutex_unlock(&core->lock);
	if (e != 0) {
		for (i = 0; i < (int)ml->ids.n; i++)
			(void)iodev_close_by(core, ml->ids.v[i]);
		free(ml->ids.v);
		free(ml);
		errno = e;
		return -1;
	}
	return ml->port;
}

/* A new epump (not looping yet): its own socket for each registration. */
void ep__mlisten_adopt(epcore_t *core, struct epump *ep)
{
	struct ep__mlisten *ml;

	for (ml = core->mlistens; ml != NULL; ml = ml->next) {
		if (!ml->reuseport)
			continue; /* the shared socket is a BIND_ALL device */
		if (ml->parked != 0) {
			ml->parked = 0; /* the first epump adopted that one */
			continue;
		}
		(void)ml_open(core, ml, 0, 0, ep);
	}
}

int eptcp_mlisten_close(epcore_t *core, int port)
{
	struct ep__mlisten **pp, *ml = NULL;
	uint32_t i;

	if (core == NULL) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&core->lock);
	for (pp = &core->mlistens; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->port == port) {
			ml = *pp;
			*pp = ml->next;
			break;
		}
	}
	pthread_mutex_unlock(&core->lock);
	if (ml == NULL) {
		errno = ENOENT;
		return -1;
	}
	for (i = 0; i < ml->ids.n; i++)
		(void)iodev_close_by(core, ml->ids.v[i]);
	free(ml->ids.v);
	free(ml);
	return 0;
}

void ep__mlisten_free(epcore_t *core)
{
	struct ep__mlisten *ml, *next;

	for (ml = core->mlistens; ml != NULL; ml = next) {
		next = ml->next;
		free(ml->ids.v);
		free(ml);
	}
	core->mlistens = NULL;
}
