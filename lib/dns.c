/*
 * dns.c - asynchronous name resolution on c-ares, driven by the core's own
 * epump threads, and eptcp_connect() to a host name.
 *
 * One c-ares channel per core, created at the first query, guarded by
 * dns->lock (c-ares is not thread-safe per channel).  c-ares's sockets are
 * ordinary devices: our socket functions (ares_set_socket_functions) make
 * a device of every socket c-ares opens, sock_state_cb sets its interest
 * and binds it, its handler calls ares_process_fd(), and c-ares's close
 * closes the device (so the fd is closed by its epump, never under the
 * poller's feet).  One library timer follows ares_timeout().
 *
 * A query (struct waiter) joins the lookup in flight for its name, or
 * starts one (ares_getaddrinfo, A and AAAA); the answer is cached for its
 * TTL.  The callback is always posted back to the asking thread
 * (epcore_post for an epump or worker, a 0 ms timer for a foreign
 * thread); until it runs, the waiter sits on dns->ready, so epcore_free()
 * can run what a stopped core dropped, with DNS_ECANCELED: exactly once.
 */
#include "internal.h"

#include <ares.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define DNS_NBUCKET    1024
#define DNS_CACHE_MAX  1024   /* names kept; least recently used goes */
#define DNS_MAX_ADDRS  64     /* addresses kept of one answer */
#define DNS_PROCESS_MAX 64    /* ares_process_fd rounds per readiness */

struct waiter {
	struct waiter *next, *prev;
	struct ep__dns *dns;
	DnsCB *cb;
	void *cbobj;
	int kind, index;            /* EPT_EPUMP/EPT_WORKER, or 0: foreign */
	char *name;
	int status, naddrs, from_cache;
	dns_addr_t *addrs;
};

struct lookup {
	struct lookup *hnext;
	struct ep__dns *dns;
	char *key;
	struct waiter *waiters;     /* singly linked through next */
};

struct centry {
	struct centry *hnext;
	struct centry *lnext, *lprev;
	char *key;
	uint64_t born_ms, expire_ms;
	int naddrs;
	dns_addr_t *addrs;
};

struct nconn;

struct ep__dns {
	epcore_t *core;
	pthread_mutex_t lock;       /* all below but the nconn part */
	ares_channel ch;
	bool ch_ok;
	bool dying;
	int timeout_ms, tries;
	struct ares_addr_port_node *servers, *stail;
	uint64_t *fdmap;            /* fd -> device id of c-ares's sockets */
	uint8_t *wantw;             /* fd -> c-ares wants writability */
	int nfd;
	uint64_t tid, tdeadline;
	struct lookup *lk[DNS_NBUCKET];
	int nlookups;
	struct centry *cache[DNS_NBUCKET];
	struct centry *lru_head, *lru_tail;
	int ncache;
	struct waiter ready;        /* posted, not yet run: a ring */
	/* connects to host names */
	pthread_mutex_t nclock;
	struct nconn *nconns;
	uint64_t nctoken;
};

static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;
static int lib_refs;

static uint32_t hash_key(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h % DNS_NBUCKET;
}

/* ---- c-ares's sockets as devices ---- */

static uint64_t fd_get(struct ep__dns *d, int fd)
{
	return (fd >= 0 && fd < d->nfd) ? d->fdmap[fd] : 0;
}

static int fd_set_id(struct ep__dns *d, int fd, uint64_t id)
{
	if (fd >= d->nfd) {
		int n = d->nfd ? d->nfd : 64;
		uint64_t *m;
		uint8_t *w;

		while (n <= fd)
			n *= 2;
		m = realloc(d->fdmap, (size_t)n * sizeof(*m));
		if (m == NULL)
			return -1;
		d->fdmap = m;
		w = realloc(d->wantw, (size_t)n);
		if (w == NULL)
			return -1;
		d->wantw = w;
		memset(m + d->nfd, 0, (size_t)(n - d->nfd) * sizeof(*m));
		memset(w + d->nfd, 0, (size_t)(n - d->nfd));
		d->nfd = n;
	}
	d->fdmap[fd] = id;
	d->wantw[fd] = 0;
	return 0;
}

static void resched(struct ep__dns *d);

