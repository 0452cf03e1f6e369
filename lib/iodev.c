/*
 * iodev.c - devices: creation, binding to epump threads, interest flags,
 * running handlers under the one-thread-at-a-time rule, and closing.
 *
 * A device's tag (DEV_* bits, generation, and where it is polled: DEVB_*
 * and the epump) is its lock-free state: a runner enters by setting
 * DEV_BUSY on the exact generation it was given (a stale event fails there
 * and is dropped); a close sets DEV_CLOSING and whoever holds DEV_BUSY
 * finishes it; a bind moves the tag from DEVB_NONE only while the device is
 * live and not closing, so an epump binding a device to itself takes no
 * lock, and a close reads a state that no longer changes.  core->lock
 * guards the parked and BIND_ALL lists and binds to other threads' epumps
 * (their adoption and messages).  The fd is closed and the slot freed
 * only on the epump thread that polls the device (or on any thread for a
 * device nobody polls), so every epoll_ctl on the fd is either on that
 * thread or by the thread holding DEV_BUSY: a close can never race a
 * registration onto a reused fd number.
 */
#include "internal.h"
#include "devrun.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEV_FDTYPES (FDT_LISTEN | FDT_CONNECTED | FDT_ACCEPTED | \
                     FDT_UDPSRV | FDT_UDPCLI | FDT_USOCK_LISTEN |   \
                     FDT_USOCK_CONNECTED | FDT_USOCK_ACCEPTED |     \
                     FDT_RAWSOCK | FDT_FILEDEV | FDT_STDIN | FDT_STDOUT)

static inline uint64_t dev_idle(uint32_t gen)
{
	return ((uint64_t)gen << 8) | DEV_LIVE;
}

/*
 * Starts dev's life as a device for fd: every field is set here (the
 * device slab does not zero a reused slot: these stores are that
 * zeroing), then the tag's release store publishes it.  A field added to
 * struct iodev is set here too; the size check below is the reminder.
 */
_Static_assert(sizeof(struct iodev) == 112,
               "struct iodev changed: set the new field in dev_init()");

static inline __attribute__((always_inline))
iodev_t *dev_init(struct iodev *dev, uint64_t tag, epcore_t *core, int fd,
                  int fdtype, uint32_t pf, void *para, IOHandler *handler,
                  void *cbpara, uint32_t born_s)
{
	/* tag: the new life's, no state bit yet.  Relaxed: the tag's release
	 * store below publishes the device. */
	atomic_store_explicit(&dev->fd, fd, memory_order_relaxed);
	atomic_store_explicit(&dev->pflags, pf, memory_order_relaxed);
	atomic_store_explicit(&dev->fdtype, fdtype, memory_order_relaxed);
	dev->handler = handler;
	dev->cbpara = cbpara;
	dev->para = para;
	atomic_store_explicit(&dev->bytes_in, 0, memory_order_relaxed);
	atomic_store_explicit(&dev->bytes_out, 0, memory_order_relaxed);
	atomic_store_explicit(&dev->worker, -1, memory_order_relaxed);
	atomic_store_explicit(&dev->nregs, 0, memory_order_relaxed);
	atomic_store_explicit(&dev->ltmask, 0, memory_order_relaxed);
	atomic_store_explicit(&dev->sqlock, 0, memory_order_relaxed);
	dev->sq = NULL;
	dev->core = core;
	atomic_store_explicit(&dev->timer, 0, memory_order_relaxed);
	atomic_store_explicit(&dev->rerun_ev, 0, memory_order_relaxed);
	dev->error = 0;
	atomic_store_explicit(&dev->born_s, born_s, memory_order_relaxed);
	atomic_store_explicit(&dev->last_ms, 0, memory_order_relaxed);
	atomic_store_explicit(&dev->tag, tag | DEV_LIVE, memory_order_release);
	return dev;
}

#define DEV_STREAM_SOCKS (FDT_LISTEN | FDT_CONNECTED | FDT_ACCEPTED | \
                          FDT_USOCK_LISTEN | FDT_USOCK_CONNECTED | \
                          FDT_USOCK_ACCEPTED)
#define DEV_DGRAM_SOCKS  (FDT_UDPSRV | FDT_UDPCLI)
#define DEV_SOCKS        (DEV_STREAM_SOCKS | DEV_DGRAM_SOCKS)

