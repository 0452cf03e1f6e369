/*
 * iotimer.c - one-shot millisecond timers.
 *
 * Each epump thread keeps its timers on a hierarchical timing wheel
 * (struct ep__wheel): start and stop are O(1) list operations, expiry walks
 * only the slots bitmaps say are occupied, and timers of one deadline fire
 * in the order they reached their slot (start order, for timers started
 * together).  tests/bench/timerq measured it against a 4-ary heap with
 * inline keys: about 3x faster to insert and remove, and faster to expire
 * for deadlines up to a minute away.
 *
 * The wheel is touched only by its epump thread: a start or stop from
 * another thread travels as a message (MSG_TIMER_ARM / MSG_TIMER_DEL /
 * MSG_TIMER_MOVE).  A restart to a later deadline only rewrites the
 * deadline: the timer stays where it is and is placed again when its old
 * slot comes up (the usual idle-timeout restart costs one store).
 * Whether a timer fires or is stopped is decided by one compare-and-swap
 * on its tag (PENDING -> FIRING or PENDING -> CANCELLED), so a stop that
 * returns 0 means the handler never runs.
 *
 * Memory decides the speed at 10^6 timers, not instructions: a timer is
 * one cache line, lists are circular with bare heads (an unlink touches
 * only the two neighbours), and a stop on the wheel's own thread
 * prefetches those neighbours and finishes the unlink TW_STOPRING stops
 * later, so their cache misses overlap instead of queueing.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(struct iotimer) == 64, "a timer is one cache line");

#define TW_L0_BITS 8
#define TW_LN_BITS 6

static inline uint64_t tm_tag(uint32_t gen, unsigned state)
{
	return ((uint64_t)gen << 8) | state;
}

#define TM_DL_BITS 40
#define TM_DL_MASK (((uint64_t)1 << TM_DL_BITS) - 1)

static inline void tm_set_deadline(struct iotimer *t, uint64_t d)
{
	t->dl_lo = (uint32_t)d;
	t->dl_hi = (uint8_t)(d >> 32);
}

/* The deadline in full, rebuilt from its 40 bits and a time ref within
 * 2^39 ms of it (the wheel's time or the loop's: deadlines are at most
 * INT_MAX ms ahead). */
static inline uint64_t tm_deadline(const struct iotimer *t, uint64_t ref)
{
	uint64_t d40 = ((uint64_t)t->dl_hi << 32) | t->dl_lo;
	uint64_t diff = (d40 - ref) & TM_DL_MASK;

	if (diff >= (uint64_t)1 << (TM_DL_BITS - 1))
		return ref - (((uint64_t)1 << TM_DL_BITS) - diff);
	return ref + diff;
}

/* The epump holding t (-1: parked, no epump yet). */
static inline int tm_epump(const struct iotimer *t)
{
	return (int)atomic_load(&t->epump) - 1;
}

static inline void tm_set_epump(struct iotimer *t, int idx)
{
	atomic_store(&t->epump, (uint8_t)(idx + 1));
}

static inline struct iotimer *tm_of(struct ep__tlink *lk)
{
	return (struct iotimer *)(void *)((char *)lk -
	                                  offsetof(struct iotimer, link));
}

static inline void tl_init(struct ep__tlink *l)
{
	l->next = l->prev = l;
}

static inline bool tl_empty(const struct ep__tlink *l)
{
	return l->next == l;
}

/* ---- the wheel ---- */

void ep__wheel_init(struct ep__wheel *w, uint64_t now)
{
	int i, k;

	memset(w, 0, sizeof(*w));
	w->cur = now;
	tl_init(&w->due);
	tl_init(&w->far);
	for (i = 0; i < TW_L0; i++)
		tl_init(&w->l0[i]);
	for (k = 0; k < TW_NLEVELS; k++)
		for (i = 0; i < TW_LN; i++)
			tl_init(&w->ln[k][i]);
}

static void tl_append(struct ep__tlink *l, struct iotimer *t)
{
	t->link.next = l;
	t->link.prev = l->prev;
	l->prev->next = &t->link;
	l->prev = &t->link;
}

/* Which bitmap bit (if any) stands for list l.  Any other address (a
 * timer, the due or far list, a list on the stack) has no bit. */
