/*
 * sendq.c - iodev_send(): write what the kernel takes, queue the rest,
 * drain the queue on write readiness; and iodev_linger_close().
 *
 * Threads: iodev_send may be called from any thread; the queue is guarded
 * by a per-device spin flag (uncontended in the usual case of a handler
 * sending on its own device), held across the write so bytes stay in
 * order.  The queue is drained on the device's thread, in ep__dev_run(),
 * before the handler would get IOE_WRITE.  Nothing is allocated while
 * nothing is queued.
 */
#include "internal.h"
#include "sys.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CHUNK_MIN  512u
#define CHUNK_MAX  16384u
#define FLUSH_IOV  64
#define LINGER_DEFAULT_MS 10000

static void sq_lock(struct iodev *dev)
{
	unsigned spins = 0;

	while (atomic_exchange_explicit(&dev->sqlock, 1, memory_order_acquire)) {
		if (++spins % 64 == 0)
			sched_yield();
	}
}

static void sq_unlock(struct iodev *dev)
{
	atomic_store_explicit(&dev->sqlock, 0, memory_order_release);
}

/* A device made by iodev_new() with a socket fdtype on a non-socket: the
 * fdtype was taken at its word; learn better once and use write(2). */
static bool not_a_socket(struct iodev *dev)
{
	if (errno != ENOTSOCK)
		return false;
	atomic_fetch_and(&dev->pflags, ~(uint32_t)(PF_SOCKET | PF_DGRAM));
	return true;
}

static ssize_t raw_send(struct iodev *dev, const void *buf, size_t len)
{
	if (atomic_load_explicit(&dev->pflags, memory_order_relaxed) &
	    PF_SOCKET) {
		ssize_t n = ep__sys_send(dev->fd, buf, len, MSG_NOSIGNAL);

		if (n >= 0 || !not_a_socket(dev))
			return n;
	}
	return ep__sys_write(dev->fd, buf, len);
}

static ssize_t raw_sendv(struct iodev *dev, struct iovec *iov, int n)
{
	if (atomic_load_explicit(&dev->pflags, memory_order_relaxed) &
	    PF_SOCKET) {
		struct msghdr m = { 0 };
		ssize_t r;

		m.msg_iov = iov;
		m.msg_iovlen = (size_t)n;
		r = ep__sys_sendmsg(dev->fd, &m, MSG_NOSIGNAL);
		if (r >= 0 || !not_a_socket(dev))
			return r;
	}
	return ep__sys_writev(dev->fd, iov, n);
}

/* The queue, made on first use; caller holds sqlock. */
static struct ep__sendq *sq_get(struct iodev *dev)
{
	if (dev->sq == NULL) {
		struct ep__sendq *q = calloc(1, sizeof(*q));

		if (q != NULL)
			q->limit = EP__SENDQ_DEFAULT_LIMIT;
		/* Atomic: iodev_sendq_len reads it without the lock. */
		__atomic_store_n(&dev->sq, q, __ATOMIC_RELAXED);
	}
	return dev->sq;
}

/* Appends len bytes (the caller checked the limit); caller holds sqlock. */
static int sq_append(struct ep__sendq *q, const char *p, size_t len)
{
	struct ep__chunk *t = q->tail;

	if (t != NULL) {
		size_t room = t->cap - (t->off + t->len);
		size_t n = room < len ? room : len;

		memcpy(t->data + t->off + t->len, p, n);
		t->len += (uint32_t)n;
		q->bytes += n;
		p += n;
		len -= n;
	}
	while (len > 0) {
		/* Sized to what is queued, so a few queued bytes cost a few
		 * hundred, not a whole 16 KiB chunk. */
		size_t cap = (len + CHUNK_MIN - 1) & ~(size_t)(CHUNK_MIN - 1);
		size_t n;
		struct ep__chunk *c;

		if (cap > CHUNK_MAX)
			cap = CHUNK_MAX;
		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return -1;
		n = cap < len ? cap : len;
		c->next = NULL;
		c->cap = (uint32_t)cap;
		c->off = 0;
		c->len = (uint32_t)n;
		memcpy(c->data, p, n);
		if (q->tail != NULL)
			q->tail->next = c;
		else
			q->head = c;
		q->tail = c;
		q->bytes += n;
		p += n;
		len -= n;
	}
	return 0;
}

