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
 * another thread travels as a message (MSG_TIMER_ARM / MSG_TIMER_DEL).
 * Whether a timer fires or is stopped is decided by one compare-and-swap
 * on its tag (PENDING -> FIRING or PENDING -> CANCELLED), so a stop that
 * returns 0 means the handler never runs.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define TW_L0_BITS 8
#define TW_LN_BITS 6

static inline uint64_t tm_tag(uint32_t gen, unsigned state)
{
	return ((uint64_t)gen << 8) | state;
}

/* ---- the wheel ---- */

void ep__wheel_init(struct ep__wheel *w, uint64_t now)
{
	memset(w, 0, sizeof(*w));
	w->cur = now;
}

static void tl_append(struct ep__tlist *l, struct iotimer *t)
{
	t->list = l;
	t->next = NULL;
	t->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = t;
	else
		l->head = t;
	l->tail = t;
}

/* Which bitmap bit (if any) stands for list l. */
static void tw_mark(struct ep__wheel *w, struct ep__tlist *l, bool on)
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
		return; /* due, far or a detached list: no bit */
	}
	if (on)
		*word |= (uint64_t)1 << bit;
	else
		*word &= ~((uint64_t)1 << bit);
}

static void tw_unlink(struct ep__wheel *w, struct iotimer *t)
{
	struct ep__tlist *l = t->list;

	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		l->head = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	else
		l->tail = t->prev;
	t->list = NULL;
	w->n--;
	if (l->head == NULL)
		tw_mark(w, l, false);
}

