/*
 * fuzz_http_request.c - httpsrv's request parser (examples/httpreq.c),
 * run as httpsrv's serve() runs it on a connection's 8192-byte buffer:
 * empty lines skipped, a complete head measured by http_head_len(),
 * parsed in place by http_parse_request(), answered, and the rest dropped
 * unless the connection is kept; the request line alone goes through
 * http_parse_request_line() too.
 *
 * Invariants: a head is within the buffer and ends at its first empty
 * line (LF LF or LF CR LF), none earlier; the status is one httpsrv has an
 * answer for; 400 and 505 never keep the connection; 200 is for GET or
 * HEAD of "/" or "/?..." only; the request line's own parse agrees with
 * the head's.
 */
#include <string.h>

#include "httpreq.h"
#include "fuzz.h"

#define HEAD_MAX 8192           /* examples/httpsrv.c */

static int ends_head(const char *p, size_t i)
{
	return p[i] == '\n' && i >= 1 && (p[i - 1] == '\n' ||
	    (i >= 2 && p[i - 1] == '\r' && p[i - 2] == '\n'));
}

static void check_head(const char *head, size_t hlen)
{
	char *copy = malloc(hlen + 1), *line;
	size_t llen;
	struct req r, rl;
	int st;

	FUZZ_ASSERT(copy != NULL);
	memcpy(copy, head, hlen);
	copy[hlen] = '\0';
	http_parse_request(copy, hlen, &r);
	FUZZ_ASSERT(r.status == 200 || r.status == 400 || r.status == 404 ||
	            r.status == 405 || r.status == 505);
	if (r.status == 400 || r.status == 505)
		FUZZ_ASSERT(!r.keep_alive);
	FUZZ_ASSERT(r.keep_alive == 0 || r.keep_alive == 1);
	/* The request line alone, as the head's first line. */
	if (memchr(head, '\0', hlen) == NULL) {
		llen = (size_t)((const char *)memchr(head, '\n', hlen) - head);
		line = malloc(llen + 1);
		FUZZ_ASSERT(line != NULL);
		memcpy(line, head, llen);
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		line[llen] = '\0';
		memset(&rl, 0, sizeof(rl));
		if (llen > 0) {
			st = http_parse_request_line(line, &rl);
			if (st == 400 || st == 505)
				FUZZ_ASSERT(r.status == st);
			else
				FUZZ_ASSERT(r.status == st || r.status == 400);
			if (st == 200) {
				FUZZ_ASSERT(strcmp(line, "GET") == 0 ||
				            strcmp(line, "HEAD") == 0);
				FUZZ_ASSERT(rl.head_only ==
				            (strcmp(line, "HEAD") == 0));
			}
			if (st != 400 && st != 505 && r.status != 400) {
				FUZZ_ASSERT(rl.http10 == r.http10);
				FUZZ_ASSERT(rl.head_only == r.head_only);
			}
		} else {
			FUZZ_ASSERT(r.status == 400);
		}
		free(line);
	} else {
		FUZZ_ASSERT(r.status == 400);
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[HEAD_MAX];
	size_t len = size < HEAD_MAX ? size : HEAD_MAX, off = 0, hlen, i;
	struct req r;

	memcpy(buf, data, len);
	for (;;) {
		while (off < len && (buf[off] == '\r' || buf[off] == '\n'))
			off++;
		hlen = http_head_len(buf + off, len - off);
		FUZZ_ASSERT(hlen <= len - off);
		if (hlen == 0) {
			for (i = 0; i < len - off; i++)
				FUZZ_ASSERT(!ends_head(buf + off, i));
			break;
		}
		FUZZ_ASSERT(ends_head(buf + off, hlen - 1));
		for (i = 0; i + 1 < hlen; i++)
			FUZZ_ASSERT(!ends_head(buf + off, i));
		check_head(buf + off, hlen);
		http_parse_request(buf + off, hlen, &r);
		off += hlen;
		if (!r.keep_alive)
			break;
	}
	return 0;
}
