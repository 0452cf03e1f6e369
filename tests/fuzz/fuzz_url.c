/*
 * fuzz_url.c - epbench's URL parser, eb_url_parse() (tools/epbench/
 * url.c), on any string.
 *
 * Invariants: every field is a NUL-terminated string within its array;
 * an error comes with a message and errno EINVAL or ENOENT; a parsed
 * network URL has an IP literal host and a port in 1-65535; an HTTP
 * target starts with '/' and holds no space or control character; and
 * the URL printed back from the parts parses to the very same parts.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "epbench.h"
#include "fuzz.h"

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

static void check_parts(const struct eburl *u)
{
	struct in_addr a4;
	struct in6_addr a6;
	const char *p;

	FUZZ_ASSERT(TERMINATED(u->host) && TERMINATED(u->path) &&
	            TERMINATED(u->target) && TERMINATED(u->hosthdr));
	FUZZ_ASSERT(u->proto >= EB_HTTP && u->proto <= EB_UNIX);
	FUZZ_ASSERT(u->http == (u->proto == EB_HTTP ||
	            (u->proto == EB_UNIX && u->target[0] != '\0')));
	if (u->proto == EB_UNIX) {
		FUZZ_ASSERT(u->path[0] != '\0');
		FUZZ_ASSERT(strcmp(u->hosthdr, "localhost") == 0);
	} else {
		FUZZ_ASSERT(u->port >= 1 && u->port <= 65535);
		FUZZ_ASSERT(inet_pton(AF_INET, u->host, &a4) == 1 ||
		            inet_pton(AF_INET6, u->host, &a6) == 1);
	}
	if (u->http) {
		FUZZ_ASSERT(u->target[0] == '/');
		for (p = u->target; *p; p++)
			FUZZ_ASSERT((unsigned char)*p > ' ' && *p != 0x7f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct eburl u, u2;
	char *s, err[256], *again;
	size_t n;
	int rc;

	s = malloc(size + 1);
	FUZZ_ASSERT(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	err[0] = '\0';
	errno = 0;
	rc = eb_url_parse(s, &u, err, sizeof(err));
	if (rc != 0) {
		FUZZ_ASSERT(rc == -1);
		FUZZ_ASSERT(errno == EINVAL || errno == ENOENT);
		FUZZ_ASSERT(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
		free(s);
		return 0;
	}
	check_parts(&u);
	/* Printed back, parsed again: the same. */
	n = sizeof(u.path) + sizeof(u.target) + sizeof(u.hosthdr) + 16;
	again = malloc(n);
	FUZZ_ASSERT(again != NULL);
	switch (u.proto) {
	case EB_HTTP:
		snprintf(again, n, "http://%s%s", u.hosthdr, u.target);
		break;
	case EB_TCP:
	case EB_UDP:
		snprintf(again, n, "%s://%s", u.proto == EB_TCP ? "tcp" : "udp",
		         u.hosthdr);
		break;
	case EB_UNIX:
		snprintf(again, n, "unix:%s%s%s", u.path, u.http ? ":http" : "",
		         u.target);
		break;
	}
	rc = eb_url_parse(again, &u2, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "'%s' from '%s': %s\n", again, s, err);
	FUZZ_ASSERT(rc == 0);
	FUZZ_ASSERT(u.proto == u2.proto && u.http == u2.http &&
	            u.port == u2.port);
	FUZZ_ASSERT(strcmp(u.host, u2.host) == 0);
	FUZZ_ASSERT(strcmp(u.path, u2.path) == 0);
	FUZZ_ASSERT(strcmp(u.target, u2.target) == 0);
	FUZZ_ASSERT(strcmp(u.hosthdr, u2.hosthdr) == 0);
	free(again);
	free(s);
	return 0;
}
