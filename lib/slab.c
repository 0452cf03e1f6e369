/*
 * slab.c - tables of fixed-size objects named by slot, for devices and
 * timers.  Chunks are allocated on demand and never freed before the
 * table is destroyed, so a slot's memory stays valid for the core's life:
 * a stale id is checked against the object's tag, never dereferenced into
 * freed memory.  Free slots live in a locked list; each library thread
 * keeps a private stock (ep__slabcache) so the lock is taken once per
 * EP__CACHE_MAX/2 allocations, not per allocation.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ep__slab_init(struct ep__slab *s, size_t objsize)
{
	memset(s, 0, sizeof(*s));
	s->objsize = objsize;
	s->chunks = calloc(EP__SLAB_MAXCHUNKS, sizeof(*s->chunks));
	if (s->chunks == NULL)
		return -1;
	pthread_mutex_init(&s->lock, NULL);
	return 0;
}

void ep__slab_destroy(struct ep__slab *s)
{
	uint32_t i;

	if (s->chunks == NULL)
		return;
	for (i = 0; i < EP__SLAB_MAXCHUNKS; i++)
		free(atomic_load_explicit(&s->chunks[i], memory_order_relaxed));
	free(s->chunks);
	free(s->freelist);
	pthread_mutex_destroy(&s->lock);
	s->chunks = NULL;
}

void *ep__slab_at(struct ep__slab *s, uint32_t slot)
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

/* Hands out up to want slots into out[]; the caller holds s->lock. */
static uint32_t slab_take_locked(struct ep__slab *s, uint32_t *out,
                                 uint32_t want)
{
	uint32_t got = 0;

	while (got < want && s->nfree > 0)
		out[got++] = s->freelist[--s->nfree];
	while (got < want) {
		uint32_t slot = s->next, ci = slot >> EP__SLAB_CHUNK_SHIFT;

		if (ci >= EP__SLAB_MAXCHUNKS)
			break;
		if (atomic_load_explicit(&s->chunks[ci],
		                         memory_order_relaxed) == NULL) {
			size_t bytes = (size_t)EP__SLAB_CHUNK * s->objsize;
			char *c = aligned_alloc(EP__CACHELINE, bytes);
			uint32_t i;

			if (c == NULL)
				break;
			memset(c, 0, bytes);
			for (i = 0; i < EP__SLAB_CHUNK; i++) {
				struct ep__obj *o =
				    (struct ep__obj *)(c + i * s->objsize);
				o->slot = (ci << EP__SLAB_CHUNK_SHIFT) | i;
			}
			atomic_store_explicit(&s->chunks[ci], c,
			                      memory_order_release);
		}
		out[got++] = s->next++;
	}
	return got;
}

static int slab_give_locked(struct ep__slab *s, const uint32_t *in,
                            uint32_t n)
{
	if (s->nfree + n > s->capfree) {
		uint32_t nc = s->capfree ? s->capfree : 256;
		uint32_t *nf;

		while (nc < s->nfree + n)
			nc *= 2;
		nf = realloc(s->freelist, (size_t)nc * sizeof(*nf));
		if (nf == NULL)
			return -1;
		s->freelist = nf;
		s->capfree = nc;
	}
	memcpy(s->freelist + s->nfree, in, n * sizeof(*in));
	s->nfree += n;
	return 0;
}

/*
 * Returns a zeroed-but-for-header object whose tag holds its current
 * generation (>= 1) and no state bits; the caller sets the state.
 */
void *ep__slab_alloc(struct ep__slab *s, struct ep__slabcache *c)
{
	uint32_t slot;
	struct ep__obj *o;
	uint64_t tag;

	if (c != NULL) {
		if (c->n == 0) {
			pthread_mutex_lock(&s->lock);
			c->n = slab_take_locked(s, c->slot,
			                        EP__CACHE_MAX / 2);
			pthread_mutex_unlock(&s->lock);
			if (c->n == 0) {
				errno = ENOMEM;
				return NULL;
			}
		}
		slot = c->slot[--c->n];
	} else {
		uint32_t got;

		pthread_mutex_lock(&s->lock);
		got = slab_take_locked(s, &slot, 1);
		pthread_mutex_unlock(&s->lock);
		if (got == 0) {
			errno = ENOMEM;
			return NULL;
		}
	}
	o = ep__slab_at(s, slot);
	tag = atomic_load_explicit(&o->tag, memory_order_relaxed);
	if (EP__TAG_GEN(tag) == 0)
		tag = (uint64_t)1 << 8;
	memset((char *)o + sizeof(struct ep__obj), 0,
	       s->objsize - sizeof(struct ep__obj));
	atomic_store_explicit(&o->tag, tag & ~(uint64_t)0xff,
	                      memory_order_relaxed);
	return o;
}

/*
 * Ends the object's life: bumps the generation (so every id of this life
 * goes stale at once) and returns the slot.
 */
void ep__slab_free(struct ep__slab *s, struct ep__slabcache *c, void *obj)
{
	struct ep__obj *o = obj;
	uint64_t tag = atomic_load_explicit(&o->tag, memory_order_relaxed);
	uint32_t gen = EP__TAG_GEN(tag) + 1;

	if (gen == 0)
		gen = 1;
	atomic_store_explicit(&o->tag, (uint64_t)gen << 8,
	                      memory_order_release);
	if (c != NULL) {
		if (c->n == EP__CACHE_MAX) {
			uint32_t half = EP__CACHE_MAX / 2;

			pthread_mutex_lock(&s->lock);
			if (slab_give_locked(s, c->slot + half, half) == 0)
				c->n = half;
			pthread_mutex_unlock(&s->lock);
		}
		if (c->n < EP__CACHE_MAX) {
			c->slot[c->n++] = o->slot;
			return;
		}
	}
	pthread_mutex_lock(&s->lock);
	/* Out of memory for the list: the slot is lost, never reused. */
	(void)slab_give_locked(s, &o->slot, 1);
	pthread_mutex_unlock(&s->lock);
}

/* Returns a thread's stock to the table (the thread is leaving). */
void ep__slab_flush(struct ep__slab *s, struct ep__slabcache *c)
{
	if (c->n == 0)
		return;
	pthread_mutex_lock(&s->lock);
	(void)slab_give_locked(s, c->slot, c->n);
	pthread_mutex_unlock(&s->lock);
	c->n = 0;
}

void ep__slab_foreach(struct ep__slab *s, void (*fn)(void *obj, void *arg),
                      void *arg)
{
	uint32_t slot;

	for (slot = 0; slot < s->next; slot++) {
		void *o = ep__slab_at(s, slot);

		if (o != NULL)
			fn(o, arg);
	}
}
