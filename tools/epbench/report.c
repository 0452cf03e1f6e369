/*
 * report.c - the results: the text summary (like wrk's) and the --json
 * document, whose keys epbench(1) documents and merge (json.c) reads.
 * Called by main only, after the epump threads have stopped.
 */
#include "config.h" /* PACKAGE_VERSION: the one version, from configure.ac */

#include "epbench.h"

#include <string.h>

void eb_count_add(struct ebcounts *t, const char *key, uint64_t n)
{
	int i;

	for (i = 0; i < t->len; i++)
		if (strcmp(t->c[i].key, key) == 0) {
			t->c[i].n += n;
			return;
		}
	if (t->len == EB_ERRKEYS)     /* full: lump the rest together */
		key = "other", i = t->len - 1;
	else
		i = t->len++;
	snprintf(t->c[i].key, sizeof(t->c[i].key), "%s", key);
	t->c[i].n += n;
}

uint64_t eb_count_total(const struct ebcounts *t)
{
	uint64_t s = 0;

	for (int i = 0; i < t->len; i++)
		s += t->c[i].n;
	return s;
}

void eb_finish(struct ebresult *r)
{
	if (r->duration_s > 0) {
		r->requests_per_sec = (double)r->st.requests / r->duration_s;
		r->bytes_per_sec = (double)r->st.bytes_in / r->duration_s;
	}
}

static const char *human(double v, char *buf, size_t len, const char *unit)
{
	const char *pre[] = { "", "K", "M", "G", "T" };
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, len, "%.2f %s%s", v, pre[i], unit);
	return buf;
}

static const char *lat(uint64_t us, char *buf, size_t len)
{
	if (us < 1000)
		snprintf(buf, len, "%lluus", (unsigned long long)us);
	else if (us < 1000000)
		snprintf(buf, len, "%.2fms", (double)us / 1e3);
	else
		snprintf(buf, len, "%.2fs", (double)us / 1e6);
	return buf;
}

static const double pcts[] = { 50, 90, 99, 99.9, 99.99 };
static const char *const pnames[] = { "p50", "p90", "p99", "p999", "p9999" };

void eb_report_text(FILE *f, const struct ebresult *r, int latency)
{
	const struct ebhist *h = &r->st.hist;
	char a[32], b[32];
	int i;

	fprintf(f, "%s: %s, %d threads, %llu connections, %s\n", EB_PROG,
	    r->target, r->threads, (unsigned long long)r->conns,
	    r->rate > 0 ? "open loop" : "closed loop");
	if (r->rate > 0)
		fprintf(f, "  rate:        %.0f requests/s asked\n", r->rate);
	fprintf(f, "  connections: %llu established of %llu (%llu connects)\n",
	    (unsigned long long)r->established_conns,
	    (unsigned long long)r->conns,
	    (unsigned long long)r->st.established);
	fprintf(f, "  requests:    %llu in %.2fs, %s read, %s written\n",
	    (unsigned long long)r->st.requests, r->duration_s,
	    human((double)r->st.bytes_in, a, sizeof(a), "B"),
	    human((double)r->st.bytes_out, b, sizeof(b), "B"));
	fprintf(f, "  requests/s:  %.2f\n", r->requests_per_sec);
	fprintf(f, "  transfer/s:  %s\n",
	    human(r->bytes_per_sec, a, sizeof(a), "B"));
	if (h->total > 0) {
		fprintf(f, "  latency:     min %s  mean %s  max %s\n",
		    lat(h->min, a, sizeof(a)),
		    lat(h->sum / h->total, b, sizeof(b)),
		    lat(h->max, a + 16, sizeof(a) - 16));
		fprintf(f, "  percentiles:");
		for (i = 0; i < 5; i++)
			fprintf(f, " %s %s", pnames[i],
			    lat(eb_hist_percentile(h, pcts[i]), a, sizeof(a)));
		fprintf(f, "\n");
	}
	if (r->st.status.len > 0) {
		fprintf(f, "  status:     ");
		for (i = 0; i < r->st.status.len; i++)
			fprintf(f, " %s %llu", r->st.status.c[i].key,
			    (unsigned long long)r->st.status.c[i].n);
		fprintf(f, "\n");
	}
	if (r->st.failed > 0)
		fprintf(f, "  failed:      %llu requests got no response\n",
		    (unsigned long long)r->st.failed);
	fprintf(f, "  errors:      %llu", (unsigned long long)r->st.errors);
	for (i = 0; i < r->st.errs.len; i++)
		fprintf(f, "%s %s %llu", i ? "," : ":", r->st.errs.c[i].key,
		    (unsigned long long)r->st.errs.c[i].n);
	fprintf(f, "\n");
	if (latency && h->total > 0) {
		uint64_t seen = 0;

		fprintf(f, "  latency distribution (us, percentile, count):\n");
		for (i = 0; i < EB_HIST_LEN; i++) {
			if (h->counts[i] == 0)
				continue;
			seen += h->counts[i];
			fprintf(f, "  %12llu %10.5f%% %llu\n",
			    (unsigned long long)eb_hist_highest(i),
			    100.0 * (double)seen / (double)h->total,
			    (unsigned long long)h->counts[i]);
		}
	}
}

