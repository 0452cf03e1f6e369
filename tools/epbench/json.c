/*
 * json.c - `epbench merge`: a small JSON reader (enough for the documents
 * epbench writes) and the exact merge of runs: counts summed, histograms
 * merged bucket by bucket, percentiles recomputed.  Single-threaded.
 */
#include "epbench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	int type, n;
	double num;
	uint64_t u;              /* the number, if a non-negative integer */
	char *str;
	char **keys;
	struct jv *kids;
};

struct jp {
	const char *s;
	int depth;
};

static void ws(struct jp *p)
{
	p->s += strspn(p->s, " \t\r\n");
}

static int parse(struct jp *p, struct jv *v);

static char *pstr(struct jp *p)
{
	const char *s = ++p->s;
	char *out, *o;

	while (*p->s && *p->s != '"')
		p->s += *p->s == '\\' && p->s[1] ? 2 : 1;
	if (*p->s != '"')
		return NULL;
	out = o = malloc((size_t)(p->s - s) + 1);
	if (out == NULL)
		return NULL;
	for (; s < p->s; s++) {   /* \uXXXX kept as is: we write none */
		if (*s == '\\')
			s++;
		*o++ = *s;
	}
	*o = '\0';
	p->s++;
	return out;
}

static int add(struct jv *v, char *key, struct jp *p)
{
	struct jv *k = realloc(v->kids, sizeof(*k) * (size_t)(v->n + 1));
	char **ks;

	if (k == NULL)
		return -1;
	v->kids = k;
	if (v->type == J_OBJ) {
		if ((ks = realloc(v->keys, sizeof(*ks) * (size_t)(v->n + 1)))
		    == NULL)
			return -1;
		v->keys = ks;
		v->keys[v->n] = key;
	}
	memset(&v->kids[v->n], 0, sizeof(*k));
	if (parse(p, &v->kids[v->n++]) < 0)
		return -1;
	return 0;
}

static int parse(struct jp *p, struct jv *v)
{
	char *end, *key;

	ws(p);
	if (++p->depth > 32)
		return -1;
	memset(v, 0, sizeof(*v));
	if (*p->s == '{' || *p->s == '[') {
		char close = *p->s == '{' ? '}' : ']';

		v->type = close == '}' ? J_OBJ : J_ARR;
		p->s++;
		ws(p);
		if (*p->s == close) {
			p->s++;
			p->depth--;
			return 0;
		}
		for (;;) {
			key = NULL;
			ws(p);
			if (v->type == J_OBJ) {
				if (*p->s != '"' || (key = pstr(p)) == NULL)
					return -1;
				ws(p);
				if (*p->s++ != ':')
					return -1;
			}
			if (add(v, key, p) < 0)
				return -1;
			ws(p);
			if (*p->s == ',') {
				p->s++;
				continue;
			}
			if (*p->s++ != close)
				return -1;
			break;
		}
	} else if (*p->s == '"') {
		v->type = J_STR;
		if ((v->str = pstr(p)) == NULL)
			return -1;
	} else if (strncmp(p->s, "true", 4) == 0 ||
	    strncmp(p->s, "false", 5) == 0) {
		v->type = J_BOOL;
		v->num = *p->s == 't';
		p->s += *p->s == 't' ? 4 : 5;
	} else if (strncmp(p->s, "null", 4) == 0) {
		p->s += 4;
	} else {
		v->type = J_NUM;
		errno = 0;
		v->num = strtod(p->s, &end);
		if (end == p->s)
			return -1;
		if (*p->s >= '0' && *p->s <= '9' &&
		    strspn(p->s, "0123456789") == (size_t)(end - p->s))
			v->u = strtoull(p->s, NULL, 10);
		else
			v->u = v->num > 0 ? (uint64_t)v->num : 0;
		p->s = end;
	}
	p->depth--;
	return 0;
}

