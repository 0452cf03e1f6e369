/*
 * fuzz_epstat_reply.c - epstat's reply parser (tools/epstat_parse.c) on
 * what a server could send: the byte stream cut into reads (the first
 * 5 bytes of the input choose their sizes) and assembled into lines by
 * eps_line_feed(), the first line taken as the greeting, the others as
 * metric lines, ERR lines, or the empty line that ends a reply.
 *
 * Invariants: the lines are the stream's, byte for byte, however it is
 * cut; no line holds a newline or NUL or exceeds EPS_LINE_MAX; the parts
 * of a greeting or metric point into its line; labels have a name
 * without '=' and nothing holds a ','; a metric printed back from its
 * parts parses to the same parts.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "epstat_parse.h"
#include "fuzz.h"

static int within(const char *p, const char *buf, size_t len)
{
	return p >= buf && p <= buf + len;
}

static void check_greeting(const char *line, size_t len)
{
	char *copy = malloc(len + 1);
	struct eps_greeting g;

	FUZZ_ASSERT(copy != NULL);
	memcpy(copy, line, len + 1);
	if (eps_parse_greeting(copy, &g) == 0) {
		FUZZ_ASSERT(strncmp(line, "EPUMP-STATS/", 12) == 0);
		FUZZ_ASSERT(g.proto >= 0);
		FUZZ_ASSERT(g.pid == -1 || g.pid >= 1);
		if (g.prog != NULL) {
			FUZZ_ASSERT(within(g.prog, copy, len));
			FUZZ_ASSERT(strchr(g.prog, ' ') == NULL);
		}
		if (g.version != NULL) {
			FUZZ_ASSERT(within(g.version, copy, len));
			FUZZ_ASSERT(strchr(g.version, ' ') == NULL);
		}
	} else {
		FUZZ_ASSERT(strncmp(line, "EPUMP-STATS/", 12) != 0 ||
		            line[12] < '0' || line[12] > '9');
	}
	free(copy);
}

/* name \t type \t labels \t value, from the parts of m. */
static char *print_metric(const struct metric *m)
{
	size_t n = strlen(m->name) + strlen(m->type) + strlen(m->value) + 8;
	char *s, *p;
	int i;

	for (i = 0; i < m->nlab; i++)
		n += strlen(m->lab[i].k) + strlen(m->lab[i].v) + 2;
	s = p = malloc(n);
	FUZZ_ASSERT(s != NULL);
	p += sprintf(p, "%s\t%s\t", m->name, m->type);
	if (m->nlab == 0)
		*p++ = '-';
	for (i = 0; i < m->nlab; i++)
		p += sprintf(p, "%s%s=%s", i ? "," : "", m->lab[i].k,
		             m->lab[i].v);
	sprintf(p, "\t%s", m->value);
	return s;
}

static int same_num(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

static void check_metric(const char *line, size_t len)
{
	char *copy = malloc(len + 1), *again;
	struct metric m, m2;
	const char *bad;
	int rc, i;

	FUZZ_ASSERT(copy != NULL);
	memcpy(copy, line, len + 1);
	rc = eps_parse_metric(copy, &m, &bad);
	FUZZ_ASSERT(rc >= EPS_OK && rc <= EPS_ENOMEM);
	if (rc != EPS_OK) {
		FUZZ_ASSERT(within(bad, copy, len));
		free(copy);
		return;
	}
	FUZZ_ASSERT(m.line == copy);
	FUZZ_ASSERT(eps_valid_name(m.name));
	FUZZ_ASSERT(within(m.name, copy, len) && within(m.type, copy, len) &&
	            within(m.value, copy, len));
	FUZZ_ASSERT(strchr(m.value, '\t') == NULL);
	if (strcmp(m.type, "info") == 0)
		FUZZ_ASSERT(isnan(m.num));
	FUZZ_ASSERT(m.nlab >= 0 && (m.nlab == 0 || m.lab != NULL));
	for (i = 0; i < m.nlab; i++) {
		FUZZ_ASSERT(within(m.lab[i].k, copy, len));
		FUZZ_ASSERT(within(m.lab[i].v, copy, len));
		FUZZ_ASSERT(m.lab[i].k[0] != '\0');
		FUZZ_ASSERT(strchr(m.lab[i].k, '=') == NULL);
		FUZZ_ASSERT(strchr(m.lab[i].k, ',') == NULL);
		FUZZ_ASSERT(strchr(m.lab[i].v, ',') == NULL);
	}
	/* Printed back and parsed again: the same metric. */
	again = print_metric(&m);
	FUZZ_ASSERT(eps_parse_metric(again, &m2, &bad) == EPS_OK);
	FUZZ_ASSERT(strcmp(m.name, m2.name) == 0);
	FUZZ_ASSERT(strcmp(m.type, m2.type) == 0);
	FUZZ_ASSERT(strcmp(m.value, m2.value) == 0);
	FUZZ_ASSERT(same_num(m.num, m2.num));
	FUZZ_ASSERT(m.nlab == m2.nlab);
	for (i = 0; i < m.nlab; i++) {
		FUZZ_ASSERT(strcmp(m.lab[i].k, m2.lab[i].k) == 0);
		FUZZ_ASSERT(strcmp(m.lab[i].v, m2.lab[i].v) == 0);
	}
	free(m2.lab);
	free(again);
	free(m.lab);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_split sp;
	const char *in;
	char *line = NULL;
	size_t off = 0, olen = 0, used, piece, left, consumed = 0;
	int nlines = 0, r;

	if (fuzz_split_init(&sp, &data, &size, 4) < 0)
		return 0;
	in = (const char *)data;
	while (off < size) {
		piece = fuzz_next_piece(&sp, size - off);
		/* A read's bytes are fed until it is all taken. */
		for (left = piece; left > 0; ) {
			const char *at = in + off + (piece - left);

			r = eps_line_feed(&line, &olen, at, left, &used);
			FUZZ_ASSERT(used <= left);
			if (r == EPS_LINE_LONG || r == EPS_LINE_NUL) {
				FUZZ_ASSERT(line == NULL && olen == 0);
				return 0;
			}
			FUZZ_ASSERT(r == EPS_LINE_MORE || r == EPS_LINE_DONE);
			FUZZ_ASSERT(line != NULL && line[olen] == '\0');
			FUZZ_ASSERT(olen <= EPS_LINE_MAX);
			left -= used;
			if (r == EPS_LINE_MORE) {
				FUZZ_ASSERT(left == 0);
				continue;
			}
			/* The line is the stream's bytes up to a newline. */
			FUZZ_ASSERT(at[used - 1] == '\n');
			FUZZ_ASSERT(memcmp(line, in + consumed, olen) == 0);
			FUZZ_ASSERT(in[consumed + olen] == '\n');
			FUZZ_ASSERT(memchr(line, '\n', olen) == NULL);
			FUZZ_ASSERT(strlen(line) == olen);
			consumed += olen + 1;
			if (nlines++ == 0 && strncmp(line, "ERR ", 4) != 0)
				check_greeting(line, olen);
			else if (strncmp(line, "ERR ", 4) == 0)
				(void)eps_err_code(line);
			else if (olen > 0)
				check_metric(line, olen);
			free(line);
			line = NULL;
			olen = 0;
		}
		off += piece;
	}
	FUZZ_ASSERT(consumed + olen == size);
	free(line);
	return 0;
}
