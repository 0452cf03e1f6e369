/*
 * slab.c - tables of fixed-size objects named by slot, for devices and
 * timers.  Chunks are allocated on demand (the first with the table) and
 * never freed before the table is destroyed, so a slot's memory stays
 * valid for the core's life.  They are anonymous mappings, zero until a
 * slot is first handed out (a tag of 0 names no live object); what is
 * resident is the pages in use and at most 64 KiB made ready ahead of them
 * (slab_prefault).  A stale id is checked against the object's tag, never
 * dereferenced into freed memory.  Free slots live in a locked bitmap;
 * each library thread keeps a private stock (ep__slabcache) so the lock is
 * taken once per EP__CACHE_MAX/2 allocations, not per allocation.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t slab_chunk_bytes(const struct ep__slab *s)
{
	return (size_t)EP__SLAB_CHUNK * s->objsize;
}

static int slab_add_chunk(struct ep__slab *s, uint32_t ci);

int ep__slab_init(struct ep__slab *s, size_t objsize)
{
	memset(s, 0, sizeof(*s));
	s->objsize = objsize;
	s->chunks = calloc(EP__SLAB_MAXCHUNKS, sizeof(*s->chunks));
	if (s->chunks == NULL)
		return -1;
	pthread_mutex_init(&s->lock, NULL);
	/* The first chunk now, on the thread making the core: address space
	 * only, no page is touched.  Else the first object would make it on
	 * an epump thread, whose first malloc() (the bitmaps) makes glibc
	 * create an arena for that thread: 30 us in the first device's
	 * setup. */
	if (slab_add_chunk(s, 0) < 0) {
		ep__slab_destroy(s);
		return -1;
	}
	return 0;
}

void ep__slab_destroy(struct ep__slab *s)
{
	uint32_t i;

	if (s->chunks == NULL)
		return;
	for (i = 0; i < EP__SLAB_MAXCHUNKS; i++) {
		char *c = atomic_load_explicit(&s->chunks[i],
		                               memory_order_relaxed);

		if (c != NULL)
			munmap(c, slab_chunk_bytes(s));
	}
	free(s->chunks);
	free(s->freebits);
	free(s->freesum);
	pthread_mutex_destroy(&s->lock);
	s->chunks = NULL;
}

/* Grows the free bitmaps by one chunk's worth (64 words, one summary
 * word); the caller holds s->lock. */
static int slab_grow_bits(struct ep__slab *s)
{
	uint32_t nw = s->nwords + EP__SLAB_CHUNK / 64;
	uint64_t *fb, *fs;

	fb = realloc(s->freebits, (size_t)nw * sizeof(*fb));
	if (fb == NULL)
		return -1;
	s->freebits = fb;
	fs = realloc(s->freesum, (size_t)(nw / 64) * sizeof(*fs));
	if (fs == NULL)
		return -1;
	s->freesum = fs;
	memset(fb + s->nwords, 0, (nw - s->nwords) * sizeof(*fb));
	fs[nw / 64 - 1] = 0;
	s->nwords = nw;
	return 0;
}

/*
 * Maps chunk ci and grows the free bitmaps for it; the caller holds
 * s->lock (or has s to itself).  The chunk is zeroed by the kernel and
 * made resident a run of pages at a time as slots are first handed out:
 * a core with 1,000 devices holds 28 of its 112 pages, and up to 16 more
 * made ready for the next devices.  0, or -1.
 */
static int slab_add_chunk(struct ep__slab *s, uint32_t ci)
{
	void *c;

	if (slab_grow_bits(s) < 0)
		return -1;
	c = mmap(NULL, slab_chunk_bytes(s), PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		return -1;
	atomic_store_explicit(&s->chunks[ci], c, memory_order_release);
	return 0;
}

/*
 * The most the slab makes resident ahead of the slots handed out: 64 KiB,
 * 585 devices.
 */
#define SLAB_PREFAULT_MAX ((size_t)64 << 10)

/*
 * Makes the pages of slots [next, next + n) resident, with the slots after
 * them, before the caller writes to them: one madvise(MADV_POPULATE_WRITE)
 * for a run of pages, where touching them would fault once per page (about
 * 1.5 us each here; together 4% of the chain benchmark's setup).  It fills
 * as many bytes again as the slab has handed out, at most
 * SLAB_PREFAULT_MAX, and never past the chunk: a core with ten devices
 * holds a page or two, a core with 9,000 at most 64 KiB it does not use
 * yet.  On a kernel without MADV_POPULATE_WRITE (before 5.14) the pages
 * fault as they are touched.  The caller holds s->lock.
 */
static void slab_prefault(struct ep__slab *s, uint32_t next, uint32_t n)
{
#ifdef MADV_POPULATE_WRITE
	uint32_t end = (next | (EP__SLAB_CHUNK - 1)) + 1; /* chunk's end */
	uint32_t from = s->ready > next ? s->ready : next, to;
	size_t ahead = (size_t)s->next * s->objsize;
	size_t psz = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo, hi;
	int e = errno;

	if (ahead > SLAB_PREFAULT_MAX)
		ahead = SLAB_PREFAULT_MAX;
	to = from + (uint32_t)(ahead / s->objsize);
	if (to < next + n)
		to = next + n;
	if (to > end)
		to = end;
	lo = (uintptr_t)ep__slab_at(s, from) & ~(uintptr_t)(psz - 1);
	hi = ((uintptr_t)ep__slab_at(s, to - 1) + s->objsize + psz - 1) &
	     ~(uintptr_t)(psz - 1);
	s->ready = to;
	if (madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) < 0 &&
	    errno == EINVAL)
		s->noprefault = true;
	errno = e; /* an error here is a fault later, not a failure */
#else
	(void)next;
	(void)n;
	s->noprefault = true;
#endif
}

