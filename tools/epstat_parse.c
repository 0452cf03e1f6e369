/*
 * epstat_parse.c - epstat's parser of the stats socket's replies; see
 * epstat_parse.h.  It allocates (the lines, the label arrays) but never
 * prints or exits: the caller reports.
 */
#include "config.h"

#include "epstat_parse.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>               /* NAN: a macro, no -lm */
#include <stdlib.h>
#include <string.h>

int eps_line_feed(char **line, size_t *olen, const char *buf, size_t len,
                  size_t *used)
{
	const char *nl = len > 0 ? memchr(buf, '\n', len) : NULL;
	size_t take = nl ? (size_t)(nl - buf) : len;
	char *p;

	*used = 0;
	if (*olen + take > EPS_LINE_MAX) {
		free(*line);
		*line = NULL;
		*olen = 0;
		return EPS_LINE_LONG;
	}
	p = realloc(*line, *olen + take + 1);
	if (p == NULL) {
		free(*line);
		*line = NULL;
		*olen = 0;
		return EPS_LINE_NOMEM;
	}
	*line = p;
	memcpy(p + *olen, buf, take);
	*olen += take;
	p[*olen] = '\0';
	*used = take + (nl != NULL);
	if (nl == NULL)
		return EPS_LINE_MORE;
	if (memchr(p, '\0', *olen) != NULL) {
		free(*line);
		*line = NULL;
		*olen = 0;
		return EPS_LINE_NUL;
	}
	return EPS_LINE_DONE;
}

int eps_parse_greeting(char *line, struct eps_greeting *g)
{
	static const char magic[] = "EPUMP-STATS/";
	char *p = line + strlen(magic), *tok, *save;
	long v;

	memset(g, 0, sizeof(*g));
	g->pid = -1;
	if (strncmp(line, magic, strlen(magic)) != 0 ||
	    !isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	v = strtol(p, &p, 10);
	g->proto = errno != 0 || v > INT_MAX ? INT_MAX : (int)v;
	for (tok = strtok_r(p, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		if (strncmp(tok, "pid=", 4) == 0)
			g->pid = strtonum(tok + 4, 1, LLONG_MAX, NULL);
		else if (strncmp(tok, "prog=", 5) == 0 && g->prog == NULL)
			g->prog = tok + 5;
		else if (strncmp(tok, "version=", 8) == 0 &&
		    g->version == NULL)
			g->version = tok + 8;
	}
	if (g->pid <= 0)
		g->pid = -1;
	return 0;
}

long eps_err_code(const char *line)
{
	return strtol(line + 4, NULL, 10);
}

int eps_valid_name(const char *s)
{
	if (strncmp(s, "epump_", 6) != 0)
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    *s != '_')
			return 0;
	return 1;
}

int eps_parse_metric(char *line, struct metric *m, const char **bad)
{
	char *f[4], *p = line, *tab, *lab, *tok, *save, *eq, *end;
	struct label *nl;
	int i;

	memset(m, 0, sizeof(*m));
	*bad = line;
	for (i = 0; i < 4; i++) {
		f[i] = p;
		tab = strchr(p, '\t');
		if (i < 3 && tab == NULL)
			break;
		if (i == 3 && tab != NULL)
			return EPS_EMANYFIELDS;
		if (tab != NULL) {
			*tab = '\0';
			p = tab + 1;
		}
	}
	if (i < 4)
		return EPS_EFIELDS;
	if (!eps_valid_name(f[0])) {
		*bad = f[0];
		return EPS_ENAME;
	}
	m->name = f[0];
	m->type = f[1];
	m->value = f[3];
	lab = f[2];
	if (strcmp(lab, "-") != 0) {
		for (tok = strtok_r(lab, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			eq = strchr(tok, '=');
			if (eq == NULL || eq == tok) {
				*bad = tok;
				free(m->lab);
				m->lab = NULL;
				m->nlab = 0;
				return EPS_ELABEL;
			}
			*eq = '\0';
			nl = realloc(m->lab, (size_t)(m->nlab + 1) *
			    sizeof(*m->lab));
			if (nl == NULL) {
				free(m->lab);
				m->lab = NULL;
				m->nlab = 0;
				return EPS_ENOMEM;
			}
			m->lab = nl;
			m->lab[m->nlab].k = tok;
			m->lab[m->nlab].v = eq + 1;
			m->nlab++;
		}
	}
	m->num = NAN;
	if (strcmp(m->type, "info") != 0) {
		errno = 0;
		m->num = strtod(m->value, &end);
		if (end == m->value || *end != '\0')
			m->num = NAN;
	}
	m->line = line;
	return EPS_OK;
}

int eps_parse_secs(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !(v > 0) ||
	    v > 86400 * 365)
		return -1;
	*out = v;
	return 0;
}
