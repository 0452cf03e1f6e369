/*
 * iotimer.c - one-shot millisecond timers.
 *
 * Each epump thread keeps its timers in a 4-ary min-heap of (key, timer)
 * pairs, keys inline for cache-friendly sifting; key = deadline << 20 |
 * sequence, so timers with one deadline fire in the order they started.
 * The heap is touched only by its epump thread: a start or stop from
 * another thread travels as a message (MSG_TIMER_ARM / MSG_TIMER_DEL).
 * Whether a timer fires or is stopped is decided by one compare-and-swap
 * on its tag (PENDING -> FIRING or PENDING -> CANCELLED), so a stop that
 * returns 0 means the handler never runs.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#define TM_SEQ_BITS 20
#define TM_KEY(deadline, seq) \
	(((uint64_t)(deadline) << TM_SEQ_BITS) | ((seq) & ((1u << TM_SEQ_BITS) - 1)))
#define TM_KEY_DEADLINE(key) ((key) >> TM_SEQ_BITS)

static inline uint64_t tm_tag(uint32_t gen, unsigned state)
{
	return ((uint64_t)gen << 8) | state;
}

/* ---- the 4-ary heap ---- */

static void heap_place(struct ep__heap *h, uint32_t i, struct ep__heapent e)
{
	h->e[i] = e;
	e.t->hidx = (int32_t)i;
}

static void heap_up(struct ep__heap *h, uint32_t i)
{
	struct ep__heapent e = h->e[i];

	while (i > 0) {
		uint32_t p = (i - 1) / 4;

		if (h->e[p].key <= e.key)
			break;
		heap_place(h, i, h->e[p]);
		i = p;
	}
	heap_place(h, i, e);
}

static void heap_down(struct ep__heap *h, uint32_t i)
{
	struct ep__heapent e = h->e[i];

	for (;;) {
		uint32_t c = 4 * i + 1, best, k, end;

		if (c >= h->n)
			break;
		best = c;
		end = c + 4 < h->n ? c + 4 : h->n;
		for (k = c + 1; k < end; k++)
			if (h->e[k].key < h->e[best].key)
				best = k;
		if (h->e[best].key >= e.key)
			break;
		heap_place(h, i, h->e[best]);
		i = best;
	}
	heap_place(h, i, e);
}

static int heap_insert(struct ep__heap *h, uint64_t key, struct iotimer *t)
{
	if (h->n == h->cap) {
		uint32_t nc = h->cap ? h->cap * 2 : 256;
		struct ep__heapent *ne = realloc(h->e, (size_t)nc * sizeof(*ne));

		if (ne == NULL)
			return -1;
		h->e = ne;
		h->cap = nc;
	}
	h->e[h->n].key = key;
	h->e[h->n].t = t;
	heap_up(h, h->n++);
	return 0;
}

static void heap_remove(struct ep__heap *h, uint32_t i)
{
	uint32_t last = --h->n;

	h->e[i].t->hidx = -1;
	if (i == last)
		return;
	h->e[i] = h->e[last];
	h->e[i].t->hidx = (int32_t)i;
	if (i > 0 && h->e[i].key < h->e[(i - 1) / 4].key)
		heap_up(h, i);
	else
		heap_down(h, i);
}

void ep__heap_free(struct ep__heap *h)
{
	free(h->e);
	h->e = NULL;
	h->n = h->cap = 0;
}

/* ---- on the epump thread ---- */

int ep__timer_arm(struct epump *ep, struct iotimer *t)
{
	if (heap_insert(&ep->heap, TM_KEY(t->deadline, ep->tseq++), t) < 0)
		return -1;
	atomic_store_explicit(&ep->ntimers, ep->heap.n, memory_order_relaxed);
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
	if (ep__timer_arm(ep, t) < 0) {
		uint64_t want = tag;

		/* No memory for the heap: it cannot fire, so stop it. */
		if (atomic_compare_exchange_strong(&t->tag, &want,
		        tm_tag(EP__TAG_GEN(tag), TM_CANCELLED)))
			timer_free(ep->core, t);
	}
}

