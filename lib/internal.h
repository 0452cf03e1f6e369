/*
 * internal.h - structures and helpers shared inside libepump (never
 * installed).  Internal names start with ep__; nothing here is exported.
 *
 * Threading, in one paragraph: an epump thread owns its poller, its timer
 * timer wheel and its inbox's consumer side; a worker owns its queue's consumer
 * side.  Other threads talk to them only through those queues.  A device
 * or timer is named by a 64-bit id (generation << 32 | slot); its memory
 * lives in a slab that is never freed before epcore_free(), so a stale
 * pointer or id is always safe to check against the object's atomic tag.
 */
#ifndef EP_INTERNAL_H
#define EP_INTERNAL_H

#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "epump.h"
#include "poller.h"

#define EP__MAX_EPUMPS  255 /* a timer keeps epump + 1 in a byte */
#define EP__MAX_WORKERS 1024
#define EP__CACHELINE   64

/* ---- ids and slabs (slab.c) ---- */

#define EP__SLAB_CHUNK_SHIFT 12
#define EP__SLAB_CHUNK       (1u << EP__SLAB_CHUNK_SHIFT)
#define EP__SLAB_MAXCHUNKS   4096 /* 16M objects per table */
#define EP__CACHE_MAX        64   /* free slots a thread keeps per table */

/*
 * Every slab object starts with this header.  tag = generation << 8 |
 * state bits in bits 0-7 (and 40-63: the owner's, see DEVB_*); the
 * generation is bumped when the object is freed, so an id
 * (generation << 32 | slot) names one life of the slot only.  A new life
 * starts with the generation alone.
 */
struct ep__obj {
	_Atomic uint64_t tag;
	uint32_t slot;
};

#define EP__TAG_GEN(tag)   ((uint32_t)((tag) >> 8))
#define EP__TAG_GENBITS    ((uint64_t)0xffffffffu << 8)
#define EP__ID_GEN(id)     ((uint32_t)((id) >> 32))
#define EP__ID_SLOT(id)    ((uint32_t)(id))
#define EP__MKID(gen, slot) (((uint64_t)(gen) << 32) | (uint32_t)(slot))

struct ep__slab {
	size_t objsize;
	_Atomic(char *) *chunks;  /* EP__SLAB_MAXCHUNKS pointers */
	pthread_mutex_t lock;     /* guards the fields below */
	/* Free slots as a bitmap (bit set: free), one word per 64 slots,
	 * with a summary bit per word that has a bit set: slots go out
	 * lowest first, so after a burst of frees in any order the next
	 * objects handed out lie in address order (sequential memory). */
	uint64_t *freebits;
	uint64_t *freesum;
	uint32_t nwords;          /* words in freebits (64 per chunk) */
	uint32_t sumhint;         /* no summary bit below this word */
	uint32_t nfree;
	uint32_t next;            /* first slot never handed out */
	uint32_t ready;           /* slots below it have their pages */
	bool noprefault;          /* MADV_POPULATE_WRITE is not known */
};

/* A thread's private stock of free slots of one slab. */
struct ep__slabcache {
	uint32_t n;
	uint32_t slot[EP__CACHE_MAX];
};

/* A reused object keeps its last life's fields (its first life is zero):
 * the caller sets every one. */
int   ep__slab_init(struct ep__slab *s, size_t objsize);
void  ep__slab_destroy(struct ep__slab *s);
void *ep__slab_take(struct ep__slab *s, struct ep__slabcache *c);
void  ep__slab_free(struct ep__slab *s, struct ep__slabcache *c, void *obj);
/* The object at slot (live or not), or NULL past the chunks made so far.
 * Inline: every event looks its device up through it. */
static inline void *ep__slab_at(struct ep__slab *s, uint32_t slot)
{
	uint32_t ci = slot >> EP__SLAB_CHUNK_SHIFT;
	char *chunk;

	if (ci >= EP__SLAB_MAXCHUNKS)
		return NULL;
	chunk = atomic_load_explicit(&s->chunks[ci], memory_order_acquire);
	if (chunk == NULL)
		return NULL;
	return chunk + (size_t)(slot & (EP__SLAB_CHUNK - 1)) * s->objsize;
}
/* The object at a slot the calling thread holds in its cache: its chunk
 * exists (the slab's lock, taken to fill the cache, ordered it). */