/* Puts t on the list its deadline calls for, relative to w->cur. */
static void tw_place(struct ep__wheel *w, struct iotimer *t)
{
	uint64_t d = t->deadline, delta;
	struct ep__tlist *l;
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

/* Detaches list l whole (its timers keep pointing at the returned copy
 * only through their own links: they are re-placed or fired at once). */
static struct iotimer *tw_take(struct ep__wheel *w, struct ep__tlist *l)
{
	struct iotimer *head = l->head, *t;

	for (t = head; t != NULL; t = t->next) {
		t->list = NULL;
		w->n--;
	}
	l->head = l->tail = NULL;
	tw_mark(w, l, false);
	return head;
}

/* At a 256-tick boundary: move the next slot of each level that turned
 * over down to where its timers now belong. */
static void tw_cascade(struct ep__wheel *w)
{
	int k;

	for (k = 0; k < TW_NLEVELS; k++) {
		unsigned shift = TW_L0_BITS + (unsigned)k * TW_LN_BITS;
		unsigned idx = (unsigned)(w->cur >> shift) & (TW_LN - 1);
		struct iotimer *t = tw_take(w, &w->ln[k][idx]), *next;

		for (; t != NULL; t = next) {
			next = t->next;
			tw_place(w, t);
		}
		if (idx != 0)
			break;
		if (k == TW_NLEVELS - 1) {
			/* The top level turned over: far timers come closer. */
			for (t = tw_take(w, &w->far); t != NULL; t = next) {
				next = t->next;
				tw_place(w, t);
			}
		}
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
	 * or every timer would land a level too high and cascade later. */
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

/* Adoption of a parked timer (core->lock held, ep not looping yet). */
void ep__timer_adopt(struct epump *ep, struct iotimer *t)
{
	uint64_t tag = atomic_load(&t->tag);

	if ((tag & 0xff) != TM_PENDING)
		return;
	atomic_store(&t->epump, (int16_t)ep->index);
	(void)ep__timer_arm(ep, t);
}

void ep__timer_arm_msg(struct epump *ep, uint64_t id)
{
	struct iotimer *t = ep__slab_at(&ep->core->timers, EP__ID_SLOT(id));

	if (t == NULL ||
	    atomic_load(&t->tag) != tm_tag(EP__ID_GEN(id), TM_PENDING) ||
	    t->list != NULL)
		return;
	(void)ep__timer_arm(ep, t);
}

void ep__timer_del_msg(struct epump *ep, uint64_t id)
{
	struct iotimer *t = ep__slab_at(&ep->core->timers, EP__ID_SLOT(id));

	if (t == NULL ||
	    atomic_load(&t->tag) != tm_tag(EP__ID_GEN(id), TM_CANCELLED))
		return;
	if (t->list != NULL) {
		tw_unlink(&ep->wheel, t);
		atomic_store_explicit(&ep->ntimers, ep->wheel.n,
		                      memory_order_relaxed);
	}
	timer_free(ep->core, t);
}

/* Milliseconds until the loop must wake for timers: -1 if none. */
int ep__timer_next_ms(struct epump *ep)
{
	struct ep__wheel *w = &ep->wheel;
	uint64_t at;
	unsigned idx, j;
	int k;

	if (w->due.head != NULL)
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
		ep__ts_set(ep__self, TS_HANDLER, TW_TIMER, id);
	t->handler(t->cbpara, t, IOE_TIMEOUT, FDT_TIMER);
	if (ep__self != NULL && ep__self->wk == NULL)
		ep__ts_set(ep__self, TS_RUN, TW_NONE, 0);
	timer_free(core, t);
	return 1;
}

/* Fires (or hands to a worker) every timer of list l, in list order.  A
 * handler may stop a later timer of the list: it unlinks itself. */
static void fire_list(struct epump *ep, struct ep__tlist *l)
{
	struct ep__wheel *w = &ep->wheel;
	epcore_t *core = ep->core;
	struct ep__tlist batch = *l;
	struct iotimer *t;

	/* Re-home the timers on a list of our own, so a stop can unlink. */
	l->head = l->tail = NULL;
	tw_mark(w, l, false);
	for (t = batch.head; t != NULL; t = t->next)
		t->list = &batch;
	while ((t = batch.head) != NULL && !ep__stopping(core)) {
		uint64_t tag, id;
		int wk;

		tag = atomic_load(&t->tag);
		tw_unlink(w, t);
		if ((tag & 0xff) != TM_PENDING)
			continue; /* stopped elsewhere: its MSG_TIMER_DEL frees */
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
	for (t = batch.head; t != NULL; t = t->next)
		t->list = NULL;
}

void ep__timers_expire(struct epump *ep)
{
	struct ep__wheel *w = &ep->wheel;
	uint64_t now = ep->now;

	if (w->due.head != NULL)
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
	t->list = NULL;
	t->cmdid = cmdid;
	t->para = para;
	t->handler = handler;
	t->cbpara = cbpara;
	t->worker = (int16_t)(self != NULL && self->wk != NULL ? self->index
	                                                       : -1);
	if (self != NULL && self->ep != NULL) {
		/* The fast path: the caller owns a wheel. */
		t->deadline = self->ep->now + (uint64_t)ms;
		atomic_store_explicit(&t->epump, (int16_t)self->index,
		                      memory_order_relaxed);
		atomic_store_explicit(&t->tag, tm_tag(gen, TM_PENDING),
		                      memory_order_relaxed);
		(void)ep__timer_arm(self->ep, t);
		return id;
	}
	t->deadline = ep__now_ms() + (uint64_t)ms;
	atomic_store_explicit(&t->epump, -1, memory_order_relaxed);
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
	atomic_store(&t->epump, (int16_t)idx);
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
	want = tm_tag(EP__ID_GEN(id), TM_PENDING);
	if (t == NULL || !atomic_compare_exchange_strong(&t->tag, &want,
	        tm_tag(EP__ID_GEN(id), TM_CANCELLED))) {
		errno = ENOENT;
		return -1;
	}
	self = ep__self_in(core);
	idx = atomic_load(&t->epump);
	if (idx < 0) {
		pthread_mutex_lock(&core->lock);
		idx = atomic_load(&t->epump);
		if (idx < 0) {
			ep__idvec_del(&core->parked_timers, id);
			timer_free(core, t);
			pthread_mutex_unlock(&core->lock);
			return 0;
		}
		pthread_mutex_unlock(&core->lock);
	}
	if (self != NULL && self->ep != NULL && self->index == idx) {
		if (t->list != NULL) {
			tw_unlink(&self->ep->wheel, t);
			atomic_store_explicit(&self->ep->ntimers,
			                      self->ep->wheel.n,
			                      memory_order_relaxed);
		}
		timer_free(core, t);
		return 0;
	}
	m.type = MSG_TIMER_DEL;
	m.id = id;
	/* If even this fails, the timer stays stopped (it never fires); its
	 * slot is reclaimed by epcore_free(). */
	(void)ep__epump_send(core->epumps[idx], &m);
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