void ep__timer_arm_msg(struct epump *ep, uint64_t id)
{
	struct iotimer *t = ep__slab_at(&ep->core->timers, EP__ID_SLOT(id));

	if (t == NULL ||
	    atomic_load(&t->tag) != tm_tag(EP__ID_GEN(id), TM_PENDING) ||
	    t->hidx >= 0)
		return;
	if (ep__timer_arm(ep, t) < 0) {
		uint64_t want = tm_tag(EP__ID_GEN(id), TM_PENDING);

		if (atomic_compare_exchange_strong(&t->tag, &want,
		        tm_tag(EP__ID_GEN(id), TM_CANCELLED)))
			timer_free(ep->core, t);
	}
}

void ep__timer_del_msg(struct epump *ep, uint64_t id)
{
	struct iotimer *t = ep__slab_at(&ep->core->timers, EP__ID_SLOT(id));

	if (t == NULL ||
	    atomic_load(&t->tag) != tm_tag(EP__ID_GEN(id), TM_CANCELLED))
		return;
	if (t->hidx >= 0) {
		heap_remove(&ep->heap, (uint32_t)t->hidx);
		atomic_store_explicit(&ep->ntimers, ep->heap.n,
		                      memory_order_relaxed);
	}
	timer_free(ep->core, t);
}

/* Milliseconds until the next deadline: -1 if none, 0 if due. */
int ep__timer_next_ms(struct epump *ep)
{
	uint64_t d;

	if (ep->heap.n == 0)
		return -1;
	d = TM_KEY_DEADLINE(ep->heap.e[0].key);
	if (d <= ep->now)
		return 0;
	d -= ep->now;
	return d > INT_MAX ? INT_MAX : (int)d;
}

/* Runs timer id's handler if nobody stopped it first, then frees it. */
int ep__timer_run(epcore_t *core, uint64_t id)
{
	struct iotimer *t = ep__slab_at(&core->timers, EP__ID_SLOT(id));
	uint64_t want = tm_tag(EP__ID_GEN(id), TM_PENDING);

	if (t == NULL || !atomic_compare_exchange_strong(&t->tag, &want,
	        tm_tag(EP__ID_GEN(id), TM_FIRING)))
		return 0;
	t->handler(t->cbpara, t, IOE_TIMEOUT, FDT_TIMER);
	timer_free(core, t);
	return 1;
}

void ep__timers_expire(struct epump *ep)
{
	struct ep__heap *h = &ep->heap;
	epcore_t *core = ep->core;

	while (h->n > 0 && TM_KEY_DEADLINE(h->e[0].key) <= ep->now &&
	       !ep__stopping(core)) {
		struct iotimer *t = h->e[0].t;
		uint64_t tag = atomic_load(&t->tag), id;
		int w;

		heap_remove(h, 0);
		if ((tag & 0xff) != TM_PENDING)
			continue; /* stopped: its MSG_TIMER_DEL frees it */
		id = EP__MKID(EP__TAG_GEN(tag), t->slot);
		w = t->worker;
		if (w < 0 && ep__nworkers(core) > 0)
			w = ep__worker_pick(core);
		if (w < 0) {
			(void)ep__timer_run(core, id);
		} else {
			struct ep__ev ev = { 0 };

			ev.type = EV_TIMER;
			ev.id = id;
			ev.src = (int16_t)ep->index;
			(void)ep__worker_push(core->workers[w], &ev, 1);
		}
	}
	atomic_store_explicit(&ep->ntimers, h->n, memory_order_relaxed);
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
	t->hidx = -1;
	t->cmdid = cmdid;
	t->core = core;
	t->para = para;
	t->handler = handler;
	t->cbpara = cbpara;
	t->worker = (int16_t)(self != NULL && self->wk != NULL ? self->index
	                                                       : -1);
	if (self != NULL && self->ep != NULL) {
		/* The fast path: the caller owns a heap. */
		t->deadline = self->ep->now + (uint64_t)ms;
		atomic_store_explicit(&t->epump, (int16_t)self->index,
		                      memory_order_relaxed);
		atomic_store_explicit(&t->tag, tm_tag(gen, TM_PENDING),
		                      memory_order_relaxed);
		if (ep__timer_arm(self->ep, t) < 0) {
			timer_free(core, t);
			errno = ENOMEM;
			return 0;
		}
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
		if (t->hidx >= 0) {
			heap_remove(&self->ep->heap, (uint32_t)t->hidx);
			atomic_store_explicit(&self->ep->ntimers,
			                      self->ep->heap.n,
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