static inline void *ep__slab_held(struct ep__slab *s, uint32_t slot)
{
	return atomic_load_explicit(&s->chunks[slot >> EP__SLAB_CHUNK_SHIFT],
	                            memory_order_relaxed) +
	       (size_t)(slot & (EP__SLAB_CHUNK - 1)) * s->objsize;
}
/* Starts a slot's new life: its tag holds the generation (>= 1) and no
 * state bits; the other fields are the caller's to set. */
static inline void *ep__slab_renew(struct ep__obj *o)
{
	uint64_t tag = atomic_load_explicit(&o->tag, memory_order_relaxed);

	if (EP__TAG_GEN(tag) == 0)
		tag = (uint64_t)1 << 8; /* first life: still zero from mmap */
	atomic_store_explicit(&o->tag, tag & EP__TAG_GENBITS,
	                      memory_order_relaxed);
	return o;
}
/* The tag of a held slot's new life from its tag now, for a caller that
 * stores it (with its state bits, release) as the last step of setting
 * the object up.  A free slot's tag is its generation alone
 * (ep__slab_free), or 0 in its first life: until that store the slot
 * reads as no live object. */
static inline uint64_t ep__slab_newtag(uint64_t tag)
{
	return tag != 0 ? tag : (uint64_t)1 << 8;
}
/*
 * An object whose tag holds its generation and no state bits (its other
 * fields are its last life's: the caller sets them); the caller sets the
 * state.  c: the calling thread's cache, or NULL.  Inline: a cache hit is
 * the first step of every device and timer.
 */
static inline void *ep__slab_alloc(struct ep__slab *s,
                                   struct ep__slabcache *c)
{
	if (c == NULL || c->n == 0)
		return ep__slab_take(s, c);
	return ep__slab_renew(ep__slab_held(s, c->slot[--c->n]));
}
void  ep__slab_flush(struct ep__slab *s, struct ep__slabcache *c);
/* Calls fn on every slot ever handed out (live or not); single-threaded use. */
void  ep__slab_foreach(struct ep__slab *s, void (*fn)(void *obj, void *arg),
                       void *arg);

/* ---- time (clock.c) ---- */
uint64_t ep__now_ms(void);

/* ---- event rings (evq.c) ---- */

enum {
	EV_DEV = 1,     /* device readiness: id, event */
	EV_TIMER,       /* timer expiry: id */
	EV_USER,        /* user event: handler, cbpara, para, event */
	EV_DEVUSER,     /* user event serialized with a device: id + user */
	/* epump inbox only */
	MSG_DEV_ADD,    /* register id with the poller */
	MSG_DEV_MOD,    /* apply id's interest flags to the poller */
	MSG_DEV_CLOSE,  /* deregister id, close it when the last epump has */
	MSG_DEV_REARM,  /* level-triggered backends: unmask id's reads */
	MSG_TIMER_ARM,  /* put timer id on the wheel */
	MSG_TIMER_DEL,  /* take stopped timer id off the wheel, free it */
	MSG_TIMER_MOVE, /* restart timer id: new deadline (ms) in t_ns */
};

struct ep__ev {
	uint64_t id;
	uint64_t t_ns;          /* when queued, if the stats are on; else 0 */
	IOHandler *handler;
	void *cbpara;
	void *para;
	int32_t event;
	uint16_t type;
	int16_t src;            /* epump index that produced it, or -1 */
};

struct ep__evq {
	struct ep__ev *ring;
	uint32_t cap;           /* power of two, or 0 */
	uint32_t head, tail;    /* free-running; count = tail - head */
};

static inline uint32_t ep__evq_len(const struct ep__evq *q)
{
	return q->tail - q->head;
}
int  ep__evq_push(struct ep__evq *q, const struct ep__ev *ev);
int  ep__evq_reserve(struct ep__evq *q, uint32_t n);
bool ep__evq_pop(struct ep__evq *q, struct ep__ev *ev);
void ep__evq_free(struct ep__evq *q);

/* ---- per-thread figures for the stats socket (stats.c) ---- */

/* Thread states (epump-stats(7): epump_thread_state). */
enum { TS_IDLE = 0, TS_POLL, TS_RUN, TS_HANDLER };
/* What a handler runs for. */
enum { TW_NONE = 0, TW_DEV, TW_TIMER, TW_USER };

/* A log-linear histogram of durations: 4 buckets per power of two of
 * microseconds, from 1 us to about 2^27 us (134 s). */