static void counts_json(FILE *f, const struct ebcounts *t)
{
	fprintf(f, "{");
	for (int i = 0; i < t->len; i++)
		fprintf(f, "%s\"%s\": %llu", i ? ", " : "", t->c[i].key,
		    (unsigned long long)t->c[i].n);
	fprintf(f, "}");
}

static void str_json(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

int eb_report_json(FILE *f, const struct ebresult *r)
{
	const struct ebhist *h = &r->st.hist;
	int i, first = 1;

	fprintf(f, "{\n  \"version\": \"" EB_VERSION "\",\n  \"target\": ");
	str_json(f, r->target);
	fprintf(f, ",\n  \"mode\": \"%s\",\n", r->mode);
	fprintf(f, "  \"threads\": %d,\n  \"connections\": %llu,\n"
	    "  \"connections_established\": %llu,\n  \"connects\": %llu,\n"
	    "  \"pipeline\": %d,\n  \"rate\": %.3f,\n",
	    r->threads, (unsigned long long)r->conns,
	    (unsigned long long)r->established_conns,
	    (unsigned long long)r->st.established, r->pipeline, r->rate);
	fprintf(f, "  \"duration_s\": %.6f,\n  \"requests\": %llu,\n"
	    "  \"requests_failed\": %llu,\n  \"bytes\": %llu,\n"
	    "  \"bytes_sent\": %llu,\n  \"requests_per_sec\": %.3f,\n"
	    "  \"bytes_per_sec\": %.3f,\n  \"errors_total\": %llu,\n"
	    "  \"errors\": ", r->duration_s,
	    (unsigned long long)r->st.requests,
	    (unsigned long long)r->st.failed,
	    (unsigned long long)r->st.bytes_in,
	    (unsigned long long)r->st.bytes_out, r->requests_per_sec,
	    r->bytes_per_sec, (unsigned long long)r->st.errors);
	counts_json(f, &r->st.errs);
	fprintf(f, ",\n  \"status\": ");
	counts_json(f, &r->st.status);
	fprintf(f, ",\n  \"latency_us\": {\"min\": %llu, \"mean\": %.3f",
	    (unsigned long long)(h->total ? h->min : 0),
	    h->total ? (double)h->sum / (double)h->total : 0.0);
	for (i = 0; i < 5; i++)
		fprintf(f, ", \"%s\": %llu", pnames[i],
		    (unsigned long long)eb_hist_percentile(h, pcts[i]));
	fprintf(f, ", \"max\": %llu},\n", (unsigned long long)h->max);
	fprintf(f, "  \"histogram\": {\"unit\": \"us\", "
	    "\"significant_digits\": 3, \"lowest\": 1, \"highest\": %llu,\n"
	    "    \"count\": %llu, \"sum\": %llu, \"buckets\": [",
	    (unsigned long long)EB_HIST_MAXV, (unsigned long long)h->total,
	    (unsigned long long)h->sum);
	for (i = 0; i < EB_HIST_LEN; i++) {
		if (h->counts[i] == 0)
			continue;
		fprintf(f, "%s[%llu, %llu]", first ? "" : ", ",
		    (unsigned long long)eb_hist_value(i),
		    (unsigned long long)h->counts[i]);
		first = 0;
	}
	fprintf(f, "]}\n}\n");
	return ferror(f) ? -1 : 0;
}
