/*
 * timerq.c - which structure should hold an epump thread's timers?  A
 * self-contained comparison of two timer queues, both written here:
 *
 *   heap   a 4-ary min-heap with inline keys, laid out as lib/iotimer.c:
 *          16-byte entries {key = deadline << 20 | sequence, item *}, the
 *          item keeps its heap index (O(log n) insert, remove and pop).
 *   wheel  a hierarchical timing wheel: 4 levels x 256 slots, 1 ms tick,
 *          intrusive doubly-linked lists, items cascading down a level
 *          when the lower wheel wraps (O(1) insert and remove; expiry
 *          costs one visit per tick plus one move per cascade level).
 *
 * For COUNT items (default 10^6) with deadlines uniform over 0..SPREAD ms:
 *
 *   insert      COUNT inserts at time 0.
 *   remove      COUNT removals in a random order.
 *   expire-all  COUNT inserts (untimed), then time advances to the last
 *               deadline and every item is popped when due (unlinked and
 *               checked against the time): the heap jumps from one
 *               deadline to the next, as an event loop sleeps until the
 *               earliest one; the wheel must visit every 1 ms tick.
 *
 * Rounds alternate heap, wheel, heap, wheel, heap, wheel (so machine
 * noise hits both alike) and each figure is the median of the 3 rounds.
 * Deadline 0 counts as 1 ms for both (the wheel's first tick).  Both run
 * over the same items (32 bytes: links, deadline, heap index) and the
 * same deadlines; the heap's array is allocated to COUNT beforehand.
 *
 *   timerq [-n COUNT] [-s SPREAD_MS]...
 *
 * The default spreads, -s 100 -s 60000 -s 3600000, keep the wheel's items
 * in level 0, cascade them once (level 1), and twice (level 2).
 *
 * Figures are printed, never checked against fixed numbers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define ROUNDS 3
#define MAX_SPREADS 8
#define MAX_SPREAD_MS 3600000  /* 1 hour: level 2 of the wheel */

struct wlink {
	struct wlink *next, *prev;
};

struct item {
	struct wlink link;          /* wheel: slot list; next NULL if out */
	uint64_t deadline;          /* ms */
	int32_t hidx;               /* heap: entry index, -1 if out */
	uint32_t pad;
};

static inline struct item *item_of(struct wlink *l)
{
	return (struct item *)((char *)l - offsetof(struct item, link));
}

/* ---- the 4-ary heap ---- */

#define SEQ_BITS 20
#define KEY_DEADLINE(k) ((k) >> SEQ_BITS)

struct hent {
	uint64_t key;
	struct item *it;
};

struct heap {
	struct hent *e;
	uint32_t n, cap, seq;
};

/* Moves the hole at i up until ent fits, then puts ent there. */
static void heap_sift_up(struct heap *h, uint32_t i, struct hent ent)
{
	while (i > 0) {
		uint32_t p = (i - 1) >> 2;

		if (h->e[p].key <= ent.key)
			break;
		h->e[i] = h->e[p];
		h->e[i].it->hidx = (int32_t)i;
		i = p;
	}
	h->e[i] = ent;
	ent.it->hidx = (int32_t)i;
}

/* Moves the hole at i down until ent fits, then puts ent there. */
static void heap_sift_down(struct heap *h, uint32_t i, struct hent ent)
{
	uint32_t n = h->n;

	for (;;) {
		uint32_t c = 4 * i + 1, m, k, end;

		if (c >= n)
			break;
		m = c;
		end = c + 4 < n ? c + 4 : n;
		for (k = c + 1; k < end; k++)
			if (h->e[k].key < h->e[m].key)
				m = k;
		if (ent.key <= h->e[m].key)
			break;
		h->e[i] = h->e[m];
		h->e[i].it->hidx = (int32_t)i;
		i = m;
	}
	h->e[i] = ent;
	ent.it->hidx = (int32_t)i;
}

static int heap_insert(struct heap *h, struct item *it)
{
	struct hent ent;

	if (h->n == h->cap)
		return -1; /* allocated up front: never happens here */
	ent.key = (it->deadline << SEQ_BITS) |
	          (h->seq++ & ((1u << SEQ_BITS) - 1));
	ent.it = it;
	heap_sift_up(h, h->n++, ent);
	return 0;
}