#define EP__HIST_BUCKETS 112
struct ep__hist {
	_Atomic uint64_t n[EP__HIST_BUCKETS];
};

/*
 * Written only by the thread it describes (relaxed stores, no shared
 * read-modify-write), read by the stats thread.  The state fields are
 * kept only while the core's stats are on.
 */
struct ep__tstat {
	_Atomic int32_t tid;
	_Atomic uint32_t state;     /* TS_* */
	_Atomic uint32_t what;      /* TW_*, in TS_HANDLER */
	_Atomic uint64_t what_id;   /* device or timer id, or user event */
	_Atomic uint64_t since_ns;  /* when the state began */
	_Atomic uint64_t busy_ns;
	_Atomic uint64_t wait_ns;
	_Atomic uint32_t qmax;      /* workers: deepest queue taken */
	struct ep__hist qwait;      /* workers: queueing to handler start */
	struct ep__hist hrun;       /* workers: handler run time */
};

static inline void ep__store64(_Atomic uint64_t *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_relaxed);
}

static inline void ep__add64(_Atomic uint64_t *p, uint64_t v)
{
	/* Owner-only counter: a load and a store, no locked instruction. */
	atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed)
	                      + v, memory_order_relaxed);
}

uint64_t ep__now_ns(void);
void ep__hist_add(struct ep__hist *h, uint64_t ns);

/* ---- per-thread context ---- */

struct epump;
struct worker;
struct ep__mlisten;

struct ep__thread {
	epcore_t *core;
	int kind;               /* EPT_EPUMP or EPT_WORKER */
	int index;
	struct epump *ep;       /* set on epump threads */
	struct worker *wk;      /* set on worker threads */
	int cur_src;            /* epump behind the event being handled, -1 */
	uint64_t cur_dev;       /* device whose handler runs now, 0 if none */
	struct ep__tstat *ts;   /* this thread's figures */
	uint64_t t_woke;        /* stats on: when the epump's wait ended, until
	                         * the first handler after it takes it; 0 */
	struct ep__slabcache devcache;
	struct ep__slabcache tmcache;
};

/* The calling library thread, NULL on others.  initial-exec here as on
 * the definition: the library has static TLS either way (the linker
 * relaxes the access), and without it the compiler treats every read as
 * a call to __tls_get_addr, spilling registers around it. */
extern __thread struct ep__thread *ep__self
    __attribute__((tls_model("initial-exec")));

static inline struct ep__thread *ep__self_in(const epcore_t *core)
{
	struct ep__thread *t = ep__self;
	return (t != NULL && t->core == core) ? t : NULL;
}

/* ---- devices (iodev.c) ---- */

/* Device tag state bits. */
#define DEV_LIVE    0x01u
#define DEV_BUSY    0x02u   /* a thread holds it: a handler runs, or bind */
#define DEV_CLOSING 0x04u   /* closed; the holder or an epump finishes it */
#define DEV_RERUN   0x08u   /* BIND_ALL without workers: run again */

/* pflags: interest and state read by the epump when classifying. */
#define PF_READ       RWF_READ
#define PF_WRITE      RWF_WRITE
#define PF_LISTEN     0x10u
#define PF_CONNECTING 0x20u
#define PF_NOCLOSE    0x40u   /* the fd is not ours to close */
#define PF_REGFILE    0x80u   /* no poller takes it: IOE_READ posted once */
#define PF_SOCKET     0x100u  /* send with MSG_NOSIGNAL */
#define PF_LINGER     0x200u  /* iodev_linger_close: internal handler */
#define PF_UNLINK     0x400u  /* unix listener: unlink its path at close */
#define PF_DGRAM      0x800u  /* datagram socket: iodev_send never queues */
#define PF_PEER_EOF   0x1000u /* lingering: the peer closed, queue pending */

/* Why reads are masked on a level-triggered backend (dev->ltmask). */
#define LT_INFLIGHT 0x1u      /* READ queued to a worker, not yet run */
#define LT_EOF      0x2u      /* end of file reported: like an edge, once */

/*
 * Where a device is polled lives in its tag, above the generation: bits
 * 40-47 hold DEVB_*, bits 48-55 the epump of a DEVB_ONE device.  So one
 * compare-and-swap binds a device only if it is still the same life, not
 * closing and not bound yet, and a reader gets the state and the epump in
 * one load.  Once DEV_CLOSING is set the state no longer changes, but for
 * bind_all() undoing itself under core->lock.  A new life starts at
 * DEVB_NONE (the slab clears all but the generation).
 */