static void tw_mark(struct ep__wheel *w, const struct ep__tlink *l, bool on)
{
	uint64_t *word;
	unsigned bit;

	if (l >= w->l0 && l < w->l0 + TW_L0) {
		unsigned i = (unsigned)(l - w->l0);

		word = &w->bm0[i / 64];
		bit = i % 64;
	} else if (l >= &w->ln[0][0] && l < &w->ln[0][0] + TW_NLEVELS * TW_LN) {
		unsigned i = (unsigned)(l - &w->ln[0][0]);

		word = &w->bmn[i / TW_LN];
		bit = i % TW_LN;
	} else {
		return;
	}
	if (on)
		*word |= (uint64_t)1 << bit;
	else
		*word &= ~((uint64_t)1 << bit);
}

static void tw_unlink(struct ep__wheel *w, struct iotimer *t)
{
	struct ep__tlink *next = t->link.next, *prev = t->link.prev;

	prev->next = next;
	next->prev = prev;
	t->link.next = t->link.prev = NULL;
	w->n--;
	/* Neighbours equal only when both are the head: the list emptied. */
	if (next == prev)
		tw_mark(w, next, false);
}

/* Puts t on the list its deadline calls for, relative to w->cur. */
static void tw_place(struct ep__wheel *w, struct iotimer *t)
{
	uint64_t d = tm_deadline(t, w->cur), delta;
	struct ep__tlink *l;
	int k;

	w->n++;
	if (d < w->cur) {
		tl_append(&w->due, t);
		return;
	}
	delta = d - w->cur;
	if (delta < TW_L0) {
		l = &w->l0[d & (TW_L0 - 1)];
	} else {
		l = &w->far;
		for (k = 0; k < TW_NLEVELS; k++) {
			unsigned shift = TW_L0_BITS + (unsigned)k * TW_LN_BITS;

			if (delta < ((uint64_t)1 << (shift + TW_LN_BITS))) {
				l = &w->ln[k][(d >> shift) & (TW_LN - 1)];
				break;
			}
		}
	}
	tl_append(l, t);
	tw_mark(w, l, true);
}

/* Empties list l, placing each of its timers again by its deadline. */
static void tw_replace(struct ep__wheel *w, struct ep__tlink *l)
{
	struct ep__tlink *lk = l->next, *next;

	if (lk == l)
		return;
	l->prev->next = NULL; /* ends the chain walked below */
	tl_init(l);
	tw_mark(w, l, false);
	for (; lk != NULL; lk = next) {
		next = lk->next;
		w->n--;
		tw_place(w, tm_of(lk));
	}
}

/* At a 256-tick boundary: move the next slot of each level that turned
 * over down to where its timers now belong. */
static void tw_cascade(struct ep__wheel *w)
{
	int k;

	for (k = 0; k < TW_NLEVELS; k++) {
		unsigned shift = TW_L0_BITS + (unsigned)k * TW_LN_BITS;
		unsigned idx = (unsigned)(w->cur >> shift) & (TW_LN - 1);

		tw_replace(w, &w->ln[k][idx]);
		if (idx != 0)
			break;
		if (k == TW_NLEVELS - 1)
			tw_replace(w, &w->far); /* far timers come closer */
	}
}

/* Index of the first set bit of bm0 at or after i (i < TW_L0), or TW_L0. */
static unsigned bm0_next(const struct ep__wheel *w, unsigned i)
{
	unsigned word = i / 64;
	uint64_t bits = w->bm0[word] & (~(uint64_t)0 << (i % 64));

	for (;;) {
		if (bits != 0)
			return word * 64 + (unsigned)__builtin_ctzll(bits);
		if (++word == TW_L0 / 64)
			return TW_L0;
		bits = w->bm0[word];
	}
}

/* ---- on the epump thread ---- */

int ep__timer_arm(struct epump *ep, struct iotimer *t)
{
	struct ep__wheel *w = &ep->wheel;

	/* An empty wheel may lag the loop's time by a whole sleep; catch up,
	 * or every timer would land a level too high and cascade later.  The
	 * caller has made ep->now fresh (arm_fresh(), or iotimer_start(),
	 * whose deadline is counted from that same reading). */
	if (w->n == 0 && w->cur < ep->now)
		w->cur = ep->now;
	tw_place(w, t);
	atomic_store_explicit(&ep->ntimers, w->n, memory_order_relaxed);
	return 0;
}

