/*
 * httpreq.c - httpsrv's HTTP/1.x request parser; see httpreq.h.
 */
#include "httpreq.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static int is_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) &&
		    !strchr("!#$%&'*+-.^_`|~", *s))
			return 0;
	return 1;
}

/* Does the comma-separated list have this token (any case)? */
static int has_token(char *list, const char *token)
{
	char *t, *save;

	for (t = strtok_r(list, ", \t", &save); t != NULL;
	     t = strtok_r(NULL, ", \t", &save))
		if (strcasecmp(t, token) == 0)
			return 1;
	return 0;
}

/* Parse "METHOD TARGET HTTP/x.y": the status to answer, or 400. */
int http_parse_request_line(char *line, struct req *r)
{
	char *target, *version;

	if ((target = strchr(line, ' ')) == NULL)
		return 400;
	*target++ = '\0';
	if ((version = strchr(target, ' ')) == NULL)
		return 400;
	*version++ = '\0';
	if (!is_token(line) || *target == '\0' || strchr(version, ' ') ||
	    strncmp(version, "HTTP/", 5) != 0 ||
	    !isdigit((unsigned char)version[5]) || version[6] != '.' ||
	    !isdigit((unsigned char)version[7]) || version[8] != '\0')
		return 400;
	if (version[5] != '1')
		return 505;
	r->http10 = version[7] == '0';
	r->head_only = strcmp(line, "HEAD") == 0;
	if (!r->head_only && strcmp(line, "GET") != 0)
		return 405;
	return strcmp(target, "/") == 0 || strncmp(target, "/?", 2) == 0 ?
	    200 : 404;
}

/*
 * Parse a request head (hlen bytes that end with its empty line) in place
 * into r.  Lines may end in CRLF or LF.  We read no request bodies, so a
 * request that has one is answered and its connection closed.
 */
void http_parse_request(char *head, size_t hlen, struct req *r)
{
	char *line = head, *nl, *value, *end;
	int body = 0, want_close = 0, want_keep = 0, first = 1;

	memset(r, 0, sizeof(*r));
	r->status = 400;
	if (memchr(head, '\0', hlen) != NULL)
		return;
	for (; (nl = memchr(line, '\n', hlen - (size_t)(line - head))) != NULL;
	     line = nl + 1) {
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (*line == '\0')      /* the empty line: end of the head */
			break;
		if (first) {
			first = 0;
			r->status = http_parse_request_line(line, r);
			if (r->status == 400 || r->status == 505)
				return;
			continue;
		}
		/* "Name: value"; no space before the colon, no folded lines. */
		if ((value = strchr(line, ':')) == NULL)
			goto bad;
		*value++ = '\0';
		if (!is_token(line))
			goto bad;
		value += strspn(value, " \t");
		for (end = value + strlen(value);
		     end > value && (end[-1] == ' ' || end[-1] == '\t'); end--)
			end[-1] = '\0';
		if (strcasecmp(line, "Connection") == 0) {
			want_close |= has_token(value, "close");
			want_keep |= has_token(value, "keep-alive");
		} else if (strcasecmp(line, "Content-Length") == 0) {
			if (*value == '\0' ||
			    value[strspn(value, "0123456789")] != '\0')
				goto bad;
			body |= value[strspn(value, "0")] != '\0';
		} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
			body = 1;
		}
	}
	r->keep_alive = !want_close && !body && (r->http10 ? want_keep : 1);
	return;
bad:
	r->status = 400;
	r->keep_alive = 0;
}

size_t http_head_len(const char *p, size_t len)
{
	size_t i;

	for (i = 1; i < len; i++)
		if (p[i] == '\n' && (p[i - 1] == '\n' ||
		    (i >= 2 && p[i - 1] == '\r' && p[i - 2] == '\n')))
			return i + 1;
	return 0;
}