/* The rules, as constant expressions for sock_pflags[] below: the PF_*
 * bits of the kind of socket fdtype says (0 if it does not say), and
 * PF_LISTEN for a listening socket. */
#define DEV_KIND_PF(fdtype)                                     \
	(((fdtype) & DEV_STREAM_SOCKS) ? PF_SOCKET :            \
	 ((fdtype) & DEV_DGRAM_SOCKS) ? PF_SOCKET | PF_DGRAM : 0u)
#define DEV_LISTEN_PF(fdtype) \
	(((fdtype) & (FDT_LISTEN | FDT_USOCK_LISTEN)) ? PF_LISTEN : 0u)

/* A new device's PF_* flags: read interest, extra, and PF_LISTEN for a
 * listening socket. */
static inline uint32_t dev_pflags(int fdtype, uint32_t extra)
{
	return PF_READ | extra | DEV_LISTEN_PF(fdtype);
}

/* The kind of socket fdtype says, as PF_* bits; 0 if it does not say. */
static inline uint32_t dev_kind(int fdtype)
{
	return DEV_KIND_PF(fdtype);
}

/* dev_pflags(k, dev_kind(k)) for each socket kind k = 1 << i, looked up by
 * iodev_new()'s common case with one bit-scan. */
#define SOCK_PF(k) (PF_READ | DEV_KIND_PF(k) | DEV_LISTEN_PF(k))
_Static_assert(DEV_SOCKS == 0xff, "sock_pflags[] is indexed by bit 0-7");
static const uint32_t sock_pflags[8] = {
	SOCK_PF(0x01), SOCK_PF(0x02), SOCK_PF(0x04), SOCK_PF(0x08),
	SOCK_PF(0x10), SOCK_PF(0x20), SOCK_PF(0x40), SOCK_PF(0x80),
};

/*
 * A device for fd, which the caller made non-blocking.  extra: PF_* bits
 * (PF_SOCKET, PF_CONNECTING | PF_WRITE, PF_NOCLOSE, PF_REGFILE).
 */
iodev_t *ep__dev_make(epcore_t *core, int fd, int fdtype, uint32_t extra,
                      void *para, IOHandler *handler, void *cbpara)
{
	struct ep__thread *self = ep__self_in(core);
	struct iodev *dev;
	uint32_t born_s = 0;

	dev = ep__slab_alloc(&core->devs, self ? &self->devcache : NULL);
	if (dev == NULL)
		return NULL;
	if (ep__stats_on(core))
		born_s = (uint32_t)((ep__now_ns() - core->born_ns) /
		                    1000000000u);
	return dev_init(dev, atomic_load_explicit(&dev->tag,
	                                          memory_order_relaxed),
	                core, fd, fdtype, dev_pflags(fdtype, extra), para,
	                handler, cbpara, born_s);
}

/* NULL with errno e: a tail call, so that the paths that fail keep
 * iodev_new() free of calls. */
static __attribute__((noinline, cold)) iodev_t *dev_fail(int e)
{
	errno = e;
	return NULL;
}

/* iodev_new() when it takes a system call (to make fd non-blocking, or to
 * learn its kind), or the thread has no slot in stock, or stats are on, or
 * an argument is wrong: out of line, so that the common case is a leaf. */
static __attribute__((noinline))
iodev_t *dev_new_slow(epcore_t *core, int fd, int fdtype, void *para,
                      IOHandler *handler, void *cbpara)
{
	int on = 1, type, kind = fdtype & ~IODEV_NONBLOCK;
	socklen_t len = sizeof(type);
	uint32_t extra = dev_kind(kind);

	if (core == NULL || handler == NULL || fd < 0 ||
	    (kind & ~DEV_FDTYPES) != 0 || kind == 0 ||
	    (kind & (kind - 1)) != 0)
		return dev_fail(EINVAL);
	if (ep__stopping(core))
		return dev_fail(ECANCELED);
	if (!(fdtype & IODEV_NONBLOCK) && ioctl(fd, FIONBIO, &on) < 0)
		return NULL; /* EBADF */
	if (extra == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0)
		extra = PF_SOCKET | (type == SOCK_DGRAM ? PF_DGRAM : 0);
	return ep__dev_make(core, fd, kind, extra, para, handler, cbpara);
}