static void timer_free(epcore_t *core, struct iotimer *t)
{
	struct ep__thread *self = ep__self_in(core);

	t->handler = NULL;
	ep__slab_free(&core->timers, self ? &self->tmcache : NULL, t);
}

/* Takes t off the wheel (unless a fire pass did) and frees it. */
static void stopped_finish(struct epump *ep, struct iotimer *t)
{
	if (t->link.next != NULL)
		tw_unlink(&ep->wheel, t);
	timer_free(ep->core, t);
}

/* Finishes every stop still in the ring. */
static void stopped_drain(struct epump *ep)
{
	struct ep__wheel *w = &ep->wheel;

	while (w->nstopped > 0) {
		struct iotimer *t = w->stopped[w->stophead];

		w->stophead = (w->stophead + 1) % TW_STOPRING;
		w->nstopped--;
		stopped_finish(ep, t);
	}
	atomic_store_explicit(&ep->ntimers, w->n, memory_order_relaxed);
}

/* A stop on the wheel's own thread: the oldest stop in the ring is
 * finished, this one waits its turn (its neighbours are on their way). */
static void stopped_push(struct epump *ep, struct iotimer *t)
{
	struct ep__wheel *w = &ep->wheel;

	if (w->nstopped == TW_STOPRING) {
		struct iotimer *old = w->stopped[w->stophead];

		w->stopped[w->stophead] = t;
		w->stophead = (w->stophead + 1) % TW_STOPRING;
		stopped_finish(ep, old);
		return;
	}
	w->stopped[(w->stophead + w->nstopped) % TW_STOPRING] = t;
	w->nstopped++;
}

/* Arms a timer whose deadline another thread counted from its own clock
 * reading.  The loop reads the clock only while the wheel holds timers:
 * on an empty wheel, read it first. */
static void arm_fresh(struct epump *ep, struct iotimer *t)
{
	if (ep->wheel.n == 0)
		ep->now = ep__now_ms();
	(void)ep__timer_arm(ep, t);
}

/* Adoption of a parked timer (core->lock held, ep not looping yet). */
void ep__timer_adopt(struct epump *ep, struct iotimer *t)
{
	uint64_t tag = atomic_load(&t->tag);

	if ((tag & 0xff) != TM_PENDING)
		return;
	tm_set_epump(t, ep->index);
	arm_fresh(ep, t);
}

void ep__timer_arm_msg(struct epump *ep, uint64_t id)
{
	struct iotimer *t = ep__slab_at(&ep->core->timers, EP__ID_SLOT(id));

	if (t == NULL ||
	    atomic_load(&t->tag) != tm_tag(EP__ID_GEN(id), TM_PENDING) ||
	    t->link.next != NULL)
		return;
	arm_fresh(ep, t);
}

void ep__timer_del_msg(struct epump *ep, uint64_t id)
{
	struct iotimer *t = ep__slab_at(&ep->core->timers, EP__ID_SLOT(id));

	if (t == NULL ||
	    atomic_load(&t->tag) != tm_tag(EP__ID_GEN(id), TM_CANCELLED))
		return;
	if (t->link.next != NULL) {
		tw_unlink(&ep->wheel, t);
		atomic_store_explicit(&ep->ntimers, ep->wheel.n,
		                      memory_order_relaxed);
	}
	timer_free(ep->core, t);
}

/* Restart t (on ep's wheel, linked) to deadline d: later only rewrites
 * the deadline (fire_list and the cascade place it by the new one);
 * earlier moves it now. */
static void tm_move(struct epump *ep, struct iotimer *t, uint64_t d)
{
	struct ep__wheel *w = &ep->wheel;

	if (d >= tm_deadline(t, w->cur)) {
		tm_set_deadline(t, d);
		return;
	}
	tw_unlink(w, t);
	tm_set_deadline(t, d);
	if (w->n == 0 && w->cur < ep->now)
		w->cur = ep->now;
	tw_place(w, t);
}

void ep__timer_move_msg(struct epump *ep, uint64_t id, uint64_t deadline)
{
	struct iotimer *t = ep__slab_at(&ep->core->timers, EP__ID_SLOT(id));

	if (t == NULL ||
	    atomic_load(&t->tag) != tm_tag(EP__ID_GEN(id), TM_PENDING) ||
	    t->link.next == NULL)
		return; /* stopped, or fired first: the restart is lost */
	tm_move(ep, t, deadline);
}