static void sq_clear(struct iodev *dev)
{
	struct ep__sendq *q = dev->sq;
	struct ep__chunk *c, *next;

	if (q == NULL)
		return;
	for (c = q->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	q->head = q->tail = NULL;
	q->bytes = 0;
	if (q->limit == EP__SENDQ_DEFAULT_LIMIT) {
		free(q);
		__atomic_store_n(&dev->sq, NULL, __ATOMIC_RELAXED);
	}
}

EP__HOT ssize_t iodev_send(iodev_t *dev, const void *buf, size_t len)
{
	const char *p = buf;
	struct ep__sendq *q;
	size_t queued, limit, done = 0, room, take;
	ssize_t n;

	if (dev == NULL || (buf == NULL && len > 0) || len > SSIZE_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (ep__dev_gone(dev))
		return -1;
	if (len == 0)
		return 0;
	if (atomic_load_explicit(&dev->pflags, memory_order_relaxed) &
	    PF_DGRAM) {
		/* One datagram, whole or not at all: never queued, where
		 * queued datagrams would merge or split. */
		ssize_t r = ep__sys_send(dev->fd, buf, len, MSG_NOSIGNAL);

		if (r > 0) /* racy between senders: figures, not accounts */
			ep__add64(&dev->bytes_out, (uint64_t)r);
		return r;
	}
	sq_lock(dev);
	if (ep__dev_live_id(dev) == 0) {
		sq_unlock(dev);
		errno = ENOENT;
		return -1;
	}
	q = dev->sq;
	queued = q != NULL ? q->bytes : 0;
	limit = q != NULL ? q->limit : EP__SENDQ_DEFAULT_LIMIT;
	if (queued == 0) {
		n = len > 0 ? raw_send(dev, p, len) : 0;
		if (n < 0) {
			int e = errno;

			if (e != EAGAIN && e != EWOULDBLOCK) {
				sq_unlock(dev);
				errno = e;
				return -1;
			}
			n = 0;
		}
		done = (size_t)n;
		ep__add64(&dev->bytes_out, done); /* under sqlock */
		if (done == len) {
			sq_unlock(dev);
			return (ssize_t)len;
		}
	}
	room = limit > queued ? limit - queued : 0;
	take = len - done < room ? len - done : room;
	if (take > 0 && ((q = sq_get(dev)) == NULL ||
	                 sq_append(q, p + done, take) < 0)) {
		sq_unlock(dev);
		if (done > 0)
			return (ssize_t)done;
		errno = ENOMEM;
		return -1;
	}
	sq_unlock(dev);
	/* Something queued, or the limit cut the call short: either way
	 * IOE_WRITE comes when the fd is writable and the queue drained. */
	if ((take > 0 && queued == 0) || done + take < len)
		(void)iodev_add_notify(dev, RWF_WRITE);
	if (done + take == 0) {
		errno = ENOBUFS;
		return -1;
	}
	return (ssize_t)(done + take);
}

/*
 * On the device's thread, before IOE_WRITE: write the queue.  1: it is
 * empty (the handler gets IOE_WRITE); 0: the kernel is full again (write
 * readiness re-armed, no handler call); -1: the fd failed (queue dropped;
 * the handler gets IOE_WRITE and its next send sees the error).
 */
int ep__sendq_flush(struct iodev *dev)
{
	struct ep__sendq *q;
	int r = 1;

	sq_lock(dev);
	q = dev->sq;
	while (q != NULL && q->bytes > 0) {
		struct iovec iov[FLUSH_IOV];
		struct ep__chunk *c;
		size_t want = 0, wrote;
		ssize_t n;
		int k = 0;

		for (c = q->head; c != NULL && k < FLUSH_IOV; c = c->next, k++) {
			iov[k].iov_base = c->data + c->off;
			iov[k].iov_len = c->len;
			want += c->len;
		}
		n = raw_sendv(dev, iov, k);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				r = 0;
			} else {
				sq_clear(dev);
				r = -1;
			}
			break;
		}
		wrote = (size_t)n;
		q->bytes -= wrote;
		ep__add64(&dev->bytes_out, wrote);
		while (n > 0) {
			c = q->head;
			if ((size_t)n < c->len) {
				c->off += (uint32_t)n;
				c->len -= (uint32_t)n;
				break;
			}
			n -= c->len;
			q->head = c->next;
			if (q->head == NULL)
				q->tail = NULL;
			free(c);
		}
		if (wrote < want) {
			r = 0; /* a short write: the kernel is full */
			break;
		}
	}
	if (r == 1)
		sq_clear(dev);
	sq_unlock(dev);
	if (r == 0)
		(void)iodev_add_notify(dev, RWF_WRITE);
	return r;
}

void ep__sendq_free(struct iodev *dev)
{
	sq_lock(dev);
	if (dev->sq != NULL) {
		sq_clear(dev);
		free(dev->sq);
		__atomic_store_n(&dev->sq, NULL, __ATOMIC_RELAXED);
	}
	sq_unlock(dev);
}

#if EP__SYS_INLINE
/* iodev_recv() with EPUMP_LIBC_IO=1 (sys.h), and its failure: apart, so
 * that the inline path calls nothing and saves no register. */
static __attribute__((noinline, cold)) ssize_t recv_libc(struct iodev *dev,
                                                         void *buf,
                                                         size_t len)
{
	ssize_t n = read(dev->fd, buf, len);

	if (n > 0)
		ep__add64(&dev->bytes_in, (uint64_t)n);
	return n;
}

static __attribute__((noinline, cold)) ssize_t recv_fail(long r)
{
	return ep__sysret(r);
}
#endif

