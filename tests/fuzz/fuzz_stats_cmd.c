/*
 * fuzz_stats_cmd.c - the stats socket's command parser,
 * ep__stats_cmd_next() (lib/stats_cmd.c), as the server runs it: input
 * arriving in pieces (the first 5 bytes of the input choose their sizes)
 * into a 1024-byte line buffer, commands taken off its front until none
 * is complete, the client dropped on a binary line, "quit" or a full
 * buffer without a newline.
 *
 * Invariants: a command's line ends at the first '\n' of what is
 * buffered and nothing is taken without one; the command is what the
 * reference below (the server's parsing before it was factored out: trim,
 * then strcmp) says; and the commands are the same however the input is
 * cut, and so is the point where the server stops reading.
 */
#include "internal.h"

#include <string.h>

#include "fuzz.h"

#define LINE_MAX_SRV 1024       /* lib/stats.c: ST_LINE_MAX */
#define MAXCMDS      4096

/* The reference: the parsing stats.c had before stats_cmd.c. */
static enum ep__stats_cmd reference(const char *line, size_t len)
{
	static char buf[LINE_MAX_SRV + 1];
	char *p = buf;
	size_t i, n = len;
	const char *name;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if ((ch < 0x20 && ch != '\t' && ch != '\r') || ch > 0x7e)
			return EP__SC_BINARY;
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
	                 buf[n - 1] == '\t'))
		buf[--n] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	for (i = 0; (name = ep__stats_cmd_name(i)) != NULL; i++)
		if (strcmp(p, name) == 0)
			return (enum ep__stats_cmd)(EP__SC_HELP + i);
	return EP__SC_UNKNOWN;
}

/* Runs the input through a server-like buffer, cut as split says; the
 * commands in out[], their count returned; *stop tells why it ended. */
static size_t serve(const uint8_t *data, size_t size, struct fuzz_split *sp,
                    enum ep__stats_cmd *out, int *stop)
{
	static char in[LINE_MAX_SRV + 1];
	size_t inlen = 0, off = 0, n = 0, used, piece;
	enum ep__stats_cmd cmd;

	*stop = 0;
	while (off < size) {
		piece = fuzz_next_piece(sp, size - off);
		if (piece > LINE_MAX_SRV - inlen)
			piece = LINE_MAX_SRV - inlen;
		memcpy(in + inlen, data + off, piece);
		inlen += piece;
		off += piece;
		for (;;) {
			const char *nl = memchr(in, '\n', inlen);

			cmd = ep__stats_cmd_next(in, inlen, &used);
			if (cmd == EP__SC_NONE) {
				FUZZ_ASSERT(used == 0);
				FUZZ_ASSERT(nl == NULL);
				break;
			}
			FUZZ_ASSERT(nl != NULL);
			FUZZ_ASSERT(used == (size_t)(nl - in) + 1);
			FUZZ_ASSERT(used <= inlen);
			FUZZ_ASSERT(cmd == reference(in, used - 1));
			if (n < MAXCMDS)
				out[n++] = cmd;
			if (cmd == EP__SC_BINARY || cmd == EP__SC_QUIT) {
				*stop = 1;
				return n;
			}
			memmove(in, in + used, inlen - used);
			inlen -= used;
		}
		if (inlen >= LINE_MAX_SRV) {        /* 413 line too long */
			*stop = 2;
			return n;
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static enum ep__stats_cmd one[MAXCMDS], cut[MAXCMDS];
	struct fuzz_split whole = { NULL, 0, 0, 0 }, sp;
	size_t n1, n2, i;
	int stop1, stop2;

	if (fuzz_split_init(&sp, &data, &size, 4) < 0)
		return 0;
	n1 = serve(data, size, &whole, one, &stop1);
	n2 = serve(data, size, &sp, cut, &stop2);
	/* Even a line too long is one whatever the cut: at 1024 bytes
	 * without a newline after the last complete line. */
	FUZZ_ASSERT(n1 == n2);
	FUZZ_ASSERT(stop1 == stop2);
	for (i = 0; i < n1; i++)
		FUZZ_ASSERT(one[i] == cut[i]);
	return 0;
}