static void heap_remove(struct heap *h, struct item *it)
{
	uint32_t i = (uint32_t)it->hidx;
	struct hent last;

	it->hidx = -1;
	if (i == --h->n)
		return;
	last = h->e[h->n];
	if (i > 0 && last.key < h->e[(i - 1) >> 2].key)
		heap_sift_up(h, i, last);
	else
		heap_sift_down(h, i, last);
}

static struct item *heap_pop_due(struct heap *h, uint64_t now)
{
	struct item *it;

	if (h->n == 0 || KEY_DEADLINE(h->e[0].key) > now)
		return NULL;
	it = h->e[0].it;
	heap_remove(h, it);
	return it;
}

/* ---- the hierarchical timing wheel ---- */

#define W_LEVELS 4
#define W_BITS 8
#define W_SLOTS (1u << W_BITS)
#define W_MASK (W_SLOTS - 1)

struct wheel {
	uint64_t now;               /* every tick <= now has been expired */
	struct wlink slot[W_LEVELS][W_SLOTS]; /* circular lists' heads */
};

static void wheel_init(struct wheel *w)
{
	unsigned l, s;

	w->now = 0;
	for (l = 0; l < W_LEVELS; l++)
		for (s = 0; s < W_SLOTS; s++)
			w->slot[l][s].next = w->slot[l][s].prev =
			    &w->slot[l][s];
}

