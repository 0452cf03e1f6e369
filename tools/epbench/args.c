/*
 * args.c - epbench's option values: counts, durations ("10s", "500ms")
 * and sizes ("4k", expand_number(3)).  Pure, no messages: main.c says
 * what was wrong; the fuzz target tests/fuzz/fuzz_args.c calls them too.
 */
#include "epbench.h"

#include <errno.h>
#include <libutil.h>     /* libbsd: expand_number(3) */
#include <stdlib.h>
#include <string.h>

int eb_parse_number(const char *s, long long min, long long max,
                    long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int eb_parse_duration(const char *s, uint64_t *ms)
{
	char *end;
	double v, mul = 1000;

	errno = 0;
	v = strtod(s, &end);
	/* !(v >= 0): also NaN ("nan"), which no cast may see. */
	if (errno || end == s || !(v >= 0))
		return -1;
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else if (strcmp(end, "h") == 0)
		mul = 3600000;
	else
		return -1;
	if (v * mul > 1e12)
		return -1;
	*ms = (uint64_t)(v * mul + 0.5);
	return 0;
}

int eb_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (expand_number(s, &v) < 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