#define DEVB_NONE   0u
#define DEVB_ONE    1u        /* the tag's epump */
#define DEVB_ALL    2u        /* every epump; nregs of them hold it */
#define DEVB_PARKED 3u        /* waiting in core->parked for an epump */

#define EP__TAG_WHERE ((uint64_t)0xffff << 40)

static inline uint64_t ep__where(unsigned bound, int epump)
{
	return ((uint64_t)bound << 40) | ((uint64_t)(uint8_t)epump << 48);
}

static inline unsigned ep__tag_bound(uint64_t tag)
{
	return (unsigned)(tag >> 40) & 0xffu;
}

/* The epump of a DEVB_ONE tag. */
static inline int ep__tag_epump(uint64_t tag)
{
	return (int)((tag >> 48) & 0xffu);
}

struct iodev {
	/* What every event and every recv/send touches comes first, so that
	 * it shares as few cache lines as the 112-byte stride allows. */
	_Atomic uint64_t tag;       /* DEV_*, generation, DEVB_* and epump */
	uint32_t slot;
	_Atomic int32_t fd;         /* atomic: the stats thread reads it */
	_Atomic uint32_t pflags;
	_Atomic int32_t fdtype;
	IOHandler *handler;
	void *cbpara;
	void *para;
	_Atomic uint64_t bytes_in;  /* iodev_recv */
	_Atomic uint64_t bytes_out; /* iodev_send */
	_Atomic int16_t worker;     /* sticky worker, -1 until assigned */
	_Atomic uint8_t nregs;      /* DEVB_ALL: epumps still holding it */
	_Atomic uint8_t ltmask;     /* poll/select: LT_*; its epump(s) */
	_Atomic uint8_t sqlock;     /* guards sq (iodev_send from any thread) */
	struct ep__sendq *sq;       /* NULL until something is queued */
	epcore_t *core;
	_Atomic uint64_t timer;     /* connect timeout, accept pause, linger */
	_Atomic int32_t rerun_ev;
	int32_t error;              /* iodev_error() */
	/* stats, written by the device's thread (stats.c reads them) */
	_Atomic uint32_t born_s;    /* seconds since the core started */
	_Atomic uint32_t last_ms;   /* last event, ms since the core started */
};

/* The send queue (sendq.c): chunks of bytes the kernel did not take yet. */
struct ep__chunk {
	struct ep__chunk *next;
	uint32_t cap, off, len;     /* data[off, off + len) is queued */
	char data[];
};

struct ep__sendq {
	struct ep__chunk *head, *tail;
	size_t bytes;
	size_t limit;
};

#define EP__SENDQ_DEFAULT_LIMIT ((size_t)4 << 20)

int  ep__sendq_flush(struct iodev *dev);
void ep__sendq_free(struct iodev *dev);
void ep__dev_deliver(struct iodev *dev, uint64_t id, int event);
void ep__dev_apply(struct iodev *dev, uint64_t id);
int  ep__dev_bind_locked(struct iodev *dev, uint64_t id, int bindtype,
                         int epump);
/* The id of dev's current life if it is live and not closing, else 0.
 * Inline: every iodev_recv() and iodev_send() checks it. */
static inline uint64_t ep__dev_live_id(const struct iodev *dev)
{
	uint64_t tag = atomic_load_explicit(&dev->tag, memory_order_acquire);

	if ((tag & (DEV_LIVE | DEV_CLOSING)) != DEV_LIVE)
		return 0;
	return EP__MKID(EP__TAG_GEN(tag), dev->slot);
}
/* Where dev is polled (DEVB_*). */
static inline unsigned ep__dev_where(const struct iodev *dev)
{
	return ep__tag_bound(atomic_load(&dev->tag));
}
/* For calls that touch dev's fd: true (errno ENOENT) once its close has
 * begun, when the fd may already be closed or reused. */
static inline bool ep__dev_gone(const struct iodev *dev)
{
	if (ep__dev_live_id(dev) != 0)
		return false;
	errno = ENOENT;
	return true;
}
iodev_t *ep__dev_make(epcore_t *core, int fd, int fdtype, uint32_t pflags,
                      void *para, IOHandler *handler, void *cbpara);
void ep__dev_timer_stop(struct iodev *dev);
uint64_t ep__dev_timer_devid(const iotimer_t *t);
/* Internal timers that name a device by id (connect timeout, pauses). */
uint64_t ep__dev_timer_start(struct iodev *dev, uint64_t id, int ms,
                             IOHandler *fn);
