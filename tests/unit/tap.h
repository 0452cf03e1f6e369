/*
 * tap.h - a tiny TAP producer for the C unit tests (automake's TAP driver
 * reads it).  Each test program runs its cases once per poller backend:
 * tap_backends() sets EPUMP_BACKEND before every pass, so the whole suite
 * covers epoll, poll and select.
 */
#ifndef EP_TAP_H
#define EP_TAP_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;
static const char *tap_backend = "default";

static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - [%s] ", cond ? "ok" : "not ok", ++tap_n, tap_backend);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static inline int tap_is(long long got, long long want, const char *what)
{
	return tap_ok(got == want, "%s (got %lld, want %lld)", what, got, want);
}

#define TAP_OK(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
/* Each argument is evaluated once. */
#define TAP_IS(got, want, what) tap_is((long long)(got), (long long)(want), (what))

/* Runs fn once per backend (or once for EPUMP_BACKEND if it is set). */
static inline int tap_backends(void (*fn)(void))
{
	static const char *const names[] = { "epoll", "poll", "select" };
	const char *fixed = getenv("EPUMP_BACKEND");
	size_t i;

	signal(SIGPIPE, SIG_IGN); /* tests write to peers they closed */
	if (fixed != NULL && *fixed != '\0') {
		tap_backend = fixed;
		fn();
	} else {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			setenv("EPUMP_BACKEND", names[i], 1);
			tap_backend = names[i];
			fn();
		}
		unsetenv("EPUMP_BACKEND");
	}
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif /* EP_TAP_H */
