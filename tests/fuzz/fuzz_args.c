/*
 * fuzz_args.c - the option values of epbench (tools/epbench/args.c:
 * counts, durations, sizes) and of epstat (tools/epstat_parse.c:
 * seconds).  Input byte 0 picks the parser, the rest is the argument.
 *
 * Invariants: what is accepted is within its range, and printed back in
 * the parser's own syntax it parses to the same value; durations also in
 * other units ("ms" and "s" say the same thing).
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "epbench.h"
#include "epstat_parse.h"
#include "fuzz.h"

static void duration(const char *s)
{
	uint64_t ms, ms2;
	char buf[64];

	if (eb_parse_duration(s, &ms) < 0)
		return;
	FUZZ_ASSERT(ms <= 1000000000000ULL);
	snprintf(buf, sizeof(buf), "%llums", (unsigned long long)ms);
	FUZZ_ASSERT(eb_parse_duration(buf, &ms2) == 0 && ms2 == ms);
	if (ms % 1000 == 0) {
		snprintf(buf, sizeof(buf), "%llus",
		         (unsigned long long)(ms / 1000));
		FUZZ_ASSERT(eb_parse_duration(buf, &ms2) == 0 && ms2 == ms);
		snprintf(buf, sizeof(buf), "%llu",
		         (unsigned long long)(ms / 1000));
		FUZZ_ASSERT(eb_parse_duration(buf, &ms2) == 0 && ms2 == ms);
	}
	if (ms % 60000 == 0) {
		snprintf(buf, sizeof(buf), "%llum",
		         (unsigned long long)(ms / 60000));
		FUZZ_ASSERT(eb_parse_duration(buf, &ms2) == 0 && ms2 == ms);
	}
}

static void number(const char *s, long long min, long long max)
{
	long long v, v2;
	char buf[32];

	if (eb_parse_number(s, min, max, &v) < 0)
		return;
	FUZZ_ASSERT(v >= min && v <= max);
	snprintf(buf, sizeof(buf), "%lld", v);
	FUZZ_ASSERT(eb_parse_number(buf, min, max, &v2) == 0 && v2 == v);
}

static void size(const char *s)
{
	uint64_t v, v2;
	char buf[32];

	if (eb_parse_size(s, 1, 16 * 1024 * 1024, &v) < 0)
		return;
	FUZZ_ASSERT(v >= 1 && v <= 16 * 1024 * 1024);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	FUZZ_ASSERT(eb_parse_size(buf, 1, 16 * 1024 * 1024, &v2) == 0 &&
	            v2 == v);
	if (v % 1024 == 0) {
		snprintf(buf, sizeof(buf), "%lluk",
		         (unsigned long long)(v / 1024));
		FUZZ_ASSERT(eb_parse_size(buf, 1, 16 * 1024 * 1024, &v2) ==
		            0 && v2 == v);
	}
}

static void secs(const char *s)
{
	double v, v2;
	char buf[64];

	if (eps_parse_secs(s, &v) < 0)
		return;
	FUZZ_ASSERT(isfinite(v) && v > 0 && v <= 86400.0 * 365);
	snprintf(buf, sizeof(buf), "%.17g", v);
	FUZZ_ASSERT(eps_parse_secs(buf, &v2) == 0 && v2 == v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *s;

	if (len < 1)
		return 0;
	s = malloc(len);
	FUZZ_ASSERT(s != NULL);
	memcpy(s, data + 1, len - 1);
	s[len - 1] = '\0';
	switch (data[0] % 5) {
	case 0:
		duration(s);
		break;
	case 1:                 /* -c */
		number(s, 1, 1000000);
		break;
	case 2:                 /* -n */
		number(s, 1, (long long)1 << 60);
		break;
	case 3:
		size(s);
		break;
	case 4:
		secs(s);
		break;
	}
	free(s);
	return 0;
}