/*
 * Hands out up to want slots into out[], highest first, so that a cache
 * popping from the end takes the lowest first; the caller holds s->lock.
 * The number handed out, in out[0, got).
 */
static uint32_t slab_take_locked(struct ep__slab *s, uint32_t *out,
                                 uint32_t want)
{
	uint32_t got = 0, si = s->sumhint / 64;
	uint32_t *o = out + want; /* filled downwards */

	while (got < want && s->nfree > 0) {
		uint32_t w;
		uint64_t bits;

		while (s->freesum[si] == 0)
			si++;
		w = si * 64 + (uint32_t)__builtin_ctzll(s->freesum[si]);
		bits = s->freebits[w];
		while (bits != 0 && got < want) {
			*--o = w * 64 + (uint32_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			got++;
			s->nfree--;
		}
		s->freebits[w] = bits;
		if (bits == 0)
			s->freesum[si] &= ~((uint64_t)1 << (w % 64));
	}
	s->sumhint = si * 64;
	/* Slots never handed out, a chunk's run at a time: the loop below
	 * only numbers them (a new life finds its slot in its header). */
	while (got < want) {
		uint32_t next = s->next, ci = next >> EP__SLAB_CHUNK_SHIFT;
		uint32_t n = EP__SLAB_CHUNK - (next & (EP__SLAB_CHUNK - 1));
		size_t size = s->objsize;
		char *obj;

		if (ci >= EP__SLAB_MAXCHUNKS)
			break;
		if (atomic_load_explicit(&s->chunks[ci],
		                         memory_order_relaxed) == NULL &&
		    slab_add_chunk(s, ci) < 0)
			break;
		if (n > want - got)
			n = want - got;
		if (next + n > s->ready && !s->noprefault)
			slab_prefault(s, next, n);
		obj = ep__slab_at(s, next);
		s->next = next + n;
		got += n;
		for (; n > 0; n--, next++, obj += size) {
			((struct ep__obj *)obj)->slot = next;
			*--o = next;
		}
	}
	if (got < want)
		memmove(out, o, got * sizeof(*out));
	return got;
}

/* Returns n slots to the bitmap; the caller holds s->lock.  Every slot
 * below s->next has its bit already allocated: this cannot fail. */
static void slab_give_locked(struct ep__slab *s, const uint32_t *in,
                             uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint32_t w = in[i] / 64;

		s->freebits[w] |= (uint64_t)1 << (in[i] % 64);
		s->freesum[w / 64] |= (uint64_t)1 << (w % 64);
		if (w < s->sumhint)
			s->sumhint = w;
	}
	s->nfree += n;
}

/* ep__slab_alloc() when the thread's cache is empty or there is none. */
void *ep__slab_take(struct ep__slab *s, struct ep__slabcache *c)
{
	uint32_t slot, got;

	if (c != NULL) {
		pthread_mutex_lock(&s->lock);
		c->n = slab_take_locked(s, c->slot, EP__CACHE_MAX / 2);
		pthread_mutex_unlock(&s->lock);
		if (c->n == 0) {
			errno = ENOMEM;
			return NULL;
		}
		slot = c->slot[--c->n];
	} else {
		pthread_mutex_lock(&s->lock);
		got = slab_take_locked(s, &slot, 1);
		pthread_mutex_unlock(&s->lock);
		if (got == 0) {
			errno = ENOMEM;
			return NULL;
		}
	}
	return ep__slab_renew(ep__slab_at(s, slot));
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

			/* The older half goes back: the newer is warmer. */
			pthread_mutex_lock(&s->lock);
			slab_give_locked(s, c->slot, half);
			pthread_mutex_unlock(&s->lock);
			memmove(c->slot, c->slot + half,
			        half * sizeof(c->slot[0]));
			c->n = half;
		}
		c->slot[c->n++] = o->slot;
		return;
	}
	pthread_mutex_lock(&s->lock);
	slab_give_locked(s, &o->slot, 1);
	pthread_mutex_unlock(&s->lock);
}

/* Returns a thread's stock to the table (the thread is leaving). */
void ep__slab_flush(struct ep__slab *s, struct ep__slabcache *c)
{
	if (c->n == 0)
		return;
	pthread_mutex_lock(&s->lock);
	slab_give_locked(s, c->slot, c->n);
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
