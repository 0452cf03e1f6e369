/*
 * stats_cmd.c - the stats socket's command parser (epump-stats(7)): what
 * the first line of a client's input asks for.  Pure: no I/O, no state,
 * so the server (stats.c) and the fuzz target (tests/fuzz) share it.
 */
#include "internal.h"

#include <string.h>

static const struct {
	const char *text;
	enum ep__stats_cmd cmd;
} cmds[] = {
	{ "help", EP__SC_HELP },
	{ "show info", EP__SC_INFO },
	{ "show threads", EP__SC_THREADS },
	{ "show queues", EP__SC_QUEUES },
	{ "show fds", EP__SC_FDS },
	{ "show timers", EP__SC_TIMERS },
	{ "show all", EP__SC_ALL },
	{ "quit", EP__SC_QUIT },
};

const char *ep__stats_cmd_name(size_t i)
{
	return i < sizeof(cmds) / sizeof(cmds[0]) ? cmds[i].text : NULL;
}

enum ep__stats_cmd ep__stats_cmd_next(const char *in, size_t len,
                                      size_t *used)
{
	const char *nl = len > 0 ? memchr(in, '\n', len) : NULL;
	size_t n, b = 0, e, i;

	*used = 0;
	if (nl == NULL)
		return EP__SC_NONE;
	n = (size_t)(nl - in);
	*used = n + 1;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[i];

		if ((ch < 0x20 && ch != '\t' && ch != '\r') || ch > 0x7e)
			return EP__SC_BINARY;
	}
	/* Trailing CR, blanks and tabs, then leading blanks and tabs. */
	e = n;
	while (e > 0 && (in[e - 1] == '\r' || in[e - 1] == ' ' ||
	                 in[e - 1] == '\t'))
		e--;
	while (b < e && (in[b] == ' ' || in[b] == '\t'))
		b++;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strlen(cmds[i].text) == e - b &&
		    memcmp(cmds[i].text, in + b, e - b) == 0)
			return cmds[i].cmd;
	return EP__SC_UNKNOWN;
}
