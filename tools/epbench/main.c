/*
 * main.c - epbench(1): options, checks, the run, the report.  Everything
 * here runs on the main thread; load.c owns the epump threads.
 *   epbench [options] URL        epbench merge FILE.json...
 */
#include "config.h" /* PACKAGE_VERSION: the one version, from configure.ac */

#include "epbench.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

enum { O_WARMUP = 256, O_TIMEOUT, O_LATENCY, O_JSON, O_METHOD, O_BODY };

static const struct option longopts[] = {
	{ "connections", required_argument, NULL, 'c' },
	{ "threads",     required_argument, NULL, 't' },
	{ "duration",    required_argument, NULL, 'd' },
	{ "requests",    required_argument, NULL, 'n' },
	{ "rate",        required_argument, NULL, 'R' },
	{ "header",      required_argument, NULL, 'H' },
	{ "method",      required_argument, NULL, O_METHOD },
	{ "body",        required_argument, NULL, O_BODY },
	{ "pipeline",    required_argument, NULL, 'p' },
	{ "size",        required_argument, NULL, 's' },
	{ "warmup",      required_argument, NULL, O_WARMUP },
	{ "timeout",     required_argument, NULL, O_TIMEOUT },
	{ "latency",     no_argument,       NULL, O_LATENCY },
	{ "json",        required_argument, NULL, O_JSON },
	{ "quiet",       no_argument,       NULL, 'q' },
	{ "help",        no_argument,       NULL, 'h' },
	{ "version",     no_argument,       NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: " EB_PROG " [options] URL\n"
	    "       " EB_PROG " merge FILE.json...\n"
	    "Load generator for HTTP/1.1, TCP/UDP echo and unix sockets.\n\n"
	    "URL: http://HOST:PORT/PATH, tcp://HOST:PORT, udp://HOST:PORT,\n"
	    "     unix:/PATH (echo), unix:/PATH:http[/TARGET] (HTTP)\n"
	    "     HOST: an IPv4 literal, [IPv6], or localhost\n\n"
	    "  -c, --connections=N   connections (default 10)\n"
	    "  -t, --threads=N       epump threads (default 1)\n"
	    "  -d, --duration=TIME   run for TIME: 10s, 2m, 500ms (default 10s)\n"
	    "  -n, --requests=N      send exactly N requests, then stop\n"
	    "  -R, --rate=N          open loop: N requests/s in all\n"
	    "                        (latency from the intended send time)\n"
	    "  -p, --pipeline=N      requests in flight per connection (1)\n"
	    "  -H, --header='K: V'   add a request header (repeatable)\n"
	    "      --method=M        HTTP method (default GET)\n"
	    "      --body=TEXT       request body (sets Content-Length)\n"
	    "  -s, --size=N          echo payload bytes (default 64; 4k, 1m)\n"
	    "      --warmup=TIME     load without measuring first\n"
	    "      --timeout=TIME    per request and connect (default 2s)\n"
	    "      --latency         print the whole latency distribution\n"
	    "      --json=FILE       write the results as JSON (-: stdout)\n"
	    "  -q, --quiet           no progress line\n"
	    "  -h, --help            show this help and exit\n"
	    "  -V, --version         show the version and exit\n\n"
	    "Exit status: 0 done, 64 usage, 69 target unavailable, 73 cannot\n"
	    "create the JSON file.  See epbench(1).\n");
}

static int bad(const char *what, const char *arg)
{
	fprintf(stderr, EB_PROG ": invalid %s '%s'\n", what, arg);
	return -1;
}

static int number(const char *s, long long min, long long max,
                  const char *what, long long *out)
{
	return eb_parse_number(s, min, max, out) < 0 ? bad(what, s) : 0;
}

/* "10s", "2m", "500ms", "1h", "1.5s"; a bare number is seconds. */
static int duration(const char *s, const char *what, uint64_t *ms)
{
	return eb_parse_duration(s, ms) < 0 ? bad(what, s) : 0;
}

static int add_header(struct ebopts *o, const char *h)
{
	const char *colon = strchr(h, ':');
	size_t old = o->headers ? strlen(o->headers) : 2;
	char *n;

	if (colon == NULL || colon == h || strpbrk(h, "\r\n") ||
	    strcspn(h, " \t") < (size_t)(colon - h))
		return bad("header (want 'Name: value')", h);
	if ((n = realloc(o->headers, old + strlen(h) + 3)) == NULL)
		return bad("header (out of memory)", h);
	if (o->headers == NULL)
		strcpy(n, "\r\n");
	o->headers = n;
	strcat(o->headers, h);
	strcat(o->headers, "\r\n");
	return 0;
}

