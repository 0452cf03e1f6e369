/*
 * epstat_parse.h - epstat's parser of the stats socket's replies
 * (epump-stats(7)): reply lines out of the byte stream, the greeting,
 * metric lines, ERR lines, and the seconds of its options.  Pure: no I/O,
 * no exit; shared by epstat.c and the fuzz target tests/fuzz/.
 */
#ifndef EPSTAT_PARSE_H
#define EPSTAT_PARSE_H

#include <stddef.h>

#define EPS_LINE_MAX (64 * 1024)    /* longest reply line we accept */

/* ---- lines ---- */
enum {
	EPS_LINE_MORE,          /* all of buf taken, the line goes on */
	EPS_LINE_DONE,          /* *line is complete (without its '\n') */
	EPS_LINE_LONG,          /* longer than EPS_LINE_MAX: *line freed */
	EPS_LINE_NUL,           /* holds a NUL byte: *line freed */
	EPS_LINE_NOMEM          /* out of memory: *line freed */
};
/* Adds buf[0..len), up to its first '\n', to the line being built in
 * *line (malloc'd, *olen bytes, NUL-terminated; NULL at first).  *used
 * gets the bytes taken, the '\n' included. */
int eps_line_feed(char **line, size_t *olen, const char *buf, size_t len,
                  size_t *used);

/* ---- the greeting: "EPUMP-STATS/1 pid=N prog=P version=V" ---- */
struct eps_greeting {
	int proto;              /* protocol major version */
	long long pid;          /* -1 without a valid pid= */
	const char *prog;       /* into the line, or NULL */
	const char *version;    /* into the line, or NULL */
};
/* Splits line in place: 0, or -1 when it is no greeting at all (g->pid
 * < 0 when it lacks a valid pid=). */
int eps_parse_greeting(char *line, struct eps_greeting *g);

/* "ERR CODE TEXT": the code (0 if none); line starts with "ERR ". */
long eps_err_code(const char *line);

/* ---- metric lines: "NAME\tTYPE\tLABELS\tVALUE" ---- */
struct known;
struct label {
	char *k, *v;
};
struct metric {
	char *line;             /* owns the strings below */
	char *name, *type, *value;
	struct label *lab;      /* malloc'd */
	int nlab;
	double num;             /* value as a number (NAN: not one) */
	const struct known *kn; /* epstat's: what it knows of it */
};
enum {
	EPS_OK, EPS_EFIELDS, EPS_EMANYFIELDS, EPS_ENAME, EPS_ELABEL,
	EPS_ENOMEM
};
/* Splits line in place into *m (m->line = line on success); EPS_OK, or
 * an error (m->lab freed; *bad points at the offending part). */
int eps_parse_metric(char *line, struct metric *m, const char **bad);
/* epump_[a-z0-9_]*: 1, else 0. */
int eps_valid_name(const char *s);

/* ---- options ---- */
/* Seconds, more than 0 and at most a year: 0, or -1. */
int eps_parse_secs(const char *s, double *out);

#endif