EP__HOT ssize_t iodev_recv(iodev_t *dev, void *buf, size_t len)
{
	ssize_t n;

	if (dev == NULL || (buf == NULL && len > 0) || len > SSIZE_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (ep__dev_gone(dev))
		return -1;
#if EP__SYS_INLINE
	if (!EP__SYS_FAST)
		return recv_libc(dev, buf, len);
	n = ep__syscall3(SYS_read, dev->fd, (long)buf, (long)len);
	if (n < 0)
		return recv_fail(n);
#else
	n = ep__sys_read(dev->fd, buf, len);
#endif
	if (n > 0)
		ep__add64(&dev->bytes_in, (uint64_t)n); /* the device's thread */
	return n;
}

size_t iodev_sendq_len(const iodev_t *dev)
{
	struct iodev *d = (struct iodev *)dev;
	size_t n;

	if (d == NULL) {
		errno = EINVAL;
		return 0;
	}
	/* No queue (made on first queueing, dropped when a default-limit
	 * queue drains): nothing queued, and no lock taken to say so. */
	if (__atomic_load_n(&d->sq, __ATOMIC_RELAXED) == NULL)
		return 0;
	sq_lock(d);
	n = d->sq != NULL ? d->sq->bytes : 0;
	sq_unlock(d);
	return n;
}

int iodev_set_sendq_limit(iodev_t *dev, size_t bytes)
{
	struct ep__sendq *q;

	if (dev == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (ep__dev_gone(dev))
		return -1;
	sq_lock(dev);
	q = sq_get(dev);
	if (q != NULL)
		q->limit = bytes;
	sq_unlock(dev);
	if (q == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* ---- linger close ---- */

static void linger_drain(struct iodev *dev)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(dev->fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n == 0 && iodev_sendq_len(dev) > 0) {
		/* The peer is done sending but still reads: write the queue
		 * out first (IOE_WRITE closes once it has drained). */
		atomic_fetch_or(&dev->pflags, PF_PEER_EOF);
		return;
	}
	iodev_close(dev); /* the peer closed too (or failed): done */
}

/* The device's handler once linger-closing: the application's is gone. */
static int linger_handler(void *cbpara, void *obj, int event, int fdtype)
{
	struct iodev *dev = obj;

	(void)cbpara;
	(void)fdtype;
	switch (event) {
	case IOE_WRITE: /* the queue has drained */
		if (!(atomic_load(&dev->pflags) & PF_SOCKET) ||
		    shutdown(dev->fd, SHUT_WR) < 0 ||
		    (atomic_load(&dev->pflags) & PF_PEER_EOF))
			iodev_close(dev);
		break;
	case IOE_READ:
	case IOE_INVALID_DEV:
		linger_drain(dev);
		break;
	default:
		break;
	}
	return 0;
}

static int linger_timeout(void *cbpara, void *obj, int event, int fdtype)
{
	uint64_t devid = ep__dev_timer_devid(obj);
	epcore_t *core = cbpara;
	struct iodev *dev = ep__slab_at(&core->devs, EP__ID_SLOT(devid));

	if (dev != NULL) {
		uint64_t tid = iotimer_id(obj);

		atomic_compare_exchange_strong(&dev->timer, &tid, 0);
	}
	(void)iodev_close_by(core, devid);
	return 0;
}

/* On the device's thread (its handler, or an EV_DEVUSER in its order). */
static void linger_begin(struct iodev *dev, uint64_t id, int ms)
{
	bool empty;

	ep__dev_timer_stop(dev);
	dev->handler = linger_handler;
	dev->cbpara = NULL;
	atomic_fetch_or(&dev->pflags, PF_LINGER);
	(void)ep__dev_timer_start(dev, id, ms, linger_timeout);
	sq_lock(dev);
	empty = dev->sq == NULL || dev->sq->bytes == 0;
	sq_unlock(dev);
	if (empty)
		linger_handler(NULL, dev, IOE_WRITE, dev->fdtype);
	if (ep__dev_live_id(dev) == id) {
		(void)iodev_add_notify(dev, RWF_READ);
		linger_drain(dev); /* what came before has no edge left */
	}
}

static int linger_msg(void *cbpara, void *para, int event, int fdtype)
{
	struct iodev *dev = cbpara;
	uint64_t id = ep__self->cur_dev; /* the device whose turn this is */

	(void)event;
	(void)fdtype;
	linger_begin(dev, id, (int)(intptr_t)para);
	return 0;
}

int iodev_linger_close(iodev_t *dev, int timeout_ms)
{
	struct ep__thread *self;
	uint64_t id;

	if (dev == NULL) {
		errno = EINVAL;
		return -1;
	}
	id = ep__dev_live_id(dev);
	if (id == 0) {
		errno = ENOENT;
		return -1;
	}
	if (timeout_ms <= 0)
		timeout_ms = LINGER_DEFAULT_MS;
	if (atomic_load(&dev->pflags) & PF_LINGER)
		return 0;
	self = ep__self_in(dev->core);
	if (self != NULL && self->cur_dev == id) {
		linger_begin(dev, id, timeout_ms);
		return 0;
	}
	if (ep__dev_where(dev) == DEVB_NONE) {
		iodev_close(dev); /* nothing polls it: nothing can drain */
		return 0;
	}
	return iodev_post(dev->core, id, IOE_USER_DEFINED,
	                  (void *)(intptr_t)timeout_ms, linger_msg, dev);
}
