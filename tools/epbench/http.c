/*
 * http.c - a small strict incremental HTTP/1.x response parser: status
 * line, headers, Content-Length, chunked bodies, Connection: close, 1xx
 * interim responses, bodies until close.  One per connection, no locks.
 */
#include "epbench.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { S_STATUS, S_HEADER, S_BODY, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_END,
       S_TRAILER, S_EOF_BODY };


void eb_http_reset(struct ebhttp *p, int head_req)
{
	p->state = S_STATUS;
	p->status = 0;
	p->head_req = head_req;
	p->chunked = p->closing = p->until_eof = 0;
	p->left = 0;
	p->linelen = 0;
	p->has_len = p->http10 = p->keep_alive = 0;
}

static int is_tchar(int c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

/* Does the comma-separated list contain token (any case)? */
static int has_token(const char *v, const char *token)
{
	size_t n = strlen(token);

	while (*v) {
		v += strspn(v, " \t,");
		if (strncasecmp(v, token, n) == 0 &&
		    (v[n] == '\0' || v[n] == ',' || v[n] == ' ' ||
		     v[n] == '\t'))
			return 1;
		v += strcspn(v, ",");
	}
	return 0;
}

static int status_line(struct ebhttp *p, const char *l)
{
	if (strncmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') ||
	    l[8] != ' ' || !isdigit((unsigned char)l[9]) ||
	    !isdigit((unsigned char)l[10]) || !isdigit((unsigned char)l[11]) ||
	    (l[12] != '\0' && l[12] != ' ') || l[9] == '0')
		return HP_ERROR;
	p->http10 = l[7] == '0';
	p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	if (p->status == 101)   /* we never ask to switch protocols */
		return HP_ERROR;
	p->has_len = p->keep_alive = p->chunked = 0;
	p->left = 0;
	p->state = S_HEADER;
	return HP_MORE;
}

static int header_line(struct ebhttp *p, char *l)
{
	char *colon = strchr(l, ':'), *v, *e, *end;
	unsigned long long n;

	if (colon == NULL || colon == l)
		return HP_ERROR;
	for (char *q = l; q < colon; q++)
		if (!is_tchar((unsigned char)*q))
			return HP_ERROR;   /* also: space before the colon */
	*colon = '\0';
	v = colon + 1 + strspn(colon + 1, " \t");
	for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
		e[-1] = '\0';
	if (strcasecmp(l, "Content-Length") == 0) {
		if (*v < '0' || *v > '9' || strlen(v) > 18)
			return HP_ERROR;
		n = strtoull(v, &end, 10);
		if (*end != '\0' || (p->has_len && p->left != n))
			return HP_ERROR;
		p->has_len = 1;
		p->left = n;
	} else if (strcasecmp(l, "Transfer-Encoding") == 0) {
		/* Only "chunked", last; anything else we cannot delimit. */
		size_t vl = strlen(v);

		if (vl < 7 || strcasecmp(v + vl - 7, "chunked") != 0 ||
		    (vl > 7 && v[vl - 8] != ',' && v[vl - 8] != ' '))
			return HP_ERROR;
		p->chunked = 1;
	} else if (strcasecmp(l, "Connection") == 0) {
		if (has_token(v, "close"))
			p->closing = 1;
		if (has_token(v, "keep-alive"))
			p->keep_alive = 1;
	}
	return HP_MORE;
}

/* The empty line after the headers: HP_OK when the response is complete
 * without a body, HP_MORE otherwise. */
static int end_of_head(struct ebhttp *p)
{
	if (p->http10 && !p->keep_alive)
		p->closing = 1;
	if (p->status < 200) {        /* interim: the final one follows */
		p->closing = 0;
		p->state = S_STATUS;
		return HP_MORE;
	}
	if (p->head_req || p->status == 204 || p->status == 304)
		return HP_OK;
	if (p->chunked) {
		p->has_len = 0;   /* chunked wins over Content-Length */
		p->state = S_CHUNK_SIZE;
		return HP_MORE;
	}
	if (p->has_len) {
		if (p->left == 0)
			return HP_OK;
		p->state = S_BODY;
		return HP_MORE;
	}
	p->until_eof = p->closing = 1;
	p->state = S_EOF_BODY;
	return HP_MORE;
}

static int chunk_size(struct ebhttp *p, const char *l)
{
	uint64_t n = 0;
	int digits = 0;

	for (; isxdigit((unsigned char)*l); l++, digits++) {
		if (n >> 58)
			return HP_ERROR;
		n = n * 16 + (uint64_t)(isdigit((unsigned char)*l) ? *l - '0' :
		    (tolower((unsigned char)*l) - 'a' + 10));
	}
	if (digits == 0 || (*l != '\0' && *l != ';' && *l != ' ' &&
	    *l != '\t'))
		return HP_ERROR;
	p->left = n;
	p->state = n == 0 ? S_TRAILER : S_CHUNK_DATA;
	return HP_MORE;
}

/* A complete line (without its CRLF) in p->line. */
static int line(struct ebhttp *p)
{
	char *l = p->line;

	switch (p->state) {
	case S_STATUS:
		return status_line(p, l);
	case S_HEADER:
		return *l == '\0' ? end_of_head(p) : header_line(p, l);
	case S_CHUNK_SIZE:
		return chunk_size(p, l);
	case S_CHUNK_END:
		if (*l != '\0')
			return HP_ERROR;
		p->state = S_CHUNK_SIZE;
		return HP_MORE;
	case S_TRAILER:
		return *l == '\0' ? HP_OK : HP_MORE;
	}
	return HP_ERROR;
}

int eb_http_feed(struct ebhttp *p, const char *buf, size_t len,
                 size_t *used)
{
	size_t i = 0, k;
	int r;

	while (i < len) {
		if (p->state == S_EOF_BODY) {
			i = len;
			break;
		}
		if (p->state == S_BODY || p->state == S_CHUNK_DATA) {
			k = len - i < p->left ? len - i : (size_t)p->left;
			p->left -= k;
			i += k;
			if (p->left > 0)
				break;
			if (p->state == S_BODY) {
				*used = i;
				return HP_OK;
			}
			p->state = S_CHUNK_END;
			continue;
		}
		char c = buf[i++];

		if (c == '\n') {
			if (p->linelen > 0 && p->line[p->linelen - 1] == '\r')
				p->linelen--;
			p->line[p->linelen] = '\0';
			p->linelen = 0;
			if (memchr(p->line, '\r', strlen(p->line)) != NULL)
				r = HP_ERROR;   /* a bare CR */
			else
				r = line(p);
			if (r != HP_MORE) {
				*used = i;
				return r;
			}
			continue;
		}
		if (c == '\0' || p->linelen >= sizeof(p->line) - 2) {
			*used = i;
			return HP_ERROR;
		}
		p->line[p->linelen++] = c;
	}
	*used = i;
	return HP_MORE;
}

int eb_http_eof(struct ebhttp *p)
{
	return p->state == S_EOF_BODY ? HP_OK : HP_ERROR;
}
