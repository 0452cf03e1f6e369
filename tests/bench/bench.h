/*
 * bench.h - small helpers shared by the timer benchmarks (tests/bench):
 * clocks, a seeded random generator, the command line, and the table
 * every benchmark prints.  Header-only, so each benchmark stays one
 * translation unit and the libev peer needs no libepump code.
 *
 * Benchmarks print figures; they never assert on time.  Compare figures
 * only with a peer measured in the same run (tests/bench/run-timers.sh).
 */
#ifndef EPUMP_BENCH_H
#define EPUMP_BENCH_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_COUNT 16000000UL /* libepump's slab holds 16M timers */

/* A moment on two clocks: the wall (CLOCK_MONOTONIC) and the calling
 * thread's CPU time (CLOCK_THREAD_CPUTIME_ID). */
struct bench_stamp {
	uint64_t wall_ns;
	uint64_t cpu_ns;
};

static inline uint64_t bench_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline struct bench_stamp bench_now(void)
{
	struct bench_stamp s;

	s.wall_ns = bench_clock_ns(CLOCK_MONOTONIC);
	s.cpu_ns = bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	return s;
}

/* One measured phase: total wall and CPU nanoseconds for count ops. */
struct bench_row {
	const char *phase;          /* one word: run-timers.sh matches it */
	unsigned long count;
	uint64_t wall_ns;
	uint64_t cpu_ns;
	const char *note;           /* printed after the figures, or NULL */
};

static inline void bench_row_set(struct bench_row *r, const char *phase,
                                 unsigned long count,
                                 struct bench_stamp a, struct bench_stamp b)
{
	r->phase = phase;
	r->count = count;
	r->wall_ns = b.wall_ns - a.wall_ns;
	r->cpu_ns = b.cpu_ns - a.cpu_ns;
	r->note = NULL;
}

/* The table: "phase count wall-ns/op cpu-ns/op [note]", aligned. */
static inline void bench_print(const struct bench_row *rows, int n)
{
	int i;

	printf("%-16s %10s %14s %14s\n", "phase", "count", "wall ns/op",
	       "cpu ns/op");
	for (i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];
		double c = r->count ? (double)r->count : 1.0;

		printf("%-16s %10lu %14.1f %14.1f%s%s\n", r->phase, r->count,
		       (double)r->wall_ns / c, (double)r->cpu_ns / c,
		       r->note ? "   " : "", r->note ? r->note : "");
	}
	fflush(stdout);
}

/* splitmix64: a small seeded generator, the same sequence everywhere. */
static inline uint64_t bench_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A random permutation of 0..n-1 (Fisher-Yates), or NULL. */
static inline uint32_t *bench_perm(unsigned long n, uint64_t seed)
{
	uint32_t *p = malloc((n ? n : 1) * sizeof(*p));
	unsigned long i;

	if (p == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		p[i] = (uint32_t)i;
	for (i = n; i > 1; i--) {
		unsigned long j = (unsigned long)(bench_rand(&seed) % i);
		uint32_t t = p[i - 1];

		p[i - 1] = p[j];
		p[j] = t;
	}
	return p;
}

/* Deadlines in ms, uniform over 0..spread, or NULL. */
static inline int *bench_deadlines(unsigned long n, int spread, uint64_t seed)
{
	int *d = malloc((n ? n : 1) * sizeof(*d));
	unsigned long i;

	if (d == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		d[i] = (int)(bench_rand(&seed) % ((uint64_t)spread + 1));
	return d;
}

/* Parses a decimal count in 1..max; -1 if it is not one. */
static inline long bench_parse_count(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' ||
	    v == 0 || v > max)
		return -1;
	return (long)v;
}

#endif /* EPUMP_BENCH_H */