static inline void list_add(struct wlink *head, struct wlink *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

/* Files the item by its distance from now: level k holds deadlines
 * 256^k .. 256^(k+1)-1 ticks ahead, in the slot of its k-th digit.  An
 * item due before first (now + 1 for an insert: tick now is done; now
 * for a cascade: tick now is about to be expired) goes to first. */
static void wheel_place(struct wheel *w, struct item *it, uint64_t first)
{
	uint64_t d = it->deadline, delta;
	unsigned level;

	if (d < first)
		d = first;
	delta = d - w->now;
	if (delta < (1u << W_BITS))
		level = 0;
	else if (delta < (1u << (2 * W_BITS)))
		level = 1;
	else if (delta < (1u << (3 * W_BITS)))
		level = 2;
	else {
		level = 3;
		if (delta > 0xffffffffu)  /* beyond the wheel: park at its end */
			d = w->now + 0xffffffffu;
	}
	list_add(&w->slot[level][(d >> (level * W_BITS)) & W_MASK],
	         &it->link);
}

static inline void wheel_insert(struct wheel *w, struct item *it)
{
	wheel_place(w, it, w->now + 1);
}

static inline void wheel_remove(struct item *it)
{
	it->link.prev->next = it->link.next;
	it->link.next->prev = it->link.prev;
	it->link.next = it->link.prev = NULL;
}

/* Re-files every item of one slot (its level's digit just came up). */
static void wheel_cascade(struct wheel *w, unsigned level, unsigned idx)
{
	struct wlink *head = &w->slot[level][idx], *l = head->next;

	head->next = head->prev = head;
	while (l != head) {
		struct wlink *next = l->next;

		wheel_place(w, item_of(l), w->now);
		l = next;
	}
}

/* One tick: cascade the upper levels whose digit wrapped, then expire
 * level 0's slot for the new now.  fn is called on each expired item. */
static unsigned long wheel_tick(struct wheel *w,
                                void (*fn)(struct item *, uint64_t))
{
	uint64_t now = ++w->now;
	struct wlink *head, *l;
	unsigned long n = 0;
	int level;

	if ((now & W_MASK) == 0)
		for (level = W_LEVELS - 1; level >= 1; level--) {
			uint64_t low = now & ((1ull << (level * W_BITS)) - 1);

			if (low == 0)
				wheel_cascade(w, (unsigned)level,
				    (unsigned)(now >> (level * W_BITS)) & W_MASK);
		}
	head = &w->slot[0][now & W_MASK];
	l = head->next;
	head->next = head->prev = head;
	while (l != head) {
		struct wlink *next = l->next;
		struct item *it = item_of(l);

		l->next = l->prev = NULL;
		fn(it, now);
		n++;
		l = next;
	}
	return n;
}

/* ---- the benchmark ---- */

static unsigned long n_items = 1000000;
static struct item *items;
static uint32_t *perm;
static uint64_t max_deadline;
static unsigned long n_early, n_late;  /* wrong expiries: a bug if > 0 */

static void on_expire(struct item *it, uint64_t now)
{
	uint64_t d = it->deadline ? it->deadline : 1;

	if (d > now)
		n_early++;
	else if (d < now)
		n_late++;
}

struct result {
	uint64_t wall[3], cpu[3];   /* insert, remove, expire-all: total ns */
};

static void load_deadlines(int spread, uint64_t seed)
{
	unsigned long i;

	max_deadline = 1;
	for (i = 0; i < n_items; i++) {
		items[i].deadline = bench_rand(&seed) % ((uint64_t)spread + 1);
		items[i].hidx = -1;
		items[i].link.next = items[i].link.prev = NULL;
		if (items[i].deadline > max_deadline)
			max_deadline = items[i].deadline;
	}
}

static void take(struct result *r, int phase, struct bench_stamp a,
                 struct bench_stamp b)
{
	r->wall[phase] = b.wall_ns - a.wall_ns;
	r->cpu[phase] = b.cpu_ns - a.cpu_ns;
}

static int round_heap(struct heap *h, struct result *r)
{
	struct bench_stamp a, b;
	unsigned long i, popped = 0;
	uint64_t t;

	h->n = h->seq = 0;
	a = bench_now();
	for (i = 0; i < n_items; i++)
		(void)heap_insert(h, &items[i]);
	b = bench_now();
	take(r, 0, a, b);
	a = bench_now();
	for (i = 0; i < n_items; i++)
		heap_remove(h, &items[perm[i]]);
	b = bench_now();
	take(r, 1, a, b);

	for (i = 0; i < n_items; i++)
		(void)heap_insert(h, &items[i]);
	a = bench_now();
	/* Like an event loop: sleep until the earliest deadline, pop what
	 * is due, repeat; t never passes the last deadline. */
	for (t = 1; h->n > 0; t++) {
		struct item *it;
		uint64_t next = KEY_DEADLINE(h->e[0].key);

		if (next > t)
			t = next;
		while ((it = heap_pop_due(h, t)) != NULL) {
			on_expire(it, t);
			popped++;
		}
	}
	b = bench_now();
	take(r, 2, a, b);
	return popped == n_items && h->n == 0 ? 0 : -1;
}

static int round_wheel(struct wheel *w, struct result *r)
{
	struct bench_stamp a, b;
	unsigned long i, popped = 0;

	wheel_init(w);
	a = bench_now();
	for (i = 0; i < n_items; i++)
		wheel_insert(w, &items[i]);
	b = bench_now();
	take(r, 0, a, b);
	a = bench_now();
	for (i = 0; i < n_items; i++)
		wheel_remove(&items[perm[i]]);
	b = bench_now();
	take(r, 1, a, b);

	for (i = 0; i < n_items; i++)
		wheel_insert(w, &items[i]);
	a = bench_now();
	while (w->now < max_deadline)
		popped += wheel_tick(w, on_expire);
	b = bench_now();
	take(r, 2, a, b);
	return popped == n_items ? 0 : -1;
}

static uint64_t median3(const uint64_t *v)
{
	uint64_t a = v[0], b = v[1], c = v[2];

	if (a > b) { uint64_t t = a; a = b; b = t; }
	if (b > c) { uint64_t t = b; b = c; c = t; }
	if (a > b) { uint64_t t = a; a = b; b = t; }
	return b;
}

static int run_spread(struct heap *h, struct wheel *w, int spread)
{
	static const char *phase[3] = { "insert", "remove", "expire-all" };
	struct result rh[ROUNDS], rw[ROUNDS];
	uint64_t v[ROUNDS];
	double hw[3], hc[3], ww[3], wc[3];
	int round, p, k;

	load_deadlines(spread, 7);
	for (round = 0; round < ROUNDS; round++) {
		if (round_heap(h, &rh[round]) < 0 ||
		    round_wheel(w, &rw[round]) < 0) {
			fprintf(stderr, "timerq: lost items (a bug)\n");
			return -1;
		}
	}
	if (n_early || n_late) {
		fprintf(stderr, "timerq: %lu early and %lu late expiries "
		        "(a bug)\n", n_early, n_late);
		return -1;
	}
	for (p = 0; p < 3; p++) {
		for (k = 0; k < ROUNDS; k++) v[k] = rh[k].wall[p];
		hw[p] = (double)median3(v) / (double)n_items;
		for (k = 0; k < ROUNDS; k++) v[k] = rh[k].cpu[p];
		hc[p] = (double)median3(v) / (double)n_items;
		for (k = 0; k < ROUNDS; k++) v[k] = rw[k].wall[p];
		ww[p] = (double)median3(v) / (double)n_items;
		for (k = 0; k < ROUNDS; k++) v[k] = rw[k].cpu[p];
		wc[p] = (double)median3(v) / (double)n_items;
	}
	printf("timer queues: n=%lu, deadlines 0..%d ms, median of %d "
	       "alternating rounds, ns/op\n", n_items, spread, ROUNDS);
	printf("%-12s %11s %11s %11s %11s %12s %12s\n", "phase",
	       "heap wall", "heap cpu", "wheel wall", "wheel cpu",
	       "wheel/heap w", "wheel/heap c");
	for (p = 0; p < 3; p++)
		printf("%-12s %11.1f %11.1f %11.1f %11.1f %12.2f %12.2f\n",
		       phase[p], hw[p], hc[p], ww[p], wc[p],
		       hw[p] > 0 ? ww[p] / hw[p] : 0.0,
		       hc[p] > 0 ? wc[p] / hc[p] : 0.0);
	fflush(stdout);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: timerq [-n COUNT] [-s SPREAD_MS]...\n"
	    "  -n COUNT      items (default 1000000)\n"
	    "  -s SPREAD_MS  deadlines uniform over 0..SPREAD_MS, 1..%d;\n"
	    "                repeatable (default: -s 100 -s 60000 -s 3600000)\n",
	    MAX_SPREAD_MS);
}

