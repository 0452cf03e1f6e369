/*
 * hist.c - the latency histogram: HdrHistogram's log-linear bucket scheme
 * (1 us to 60 s, 3 significant digits), so that histograms merge exactly.
 * Not thread-safe: each epump thread records into its own.
 */
#include "epbench.h"

#include <string.h>

void eb_hist_init(struct ebhist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

/* Bucket b holds [1024 << b, 2048 << b) in steps of 1 << b (b = 0 also
 * holds 0..1023 in steps of 1): 3 significant digits everywhere. */
int eb_hist_index(uint64_t v)
{
	int bucket, sub;

	if (v > EB_HIST_MAXV)
		v = EB_HIST_MAXV;
	bucket = 64 - __builtin_clzll(v | (EB_HIST_SUB - 1)) -
	    (EB_HIST_HALFMAG + 1);
	sub = (int)(v >> bucket);
	return ((bucket + 1) << EB_HIST_HALFMAG) + (sub - EB_HIST_HALF);
}

uint64_t eb_hist_value(int index)
{
	int bucket = (index >> EB_HIST_HALFMAG) - 1;
	int sub = (index & (EB_HIST_HALF - 1)) + EB_HIST_HALF;

	if (bucket < 0) {
		sub -= EB_HIST_HALF;
		bucket = 0;
	}
	return (uint64_t)sub << bucket;
}

uint64_t eb_hist_highest(int index)
{
	int bucket = (index >> EB_HIST_HALFMAG) - 1;

	if (bucket < 0)
		bucket = 0;
	return eb_hist_value(index) + ((uint64_t)1 << bucket) - 1;
}

void eb_hist_record(struct ebhist *h, uint64_t us)
{
	uint64_t *c = &h->counts[eb_hist_index(us)];

	/* One writer (the load thread that owns h), but the progress line
	 * reads the buckets from the main thread meanwhile: a relaxed
	 * atomic store pairs with its relaxed atomic loads (PEEK). */
	__atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
	h->total++;
	h->sum += us;
	if (us < h->min)
		h->min = us;
	if (us > h->max)
		h->max = us;
}

/* Add n values of the bucket of v (merge reads buckets back this way);
 * min and max come from the file, not from here. */
void eb_hist_add_count(struct ebhist *h, uint64_t v, uint64_t n)
{
	h->counts[eb_hist_index(v)] += n;
	h->total += n;
}

void eb_hist_merge(struct ebhist *to, const struct ebhist *from)
{
	int i;

	for (i = 0; i < EB_HIST_LEN; i++)
		to->counts[i] += from->counts[i];
	to->total += from->total;
	to->sum += from->sum;
	if (from->min < to->min)
		to->min = from->min;
	if (from->max > to->max)
		to->max = from->max;
}

/* The value at percentile p (0..100): the highest value equivalent to
 * the bucket where the cumulative count reaches p, capped at max. */
uint64_t eb_hist_percentile(const struct ebhist *h, double p)
{
	uint64_t want, seen = 0, v;
	double x;
	int i;

	if (h->total == 0)
		return 0;
	x = p / 100.0 * (double)h->total;
	want = (uint64_t)x;
	if ((double)want < x)           /* ceil, as HdrHistogram */
		want++;
	if (want < 1)
		want = 1;
	if (want > h->total)
		want = h->total;
	for (i = 0; i < EB_HIST_LEN; i++) {
		seen += h->counts[i];
		if (seen >= want) {
			v = eb_hist_highest(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}