EP__HOT iodev_t *iodev_new(epcore_t *core, int fd, int fdtype, void *para,
                           IOHandler *handler, void *cbpara)
{
	int kind = fdtype & ~IODEV_NONBLOCK;
	struct ep__thread *self = ep__self;
	struct iodev *dev;

	/*
	 * One system call each for non-blocking and for the kind, where
	 * fdtype does not say it.  Without them (IODEV_NONBLOCK on a socket
	 * of a stated kind, on one of the core's threads: accepting, the
	 * chain benchmark's setup), a device is a slot from this thread's
	 * stock and its fields.  Everything else, wrong arguments included,
	 * is dev_new_slow()'s: self->core is never NULL, and one kind bit
	 * of DEV_SOCKS is a valid fdtype.
	 */
	if (self == NULL || self->core != core || handler == NULL || fd < 0 ||
	    !(fdtype & IODEV_NONBLOCK) || kind == 0 ||
	    (kind & ~DEV_SOCKS) != 0 || (kind & (kind - 1)) != 0 ||
	    self->devcache.n == 0 || ep__stats_on(core))
		return dev_new_slow(core, fd, fdtype, para, handler, cbpara);
	if (ep__stopping(core))
		return dev_fail(ECANCELED);
	/* The device slab does not zero (dev_init() sets every field). */
	dev = ep__slab_held(&core->devs,
	                    self->devcache.slot[--self->devcache.n]);
	return dev_init(dev, ep__slab_newtag(atomic_load_explicit(&dev->tag,
	                    memory_order_relaxed)), core, fd, kind,
	                sock_pflags[__builtin_ctz((unsigned)kind)], para,
	                handler, cbpara, 0);
}

/* May this thread touch dev's registration on ep directly? */
static bool may_touch_poller(const struct epump *ep, uint64_t id)
{
	struct ep__thread *self = ep__self_in(ep->core);

	if (self == NULL)
		return false;
	if (self->ep == ep)
		return true;
	return ep->ops->mt_safe && self->cur_dev == id;
}

/* Registers dev with ep now, or asks ep to.  Caller holds core->lock. */
static int dev_register(struct epump *ep, struct iodev *dev, uint64_t id)
{
	struct ep__ev m = { 0 };

	if (ep->ops->mt_safe ||
	    (ep__self_in(ep->core) && ep__self->ep == ep) ||
	    !atomic_load(&ep->running))
		return ep__poller_apply(ep, dev, id, MSG_DEV_ADD);
	m.type = MSG_DEV_ADD;
	m.id = id;
	return ep__epump_send(ep, &m);
}

/*
 * Moves dev's life id from bound state `from` to `to` (an ep__where()
 * value) if it is still live and not closing: how a device is bound (and
 * a failed bind undone), from any thread, with or without core->lock.
 * cur: the tag as the caller last read it (a stale value costs one more
 * turn).  0, or ENOENT (the life ended or is closing) or EALREADY (not
 * in `from`).
 */
static inline int dev_move_from(struct iodev *dev, uint64_t id,
                                unsigned from, uint64_t to, uint64_t cur)
{
	for (;;) {
		if (EP__TAG_GEN(cur) != EP__ID_GEN(id) ||
		    (cur & (DEV_LIVE | DEV_CLOSING)) != DEV_LIVE)
			return ENOENT;
		if (ep__tag_bound(cur) != from)
			return EALREADY;
		if (atomic_compare_exchange_weak(&dev->tag, &cur,
		        (cur & ~EP__TAG_WHERE) | to))
			return 0;
	}
}

/* dev_move_from() for a tag cur the caller has just seen live, not
 * closing, of id's generation and bound as from: its first compare-and-
 * swap needs no test. */
static inline int dev_move_seen(struct iodev *dev, uint64_t id,
                                unsigned from, uint64_t to, uint64_t cur)
{
	if (atomic_compare_exchange_weak(&dev->tag, &cur,
	        (cur & ~EP__TAG_WHERE) | to))
		return 0;
	return dev_move_from(dev, id, from, to, cur);
}

/* dev_move_from() starting from the tag as it is now. */
static int dev_move(struct iodev *dev, uint64_t id, unsigned from,
                    uint64_t to)
{
	return dev_move_from(dev, id, from, to, atomic_load(&dev->tag));
}

/* Called by core_adopt() (core->lock held) for a parked or BIND_ALL dev,
 * and by ml_open() for a new one. */