/* Milliseconds until the loop must wake for timers: -1 if none. */
int ep__timer_next_ms(struct epump *ep)
{
	struct ep__wheel *w = &ep->wheel;
	uint64_t at;
	unsigned idx, j;
	int k;

	if (w->n == 0)
		return -1; /* nothing on the wheel, nor in the stop ring */
	stopped_drain(ep);
	if (!tl_empty(&w->due))
		return 0;
	if (w->n == 0)
		return -1;
	idx = (unsigned)(w->cur & (TW_L0 - 1));
	j = bm0_next(w, idx);
	if (j < TW_L0) {
		at = w->cur + (j - idx);
	} else if ((j = bm0_next(w, 0)) < idx) {
		at = w->cur + (TW_L0 - idx) + j;        /* wrapped slot */
	} else {
		/* Only higher levels: wake at the next boundary that cascades
		 * the lowest occupied level. */
		unsigned shift = TW_L0_BITS;

		for (k = 0; k < TW_NLEVELS && w->bmn[k] == 0; k++)
			shift += TW_LN_BITS;
		at = (w->cur | (((uint64_t)1 << shift) - 1)) + 1;
	}
	if (at <= ep->now)
		return 0;
	return at - ep->now > INT_MAX ? INT_MAX : (int)(at - ep->now);
}

/* Runs timer id's handler if nobody stopped it first, then frees it. */
int ep__timer_run(epcore_t *core, uint64_t id)
{
	struct iotimer *t = ep__slab_at(&core->timers, EP__ID_SLOT(id));
	uint64_t want = tm_tag(EP__ID_GEN(id), TM_PENDING);

	if (t == NULL || !atomic_compare_exchange_strong(&t->tag, &want,
	        tm_tag(EP__ID_GEN(id), TM_FIRING)))
		return 0;
	if (ep__self != NULL)
		(void)ep__ts_handler(ep__self, TW_TIMER, id);
	t->handler(t->cbpara, t, IOE_TIMEOUT, FDT_TIMER);
	if (ep__self != NULL && ep__self->wk == NULL)
		ep__ts_set(ep__self, TS_RUN, TW_NONE, 0);
	timer_free(core, t);
	return 1;
}

/* Fires (or hands to a worker) every timer of list l, in list order.  A
 * handler may stop a later timer of the list: it unlinks itself. */
static void fire_list(struct epump *ep, struct ep__tlink *l)
{
	struct ep__wheel *w = &ep->wheel;
	epcore_t *core = ep->core;
	struct ep__tlink batch, *lk;

	if (tl_empty(l))
		return;
	/* Move the timers to a list of our own, so a stop can unlink. */
	batch.next = l->next;
	batch.prev = l->prev;
	batch.next->prev = &batch;
	batch.prev->next = &batch;
	tl_init(l);
	tw_mark(w, l, false);
	while ((lk = batch.next) != &batch && !ep__stopping(core)) {
		struct iotimer *t = tm_of(lk);
		uint64_t tag, id;
		int wk;

		tag = atomic_load(&t->tag);
		tw_unlink(w, t);
		if ((tag & 0xff) != TM_PENDING)
			continue; /* stopped elsewhere: its MSG_TIMER_DEL frees */
		if (tm_deadline(t, w->cur) >= w->cur) {
			tw_place(w, t); /* restarted later: not due yet */
			continue;
		}
		id = EP__MKID(EP__TAG_GEN(tag), t->slot);
		wk = t->worker;
		if (wk < 0 && ep__nworkers(core) > 0)
			wk = ep__worker_pick(core);
		if (wk < 0) {
			(void)ep__timer_run(core, id);
		} else {
			struct ep__ev ev = { 0 };

			ev.type = EV_TIMER;
			ev.id = id;
			ev.src = (int16_t)ep->index;
			(void)ep__worker_push(core->workers[wk], &ev, 1);
		}
	}
	/* Stopped mid-way: leave the rest for epcore_free (slab memory). */
	while ((lk = batch.next) != &batch) {
		batch.next = lk->next;
		lk->next = lk->prev = NULL;
	}
}