static void jfree(struct jv *v)
{
	for (int i = 0; i < v->n; i++) {
		jfree(&v->kids[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->kids);
	free(v->keys);
	free(v->str);
}

static const struct jv *get(const struct jv *o, const char *key)
{
	if (o == NULL || o->type != J_OBJ)
		return NULL;
	for (int i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return &o->kids[i];
	return NULL;
}

static uint64_t u(const struct jv *o, const char *key)
{
	const struct jv *v = get(o, key);

	return v && v->type == J_NUM ? v->u : 0;
}

static double d(const struct jv *o, const char *key)
{
	const struct jv *v = get(o, key);

	return v && v->type == J_NUM ? v->num : 0;
}

static void add_counts(struct ebcounts *t, const struct jv *o)
{
	for (int i = 0; o && o->type == J_OBJ && i < o->n; i++)
		if (o->kids[i].type == J_NUM)
			eb_count_add(t, o->keys[i], o->kids[i].u);
}

static char *slurp(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			buf[len] = '\0';
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	return buf;
}

/* Merge one parsed document into r: 0, or -1 if it is not ours. */
static int merge_one(struct ebresult *r, const struct jv *doc, int first)
{
	const struct jv *h = get(doc, "histogram"), *b = get(h, "buckets"),
	    *l = get(doc, "latency_us"), *t = get(doc, "target"),
	    *m = get(doc, "mode");
	uint64_t hcount = 0;

	if (doc->type != J_OBJ || get(doc, "requests") == NULL ||
	    b == NULL || b->type != J_ARR)
		return -1;
	for (int i = 0; i < b->n; i++) {
		const struct jv *e = &b->kids[i];

		if (e->type != J_ARR || e->n != 2 ||
		    e->kids[0].type != J_NUM || e->kids[1].type != J_NUM)
			return -1;
		eb_hist_add_count(&r->st.hist, e->kids[0].u, e->kids[1].u);
		hcount += e->kids[1].u;
	}
	r->st.hist.sum += u(h, "sum");
	if (hcount > 0) {
		if (u(l, "min") < r->st.hist.min)
			r->st.hist.min = u(l, "min");
		if (u(l, "max") > r->st.hist.max)
			r->st.hist.max = u(l, "max");
	}
	if (first) {
		snprintf(r->target, sizeof(r->target), "%s",
		    t && t->str ? t->str : "");
		snprintf(r->mode, sizeof(r->mode), "%s",
		    m && m->str ? m->str : "");
		r->pipeline = (int)u(doc, "pipeline");
	} else {
		if (!t || !t->str || strcmp(t->str, r->target) != 0)
			snprintf(r->target, sizeof(r->target), "(merged)");
		if (!m || !m->str || strcmp(m->str, r->mode) != 0)
			snprintf(r->mode, sizeof(r->mode), "mixed");
	}
	r->threads += (int)u(doc, "threads");
	r->conns += u(doc, "connections");
	r->established_conns += u(doc, "connections_established");
	r->st.established += u(doc, "connects");
	r->rate += d(doc, "rate");
	if (d(doc, "duration_s") > r->duration_s)
		r->duration_s = d(doc, "duration_s");
	r->st.requests += u(doc, "requests");
	r->st.failed += u(doc, "requests_failed");
	r->st.bytes_in += u(doc, "bytes");
	r->st.bytes_out += u(doc, "bytes_sent");
	r->st.errors += u(doc, "errors_total");
	r->requests_per_sec += d(doc, "requests_per_sec");
	r->bytes_per_sec += d(doc, "bytes_per_sec");
	add_counts(&r->st.errs, get(doc, "errors"));
	add_counts(&r->st.status, get(doc, "status"));
	return 0;
}

int eb_merge_main(int argc, char **argv)
{
	static struct ebresult r;
	struct jv doc;
	struct jp p;
	char *text;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: " EB_PROG " merge FILE.json...\n");
		return EX_USAGE;
	}
	memset(&r, 0, sizeof(r));
	eb_hist_init(&r.st.hist);
	for (i = 1; i < argc; i++) {
		if ((text = slurp(argv[i])) == NULL) {
			fprintf(stderr, EB_PROG ": %s: %s\n", argv[i],
			    strerror(errno));
			return EX_NOINPUT;
		}
		p.s = text;
		p.depth = 0;
		if (parse(&p, &doc) < 0 || (ws(&p), *p.s != '\0') ||
		    merge_one(&r, &doc, i == 1) < 0) {
			fprintf(stderr, EB_PROG ": %s: not an epbench --json "
			    "document\n", argv[i]);
			jfree(&doc);
			free(text);
			return EX_DATAERR;
		}
		jfree(&doc);
		free(text);
	}
	if (r.st.hist.total == 0)
		r.st.hist.min = 0;
	return eb_report_json(stdout, &r) < 0 || fflush(stdout) != 0 ?
	    EX_IOERR : EX_OK;
}