int  ep__socket(int family, int type);
void ep__unlink_bound(int fd);
iodev_t *ep__dev_bound(iodev_t *dev, int bindtype, int epump);
iodev_t *ep__sock_dev(epcore_t *core, int fd, int fdtype, uint32_t pflags,
                      void *para, IOHandler *handler, void *cbpara,
                      int bindtype, int epump);
iodev_t *ep__listen_dev(epcore_t *core, const char *ip, int port, int type,
                        int fdtype, uint32_t pflags, void *para,
                        IOHandler *handler, void *cbpara, int bindtype,
                        int epump);
int  ep__listen_socket(const struct sockaddr_storage *ss, socklen_t len,
                       int type, int reuseport);
int  ep__addr_for(const char *ip, int port, struct sockaddr_storage *ss,
                  socklen_t *len, int type);
iodev_t *ep__accept(epcore_t *core, iodev_t *ldev, void *para,
                    IOHandler *handler, void *cbpara, int bindtype,
                    int epump);
iodev_t *ep__connect(epcore_t *core, const struct sockaddr *sa,
                     socklen_t salen, int fdtype, void *para,
                     IOHandler *handler, void *cbpara, int timeout_ms);
void ep__mlisten_adopt(epcore_t *core, struct epump *ep);
void ep__mlisten_free(epcore_t *core);

int  ep__dev_run(struct iodev *dev, uint64_t id, const struct ep__ev *ev);
/* ep__dev_run() for readiness (EV_DEV) from epump src, on that epump. */
int  ep__dev_ready(struct iodev *dev, uint64_t id, int event, int src);
/* Finishes a close; the caller holds DEV_BUSY | DEV_CLOSING. */
void ep__dev_close_claimed(struct iodev *dev, uint64_t id);
void ep__dev_finish(struct iodev *dev);
void ep__dev_adopt(struct epump *ep, struct iodev *dev);
int  ep__dev_poll_mask(const struct iodev *dev);
void ep__dev_close_all(epcore_t *core);

/* ---- timers (iotimer.c) ---- */

#define TM_FREE      0u
#define TM_PENDING   1u
#define TM_FIRING    2u
#define TM_CANCELLED 3u

/* A link of a circular, doubly linked wheel list.  A list's head is a bare
 * link (a sentinel), so taking a timer off needs only its own neighbours:
 * the timer does not record which list holds it. */
struct ep__tlink {
	struct ep__tlink *next, *prev;
};

/*
 * One cache line (64 bytes, and slab objects of 64 bytes are line
 * aligned): a stop touches this line and the two neighbours' lines only.
 * The deadline is kept in 40 bits (ms on the monotonic clock, modulo
 * 2^40): a deadline is never more than 2^31 ms from the wheel's time, so
 * the full value is rebuilt from the difference (tm_deadline).
 */
struct iotimer {
	_Atomic uint64_t tag;
	uint32_t slot;
	int32_t cmdid;
	/* epump-owned: wheel links (next NULL: on no list) */
	struct ep__tlink link;
	void *para;
	IOHandler *handler;
	void *cbpara;
	uint32_t dl_lo;             /* deadline, bits 0..31 */
	uint8_t dl_hi;              /* deadline, bits 32..39 */
	_Atomic uint8_t epump;      /* holding epump + 1, 0 while parked */
	int16_t worker;             /* worker that started it, -1 */
};

/*
 * A hierarchical timing wheel of 1 ms ticks: 256 slots for the next 256
 * ms, then four levels of 64 slots, each slot of a level spanning a whole
 * turn of the level below (2^14, 2^20, 2^26, 2^32 ms); beyond that, "far".
 * Bitmaps say which slots hold timers, so empty stretches are skipped.
 */
#define TW_L0      256
#define TW_LN      64
#define TW_NLEVELS 4
#define TW_STOPRING 16

struct ep__wheel {
	uint64_t cur;               /* next tick to expire */
	uint32_t n;                 /* timers on the wheel */
	uint64_t bm0[TW_L0 / 64];
	uint64_t bmn[TW_NLEVELS];
	struct ep__tlink due;       /* deadline already past: next iteration */
	struct ep__tlink far;
	struct ep__tlink l0[TW_L0];
	struct ep__tlink ln[TW_NLEVELS][TW_LN];
	/* Timers stopped on this thread, still linked: taken off a few stops
	 * later, once their neighbours (prefetched at the stop) are in cache.
	 * Drained before any list is fired. */
	struct iotimer *stopped[TW_STOPRING];
	uint32_t nstopped, stophead;
};

