/*
 * url.c - parse the target: http://HOST:PORT/PATH, tcp://HOST:PORT,
 * udp://HOST:PORT, unix:/PATH (echo) or unix:/PATH:http[/TARGET] (HTTP).
 * HOST is an IP literal ([::1] for IPv6) or localhost; no DNS yet.
 */
#include "epbench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t len, int e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t len, int e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	errno = e;
	return -1;
}

/* HOST:PORT at s (up to end), into u->host and u->port. */
static int hostport(const char *s, size_t n, struct eburl *u, int defport,
                    char *err, size_t errlen)
{
	const char *colon = NULL, *h = s;
	size_t hlen;
	char port[8], *end;
	struct in6_addr a6;
	struct in_addr a4;
	long v;

	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (rb == NULL)
			return fail(err, errlen, EINVAL, "missing ']' in host");
		h = s + 1;
		hlen = (size_t)(rb - h);
		if (rb + 1 < s + n) {
			if (rb[1] != ':')
				return fail(err, errlen, EINVAL,
				    "junk after ']' in host");
			colon = rb + 1;
		}
		if (hlen == 0 || hlen >= sizeof(u->host))
			return fail(err, errlen, EINVAL, "bad IPv6 address");
		memcpy(u->host, h, hlen);
		u->host[hlen] = '\0';
		if (inet_pton(AF_INET6, u->host, &a6) != 1)
			return fail(err, errlen, EINVAL,
			    "bad IPv6 address '%s'", u->host);
	} else {
		colon = memchr(s, ':', n);
		hlen = colon ? (size_t)(colon - s) : n;
		if (hlen == 0)
			return fail(err, errlen, EINVAL, "no host");
		if (hlen >= sizeof(u->host))
			return fail(err, errlen, EINVAL, "host too long");
		memcpy(u->host, s, hlen);
		u->host[hlen] = '\0';
		if (strcmp(u->host, "localhost") == 0)
			strcpy(u->host, "127.0.0.1");
		else if (inet_pton(AF_INET, u->host, &a4) != 1) {
			if (strchr(u->host, ':') == NULL &&
			    inet_pton(AF_INET6, u->host, &a6) != 1)
				return fail(err, errlen, ENOENT,
				    "'%s' is not an IP address: host names "
				    "are not supported yet (use an IP "
				    "literal or localhost)", u->host);
			return fail(err, errlen, EINVAL,
			    "bad host '%s' (IPv6 goes in brackets)", u->host);
		}
	}
	u->port = defport;
	if (colon != NULL) {
		size_t plen = (size_t)(s + n - colon - 1);

		if (plen == 0 || plen >= sizeof(port))
			return fail(err, errlen, EINVAL, "bad port");
		memcpy(port, colon + 1, plen);
		port[plen] = '\0';
		errno = 0;
		v = strtol(port, &end, 10);
		if (*end != '\0' || port[0] < '0' || port[0] > '9' ||
		    v < 1 || v > 65535)
			return fail(err, errlen, EINVAL, "bad port '%s'", port);
		u->port = (int)v;
	}
	if (u->port == 0)
		return fail(err, errlen, EINVAL, "no port");
	if (strchr(u->host, ':'))
		snprintf(u->hosthdr, sizeof(u->hosthdr), "[%s]:%d", u->host,
		    u->port);
	else
		snprintf(u->hosthdr, sizeof(u->hosthdr), "%s:%d", u->host,
		    u->port);
	return 0;
}

static int set_target(struct eburl *u, const char *t, char *err, size_t len)
{
	const char *p;

	if (*t == '\0')
		t = "/";
	if (*t != '/')
		return fail(err, len, EINVAL, "the path must start with '/'");
	if (strlen(t) >= sizeof(u->target))
		return fail(err, len, EINVAL, "path too long");
	for (p = t; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return fail(err, len, EINVAL,
			    "space or control character in the path");
	strcpy(u->target, t);
	return 0;
}

int eb_url_parse(const char *s, struct eburl *u, char *err, size_t errlen)
{
	const char *rest, *slash;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (strncmp(s, "http://", 7) == 0) {
		u->proto = EB_HTTP;
		u->http = 1;
		rest = s + 7;
		slash = strchr(rest, '/');
		n = slash ? (size_t)(slash - rest) : strlen(rest);
		if (hostport(rest, n, u, 80, err, errlen) < 0)
			return -1;
		return set_target(u, slash ? slash : "/", err, errlen);
	}
	if (strncmp(s, "https://", 8) == 0)
		return fail(err, errlen, EINVAL, "https is not supported");
	if (strncmp(s, "tcp://", 6) == 0 || strncmp(s, "udp://", 6) == 0) {
		u->proto = s[0] == 't' ? EB_TCP : EB_UDP;
		rest = s + 6;
		n = strlen(rest);
		if (n > 0 && rest[n - 1] == '/')
			n--;
		if (hostport(rest, n, u, 0, err, errlen) < 0)
			return -1;
		return 0;
	}
	if (strncmp(s, "unix:", 5) == 0) {
		const char *h;

		u->proto = EB_UNIX;
		rest = s + 5;
		/* The last ":http" that ends the string or is followed by
		 * the request target makes it HTTP. */
		h = NULL;
		for (const char *p = rest; (p = strstr(p, ":http")) != NULL;
		     p++)
			if (p[5] == '\0' || p[5] == '/')
				h = p;
		n = h ? (size_t)(h - rest) : strlen(rest);
		if (n == 0)
			return fail(err, errlen, EINVAL, "no socket path");
		if (n >= sizeof(u->path))
			return fail(err, errlen, EINVAL,
			    "socket path too long (%zu bytes, at most %zu)",
			    n, sizeof(u->path) - 1);
		memcpy(u->path, rest, n);
		u->path[n] = '\0';
		strcpy(u->hosthdr, "localhost");
		if (h != NULL) {
			u->http = 1;
			return set_target(u, h + 5, err, errlen);
		}
		return 0;
	}
	return fail(err, errlen, EINVAL,
	    "unknown scheme (http://, tcp://, udp:// or unix:)");
}