void ep__dev_adopt(struct epump *ep, struct iodev *dev)
{
	uint64_t id = ep__dev_live_id(dev);
	unsigned b;

	if (id == 0)
		return;
	b = ep__dev_where(dev);
	if (b == DEVB_ALL) {
		if (ep__poller_apply(ep, dev, id, MSG_DEV_ADD) == 0)
			atomic_fetch_add(&dev->nregs, 1);
		return;
	}
	if (b == DEVB_ONE ||
	    dev_move(dev, id, b, ep__where(DEVB_ONE, ep->index)) != 0)
		return; /* bound already, or closing: its closer finishes it */
	atomic_fetch_add(&ep->ndevices, 1);
	if (ep__poller_apply(ep, dev, id, MSG_DEV_ADD) < 0) {
		/* Nobody can be told now: the handler hears it first thing. */
		struct ep__ev m = { 0 };

		m.type = EV_DEV;
		m.id = id;
		m.event = IOE_INVALID_DEV;
		m.src = (int16_t)ep->index;
		(void)ep__epump_send(ep, &m);
	}
}

static int bind_all(epcore_t *core, struct iodev *dev, uint64_t id)
{
	int n = ep__nepumps(core), i, e;

	if (ep__idvec_add(&core->all_devs, id) < 0) {
		errno = ENOMEM;
		return -1;
	}
	e = dev_move(dev, id, DEVB_NONE, ep__where(DEVB_ALL, 0));
	if (e != 0) {
		ep__idvec_del(&core->all_devs, id);
		errno = e;
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (dev_register(core->epumps[i], dev, id) < 0) {
			int k;

			e = errno;
			for (k = 0; k < i; k++)
				if (core->ops->mt_safe)
					(void)core->ops->del(
					    core->epumps[k]->poller, dev->fd);
			if (i > 0 && !core->ops->mt_safe) {
				/* Messages already sent: keep what holds. */
				atomic_store(&dev->nregs, (uint8_t)i);
				return 0;
			}
			/* Even if closing: the close reads the state again
			 * under core->lock, which this holds. */
			atomic_fetch_and(&dev->tag, ~EP__TAG_WHERE);
			ep__idvec_del(&core->all_devs, id);
			errno = e;
			return -1;
		}
	}
	atomic_store(&dev->nregs, (uint8_t)n);
	return 0;
}

/*
 * Binds dev (id) to ep alone.  The caller holds core->lock, or is ep's own
 * thread binding for itself: then nothing here is shared with another
 * thread but the tag (dev_move() settles a race with another binder or a
 * close) and ep's device count, and the registration is a direct
 * epoll_ctl().  tag: dev's tag as the caller read it; own: the caller has
 * seen it live, of id's generation and unbound.
 */
static inline __attribute__((always_inline))
int bind_one(struct epump *ep, struct iodev *dev, uint64_t id, bool own,
             uint64_t tag)
{
	uint64_t to = ep__where(DEVB_ONE, ep->index);
	int e = own ? dev_move_seen(dev, id, DEVB_NONE, to, tag)
	            : dev_move_from(dev, id, DEVB_NONE, to, tag);

	if (e != 0)
		return e;
	/* dev_move()'s seq_cst swap orders the bound state before the
	 * registration reads the interest flags (ep__dev_apply() pairs). */
	if (own)
		atomic_store_explicit(&ep->own_ndevices,
		    atomic_load_explicit(&ep->own_ndevices,
		                         memory_order_relaxed) + 1,
		    memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&ep->ndevices, 1,
		                          memory_order_relaxed);
	if ((own ? ep__poller_apply(ep, dev, id, MSG_DEV_ADD)
	         : dev_register(ep, dev, id)) < 0) {
		e = errno;
		/* Undone unless a close began meanwhile: it has read the
		 * bound state and acts on it, and its finish drops the
		 * count. */
		if (dev_move(dev, id, DEVB_ONE, ep__where(DEVB_NONE, 0)) == 0)
			atomic_fetch_sub(&ep->ndevices, 1);
		return e;
	}
	return 0;
}

/* Binds dev (id) as iodev_bind_epump() says; caller holds core->lock.
 * 0, or an errno value. */