int  ep__timer_arm(struct epump *ep, struct iotimer *t);
void ep__timer_del_msg(struct epump *ep, uint64_t id);
void ep__timer_arm_msg(struct epump *ep, uint64_t id);
void ep__timer_move_msg(struct epump *ep, uint64_t id, uint64_t deadline);
void ep__timers_expire(struct epump *ep);
int  ep__timer_next_ms(struct epump *ep);
void ep__wheel_init(struct ep__wheel *w, uint64_t now);
int  ep__timer_run(epcore_t *core, uint64_t id);
void ep__timer_adopt(struct epump *ep, struct iotimer *t);

/* ---- epump threads (epump.c) ---- */

struct epump {
	epcore_t *core;
	int index;
	pthread_t thread;
	bool spawned;               /* started by epcore_start_epump */
	_Atomic bool running;
	const struct ep__poller_ops *ops;
	void *poller;
	int epfd;                   /* the epoll backend's fd, else -1 */
	int wakefd;
	struct ep__thread self;
	/* timers: owned by this thread */
	uint64_t now;
	struct ep__wheel wheel;
	/* outgoing batches, one per worker: owned by this thread */
	struct ep__evq *outbox;
	uint32_t noutbox;
	struct ep__evq inspare;     /* the inbox's other ring, when idle */
	struct ep__pevent *pev;
	int npev;
	struct ep__tstat ts;
	/* load figures read by other threads */
	_Atomic uint32_t ndevices;  /* +- by any thread (ep__epump_ndevices) */
	_Atomic uint32_t own_ndevices; /* + by this epump's own binds only */
	_Atomic uint32_t ntimers;
	_Atomic uint64_t nevents;
	_Atomic uint64_t nloops;
	_Atomic uint64_t next_due_ms;   /* next wake for timers, 0: none */
	/* the inbox: any thread pushes, this thread pops */
	_Alignas(EP__CACHELINE) pthread_mutex_t inlock;
	struct ep__evq inbox;
	_Atomic uint32_t inlen;
	_Atomic int sleeping;
	_Atomic int notified;
};

struct epump *ep__epump_new(epcore_t *core, int index);
void ep__epump_destroy(struct epump *ep);
void ep__epump_loop(struct epump *ep);
int  ep__epump_send(struct epump *ep, const struct ep__ev *ev);
void ep__epump_wake(struct epump *ep);
/*
 * Devices bound to ep: its own thread counts the devices it binds to
 * itself in own_ndevices with a plain load and store (no locked add on
 * the accept path), every other count goes to ndevices, which a close
 * may drop below zero (modulo 2^32).  A reader can see a close before
 * the bind it undoes: then 0.
 */
static inline uint32_t ep__epump_ndevices(const struct epump *ep)
{
	int32_t n = (int32_t)(atomic_load_explicit(&ep->own_ndevices,
	                                           memory_order_relaxed) +
	                      atomic_load_explicit(&ep->ndevices,
	                                           memory_order_relaxed));

	return n < 0 ? 0 : (uint32_t)n;
}

/* What the poller should watch for dev now, as EP_PR | EP_PW. */
static inline unsigned ep__poll_mask(const struct iodev *dev)
{
	uint32_t pf = atomic_load_explicit(&dev->pflags, memory_order_relaxed);
	unsigned m = 0;

	if ((pf & PF_READ) &&
	    !atomic_load_explicit(&dev->ltmask, memory_order_relaxed))
		m |= EP_PR;
	if (pf & (PF_WRITE | PF_CONNECTING))
		m |= EP_PW;
	return m;
}
int  ep__poller_refused(struct iodev *dev, uint64_t id);
/* op: MSG_DEV_ADD or MSG_DEV_MOD, applied on this thread, now.  Inline:
 * an epump binding a device to itself adds it through here. */