void ep__timers_expire(struct epump *ep)
{
	struct ep__wheel *w = &ep->wheel;
	uint64_t now = ep->now;

	/* The loop calls this only while the wheel holds timers (n counts
	 * the stop ring too); an empty wheel's time is caught up when a
	 * timer is armed (ep__timer_arm()). */
	stopped_drain(ep);
	fire_list(ep, &w->due);
	while (w->cur <= now && w->n > 0 && !ep__stopping(ep->core)) {
		unsigned idx = (unsigned)(w->cur & (TW_L0 - 1)), j, last;
		uint64_t span = now - w->cur;

		if (idx == 0)
			tw_cascade(w);
		last = span < TW_L0 - 1 - idx ? idx + (unsigned)span
		                              : TW_L0 - 1;
		j = bm0_next(w, idx);
		if (j > last) {
			w->cur += last - idx + 1; /* nothing due up to there */
			continue;
		}
		w->cur += j - idx + 1;
		fire_list(ep, &w->l0[j]);
	}
	if (w->n == 0 && w->cur <= now)
		w->cur = now + 1; /* empty: nothing to walk */
	atomic_store_explicit(&ep->ntimers, w->n, memory_order_relaxed);
}

/* ---- the public calls ---- */

uint64_t iotimer_start(epcore_t *core, int ms, int cmdid, void *para,
                       IOHandler *handler, void *cbpara)
{
	struct ep__thread *self;
	struct iotimer *t;
	struct ep__ev m = { 0 };
	uint32_t gen;
	uint64_t id;
	int idx;

	if (core == NULL || handler == NULL || ms < 0) {
		errno = EINVAL;
		return 0;
	}
	if (ep__stopping(core)) {
		errno = ECANCELED;
		return 0;
	}
	self = ep__self_in(core);
	t = ep__slab_alloc(&core->timers, self ? &self->tmcache : NULL);
	if (t == NULL)
		return 0;
	gen = EP__TAG_GEN(atomic_load_explicit(&t->tag, memory_order_relaxed));
	id = EP__MKID(gen, t->slot);
	/* Every field (the slab does not zero timers): on no list yet. */
	t->link.next = t->link.prev = NULL;
	t->cmdid = cmdid;
	t->para = para;
	t->handler = handler;
	t->cbpara = cbpara;
	t->worker = (int16_t)(self != NULL && self->wk != NULL ? self->index
	                                                       : -1);
	if (self != NULL && self->ep != NULL) {
		/* The fast path: the caller owns a wheel.  The loop's time is
		 * kept only while the wheel holds timers. */
		if (self->ep->wheel.n == 0)
			self->ep->now = ep__now_ms();
		tm_set_deadline(t, self->ep->now + (uint64_t)ms);
		atomic_store_explicit(&t->epump, (uint8_t)(self->index + 1),
		                      memory_order_relaxed);
		atomic_store_explicit(&t->tag, tm_tag(gen, TM_PENDING),
		                      memory_order_relaxed);
		(void)ep__timer_arm(self->ep, t);
		return id;
	}
	tm_set_deadline(t, ep__now_ms() + (uint64_t)ms);
	atomic_store_explicit(&t->epump, 0, memory_order_relaxed);
	atomic_store_explicit(&t->tag, tm_tag(gen, TM_PENDING),
	                      memory_order_release);
	idx = self != NULL ? self->cur_src : -1;
	if (idx < 0)
		idx = ep__epump_pick(core);
	if (idx < 0) {
		/* No epump yet: park it; the first epump adopts it. */
		pthread_mutex_lock(&core->lock);
		idx = ep__epump_pick(core);
		if (idx < 0) {
			int r = ep__idvec_add(&core->parked_timers, id);

			pthread_mutex_unlock(&core->lock);
			if (r < 0) {
				timer_free(core, t);
				errno = ENOMEM;
				return 0;
			}
			return id;
		}
		pthread_mutex_unlock(&core->lock);
	}
	tm_set_epump(t, idx);
	m.type = MSG_TIMER_ARM;
	m.id = id;
	if (ep__epump_send(core->epumps[idx], &m) < 0) {
		timer_free(core, t);
		errno = ENOMEM;
		return 0;
	}
	return id;
}