int ep__dev_bind_locked(struct iodev *dev, uint64_t id, int bindtype,
                        int epump)
{
	epcore_t *core = dev->core;
	struct ep__thread *self = ep__self_in(core);
	int idx;

	if (ep__dev_live_id(dev) != id)
		return ENOENT;
	if (ep__dev_where(dev) != DEVB_NONE)
		return EALREADY;
	if (ep__stopping(core))
		return ECANCELED;
	if (bindtype == BIND_ALL_EPUMP)
		return bind_all(core, dev, id) < 0 ? errno : 0;
	if (bindtype == BIND_GIVEN_EPUMP) {
		if (epump < 0 || epump >= ep__nepumps(core))
			return ESRCH;
		idx = epump;
	} else if (bindtype == BIND_CURRENT_EPUMP && self != NULL &&
	           self->cur_src >= 0) {
		idx = self->cur_src;
	} else {
		idx = ep__epump_pick(core);
	}
	if (idx < 0) {
		int e;

		if (ep__idvec_add(&core->parked_devs, id) < 0)
			return ENOMEM;
		e = dev_move(dev, id, DEVB_NONE, ep__where(DEVB_PARKED, 0));
		if (e != 0)
			ep__idvec_del(&core->parked_devs, id);
		return e;
	}
	return bind_one(core->epumps[idx], dev, id, false,
	                atomic_load(&dev->tag));
}

/* -1 with errno e (for a tail call). */
static __attribute__((noinline, cold)) int bind_fail(int e)
{
	errno = e;
	return -1;
}

/* iodev_bind_epump() from an epump to itself (a handler on it, as
 * accepting does): no lock, since registering with its own poller is its
 * own work. */
static EP__HOT __attribute__((noinline))
int bind_self(struct epump *ep, struct iodev *dev)
{
	uint64_t tag = atomic_load_explicit(&dev->tag, memory_order_acquire);
	uint64_t id = EP__MKID(EP__TAG_GEN(tag), dev->slot);
	int e;

	if ((tag & (DEV_LIVE | DEV_CLOSING)) != DEV_LIVE)
		return bind_fail(ENOENT);
	if (ep__tag_bound(tag) != DEVB_NONE)
		return bind_fail(EALREADY);
	if (ep__stopping(ep->core))
		return bind_fail(ECANCELED);
	/* The tag just read and tested: the move's first compare-and-swap
	 * needs no new load and no test. */
	e = bind_one(ep, dev, id, true, tag);
	return e == 0 ? 0 : bind_fail(e);
}

/* iodev_bind_epump() from any other thread, or to another epump. */
static __attribute__((noinline)) int bind_other(struct iodev *dev,
                                                int bindtype, int epump)
{
	epcore_t *core = dev->core;
	uint64_t id = ep__dev_live_id(dev);
	int e;

	if (id == 0)
		return bind_fail(ENOENT);
	pthread_mutex_lock(&core->lock);
	e = ep__dev_bind_locked(dev, id, bindtype, epump);
	pthread_mutex_unlock(&core->lock);
	return e == 0 ? 0 : bind_fail(e);
}

EP__HOT int iodev_bind_epump(iodev_t *dev, int bindtype, int epump)
{
	struct ep__thread *self = ep__self;
	epcore_t *core;

	if (dev == NULL)
		return bind_fail(EINVAL);
	core = dev->core;
	/* An epump binding to itself (BIND_CURRENT_EPUMP in a handler of its
	 * own, or BIND_GIVEN_EPUMP naming it): the bind type is known good. */
	if (self != NULL && self->core == core && self->ep != NULL &&
	    ((bindtype == BIND_CURRENT_EPUMP &&
	      self->cur_src == self->ep->index) ||
	     (bindtype == BIND_GIVEN_EPUMP && epump == self->ep->index)) &&
	    dev->fd < core->ops->maxfd)
		return bind_self(self->ep, dev);
	if ((bindtype != BIND_ONE_EPUMP && bindtype != BIND_GIVEN_EPUMP &&
	     bindtype != BIND_ALL_EPUMP && bindtype != BIND_CURRENT_EPUMP) ||
	    dev->fd >= core->ops->maxfd)
		return bind_fail(EINVAL);
	return bind_other(dev, bindtype, epump);
}

