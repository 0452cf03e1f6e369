/*
 * fuzz_http_response.c - epbench's HTTP/1.x response parser,
 * eb_http_feed() and eb_http_eof() (tools/epbench/http.c), driven as
 * load.c drives it: bytes fed as they arrive, a response completed, the
 * parser reset for the next one unless the connection closes, end of
 * file at the end of the input.  Input byte 0: bit 0 a HEAD request;
 * bytes 1-5 how the rest is cut (fuzz.h).
 *
 * Invariants: a feed never takes more than it was given and takes all of
 * it when it wants more; a complete response has a final status (200 to
 * 999) or is HEAD/204/304-like, and the line buffer never overflows; and
 * the responses (their statuses, where each ends, "close") and the final
 * outcome are the same whether the input comes in one piece or in many.
 */
#include "config.h"

#include <string.h>

#include "epbench.h"
#include "fuzz.h"

#define MAXRESP 1024

struct outcome {
	int n;                      /* responses */
	int status[MAXRESP];
	size_t end[MAXRESP];        /* offset just past each */
	int last;                   /* HP_ERROR, or eb_http_eof's answer */
	size_t stop;                /* where it stopped reading */
};

static void run(const char *in, size_t size, int head, struct fuzz_split *sp,
                struct outcome *o)
{
	static struct ebhttp p;
	size_t off = 0, used, piece, left;
	int r;

	memset(o, 0, sizeof(*o));
	eb_http_reset(&p, head);
	while (off < size) {
		piece = fuzz_next_piece(sp, size - off);
		for (left = piece; left > 0; ) {
			r = eb_http_feed(&p, in + off, left, &used);
			FUZZ_ASSERT(used <= left);
			FUZZ_ASSERT(p.linelen < sizeof(p.line) - 1);
			off += used;
			left -= used;
			if (r == HP_ERROR) {
				o->last = HP_ERROR;
				o->stop = off;
				return;
			}
			if (r == HP_MORE) {
				FUZZ_ASSERT(left == 0);
				break;
			}
			FUZZ_ASSERT(r == HP_OK);
			FUZZ_ASSERT(p.status >= 200 && p.status <= 999);
			FUZZ_ASSERT(!p.until_eof);
			if (o->n < MAXRESP) {
				o->status[o->n] = p.status;
				o->end[o->n] = off;
			}
			o->n++;
			if (p.closing) {
				o->last = HP_OK;
				o->stop = off;
				return;
			}
			eb_http_reset(&p, head);
		}
	}
	r = eb_http_eof(&p);
	FUZZ_ASSERT(r == HP_OK || r == HP_ERROR);
	if (r == HP_OK) {
		FUZZ_ASSERT(p.until_eof && p.closing);
		FUZZ_ASSERT(p.status >= 200 && p.status <= 999);
		FUZZ_ASSERT(!head);
	}
	o->last = r == HP_OK ? 1 : 2;
	o->stop = off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome one, cut;
	struct fuzz_split whole = { NULL, 0, 0, 0 }, sp;
	int head, i;

	if (size < 1)
		return 0;
	head = data[0] & 1;
	data++;
	size--;
	if (fuzz_split_init(&sp, &data, &size, 4) < 0)
		return 0;
	run((const char *)data, size, head, &whole, &one);
	run((const char *)data, size, head, &sp, &cut);
	FUZZ_ASSERT(one.n == cut.n);
	FUZZ_ASSERT(one.last == cut.last);
	FUZZ_ASSERT(one.stop == cut.stop);
	for (i = 0; i < one.n && i < MAXRESP; i++) {
		FUZZ_ASSERT(one.status[i] == cut.status[i]);
		FUZZ_ASSERT(one.end[i] == cut.end[i]);
	}
	return 0;
}