static inline int ep__poller_apply(struct epump *ep, struct iodev *dev,
                                   uint64_t id, int op)
{
	uint32_t pf = atomic_load_explicit(&dev->pflags, memory_order_relaxed);
	int r;

	if (pf & PF_REGFILE) {
		if (op == MSG_DEV_ADD)
			ep__dev_deliver(dev, id, IOE_READ);
		return 0;
	}
#ifdef HAVE_SYS_EPOLL_H
	if (ep->epfd >= 0)
		r = ep__epoll_ctl(ep->epfd, op == MSG_DEV_MOD ? EPOLL_CTL_MOD :
		                  EPOLL_CTL_ADD, dev->fd, id, ep__poll_mask(dev));
	else
#endif
	if (op == MSG_DEV_MOD)
		r = ep->ops->mod(ep->poller, dev->fd, id, ep__poll_mask(dev));
	else
		r = ep->ops->add(ep->poller, dev->fd, id, ep__poll_mask(dev));
	if (r == 0 || op == MSG_DEV_MOD)
		return r;
	return ep__poller_refused(dev, id);
}

/* ---- workers (worker.c) ---- */

struct worker {
	epcore_t *core;
	int index;
	pthread_t thread;
	struct ep__thread self;
	struct ep__tstat ts;
	_Atomic uint32_t ndevices;  /* devices assigned to it */
	_Atomic uint64_t nevents;
	_Alignas(EP__CACHELINE) pthread_mutex_t lock;
	struct ep__evq q;           /* producers push here, under lock */
	_Atomic uint32_t qlen;
	_Atomic uint32_t futex;     /* bumped to wake the worker */
	_Atomic int sleeping;
};

struct worker *ep__worker_new(epcore_t *core, int index);
void ep__worker_destroy(struct worker *w);
int  ep__worker_push(struct worker *w, const struct ep__ev *ev, uint32_t n);
void ep__worker_wake(struct worker *w);
int  ep__worker_pick(epcore_t *core);
int  ep__dev_worker(epcore_t *core, struct iodev *dev);
void *ep__worker_main(void *arg);
void ep__wake_drainers(epcore_t *core);

/* ---- the core (epcore.c) ---- */

struct ep__idvec {
	uint64_t *v;
	uint32_t n, cap;
};

struct epcore {
	const struct ep__poller_ops *ops;
	int maxfd;
	_Atomic int stopping;
	pthread_mutex_t lock;       /* registry, parked objects, thread start */
	pthread_cond_t cond;        /* main epumps leaving */
	struct epump *epumps[EP__MAX_EPUMPS];
	_Atomic int nepumps;
	int nmain;                  /* epump_main_start threads in their loop */
	struct worker *workers[EP__MAX_WORKERS];
	_Atomic int nworkers;
	_Atomic uint32_t rr;        /* round-robin start for least-loaded picks */
	/* Workers that sleep, and the epumps waiting for one to (a bit per
	 * epump index): see wait_for_workers() in epump.c. */
	_Alignas(EP__CACHELINE) _Atomic int nidle;
	_Atomic uint64_t drainers[(EP__MAX_EPUMPS + 63) / 64];
	struct ep__slab devs;
	struct ep__slab timers;
	struct ep__idvec parked_devs;   /* BIND_ONE before any epump */
	struct ep__idvec all_devs;      /* BIND_ALL devices */
	struct ep__idvec parked_timers;
	struct ep__mlisten *mlistens;   /* eptcp_mlisten registrations */
	uint64_t born_ns;               /* epcore_new, monotonic */
	_Atomic bool stats_on;          /* keep the per-thread states */
	struct ep__stats *stats;        /* the socket server, or NULL */
	struct ep__dns *dns;            /* the resolver (dns.c) */
};

/* ---- DNS (dns.c) ---- */
struct ep__dns;
struct ep__dns *ep__dns_new(epcore_t *core);
/* epcore_free(), every thread joined, before the devices are closed:
 * pending callbacks run here with DNS_ECANCELED. */
void ep__dns_free(epcore_t *core);
/* eptcp_connect() to a host name. */
iodev_t *ep__connect_name(epcore_t *core, const char *host, int port,
                          void *para, IOHandler *handler, void *cbpara,
                          int timeout_ms);
/* Hold an unbound device as a handler would (a close meanwhile only
 * marks it), and let go, finishing such a close. */
int  ep__dev_hold(struct iodev *dev, uint64_t id);
void ep__dev_unhold(struct iodev *dev, uint64_t id);

struct ep__stats;
void ep__stats_free(epcore_t *core);