/* Applies dev's interest flags to every poller that holds it. */
void ep__dev_apply(struct iodev *dev, uint64_t id)
{
	epcore_t *core = dev->core;
	uint64_t tag = atomic_load(&dev->tag);
	unsigned b = ep__tag_bound(tag);
	int i, n, first, last;

	if (b == DEVB_ONE) {
		first = ep__tag_epump(tag);
		last = first + 1;
	} else if (b == DEVB_ALL) {
		first = 0;
		last = ep__nepumps(core);
	} else {
		return; /* applied when it is registered */
	}
	n = ep__nepumps(core);
	for (i = first; i < last && i < n; i++) {
		struct epump *ep = core->epumps[i];

		if (may_touch_poller(ep, id)) {
			(void)ep__poller_apply(ep, dev, id, MSG_DEV_MOD);
		} else {
			struct ep__ev m = { 0 };

			m.type = MSG_DEV_MOD;
			m.id = id;
			(void)ep__epump_send(ep, &m);
		}
	}
}

static int dev_notify(iodev_t *dev, int rwflags, bool add)
{
	uint64_t id;
	uint32_t old, bits = (uint32_t)rwflags;

	if (dev == NULL || rwflags == 0 ||
	    (rwflags & ~(RWF_READ | RWF_WRITE)) != 0) {
		errno = EINVAL;
		return -1;
	}
	id = ep__dev_live_id(dev);
	if (id == 0) {
		errno = ENOENT;
		return -1;
	}
	if (add) {
		old = atomic_fetch_or(&dev->pflags, bits);
		if ((old & bits) == bits)
			return 0; /* armed already: no syscall */
	} else {
		old = atomic_fetch_and(&dev->pflags, ~bits);
		if ((old & bits) == 0)
			return 0;
	}
	ep__dev_apply(dev, id);
	return 0;
}

int iodev_add_notify(iodev_t *dev, int rwflags)
{
	return dev_notify(dev, rwflags, true);
}

int iodev_del_notify(iodev_t *dev, int rwflags)
{
	return dev_notify(dev, rwflags, false);
}

/*
 * The end of a device's life, on the thread that may do it: close the fd,
 * release the load counts, bump the generation, return the slot.
 */
void ep__dev_finish(struct iodev *dev)
{
	epcore_t *core = dev->core;
	struct ep__thread *self = ep__self_in(core);
	uint64_t tag = atomic_load(&dev->tag);
	int16_t w = atomic_load(&dev->worker);

	ep__dev_timer_stop(dev);
	ep__sendq_free(dev);
	if (atomic_load(&dev->pflags) & PF_UNLINK)
		ep__unlink_bound(dev->fd); /* a unix listener's socket file */
	if (!(atomic_load(&dev->pflags) & PF_NOCLOSE))
		close(dev->fd);
	if (ep__tag_bound(tag) == DEVB_ONE)
		atomic_fetch_sub(&core->epumps[ep__tag_epump(tag)]->ndevices, 1);
	if (w >= 0)
		atomic_fetch_sub(&core->workers[w]->ndevices, 1);
	atomic_store_explicit(&dev->fd, -1, memory_order_relaxed);
	dev->handler = NULL;
	ep__slab_free(&core->devs, self ? &self->devcache : NULL, dev);
}

/*
 * Finishes a close; the caller holds DEV_BUSY | DEV_CLOSING, so no handler
 * of dev runs and no other thread finishes it.
 */
void ep__dev_close_claimed(struct iodev *dev, uint64_t id)
{
	epcore_t *core = dev->core;
	struct ep__thread *self = ep__self_in(core);
	uint64_t tag = atomic_load(&dev->tag);
	unsigned b = ep__tag_bound(tag);
	struct ep__ev m = { 0 };
	int i, n;

	m.type = MSG_DEV_CLOSE;
	m.id = id;
	if (b != DEVB_ONE) {
		/* Closing froze the state but for bind_all() undoing itself,
		 * which holds core->lock, as adoption and the lists do. */
		pthread_mutex_lock(&core->lock);
		b = ep__dev_where(dev);
		if (b == DEVB_NONE || b == DEVB_PARKED) {
			if (b == DEVB_PARKED)
				ep__idvec_del(&core->parked_devs, id);
			ep__dev_finish(dev);
			pthread_mutex_unlock(&core->lock);
			return;
		}
		if (b == DEVB_ALL) {
			ep__idvec_del(&core->all_devs, id);
			n = ep__nepumps(core);
			for (i = 0; i < n; i++) {
				struct epump *ep = core->epumps[i];

				if (self != NULL && self->ep == ep) {
					(void)ep->ops->del(ep->poller, dev->fd);
					if (atomic_fetch_sub(&dev->nregs, 1) == 1)
						ep__dev_finish(dev);
				} else {
					(void)ep__epump_send(ep, &m);
				}
			}
			if (n == 0)
				ep__dev_finish(dev);
			pthread_mutex_unlock(&core->lock);
			return;
		}
		pthread_mutex_unlock(&core->lock);
	}
	/* DEVB_ONE: only its epump closes the fd. */
	{
		struct epump *ep = core->epumps[ep__tag_epump(tag)];

		if (self != NULL && self->ep == ep) {
			(void)ep->ops->del(ep->poller, dev->fd);
			ep__dev_finish(dev);
		} else {
			(void)ep__epump_send(ep, &m);
		}
	}
}

