/*
 * evq.c - growable FIFO rings of events, used for worker queues, epump
 * inboxes and per-worker outgoing batches.  Not thread-safe by itself: the
 * owner of each ring says which lock guards it.  Growth doubles, so a
 * steady load allocates nothing per event.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int ep__evq_reserve(struct ep__evq *q, uint32_t n)
{
	uint32_t len = ep__evq_len(q), nc;
	struct ep__ev *nr;

	if (len + n <= q->cap)
		return 0;
	nc = q->cap ? q->cap : 64;
	while (nc < len + n) {
		if (nc > (UINT32_MAX >> 2))
			return -1;
		nc *= 2;
	}
	nr = malloc((size_t)nc * sizeof(*nr));
	if (nr == NULL)
		return -1;
	if (len > 0) {
		uint32_t h = q->head & (q->cap - 1);
		uint32_t first = q->cap - h < len ? q->cap - h : len;

		memcpy(nr, q->ring + h, first * sizeof(*nr));
		memcpy(nr + first, q->ring, (len - first) * sizeof(*nr));
	}
	free(q->ring);
	q->ring = nr;
	q->cap = nc;
	q->head = 0;
	q->tail = len;
	return 0;
}

int ep__evq_push(struct ep__evq *q, const struct ep__ev *ev)
{
	if (ep__evq_len(q) == q->cap && ep__evq_reserve(q, 1) < 0)
		return -1;
	q->ring[q->tail++ & (q->cap - 1)] = *ev;
	return 0;
}

bool ep__evq_pop(struct ep__evq *q, struct ep__ev *ev)
{
	if (q->head == q->tail)
		return false;
	*ev = q->ring[q->head++ & (q->cap - 1)];
	return true;
}

void ep__evq_free(struct ep__evq *q)
{
	free(q->ring);
	memset(q, 0, sizeof(*q));
}