int main(int argc, char **argv)
{
	static struct ebopts o;
	static struct ebresult r;
	int ch, rc, have_d = 0;
	long long v;
	uint64_t sz;
	char err[256];
	FILE *jf = NULL, *tf = stdout;

	if (argc > 1 && strcmp(argv[1], "merge") == 0)
		return eb_merge_main(argc - 1, argv + 1);
	o.conns = 10;
	o.threads = 1;
	o.pipeline = 1;
	o.duration_ms = 10000;
	o.timeout_ms = 2000;
	o.size = 64;
	o.method = "GET";
	opterr = 0;         /* our own messages, prefixed with EB_PROG */
	while ((ch = getopt_long(argc, argv, "c:t:d:n:R:H:p:s:qhV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (number(optarg, 1, 1000000, "connection count "
			    "(1 or more)", &v) < 0)
				return EX_USAGE;
			o.conns = (int)v;
			break;
		case 't':
			if (number(optarg, 1, 1024, "thread count (1-1024)",
			    &v) < 0)
				return EX_USAGE;
			o.threads = (int)v;
			break;
		case 'd':
			if (duration(optarg, "duration", &o.duration_ms) < 0 ||
			    (o.duration_ms == 0 && bad("duration", optarg)))
				return EX_USAGE;
			have_d = 1;
			break;
		case 'n':
			if (number(optarg, 1, (long long)1 << 60,
			    "request count", &v) < 0)
				return EX_USAGE;
			o.total = (uint64_t)v;
			break;
		case 'R': {
			char *end;

			o.rate = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(o.rate > 0) ||
			    o.rate > 1e9)
				return bad("rate", optarg), EX_USAGE;
			break;
		}
		case 'H':
			if (add_header(&o, optarg) < 0)
				return EX_USAGE;
			break;
		case O_METHOD:
			for (const char *m = optarg; *m; m++)
				if (*m <= ' ' || *m >= 0x7f)
					return bad("method", optarg), EX_USAGE;
			if (*optarg == '\0')
				return bad("method", optarg), EX_USAGE;
			o.method = optarg;
			break;
		case O_BODY:
			o.body = optarg;
			break;
		case 'p':
			if (number(optarg, 1, 256, "pipeline depth (1-256)",
			    &v) < 0)
				return EX_USAGE;
			o.pipeline = (int)v;
			break;
		case 's':
			if (eb_parse_size(optarg, 1, 16 * 1024 * 1024, &sz) < 0)
				return bad("size (1 to 16m)", optarg), EX_USAGE;
			o.size = (size_t)sz;
			break;
		case O_WARMUP:
			if (duration(optarg, "warmup", &o.warmup_ms) < 0)
				return EX_USAGE;
			break;
		case O_TIMEOUT:
			if (duration(optarg, "timeout", &o.timeout_ms) < 0 ||
			    (o.timeout_ms == 0 && bad("timeout", optarg)) ||
			    (o.timeout_ms > 3600000 && bad("timeout", optarg)))
				return EX_USAGE;
			break;
		case O_LATENCY:
			o.latency = 1;
			break;
		case O_JSON:
			o.json = optarg;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf(EB_PROG " " EB_VERSION "\n");
			return EX_OK;
		default:
			if (optopt != 0 && strchr("ctdnRHps", optopt))
				fprintf(stderr, EB_PROG ": option -%c needs a "
				    "value\n", optopt);
			else
				fprintf(stderr, EB_PROG ": unknown option "
				    "'%s'\n", argv[optind - 1]);
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, EB_PROG ": %s\n", optind == argc ?
		    "no URL given" : "one URL only");
		usage(stderr);
		return EX_USAGE;
	}
	o.url_text = argv[optind];
	if (eb_url_parse(o.url_text, &o.url, err, sizeof(err)) < 0) {
		fprintf(stderr, EB_PROG ": %s: %s\n", o.url_text, err);
		return EX_USAGE;
	}
	if (o.total > 0 && have_d) {
		fprintf(stderr, EB_PROG ": -n and -d exclude each other\n");
		return EX_USAGE;
	}
	if (o.rate > 0 && o.rate < o.threads) {
		fprintf(stderr, EB_PROG ": rate %g is below the thread count "
		    "%d: ask at least one request/s per thread\n", o.rate,
		    o.threads);
		return EX_USAGE;
	}
	if (o.threads > o.conns) {
		fprintf(stderr, EB_PROG ": more threads (%d) than connections "
		    "(%d)\n", o.threads, o.conns);
		return EX_USAGE;
	}
	if (o.url.proto == EB_UDP && o.pipeline > 1) {
		fprintf(stderr, EB_PROG ": --pipeline is for streams, not "
		    "udp://\n");
		return EX_USAGE;
	}
	if (!o.url.http && (o.headers || o.body ||
	    strcmp(o.method, "GET") != 0)) {
		fprintf(stderr, EB_PROG ": -H, --method and --body are for "
		    "HTTP targets\n");
		return EX_USAGE;
	}
	if (o.url.proto == EB_UDP && o.size > 65507) {
		fprintf(stderr, EB_PROG ": --size: a UDP datagram holds at most"
		    " 65507 bytes\n");
		return EX_USAGE;
	}
	if (o.json != NULL) {
		if (strcmp(o.json, "-") == 0) {
			jf = stdout;
			tf = stderr;
		} else if ((jf = fopen(o.json, "w")) == NULL) {
			fprintf(stderr, EB_PROG ": %s: %s\n", o.json,
			    strerror(errno));
			return EX_CANTCREAT;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	rc = eb_run(&o, &r);
	if (r.threads == 0)       /* could not start */
		return rc;
	eb_report_text(tf, &r, o.latency);
	if (rc == EX_UNAVAILABLE)
		fprintf(stderr, EB_PROG ": %s: target unavailable: %s\n",
		    o.url_text, r.established_conns == 0 ?
		    "no connection could be established" :
		    "requests stopped ending");
	if (jf != NULL) {
		if (eb_report_json(jf, &r) < 0 || fflush(jf) != 0 ||
		    (jf != stdout && fclose(jf) != 0)) {
			fprintf(stderr, EB_PROG ": %s: %s\n", o.json,
			    strerror(errno));
			return EX_IOERR;
		}
	}
	free(o.headers);
	return rc;
}