static int dev_close(struct iodev *dev, uint64_t id)
{
	uint32_t gen = EP__ID_GEN(id);
	uint64_t cur = atomic_load(&dev->tag);

	for (;;) {
		if (EP__TAG_GEN(cur) != gen ||
		    (cur & (DEV_LIVE | DEV_CLOSING)) != DEV_LIVE) {
			errno = ENOENT;
			return -1;
		}
		if (cur & DEV_BUSY) {
			/* A handler runs (maybe ours): it finishes the close
			 * when it returns. */
			if (atomic_compare_exchange_weak(&dev->tag, &cur,
			                                 cur | DEV_CLOSING))
				return 0;
			continue;
		}
		if (atomic_compare_exchange_weak(&dev->tag, &cur,
		        cur | DEV_BUSY | DEV_CLOSING)) {
			ep__dev_close_claimed(dev, id);
			return 0;
		}
	}
}

int ep__dev_hold(struct iodev *dev, uint64_t id)
{
	uint32_t gen = EP__ID_GEN(id);
	uint64_t cur = atomic_load(&dev->tag);

	for (;;) {
		if (EP__TAG_GEN(cur) != gen ||
		    (cur & (DEV_LIVE | DEV_CLOSING | DEV_BUSY)) != DEV_LIVE) {
			errno = ENOENT;
			return -1;
		}
		if (atomic_compare_exchange_weak(&dev->tag, &cur,
		                                 cur | DEV_BUSY))
			return 0;
	}
}

void ep__dev_unhold(struct iodev *dev, uint64_t id)
{
	uint64_t cur = atomic_load(&dev->tag);

	for (;;) {
		if (cur & DEV_CLOSING) {
			ep__dev_close_claimed(dev, id);
			return;
		}
		if (atomic_compare_exchange_weak(&dev->tag, &cur,
		                                 cur & ~(uint64_t)DEV_BUSY))
			return;
	}
}

void iodev_close(iodev_t *dev)
{
	uint64_t id;

	if (dev == NULL)
		return;
	id = ep__dev_live_id(dev);
	if (id != 0)
		(void)dev_close(dev, id);
}

int iodev_close_by(epcore_t *core, uint64_t id)
{
	struct iodev *dev;

	if (core == NULL || id == 0) {
		errno = EINVAL;
		return -1;
	}
	dev = ep__slab_at(&core->devs, EP__ID_SLOT(id));
	if (dev == NULL) {
		errno = ENOENT;
		return -1;
	}
	return dev_close(dev, id);
}

iodev_t *iodev_by_id(epcore_t *core, uint64_t id)
{
	struct iodev *dev;

	if (core == NULL) {
		errno = EINVAL;
		return NULL;
	}
	dev = ep__dev_lookup(core, id);
	if (dev == NULL)
		errno = ENOENT;
	return dev;
}

EP__HOT int ep__dev_run(struct iodev *dev, uint64_t id,
                        const struct ep__ev *ev)
{
	return ep__dev_run_in(dev, id, ev);
}

EP__HOT int ep__dev_ready(struct iodev *dev, uint64_t id, int event,
                          int src)
{
	return ep__dev_ready_in(dev, id, event, src);
}

/* epcore_free(): every thread has been joined. */
static void close_one(void *obj, void *arg)
{
	struct iodev *dev = obj;
	uint64_t tag = atomic_load(&dev->tag);

	(void)arg;
	if (tag & DEV_LIVE) {
		if (atomic_load(&dev->pflags) & PF_UNLINK)
			ep__unlink_bound(dev->fd);
		if (!(atomic_load(&dev->pflags) & PF_NOCLOSE))
			close(dev->fd);
	}
	/* Closed or not: what a device holds is freed with the core. */
	ep__sendq_free(dev);
}