/* The stats socket's commands (stats_cmd.c). */
enum ep__stats_cmd {
	EP__SC_NONE,            /* no complete line yet */
	EP__SC_HELP, EP__SC_INFO, EP__SC_THREADS, EP__SC_QUEUES,
	EP__SC_FDS, EP__SC_TIMERS, EP__SC_ALL, EP__SC_QUIT,
	EP__SC_UNKNOWN,         /* a text line that is no command */
	EP__SC_BINARY           /* a control byte (not tab or CR), or 8-bit */
};
/* The command on the first line of in[0..len): *used is that line's
 * length with its '\n' (0 with EP__SC_NONE).  Blanks, tabs and CRs around
 * it are ignored.  Pure: reads in[0..len) only, keeps no state. */
enum ep__stats_cmd ep__stats_cmd_next(const char *in, size_t len,
                                      size_t *used);
/* The i-th command's text, in the order "help" lists them; NULL past the
 * last. */
const char *ep__stats_cmd_name(size_t i);

/* The live device named by id (not closing), or NULL.  Inline: every
 * poller result is looked up through it. */
static inline struct iodev *ep__dev_lookup(epcore_t *core, uint64_t id)
{
	struct iodev *dev = ep__slab_at(&core->devs, EP__ID_SLOT(id));
	uint64_t tag;

	if (dev == NULL)
		return NULL;
	tag = atomic_load_explicit(&dev->tag, memory_order_acquire);
	if (EP__TAG_GEN(tag) != EP__ID_GEN(id) ||
	    (tag & (DEV_LIVE | DEV_CLOSING)) != DEV_LIVE)
		return NULL;
	return dev;
}

static inline bool ep__stats_on(const epcore_t *core)
{
	return atomic_load_explicit(&core->stats_on, memory_order_relaxed);
}

static inline void ep__ts_put(struct ep__thread *self, unsigned state,
                              unsigned what, uint64_t what_id, uint64_t now)
{
	struct ep__tstat *ts = self->ts;

	atomic_store_explicit(&ts->what, what, memory_order_relaxed);
	ep__store64(&ts->what_id, what_id);
	ep__store64(&ts->since_ns, now);
	atomic_store_explicit(&ts->state, state, memory_order_release);
}

/* State changes for the stats socket; cheap no-ops while stats are off.
 * Returns the time read (ns), or 0 with stats off. */
static inline uint64_t ep__ts_set(struct ep__thread *self, unsigned state,
                                  unsigned what, uint64_t what_id)
{
	uint64_t now;

	if (!ep__stats_on(self->core))
		return 0;
	now = ep__now_ns();
	ep__ts_put(self, state, what, what_id, now);
	return now;
}

/*
 * A handler starts (TS_HANDLER).  The first one after an epump's wait
 * takes the time the wait ended (t_woke) instead of reading the clock
 * again: they are apart by what the loop did in between, usually
 * classifying the events before it (well under a microsecond; messages
 * that register many devices could make it more).  With one event per
 * wait (the chain benchmark) that is one clock reading of three per loop
 * turn.
 */
static inline uint64_t ep__ts_handler(struct ep__thread *self,
                                      unsigned what, uint64_t what_id)
{
	uint64_t now;

	if (!ep__stats_on(self->core))
		return 0;
	now = self->t_woke;
	if (now != 0)
		self->t_woke = 0;
	else
		now = ep__now_ns();
	ep__ts_put(self, TS_HANDLER, what, what_id, now);
	return now;
}

/* The same with a time already read (ns), when a fresh reading would
 * tell nothing new: back to RUN after a handler keeps the handler's start
 * (RUN's age is never a stall; the handler's time is in the histogram). */
static inline void ep__ts_set_at(struct ep__thread *self, unsigned state,
                                 uint64_t now)
{
	if (!ep__stats_on(self->core) || now == 0)
		return;
	ep__ts_put(self, state, TW_NONE, 0, now);
}

int  ep__idvec_add(struct ep__idvec *v, uint64_t id);
bool ep__idvec_del(struct ep__idvec *v, uint64_t id);
int  ep__epump_pick(epcore_t *core);
struct epump *ep__epump_at(epcore_t *core, int index);

static inline int ep__nworkers(const epcore_t *core)
{
	return atomic_load_explicit(&core->nworkers, memory_order_acquire);
}

static inline int ep__nepumps(const epcore_t *core)
{
	return atomic_load_explicit(&core->nepumps, memory_order_acquire);
}

static inline bool ep__stopping(const epcore_t *core)
{
	return atomic_load_explicit(&core->stopping, memory_order_acquire);
}

#endif /* EP_INTERNAL_H */