int main(int argc, char **argv)
{
	int spreads[MAX_SPREADS], nspreads = 0, c, i, rc = 0;
	struct heap h = { 0 };
	struct wheel *w;
	long v;

	while ((c = getopt(argc, argv, "n:s:h")) != -1) {
		switch (c) {
		case 'n':
			v = bench_parse_count(optarg, BENCH_MAX_COUNT);
			if (v < 0) {
				fprintf(stderr, "timerq: -n wants 1..%lu\n",
				        BENCH_MAX_COUNT);
				return 2;
			}
			n_items = (unsigned long)v;
			break;
		case 's':
			v = bench_parse_count(optarg, MAX_SPREAD_MS);
			if (v < 0 || nspreads == MAX_SPREADS) {
				fprintf(stderr, "timerq: -s wants 1..%d, at most "
				        "%d times\n", MAX_SPREAD_MS, MAX_SPREADS);
				return 2;
			}
			spreads[nspreads++] = (int)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (nspreads == 0) {
		spreads[nspreads++] = 100;
		spreads[nspreads++] = 60000;
		spreads[nspreads++] = 3600000;
	}

	items = calloc(n_items, sizeof(*items));
	h.e = calloc(n_items, sizeof(*h.e));  /* calloc + first round: warm */
	h.cap = (uint32_t)n_items;
	w = malloc(sizeof(*w));
	perm = bench_perm(n_items, 1);
	if (items == NULL || h.e == NULL || w == NULL || perm == NULL) {
		fprintf(stderr, "timerq: out of memory\n");
		return 1;
	}
	memset(h.e, 0, n_items * sizeof(*h.e));
	for (i = 0; i < nspreads && rc == 0; i++) {
		if (i > 0)
			putchar('\n');
		rc = run_spread(&h, w, spreads[i]) < 0 ? 1 : 0;
	}
	free(items);
	free(h.e);
	free(w);
	free(perm);
	return rc;
}