int iotimer_stop(epcore_t *core, uint64_t id)
{
	struct ep__thread *self;
	struct iotimer *t;
	struct ep__ev m = { 0 };
	uint64_t want;
	int idx;

	if (core == NULL) {
		errno = EINVAL;
		return -1;
	}
	t = id != 0 ? ep__slab_at(&core->timers, EP__ID_SLOT(id)) : NULL;
	if (t == NULL) {
		errno = ENOENT;
		return -1;
	}
	self = ep__self_in(core);
	idx = tm_epump(t);
	if (self != NULL && self->ep != NULL && self->index == idx &&
	    t->link.next != NULL) {
		/* Our own wheel: fetch the neighbours while the CAS runs. */
		__builtin_prefetch(t->link.next, 1);
		__builtin_prefetch(t->link.prev, 1);
	}
	want = tm_tag(EP__ID_GEN(id), TM_PENDING);
	if (!atomic_compare_exchange_strong(&t->tag, &want,
	        tm_tag(EP__ID_GEN(id), TM_CANCELLED))) {
		errno = ENOENT;
		return -1;
	}
	idx = tm_epump(t);
	if (idx < 0) {
		pthread_mutex_lock(&core->lock);
		idx = tm_epump(t);
		if (idx < 0) {
			ep__idvec_del(&core->parked_timers, id);
			timer_free(core, t);
			pthread_mutex_unlock(&core->lock);
			return 0;
		}
		pthread_mutex_unlock(&core->lock);
	}
	if (self != NULL && self->ep != NULL && self->index == idx) {
		if (t->link.next != NULL)
			stopped_push(self->ep, t);
		else
			timer_free(core, t); /* being fired: off the wheel */
		return 0;
	}
	m.type = MSG_TIMER_DEL;
	m.id = id;
	/* If even this fails, the timer stays stopped (it never fires); its
	 * slot is reclaimed by epcore_free(). */
	(void)ep__epump_send(core->epumps[idx], &m);
	return 0;
}

int iotimer_restart(epcore_t *core, uint64_t id, int ms)
{
	struct ep__thread *self;
	struct iotimer *t;
	struct ep__ev m = { 0 };
	uint64_t pending = tm_tag(EP__ID_GEN(id), TM_PENDING);
	int idx;

	if (core == NULL || ms < 0) {
		errno = EINVAL;
		return -1;
	}
	t = id != 0 ? ep__slab_at(&core->timers, EP__ID_SLOT(id)) : NULL;
	if (t == NULL || atomic_load(&t->tag) != pending) {
		errno = ENOENT;
		return -1;
	}
	self = ep__self_in(core);
	idx = tm_epump(t);
	if (self != NULL && self->ep != NULL && self->index == idx) {
		/* The wheel's own thread: not linked means it is being
		 * fired (handed to a worker), too late to move. */
		if (t->link.next == NULL) {
			errno = ENOENT;
			return -1;
		}
		tm_move(self->ep, t, self->ep->now + (uint64_t)ms);
		return 0;
	}
	if (idx < 0) {
		pthread_mutex_lock(&core->lock);
		if (atomic_load(&t->tag) != pending) {
			pthread_mutex_unlock(&core->lock);
			errno = ENOENT;
			return -1;
		}
		if (tm_epump(t) < 0) {
			/* Parked: no epump reads it before adopting it, and
			 * adoption holds this lock. */
			tm_set_deadline(t, ep__now_ms() + (uint64_t)ms);
			pthread_mutex_unlock(&core->lock);
			return 0;
		}
		idx = tm_epump(t);
		pthread_mutex_unlock(&core->lock);
	}
	m.type = MSG_TIMER_MOVE;
	m.id = id;
	m.t_ns = ep__now_ms() + (uint64_t)ms;
	if (ep__epump_send(core->epumps[idx], &m) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

uint64_t iotimer_id(const iotimer_t *t)
{
	if (t == NULL) {
		errno = EINVAL;
		return 0;
	}
	return EP__MKID(EP__TAG_GEN(atomic_load(&t->tag)), t->slot);
}

int iotimer_cmdid(const iotimer_t *t)
{
	if (t == NULL) {
		errno = EINVAL;
		return -1;
	}
	return t->cmdid;
}

void *iotimer_para(const iotimer_t *t)
{
	if (t == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return t->para;
}