static int sock_handler(void *cbpara, void *obj, int event, int fdtype)
{
	struct ep__dns *d = cbpara;
	iodev_t *dev = obj;
	uint64_t id = iodev_id(dev);
	int fd = dev->fd, i;
	ares_socket_t r = ARES_SOCKET_BAD, w = ARES_SOCKET_BAD;

	if (event == IOE_READ || event == IOE_INVALID_DEV)
		r = fd;
	if (event == IOE_WRITE || event == IOE_INVALID_DEV)
		w = fd;
	if (r == ARES_SOCKET_BAD && w == ARES_SOCKET_BAD)
		return 0;
	pthread_mutex_lock(&d->lock);
	/* Edge-triggered: c-ares reads a TCP answer piecewise, so go on
	 * while the socket still holds data (and is still c-ares's). */
	for (i = 0; i < DNS_PROCESS_MAX && d->ch_ok && fd_get(d, fd) == id;
	     i++) {
		int avail = 0;

		ares_process_fd(d->ch, r, w);
		w = ARES_SOCKET_BAD;
		if (r == ARES_SOCKET_BAD || fd_get(d, fd) != id ||
		    ioctl(fd, FIONREAD, &avail) < 0 || avail <= 0)
			break;
	}
	/* IOE_WRITE is one-shot: re-arm while c-ares wants it. */
	if (fd_get(d, fd) == id && d->wantw[fd])
		(void)iodev_add_notify(dev, RWF_WRITE);
	if (d->ch_ok)
		resched(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static ares_socket_t s_socket(int dom, int type, int proto, void *u)
{
	struct ep__dns *d = u;
	bool dg = type == SOCK_DGRAM;
	iodev_t *dev;
	int fd, e;

	if (d->dying) {
		errno = ECANCELED;
		return ARES_SOCKET_BAD;
	}
	fd = socket(dom, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return ARES_SOCKET_BAD;
	dev = ep__dev_make(d->core, fd, dg ? FDT_UDPCLI : FDT_CONNECTED,
	                   PF_SOCKET | (dg ? PF_DGRAM : 0), NULL,
	                   sock_handler, d);
	if (dev == NULL) {
		close(fd);
		errno = ENOMEM;
		return ARES_SOCKET_BAD;
	}
	/* No interest until sock_state_cb says (a fresh TCP socket hangs up). */
	atomic_fetch_and(&dev->pflags, ~(uint32_t)(PF_READ | PF_WRITE));
	if (fd_set_id(d, fd, iodev_id(dev)) < 0) {
		e = ENOMEM;
		iodev_close(dev); /* unbound: closes fd now */
		errno = e;
		return ARES_SOCKET_BAD;
	}
	return fd;
}

static int s_close(ares_socket_t fd, void *u)
{
	struct ep__dns *d = u;
	uint64_t id = fd_get(d, fd);

	if (id == 0)
		return close(fd);
	d->fdmap[fd] = 0;
	d->wantw[fd] = 0;
	if (!d->dying) /* dying: epcore_free closes the device's fd */
		(void)iodev_close_by(d->core, id);
	return 0;
}

static int s_connect(ares_socket_t fd, const struct sockaddr *sa,
                     ares_socklen_t len, void *u)
{
	return connect(fd, sa, len);
}

static ares_ssize_t s_recvfrom(ares_socket_t fd, void *buf, size_t len,
                               int flags, struct sockaddr *from,
                               ares_socklen_t *fromlen, void *u)
{
	struct ep__dns *d = u;
	ssize_t n = recvfrom(fd, buf, len, flags, from, fromlen);
	struct iodev *dev;

	if (n > 0 && (dev = ep__dev_lookup(d->core, fd_get(d, fd))) != NULL)
		ep__add64(&dev->bytes_in, (uint64_t)n);
	return n;
}

static ares_ssize_t s_sendv(ares_socket_t fd, const struct iovec *iov,
                            int n, void *u)
{
	struct ep__dns *d = u;
	struct msghdr m;
	struct iodev *dev;
	ssize_t r;

	memset(&m, 0, sizeof(m));
	m.msg_iov = (struct iovec *)iov;
	m.msg_iovlen = (size_t)n;
	r = sendmsg(fd, &m, MSG_NOSIGNAL);
	if (r > 0 && (dev = ep__dev_lookup(d->core, fd_get(d, fd))) != NULL)
		ep__add64(&dev->bytes_out, (uint64_t)r);
	return r;
}

static const struct ares_socket_functions sockfns = {
	s_socket, s_close, s_connect, s_recvfrom, s_sendv
};

static void sock_state(void *data, ares_socket_t fd, int readable,
                       int writable)
{
	struct ep__dns *d = data;
	struct iodev *dev;
	int set = 0, clr = 0;

	if (d->dying || (dev = ep__dev_lookup(d->core, fd_get(d, fd))) == NULL)
		return;
	d->wantw[fd] = writable ? 1 : 0;
	set = (readable ? RWF_READ : 0) | (writable ? RWF_WRITE : 0);
	clr = (readable ? 0 : RWF_READ) | (writable ? 0 : RWF_WRITE);
	if (clr)
		(void)iodev_del_notify(dev, clr);
	if (set)
		(void)iodev_add_notify(dev, set);
	if (set && ep__dev_where(dev) == DEVB_NONE)
		(void)iodev_bind_epump(dev, BIND_ONE_EPUMP, 0);
}

/* ---- the timer that follows ares_timeout() ---- */

static int timer_handler(void *cbpara, void *obj, int event, int fdtype)
{
	struct ep__dns *d = cbpara;

	pthread_mutex_lock(&d->lock);
	if (iotimer_id(obj) == d->tid)
		d->tid = 0;
	if (d->ch_ok) {
		ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
		resched(d);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* Caller holds d->lock. */
static void resched(struct ep__dns *d)
{
	struct timeval tv, *tp = ares_timeout(d->ch, NULL, &tv);
	uint64_t ms, deadline;

	if (tp == NULL) {
		if (d->tid != 0)
			(void)iotimer_stop(d->core, d->tid);
		d->tid = 0;
		return;
	}
	ms = (uint64_t)tp->tv_sec * 1000u + ((uint64_t)tp->tv_usec + 999) / 1000;
	deadline = ep__now_ms() + ms;
	if (d->tid != 0 && d->tdeadline <= deadline)
		return; /* it fires first and looks again */
	if (d->tid != 0)
		(void)iotimer_stop(d->core, d->tid);
	d->tid = iotimer_start(d->core, ms > INT32_MAX ? INT32_MAX : (int)ms,
	                       0, NULL, timer_handler, d);
	d->tdeadline = deadline;
}

/* ---- delivery ---- */

static void ready_add(struct ep__dns *d, struct waiter *w)
{
	w->next = &d->ready;
	w->prev = d->ready.prev;
	d->ready.prev->next = w;
	d->ready.prev = w;
}

static void waiter_free(struct waiter *w)
{
	free(w->addrs);
	free(w->name);
	free(w);
}

static void run_waiter(struct waiter *w)
{
	dns_result_t res;

	res.status = w->status;
	res.name = w->name;
	res.naddrs = w->status == DNS_OK ? w->naddrs : 0;
	res.addrs = res.naddrs ? w->addrs : NULL;
	res.from_cache = w->from_cache;
	w->cb(w->cbobj, &res);
	waiter_free(w);
}

static void deliver(struct waiter *w)
{
	struct ep__dns *d = w->dns;

	pthread_mutex_lock(&d->lock);
	w->prev->next = w->next;
	w->next->prev = w->prev;
	pthread_mutex_unlock(&d->lock);
	run_waiter(w);
}

static int deliver_ev(void *cbpara, void *para, int event, int fdtype)
{
	deliver(para);
	return 0;
}

static int deliver_tm(void *cbpara, void *obj, int event, int fdtype)
{
	deliver(iotimer_para(obj));
	return 0;
}

/* Puts w on the ready ring and posts it to its thread; caller holds
 * d->lock.  A post that fails (core stopped, the thread gone) leaves it
 * for epcore_free(). */
static void dispatch(struct ep__dns *d, struct waiter *w)
{
	ready_add(d, w);
	if (d->dying)
		return;
	if (w->kind == EPT_EPUMP || w->kind == EPT_WORKER)
		(void)epcore_post(d->core, w->kind, w->index, IOE_USER_DEFINED,
		                  w, deliver_ev, d);
	else
		(void)iotimer_start(d->core, 0, 0, w, deliver_tm, d);
}

static int copy_addrs(struct waiter *w, const dns_addr_t *a, int n)
{
	if (n == 0)
		return 0;
	w->addrs = malloc((size_t)n * sizeof(*a));
	if (w->addrs == NULL)
		return -1;
	memcpy(w->addrs, a, (size_t)n * sizeof(*a));
	w->naddrs = n;
	return 0;
}

/* ---- the cache ---- */

static void lru_unlink(struct ep__dns *d, struct centry *c)
{
	if (c->lprev)
		c->lprev->lnext = c->lnext;
	else
		d->lru_head = c->lnext;
	if (c->lnext)
		c->lnext->lprev = c->lprev;
	else
		d->lru_tail = c->lprev;
	c->lnext = c->lprev = NULL;
}

static void lru_front(struct ep__dns *d, struct centry *c)
{
	c->lprev = NULL;
	c->lnext = d->lru_head;
	if (d->lru_head)
		d->lru_head->lprev = c;
	d->lru_head = c;
	if (d->lru_tail == NULL)
		d->lru_tail = c;
}

static void cache_del(struct ep__dns *d, struct centry *c)
{
	struct centry **pp = &d->cache[hash_key(c->key)];

	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	lru_unlink(d, c);
	d->ncache--;
	free(c->key);
	free(c->addrs);
	free(c);
}

static struct centry *cache_get(struct ep__dns *d, const char *key,
                                uint64_t now)
{
	struct centry *c;

	for (c = d->cache[hash_key(key)]; c != NULL; c = c->hnext)
		if (strcmp(c->key, key) == 0)
			break;
	if (c == NULL)
		return NULL;
	if (now >= c->expire_ms) {
		cache_del(d, c);
		return NULL;
	}
	lru_unlink(d, c);
	lru_front(d, c);
	return c;
}

static void cache_put(struct ep__dns *d, const char *key,
                      const dns_addr_t *a, int n)
{
	uint64_t now = ep__now_ms(), minttl = UINT32_MAX;
	struct centry *c, *old;
	uint32_t h = hash_key(key);
	int i;

	for (i = 0; i < n; i++)
		if (a[i].ttl < minttl)
			minttl = a[i].ttl;
	if (n == 0 || minttl == 0)
		return;
	for (old = d->cache[h]; old != NULL; old = old->hnext)
		if (strcmp(old->key, key) == 0)
			break;
	if (old != NULL)
		cache_del(d, old);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->key = strdup(key);
	c->addrs = malloc((size_t)n * sizeof(*a));
	if (c->key == NULL || c->addrs == NULL) {
		free(c->key);
		free(c->addrs);
		free(c);
		return;
	}
	memcpy(c->addrs, a, (size_t)n * sizeof(*a));
	c->naddrs = n;
	c->born_ms = now;
	c->expire_ms = now + minttl * 1000u;
	c->hnext = d->cache[h];
	d->cache[h] = c;
	lru_front(d, c);
	if (++d->ncache > DNS_CACHE_MAX)
		cache_del(d, d->lru_tail);
}

/* ---- lookups ---- */

static int map_status(int st)
{
	switch (st) {
	case ARES_SUCCESS:      return DNS_OK;
	case ARES_ENOTFOUND:
	case ARES_ENONAME:      return DNS_ENONAME;
	case ARES_ENODATA:      return DNS_ENODATA;
	case ARES_ESERVFAIL:
	case ARES_ECONNREFUSED: return DNS_ESERVFAIL; /* every server failed */
	case ARES_ETIMEOUT:     return DNS_ETIMEOUT;
	case ARES_EREFUSED:     return DNS_EREFUSED;
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION: return DNS_ECANCELED;
	default:                return DNS_EFAIL;
	}
}

static void lookup_unlink(struct ep__dns *d, struct lookup *lk)
{
	struct lookup **pp = &d->lk[hash_key(lk->key)];

	while (*pp != NULL && *pp != lk)
		pp = &(*pp)->hnext;
	if (*pp == lk) {
		*pp = lk->hnext;
		d->nlookups--;
	}
}

/* c-ares's answer (with d->lock held: it runs inside ares_*()). */
static void gai_done(void *arg, int status, int timeouts,
                     struct ares_addrinfo *ai)
{
	struct lookup *lk = arg;
	struct ep__dns *d = lk->dns;
	dns_addr_t addrs[DNS_MAX_ADDRS];
	struct ares_addrinfo_node *nd;
	struct waiter *w, *next;
	int n = 0, st = map_status(status), pass;

	(void)timeouts;
	for (pass = 0; st == DNS_OK && ai != NULL && pass < 2; pass++) {
		int fam = pass == 0 ? AF_INET6 : AF_INET;

		for (nd = ai->nodes; nd != NULL && n < DNS_MAX_ADDRS;
		     nd = nd->ai_next) {
			dns_addr_t *a = &addrs[n];
			int k;

			if (nd->ai_family != fam || nd->ai_addr == NULL)
				continue;
			memset(a, 0, sizeof(*a));
			a->family = fam;
			a->ttl = nd->ai_ttl > 0 ? (uint32_t)nd->ai_ttl : 0;
			if (fam == AF_INET6)
				memcpy(a->addr, &((struct sockaddr_in6 *)
				       nd->ai_addr)->sin6_addr, 16);
			else
				memcpy(a->addr, &((struct sockaddr_in *)
				       nd->ai_addr)->sin_addr, 4);
			for (k = 0; k < n; k++) /* one per address */
				if (addrs[k].family == fam &&
				    memcmp(addrs[k].addr, a->addr, 16) == 0)
					break;
			if (k == n)
				n++;
		}
	}
	if (ai != NULL)
		ares_freeaddrinfo(ai);
	if (st == DNS_OK && n == 0)
		st = DNS_ENODATA;
	lookup_unlink(d, lk);
	if (st == DNS_OK && !d->dying)
		cache_put(d, lk->key, addrs, n);
	for (w = lk->waiters; w != NULL; w = next) {
		next = w->next;
		w->status = st;
		if (st == DNS_OK && copy_addrs(w, addrs, n) < 0)
			w->status = DNS_EFAIL;
		dispatch(d, w);
	}
	free(lk->key);
	free(lk);
}

static void lib_ref(bool up)
{
	pthread_mutex_lock(&lib_lock);
	if (up && lib_refs++ == 0)
		(void)ares_library_init(ARES_LIB_INIT_ALL);
	if (!up && --lib_refs == 0)
		ares_library_cleanup();
	pthread_mutex_unlock(&lib_lock);
}

/* Creates the channel from the configuration; caller holds d->lock. */
static int ch_start(struct ep__dns *d)
{
	struct ares_options o;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS, r;
	char lookups[] = "fb", devnull[] = "/dev/null";

	if (d->ch_ok)
		return 0;
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = d;
	o.lookups = lookups;
	if (d->timeout_ms > 0) {
		o.timeout = d->timeout_ms;
		mask |= ARES_OPT_TIMEOUTMS;
	}
	if (d->tries > 0) {
		o.tries = d->tries;
		mask |= ARES_OPT_TRIES;
	}
	if (d->servers != NULL) {
		o.resolvconf_path = devnull; /* ours replace resolv.conf */
		mask |= ARES_OPT_RESOLVCONF;
		/* One server: nobody to fail over to, so let its SERVFAIL or
		 * REFUSED through as such (c-ares 1.18 otherwise reports
		 * ECONNREFUSED for both). */
		if (d->servers->next == NULL) {
			o.flags = ARES_FLAG_NOCHECKRESP;
			mask |= ARES_OPT_FLAGS;
		}
	}
	lib_ref(true);
	r = ares_init_options(&d->ch, &o, mask);
	if (r != ARES_SUCCESS) {
		lib_ref(false);
		errno = r == ARES_ENOMEM ? ENOMEM : EIO;
		return -1;
	}
	ares_set_socket_functions(d->ch, &sockfns, d);
	if (d->servers != NULL &&
	    ares_set_servers_ports(d->ch, d->servers) != ARES_SUCCESS) {
		ares_destroy(d->ch);
		lib_ref(false);
		errno = EIO;
		return -1;
	}
	d->ch_ok = true;
	return 0;
}

/* Drops an idle channel so the next query starts one with the new
 * configuration; caller holds d->lock.  -1 with EBUSY if queries fly. */
static int ch_idle_reset(struct ep__dns *d)
{
	if (d->nlookups > 0) {
		errno = EBUSY;
		return -1;
	}
	if (d->ch_ok) {
		ares_destroy(d->ch);
		lib_ref(false);
		d->ch_ok = false;
		if (d->tid != 0)
			(void)iotimer_stop(d->core, d->tid);
		d->tid = 0;
	}
	return 0;
}

/* The cache key of a host name (lower case, no final dot), or NULL with
 * EINVAL for a name that is not one. */
static char *name_key(const char *name)
{
	size_t len = strlen(name), i, lab = 0;
	bool alpha = false;
	char *k;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (lab == 0) {
				errno = EINVAL;
				return NULL;
			}
			lab = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_') {
			errno = EINVAL;
			return NULL;
		}
		if (!isdigit(c))
			alpha = true;
		if (++lab > 63) {
			errno = EINVAL;
			return NULL;
		}
	}
	if (!alpha) { /* "1.2.3": a broken literal, not a name */
		errno = EINVAL;
		return NULL;
	}
	k = strndup(name, len);
	if (k == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		k[i] = (char)tolower((unsigned char)k[i]);
	return k;
}

static int literal(const char *name, dns_addr_t *a)
{
	char buf[64];
	size_t len = strlen(name);

	memset(a, 0, sizeof(*a));
	a->ttl = UINT32_MAX;
	if (inet_pton(AF_INET, name, a->addr) == 1) {
		a->family = AF_INET;
		return 1;
	}
	if (len >= 2 && len < sizeof(buf) + 2 && name[0] == '[' &&
	    name[len - 1] == ']') {
		memcpy(buf, name + 1, len - 2);
		buf[len - 2] = '\0';
		name = buf;
	}
	if (inet_pton(AF_INET6, name, a->addr) == 1) {
		a->family = AF_INET6;
		return 1;
	}
	return 0;
}

int dns_query(epcore_t *core, const char *name, DnsCB *cb, void *cbobj)
{
	struct ep__thread *self;
	struct ep__dns *d;
	struct waiter *w;
	struct lookup *lk;
	struct centry *c;
	dns_addr_t lit;
	char *key = NULL;
	uint64_t now;

	if (core == NULL || name == NULL || cb == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (ep__stopping(core)) {
		errno = ECANCELED;
		return -1;
	}
	d = core->dns;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -1;
	w->dns = d;
	w->cb = cb;
	w->cbobj = cbobj;
	w->name = strdup(name);
	if (w->name == NULL) {
		free(w);
		return -1;
	}
	self = ep__self_in(core);
	if (self != NULL) {
		w->kind = self->kind;
		w->index = self->index;
	}
	if (literal(name, &lit)) {
		w->status = DNS_OK;
		w->from_cache = 1;
		if (copy_addrs(w, &lit, 1) < 0) {
			waiter_free(w);
			return -1;
		}
		pthread_mutex_lock(&d->lock);
		dispatch(d, w);
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	key = name_key(name);
	if (key == NULL) {
		waiter_free(w);
		return -1;
	}
	now = ep__now_ms();
	pthread_mutex_lock(&d->lock);
	c = cache_get(d, key, now);
	if (c != NULL) {
		uint32_t gone = (uint32_t)((now - c->born_ms) / 1000u);
		int i;

		if (copy_addrs(w, c->addrs, c->naddrs) < 0)
			goto fail;
		for (i = 0; i < w->naddrs; i++)
			w->addrs[i].ttl = w->addrs[i].ttl > gone
			                  ? w->addrs[i].ttl - gone : 0;
		w->status = DNS_OK;
		w->from_cache = 1;
		dispatch(d, w);
		pthread_mutex_unlock(&d->lock);
		free(key);
		return 0;
	}
	for (lk = d->lk[hash_key(key)]; lk != NULL; lk = lk->hnext)
		if (strcmp(lk->key, key) == 0)
			break;
	if (lk != NULL) { /* one lookup in flight for this name: join it */
		w->next = lk->waiters;
		lk->waiters = w;
		pthread_mutex_unlock(&d->lock);
		free(key);
		return 0;
	}
	if (ch_start(d) < 0)
		goto fail;
	lk = calloc(1, sizeof(*lk));
	if (lk == NULL)
		goto fail;
	{
		struct ares_addrinfo_hints hints;
		uint32_t h = hash_key(key);

		lk->dns = d;
		lk->key = key;
		lk->waiters = w;
		lk->hnext = d->lk[h];
		d->lk[h] = lk;
		d->nlookups++;
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_flags = ARES_AI_NOSORT;
		/* May answer at once (/etc/hosts): gai_done posts it. */
		ares_getaddrinfo(d->ch, key, NULL, &hints, gai_done, lk);
		resched(d);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
fail:
	{
		int e = errno;

		pthread_mutex_unlock(&d->lock);
		free(key);
		waiter_free(w);
		errno = e;
		return -1;
	}
}

int epcore_dnsrv_add(epcore_t *core, const char *ip, int port)
{
	struct ares_addr_port_node *n;
	struct ep__dns *d;
	unsigned char buf[16];

	if (core == NULL || ip == NULL || port < 0 || port > 65535) {
		errno = EINVAL;
		return -1;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -1;
	if (inet_pton(AF_INET, ip, buf) == 1) {
		n->family = AF_INET;
		memcpy(&n->addr.addr4, buf, 4);
	} else if (inet_pton(AF_INET6, ip, buf) == 1) {
		n->family = AF_INET6;
		memcpy(&n->addr.addr6, buf, 16);
	} else {
		free(n);
		errno = EINVAL;
		return -1;
	}
	n->udp_port = n->tcp_port = port ? port : 53;
	d = core->dns;
	pthread_mutex_lock(&d->lock);
	if (ch_idle_reset(d) < 0) {
		pthread_mutex_unlock(&d->lock);
		free(n);
		errno = EBUSY;
		return -1;
	}
	if (d->stail != NULL)
		d->stail->next = n;
	else
		d->servers = n;
	d->stail = n;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int epcore_dns_config(epcore_t *core, int timeout_ms, int tries)
{
	struct ep__dns *d;

	if (core == NULL) {
		errno = EINVAL;
		return -1;
	}
	d = core->dns;
	pthread_mutex_lock(&d->lock);
	if (ch_idle_reset(d) < 0) {
		pthread_mutex_unlock(&d->lock);
		return -1;
	}
	if (timeout_ms > 0)
		d->timeout_ms = timeout_ms;
	if (tries > 0)
		d->tries = tries;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* ---- eptcp_connect() to a host name ---- */

#define NC_MAX_ADDRS 16

struct nconn {
	struct nconn *next, *prev;
	uint64_t token;
	epcore_t *core;
	uint64_t udev;              /* the device the caller holds */
	int port;
	int16_t epidx;              /* its epump, -1: the least loaded */
	int naddr, next_i;
	struct sockaddr_storage sa[NC_MAX_ADDRS];
	socklen_t salen[NC_MAX_ADDRS];
	uint64_t attempt;           /* the connecting device, or 0 */
	uint64_t tid;               /* the overall timeout, or 0 */
	int lasterr;
};

static struct nconn *nc_find(struct ep__dns *d, uint64_t token)
{
	struct nconn *nc;

	for (nc = d->nconns; nc != NULL; nc = nc->next)
		if (nc->token == token)
			return nc;
	return NULL;
}

/* Caller holds nclock. */
static void nc_remove(struct ep__dns *d, struct nconn *nc)
{
	if (nc->prev)
		nc->prev->next = nc->next;
	else
		d->nconns = nc->next;
	if (nc->next)
		nc->next->prev = nc->prev;
	if (nc->tid != 0 && !d->dying)
		(void)iotimer_stop(nc->core, nc->tid);
	if (nc->attempt != 0 && !d->dying)
		(void)iodev_close_by(nc->core, nc->attempt);
	free(nc);
}

/* Binds the caller's device (held) where the connect was asked. */
static int nc_bind(struct nconn *nc, struct iodev *u)
{
	epcore_t *core = nc->core;
	int e;

	pthread_mutex_lock(&core->lock);
	e = ep__dev_bind_locked(u, nc->udev,
	                        nc->epidx >= 0 ? BIND_GIVEN_EPUMP
	                                       : BIND_ONE_EPUMP, nc->epidx);
	pthread_mutex_unlock(&core->lock);
	return e;
}

static void nc_fail(struct ep__dns *d, struct nconn *nc, int err)
{
	struct iodev *u = ep__dev_lookup(nc->core, nc->udev);

	if (u != NULL && ep__dev_hold(u, nc->udev) == 0) {
		int e;

		u->error = err;
		atomic_store(&u->pflags, 0); /* the eventfd: nothing to poll */
		e = nc_bind(nc, u);
		ep__dev_unhold(u, nc->udev);
		if (e == 0)
			ep__dev_deliver(u, nc->udev, IOE_CONNFAIL);
	}
	nc_remove(d, nc);
}

static int nc_connected_ev(void *cbpara, void *para, int event, int fdtype)
{
	epcore_t *core = cbpara;
	struct iodev *dev = ep__dev_lookup(core, ep__self->cur_dev);

	if (dev != NULL) {
		(void)iodev_add_notify(dev, RWF_READ);
		dev->handler(dev->cbpara, dev, IOE_CONNECTED, dev->fdtype);
	}
	return 0;
}

static void nc_success(struct ep__dns *d, struct nconn *nc, iodev_t *adev)
{
	struct iodev *u = ep__dev_lookup(nc->core, nc->udev);
	uint64_t udev = nc->udev;
	epcore_t *core = nc->core;
	int e = ENOENT;

	if (u != NULL && ep__dev_hold(u, udev) == 0) {
		/* The connected socket takes the placeholder's fd number. */
		if (dup3(adev->fd, u->fd, O_CLOEXEC) >= 0) {
			u->error = 0;
			atomic_store(&u->pflags, PF_SOCKET);
			e = nc_bind(nc, u);
		} else {
			e = errno;
		}
		ep__dev_unhold(u, udev);
	}
	iodev_close(adev);
	nc->attempt = 0;
	if (e == 0) {
		nc_remove(d, nc);
		/* READ interest and IOE_CONNECTED on the device's thread, in
		 * that order, before any readiness. */
		if (iodev_post(core, udev, IOE_USER_DEFINED, NULL,
		               nc_connected_ev, core) < 0)
			(void)iodev_close_by(core, udev);
	} else if (u != NULL && ep__dev_lookup(core, udev) != NULL) {
		nc_fail(d, nc, e);
	} else {
		nc_remove(d, nc); /* the caller closed it */
	}
}

static int nc_attempt(void *cbpara, void *obj, int event, int fdtype);

/* Starts the next address, or fails; caller holds nclock. */
static void nc_try(struct ep__dns *d, struct nconn *nc)
{
	while (nc->next_i < nc->naddr) {
		int i = nc->next_i++;
		iodev_t *dev;

		if (ep__dev_lookup(nc->core, nc->udev) == NULL) {
			nc_remove(d, nc); /* closed by the caller meanwhile */
			return;
		}
		dev = ep__connect(nc->core, (struct sockaddr *)&nc->sa[i],
		                  nc->salen[i], FDT_CONNECTED, NULL, nc_attempt,
		                  (void *)(uintptr_t)nc->token, 0);
		if (dev != NULL) {
			nc->attempt = iodev_id(dev);
			return;
		}
		nc->lasterr = errno;
	}
	nc_fail(d, nc, nc->lasterr ? nc->lasterr : ENOENT);
}

static int nc_attempt(void *cbpara, void *obj, int event, int fdtype)
{
	iodev_t *dev = obj;
	struct ep__dns *d = dev->core->dns;
	uint64_t token = (uintptr_t)cbpara;
	struct nconn *nc;

	if (event != IOE_CONNECTED && event != IOE_CONNFAIL)
		return 0; /* readiness before the hand-over: the device's */
	pthread_mutex_lock(&d->nclock);
	nc = nc_find(d, token);
	if (nc == NULL || nc->attempt != iodev_id(dev)) {
		pthread_mutex_unlock(&d->nclock);
		iodev_close(dev);
		return 0;
	}
	if (event == IOE_CONNECTED) {
		nc_success(d, nc, dev);
	} else {
		nc->lasterr = iodev_error(dev);
		nc->attempt = 0;
		iodev_close(dev);
		nc_try(d, nc);
	}
	pthread_mutex_unlock(&d->nclock);
	return 0;
}

static int nc_timeout(void *cbpara, void *obj, int event, int fdtype)
{
	struct ep__dns *d = cbpara;
	uint64_t token = (uintptr_t)iotimer_para(obj);
	struct nconn *nc;

	pthread_mutex_lock(&d->nclock);
	nc = nc_find(d, token);
	if (nc != NULL) {
		nc->tid = 0;
		nc_fail(d, nc, ETIMEDOUT);
	}
	pthread_mutex_unlock(&d->nclock);
	return 0;
}

static void nc_resolved(void *cbobj, const dns_result_t *res)
{
	uint64_t token = (uintptr_t)cbobj;
	struct ep__dns *d;
	struct nconn *nc;
	int i, i6 = 0, i4 = 0, n6 = 0, n4 = 0;

	if (ep__self == NULL) /* from epcore_free: nothing left to tell */
		return;
	d = ep__self->core->dns;
	pthread_mutex_lock(&d->nclock);
	nc = nc_find(d, token);
	if (nc == NULL) {
		pthread_mutex_unlock(&d->nclock);
		return;
	}
	if (res->status != DNS_OK) {
		nc_fail(d, nc, res->status == DNS_ETIMEOUT ? ETIMEDOUT
		               : res->status == DNS_ENONAME ||
		                 res->status == DNS_ENODATA ? ENOENT
		               : res->status == DNS_ECANCELED ? ECANCELED
		               : EAGAIN);
		pthread_mutex_unlock(&d->nclock);
		return;
	}
	for (i = 0; i < res->naddrs; i++)
		if (res->addrs[i].family == AF_INET6)
			n6++;
		else
			n4++;
	/* IPv6 first, then the families alternate (RFC 8305, 4). */
	while (nc->naddr < NC_MAX_ADDRS && (i6 < n6 || i4 < n4)) {
		bool six = i6 < n6 && (i4 >= n4 || nc->naddr % 2 == 0);
		const dns_addr_t *a = &res->addrs[six ? i6++ : n6 + i4++];
		struct sockaddr_storage *ss = &nc->sa[nc->naddr];

		memset(ss, 0, sizeof(*ss));
		if (six) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)nc->port);
			memcpy(&s6->sin6_addr, a->addr, 16);
			nc->salen[nc->naddr] = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)nc->port);
			memcpy(&s4->sin_addr, a->addr, 4);
			nc->salen[nc->naddr] = sizeof(*s4);
		}
		nc->naddr++;
	}
	nc_try(d, nc);
	pthread_mutex_unlock(&d->nclock);
}

iodev_t *ep__connect_name(epcore_t *core, const char *host, int port,
                          void *para, IOHandler *handler, void *cbpara,
                          int timeout_ms)
{
	struct ep__thread *self = ep__self_in(core);
	struct ep__dns *d = core->dns;
	struct nconn *nc;
	iodev_t *dev;
	char *key;
	int fd, e;

	key = name_key(host); /* EINVAL before anything is made */
	if (key == NULL)
		return NULL;
	free(key);
	if (ep__stopping(core)) {
		errno = ECANCELED;
		return NULL;
	}
	nc = calloc(1, sizeof(*nc));
	if (nc == NULL)
		return NULL;
	/* A placeholder fd until a socket connects: an eventfd never
	 * reports anything the device does not ask for. */
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0) {
		free(nc);
		return NULL;
	}
	dev = ep__dev_make(core, fd, FDT_CONNECTED, 0, para, handler, cbpara);
	if (dev == NULL) {
		close(fd);
		free(nc);
		errno = ENOMEM;
		return NULL;
	}
	atomic_store(&dev->pflags, 0);
	nc->core = core;
	nc->udev = iodev_id(dev);
	nc->port = port;
	nc->epidx = -1;
	if (self != NULL)
		nc->epidx = (int16_t)(self->ep != NULL ? self->ep->index
		                                       : self->cur_src);
	pthread_mutex_lock(&d->nclock);
	nc->token = ++d->nctoken;
	nc->next = d->nconns;
	if (d->nconns)
		d->nconns->prev = nc;
	d->nconns = nc;
	if (timeout_ms > 0) {
		nc->tid = iotimer_start(core, timeout_ms, 0,
		                        (void *)(uintptr_t)nc->token,
		                        nc_timeout, d);
		if (nc->tid == 0)
			goto fail;
	}
	pthread_mutex_unlock(&d->nclock);
	if (dns_query(core, host, nc_resolved,
	              (void *)(uintptr_t)nc->token) < 0) {
		pthread_mutex_lock(&d->nclock);
		goto fail;
	}
	return dev;
fail:
	e = errno;
	nc_remove(d, nc);
	pthread_mutex_unlock(&d->nclock);
	iodev_close(dev);
	errno = e;
	return NULL;
}

/* ---- lifecycle ---- */

struct ep__dns *ep__dns_new(epcore_t *core)
{
	struct ep__dns *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->core = core;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->nclock, NULL);
	d->ready.next = d->ready.prev = &d->ready;
	return d;
}

void ep__dns_free(epcore_t *core)
{
	struct ep__dns *d = core->dns;
	struct ares_addr_port_node *s, *sn;
	int i;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	d->dying = true;
	pthread_mutex_unlock(&d->lock);
	pthread_mutex_lock(&d->nclock);
	while (d->nconns != NULL)
		nc_remove(d, d->nconns);
	pthread_mutex_unlock(&d->nclock);
	pthread_mutex_lock(&d->lock);
	if (d->ch_ok) {
		ares_destroy(d->ch); /* lookups end: EDESTRUCTION, to ready */
		lib_ref(false);
		d->ch_ok = false;
	}
	pthread_mutex_unlock(&d->lock);
	/* Everything not run yet runs now, cancelled, on this thread. */
	while (d->ready.next != &d->ready) {
		struct waiter *w = d->ready.next;

		w->prev->next = w->next;
		w->next->prev = w->prev;
		w->status = DNS_ECANCELED;
		run_waiter(w);
	}
	while (d->lru_head != NULL)
		cache_del(d, d->lru_head);
	for (s = d->servers; s != NULL; s = sn) {
		sn = s->next;
		free(s);
	}
	for (i = 0; i < DNS_NBUCKET; i++) /* not expected: destroy ended them */
		while (d->lk[i] != NULL) {
			struct lookup *lk = d->lk[i];
			struct waiter *w, *wn;

			d->lk[i] = lk->hnext;
			for (w = lk->waiters; w != NULL; w = wn) {
				wn = w->next;
				w->status = DNS_ECANCELED;
				run_waiter(w);
			}
			free(lk->key);
			free(lk);
		}
	free(d->fdmap);
	free(d->wantw);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->nclock);
	free(d);
	core->dns = NULL;
}
