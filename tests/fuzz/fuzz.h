/*
 * fuzz.h - what the libFuzzer targets in tests/fuzz share: an assertion
 * that stays on whatever NDEBUG says (a failed one aborts, which libFuzzer
 * reports as a crash and saves the input), and a cursor that lets the
 * first bytes of an input choose how the rest is cut into pieces:
 * byte 0 the largest piece (0: all in one), bytes 1-4 the piece sizes.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) do {                                          \
	if (!(cond)) {                                                  \
		fprintf(stderr, "%s:%d: invariant broken: %s\n",       \
		        __FILE__, __LINE__, #cond);                     \
		abort();                                                \
	}                                                               \
} while (0)

/* Piece sizes from a seed: each next piece is 1 to 1 + (seed byte % max)
 * bytes; the seed bytes cycle.  With no seed, one piece. */
struct fuzz_split {
	const uint8_t *seed;
	size_t nseed, i;
	size_t max;
};

static inline size_t fuzz_next_piece(struct fuzz_split *s, size_t left)
{
	size_t n;

	if (s->nseed == 0 || s->max == 0)
		return left;
	n = 1 + (size_t)s->seed[s->i++ % s->nseed] % s->max;
	return n < left ? n : left;
}

/* Takes the split's bytes off the front of the input: one for the
 * largest piece (0: the input in one piece), then nseed seeds.  0, or -1
 * when the input is shorter than that. */
static inline int fuzz_split_init(struct fuzz_split *s, const uint8_t **data,
                                  size_t *size, size_t nseed)
{
	if (*size < 1 + nseed)
		return -1;
	s->max = (*data)[0];
	s->seed = *data + 1;
	s->nseed = nseed;
	s->i = 0;
	*data += 1 + nseed;
	*size -= 1 + nseed;
	return 0;
}

#endif
