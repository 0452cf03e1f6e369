/*
 * epbench.h - the shared types of epbench(1): the target, the options, the
 * histogram, the per-thread results and the HTTP response parser.
 * Each epump thread owns one struct ebstats; main reads it only to draw
 * the progress line (relaxed atomics) and after the threads have stopped.
 */
#ifndef EPBENCH_H
#define EPBENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EB_PROG    "epbench"
#define EB_VERSION PACKAGE_VERSION /* config.h: one source */

/* ---- url.c ---- */
enum eb_proto { EB_HTTP, EB_TCP, EB_UDP, EB_UNIX };

struct eburl {
	enum eb_proto proto;
	int http;              /* speak HTTP (http://, unix:PATH:http) */
	char host[64];         /* an IP literal, without brackets */
	int port;
	char path[108];        /* the unix socket's path */
	char target[2048];     /* the HTTP request target, "/..." */
	char hosthdr[96];      /* the Host header's value */
};

/* 0, or -1 with a message in err (errno EINVAL: malformed, ENOENT: a host
 * name that is not an IP literal). */
int eb_url_parse(const char *s, struct eburl *u, char *err, size_t errlen);

/* ---- args.c: option values; 0, or -1 when malformed or out of range ---- */
/* A decimal integer in [min, max]. */
int eb_parse_number(const char *s, long long min, long long max,
                    long long *out);
/* "10s", "2m", "500ms", "1h", "1.5s"; a bare number is seconds: into
 * *ms, at most 1e12 ms. */
int eb_parse_duration(const char *s, uint64_t *ms);
/* expand_number(3): "64", "4k", "1m"..., in [min, max]. */
int eb_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* ---- hist.c: log-linear, 1 us to 60 s, 3 significant digits ---- */
#define EB_HIST_SUB      2048   /* sub-buckets per bucket: 2^ceil(log2(2e3)) */
#define EB_HIST_HALF     1024
#define EB_HIST_HALFMAG  10
#define EB_HIST_BUCKETS  16
#define EB_HIST_LEN      ((EB_HIST_BUCKETS + 1) * EB_HIST_HALF)
#define EB_HIST_MAXV     60000000ULL  /* 60 s in us */

struct ebhist {
	uint64_t total, sum, min, max;
	uint64_t counts[EB_HIST_LEN];
};

void eb_hist_init(struct ebhist *h);
void eb_hist_record(struct ebhist *h, uint64_t us);
int eb_hist_index(uint64_t v);
uint64_t eb_hist_value(int index);      /* lowest value of the bucket */
uint64_t eb_hist_highest(int index);    /* highest equivalent value */
void eb_hist_add_count(struct ebhist *h, uint64_t v, uint64_t n);
void eb_hist_merge(struct ebhist *to, const struct ebhist *from);
uint64_t eb_hist_percentile(const struct ebhist *h, double p);

/* ---- error counters: "cause" -> count ---- */
#define EB_ERRKEYS 48
struct ebcount {
	char key[40];
	uint64_t n;
};
struct ebcounts {
	int len;
	struct ebcount c[EB_ERRKEYS];
};
void eb_count_add(struct ebcounts *t, const char *key, uint64_t n);
uint64_t eb_count_total(const struct ebcounts *t);

/* ---- results ---- */
struct ebstats {
	uint64_t requests;      /* responses received in the measurement */
	uint64_t failed;        /* counted requests that got no response */
	uint64_t bytes_in, bytes_out;
	uint64_t errors;        /* sum of errs */
	uint64_t established;   /* connects that succeeded (incl. reconnects) */
	struct ebcounts errs;   /* by cause */
	struct ebcounts status; /* HTTP status codes, "200" */
	struct ebhist hist;
};

/* ---- options ---- */
struct ebopts {
	struct eburl url;
	const char *url_text;
	int conns, threads, pipeline;
	uint64_t duration_ms, warmup_ms, timeout_ms;
	uint64_t total;          /* -n; 0: by duration */
	double rate;             /* -R; 0: closed loop */
	size_t size;             /* echo payload */
	const char *method;
	const char *body;
	char *headers;           /* "Name: value\r\n"... */
	int latency, quiet;
	const char *json;
};

/* A whole run: what report.c prints and what merge reads back. */
struct ebresult {
	char target[2100];
	char mode[16];
	int threads, pipeline;
	uint64_t conns, established_conns;
	double rate, duration_s, requests_per_sec, bytes_per_sec;
	struct ebstats st;
};

/* ---- http.c: incremental HTTP/1.x response parser ---- */
enum { HP_OK = 0, HP_MORE = 1, HP_ERROR = -1 };
struct ebhttp {
	int state, status, head_req, chunked, closing, until_eof;
	int has_len, http10, keep_alive;
	uint64_t left;           /* body or chunk bytes still to skip */
	size_t linelen;
	char line[8192];
};
void eb_http_reset(struct ebhttp *p, int head_req);
/* Feed bytes: *used gets how many were consumed.  HP_OK: one final
 * response complete (p->status, p->closing); HP_MORE: all consumed, need
 * more; HP_ERROR: malformed. */
int eb_http_feed(struct ebhttp *p, const char *buf, size_t len,
                 size_t *used);
/* End of file: HP_OK if it ends a read-until-close body. */
int eb_http_eof(struct ebhttp *p);

/* ---- load.c ---- */
/* Run the load; fills r.  Returns 0, or an exit status (sysexits). */
int eb_run(const struct ebopts *o, struct ebresult *r);
uint64_t eb_now_ns(void);

/* ---- report.c / json.c ---- */
void eb_report_text(FILE *f, const struct ebresult *r, int latency);
int eb_report_json(FILE *f, const struct ebresult *r);
int eb_merge_main(int argc, char **argv);
void eb_finish(struct ebresult *r);   /* percentiles-derived figures */
const char *eb_errno_name(int e);

#endif