void ep__dev_close_all(epcore_t *core)
{
	ep__slab_foreach(&core->devs, close_one, NULL);
}

uint64_t iodev_id(const iodev_t *dev)
{
	if (dev == NULL) {
		errno = EINVAL;
		return 0;
	}
	return ep__dev_live_id(dev); /* 0 once closed, even before the fd is */
}

int iodev_fd(const iodev_t *dev)
{
	if (dev == NULL) {
		errno = EINVAL;
		return -1;
	}
	return dev->fd;
}

int iodev_fdtype(const iodev_t *dev)
{
	if (dev == NULL) {
		errno = EINVAL;
		return -1;
	}
	return dev->fdtype;
}

EP__HOT void *iodev_para(const iodev_t *dev)
{
	if (dev == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return dev->para;
}

void iodev_set_para(iodev_t *dev, void *para)
{
	if (dev != NULL)
		dev->para = para;
}

int iodev_rwflags(const iodev_t *dev)
{
	if (dev == NULL) {
		errno = EINVAL;
		return -1;
	}
	return (int)(atomic_load(&dev->pflags) & (RWF_READ | RWF_WRITE));
}

epcore_t *iodev_core(const iodev_t *dev)
{
	if (dev == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return dev->core;
}

int iodev_epump(const iodev_t *dev)
{
	uint64_t tag;

	if (dev == NULL) {
		errno = EINVAL;
		return -1;
	}
	tag = atomic_load(&dev->tag);
	return ep__tag_bound(tag) == DEVB_ONE ? ep__tag_epump(tag) : -1;
}

int iodev_worker(const iodev_t *dev)
{
	if (dev == NULL) {
		errno = EINVAL;
		return -1;
	}
	return atomic_load(&dev->worker);
}

/*
 * Delivers event to dev's handler on the device's thread, in order with
 * its other events (connect timeouts, regular files, resumed accepts).
 */
void ep__dev_deliver(struct iodev *dev, uint64_t id, int event)
{
	epcore_t *core = dev->core;
	struct ep__ev ev = { 0 };
	uint64_t tag = atomic_load(&dev->tag);
	unsigned b = ep__tag_bound(tag);
	int idx = b == DEVB_ONE ? ep__tag_epump(tag) : 0;

	if (b != DEVB_ONE && b != DEVB_ALL)
		return; /* not polled: no thread runs it yet */
	ev.type = EV_DEV;
	ev.id = id;
	ev.event = event;
	ev.src = (int16_t)idx;
	if (ep__nworkers(core) > 0)
		(void)ep__worker_push(core->workers[ep__dev_worker(core, dev)],
		                      &ev, 1);
	else
		(void)ep__epump_send(core->epumps[idx], &ev);
}

/*
 * A library timer about dev names the device by id, never by pointer (it
 * may outlive the device): the id rides in the timer itself, its upper
 * half in para and its lower half in cmdid, so nothing is allocated and
 * nothing can leak whether the timer fires, is stopped, or is dropped.
 */
uint64_t ep__dev_timer_start(struct iodev *dev, uint64_t id, int ms,
                             IOHandler *fn)
{
	uint64_t tid = iotimer_start(dev->core, ms, (int)(uint32_t)id,
	                             (void *)(uintptr_t)(id >> 32), fn,
	                             dev->core);

	if (tid != 0)
		atomic_store(&dev->timer, tid);
	return tid;
}

/* The device id a library timer carries (see ep__dev_timer_start). */
uint64_t ep__dev_timer_devid(const iotimer_t *t)
{
	return ((uint64_t)(uintptr_t)iotimer_para(t) << 32) |
	       (uint32_t)iotimer_cmdid(t);
}

void ep__dev_timer_stop(struct iodev *dev)
{
	uint64_t tid = atomic_exchange(&dev->timer, 0);

	if (tid != 0)
		(void)iotimer_stop(dev->core, tid); /* ENOENT: fired already */
}

int iodev_error(const iodev_t *dev)
{
	if (dev == NULL) {
		errno = EINVAL;
		return -1;
	}
	return dev->error;
}
