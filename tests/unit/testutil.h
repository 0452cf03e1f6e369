/*
 * testutil.h - helpers for the unit tests: waiting with a deadline (tests
 * never hang: every wait gives up after a bound and reports failure) and
 * monotonic time.
 */
#ifndef EP_TESTUTIL_H
#define EP_TESTUTIL_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline uint64_t tu_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline void tu_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits until *v >= want or ms pass; returns whether it got there. */
static inline int tu_wait_ge(atomic_long *v, long want, unsigned ms)
{
	uint64_t end = tu_now_ms() + ms;

	while (atomic_load(v) < want) {
		if (tu_now_ms() > end)
			return 0;
		tu_sleep_ms(1);
	}
	return 1;
}

#endif /* EP_TESTUTIL_H */
