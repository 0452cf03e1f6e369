/*
 * epstat.c - live metrics of a running libepump process, read from its
 * introspection socket (epump-stats(7)): a list of the processes, a
 * summary, or one view (threads, queues, fds, timers), as a table, JSON
 * or Prometheus text, once or redrawn like top(1).
 *
 * It links nothing of libepump: it speaks the wire protocol itself and
 * keeps only the metrics it knows (the table `known' below), so one epstat
 * reads any libepump version.  Single-threaded; every socket read has a
 * deadline, so a stuck or hostile server cannot hang it.
 */
#include "config.h" /* PACKAGE_VERSION: the one version, from configure.ac */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libutil.h>
#include <limits.h>
#include <math.h>               /* isnan, NAN: macros, no -lm */
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "epstat_parse.h"

#define PROG        "epstat"
/* VERSION comes from config.h (configure.ac): one source. */
#define PROTO_MAJOR 1               /* the protocol version we speak */
#define REPLY_MAX   (256L << 20)    /* bytes in one reply: a sanity bound */
#define STATS_HINT  "start it with EPUMP_STATS=1 in its environment " \
		    "(or have it call epcore_stats_enable(3))"

/* ---- options ---- */

enum fmt { FMT_TABLE, FMT_JSON, FMT_PROM };
enum view { V_LIST, V_SUMMARY, V_THREADS, V_QUEUES, V_FDS, V_TIMERS, V_ALL };

static const char *view_names[] = {
	"list", "summary", "threads", "queues", "fds", "timers", "all"
};

static enum fmt opt_fmt = FMT_TABLE;
static double opt_timeout = 5.0;    /* seconds, per command */
static double opt_watch;            /* seconds between samples; 0: once */
static long long opt_count;         /* samples to show; 0: until stopped */
static long long opt_stall_ms = 1000;
static int opt_human = -1;          /* -1: on a terminal */
static int opt_color = -1;          /* -1: on a terminal */
static int tty;                     /* stdout is a terminal */
static volatile sig_atomic_t interrupted;

/* ---- errors: a code from sysexits.h and a message, printed by the caller ---- */

static char errmsg[1024];

static int seterr(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int seterr(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return code;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		exit(EX_OSERR);
	}
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		exit(EX_OSERR);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the metrics epstat knows ---- */

/* Metrics group into entities: the process, a thread (epump/N or worker/N,
 * also for its queue and timers), a device (id=ID). */
enum ent_kind { E_PROC, E_THR, E_FD, E_NKINDS };

enum proc_slot {
	P_PID, P_MAXFD, P_UPTIME, P_PROG, P_VERSION, P_BACKEND, P_NEPUMP,
	P_NWORKER, P_DEVICES, P_TIMERS, P_EVENTS, P_NSLOTS
};
enum thr_slot {
	T_TID, T_STATE, T_STATE_SEC, T_EVENTS, T_BUSY, T_WAIT, T_LOOPS,
	T_DEVICES, T_TIMERS,
	Q_DEPTH, Q_DEPTH_MAX, Q_EVENTS, Q_WAIT50, Q_WAIT90, Q_WAIT99,
	Q_RUN50, Q_RUN90, Q_RUN99,
	TM_PENDING, TM_NEXT, T_NSLOTS
};
enum fd_slot {
	F_INFO, F_IN, F_OUT, F_QUEUED, F_AGE, F_IDLE, F_NSLOTS
};

/* Sections of the JSON document, and the commands that fill them. */
enum section { S_INFO, S_THREADS, S_QUEUES, S_TIMERS, S_FDS };

struct known {
	const char *name;
	const char *type;      /* counter, gauge or info */
	const char *sel;       /* "key=value" a line must carry, or NULL */
	enum ent_kind kind;
	int slot;
	enum section sect;
	const char *jkey;      /* JSON member; quantiles nest under it */
	const char *help;      /* Prometheus HELP */
};

static const struct known known[] = {
	{ "epump_pid", "gauge", NULL, E_PROC, P_PID, S_INFO, "pid",
	  "Process id." },
	{ "epump_maxfd", "gauge", NULL, E_PROC, P_MAXFD, S_INFO, "maxfd",
	  "Most file descriptors the process may open." },
	{ "epump_uptime_seconds", "gauge", NULL, E_PROC, P_UPTIME, S_INFO,
	  "uptime_seconds", "Seconds since the core was made." },
	{ "epump_prog", "info", NULL, E_PROC, P_PROG, S_INFO, "prog",
	  "Program name." },
	{ "epump_version", "info", NULL, E_PROC, P_VERSION, S_INFO, "version",
	  "libepump version." },
	{ "epump_backend", "info", NULL, E_PROC, P_BACKEND, S_INFO, "backend",
	  "Poller backend." },
	{ "epump_threads", "gauge", "kind=epump", E_PROC, P_NEPUMP, S_INFO,
	  "epump_threads", "Threads, by kind." },
	{ "epump_threads", "gauge", "kind=worker", E_PROC, P_NWORKER, S_INFO,
	  "worker_threads", "Threads, by kind." },
	{ "epump_devices", "gauge", NULL, E_PROC, P_DEVICES, S_INFO, "devices",
	  "Live devices." },
	{ "epump_timers", "gauge", NULL, E_PROC, P_TIMERS, S_INFO, "timers",
	  "Pending timers." },
	{ "epump_events_total", "counter", NULL, E_PROC, P_EVENTS, S_INFO,
	  "events_total", "Events dispatched, all threads." },

	{ "epump_thread_tid", "gauge", NULL, E_THR, T_TID, S_THREADS, "tid",
	  "Kernel thread id." },
	{ "epump_thread_state", "info", NULL, E_THR, T_STATE, S_THREADS,
	  "state", "What the thread is doing now (value 1)." },
	{ "epump_thread_state_seconds", "gauge", NULL, E_THR, T_STATE_SEC,
	  S_THREADS, "state_seconds", "Seconds in the current state." },
	{ "epump_thread_events_total", "counter", NULL, E_THR, T_EVENTS,
	  S_THREADS, "events_total", "Events the thread dispatched." },
	{ "epump_thread_busy_seconds_total", "counter", NULL, E_THR, T_BUSY,
	  S_THREADS, "busy_seconds_total",
	  "Seconds outside the poller or idle wait." },
	{ "epump_thread_wait_seconds_total", "counter", NULL, E_THR, T_WAIT,
	  S_THREADS, "wait_seconds_total",
	  "Seconds in the poller wait (epump threads)." },
	{ "epump_thread_loops_total", "counter", NULL, E_THR, T_LOOPS,
	  S_THREADS, "loops_total", "Poller iterations (epump threads)." },
	{ "epump_thread_devices", "gauge", NULL, E_THR, T_DEVICES, S_THREADS,
	  "devices", "Devices the epump thread polls." },
	{ "epump_thread_timers", "gauge", NULL, E_THR, T_TIMERS, S_THREADS,
	  "timers", "Timers the epump thread holds." },

	{ "epump_queue_depth", "gauge", NULL, E_THR, Q_DEPTH, S_QUEUES,
	  "depth", "Events waiting in the worker's queue." },
	{ "epump_queue_depth_max", "gauge", NULL, E_THR, Q_DEPTH_MAX, S_QUEUES,
	  "depth_max", "Most events ever waiting in the worker's queue." },
	{ "epump_queue_events_total", "counter", NULL, E_THR, Q_EVENTS,
	  S_QUEUES, "events_total", "Events the worker ran." },
	{ "epump_queue_wait_seconds", "gauge", "quantile=0.5", E_THR, Q_WAIT50,
	  S_QUEUES, "wait_seconds",
	  "Seconds from queueing to the handler's start, quantiles." },
	{ "epump_queue_wait_seconds", "gauge", "quantile=0.9", E_THR, Q_WAIT90,
	  S_QUEUES, "wait_seconds", NULL },
	{ "epump_queue_wait_seconds", "gauge", "quantile=0.99", E_THR,
	  Q_WAIT99, S_QUEUES, "wait_seconds", NULL },
	{ "epump_handler_seconds", "gauge", "quantile=0.5", E_THR, Q_RUN50,
	  S_QUEUES, "handler_seconds", "Handler run time in seconds, quantiles." },
	{ "epump_handler_seconds", "gauge", "quantile=0.9", E_THR, Q_RUN90,
	  S_QUEUES, "handler_seconds", NULL },
	{ "epump_handler_seconds", "gauge", "quantile=0.99", E_THR, Q_RUN99,
	  S_QUEUES, "handler_seconds", NULL },

	{ "epump_timers_pending", "gauge", NULL, E_THR, TM_PENDING, S_TIMERS,
	  "pending", "Timers pending on the epump thread." },
	{ "epump_timers_next_seconds", "gauge", NULL, E_THR, TM_NEXT, S_TIMERS,
	  "next_seconds", "Seconds until the next deadline, -1 with none." },

	{ "epump_fd_info", "info", NULL, E_FD, F_INFO, S_FDS, NULL,
	  "A device: fd, type, addresses, interest, threads (value 1)." },
	{ "epump_fd_bytes_in_total", "counter", NULL, E_FD, F_IN, S_FDS,
	  "bytes_in_total", "Bytes read." },
	{ "epump_fd_bytes_out_total", "counter", NULL, E_FD, F_OUT, S_FDS,
	  "bytes_out_total", "Bytes sent." },
	{ "epump_fd_queued_bytes", "gauge", NULL, E_FD, F_QUEUED, S_FDS,
	  "queued_bytes", "Bytes waiting in the send queue." },
	{ "epump_fd_age_seconds", "gauge", NULL, E_FD, F_AGE, S_FDS,
	  "age_seconds", "Seconds since the device was made." },
	{ "epump_fd_idle_seconds", "gauge", NULL, E_FD, F_IDLE, S_FDS,
	  "idle_seconds", "Seconds since the device's last event." },
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

static const int kind_nslots[E_NKINDS] = { P_NSLOTS, T_NSLOTS, F_NSLOTS };
static const char *kind_key[E_NKINDS] = { NULL, "thread", "id" };

/* ---- one sample: the replies of one process, grouped into entities ---- */

/* struct label and struct metric: epstat_parse.h */

struct ent {
	char *key;             /* thread name or device id; NULL: the process */
	struct metric **slot;
};

struct sample {
	char *path;            /* the socket */
	long long pid;         /* from the greeting */
	char *prog, *version;  /* from the greeting */
	int proto;             /* protocol major version */
	double t;              /* monotonic time of the reply */
	int sections;          /* 1 << S_*: what was asked */
	struct metric *m;
	size_t nm, capm;
	struct ent proc;
	struct ent *thr, *fd;
	size_t nthr, nfd, capthr, capfd;
	struct ent **fd_sorted; /* for rate lookups, made on demand */
};

static struct metric *ent_get(const struct ent *e, int slot)
{
	return e == NULL || e->slot == NULL ? NULL : e->slot[slot];
}

static double ent_num(const struct ent *e, int slot)
{
	struct metric *m = ent_get(e, slot);

	return m == NULL ? NAN : m->num;
}

static const char *ent_str(const struct ent *e, int slot)
{
	struct metric *m = ent_get(e, slot);

	return m == NULL ? NULL : m->value;
}

static const char *metric_label(const struct metric *m, const char *k)
{
	int i;

	for (i = 0; i < m->nlab; i++)
		if (strcmp(m->lab[i].k, k) == 0)
			return m->lab[i].v;
	return NULL;
}

static void ent_init(struct ent *e, enum ent_kind kind, const char *key)
{
	e->key = key == NULL ? NULL : xstrdup(key);
	e->slot = calloc((size_t)kind_nslots[kind], sizeof(*e->slot));
	if (e->slot == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		exit(EX_OSERR);
	}
}

static void ent_free(struct ent *e)
{
	free(e->key);
	free(e->slot);
}

/* The entity a metric belongs to, made on first sight.  The server sends
 * one entity's lines together, so the last one is tried first. */
static struct ent *ent_find(struct sample *s, enum ent_kind kind,
			    const char *key)
{
	struct ent **arr = kind == E_THR ? &s->thr : &s->fd;
	size_t *n = kind == E_THR ? &s->nthr : &s->nfd;
	size_t *cap = kind == E_THR ? &s->capthr : &s->capfd;
	size_t i;

	if (kind == E_PROC) {
		if (s->proc.slot == NULL)
			ent_init(&s->proc, E_PROC, NULL);
		return &s->proc;
	}
	if (*n > 0 && strcmp((*arr)[*n - 1].key, key) == 0)
		return &(*arr)[*n - 1];
	for (i = 0; i < *n; i++)
		if (strcmp((*arr)[i].key, key) == 0)
			return &(*arr)[i];
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*arr = xrealloc(*arr, *cap * sizeof(**arr));
	}
	ent_init(&(*arr)[*n], kind, key);
	return &(*arr)[(*n)++];
}

static void sample_free(struct sample *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nm; i++) {
		free(s->m[i].line);
		free(s->m[i].lab);
	}
	free(s->m);
	for (i = 0; i < s->nthr; i++)
		ent_free(&s->thr[i]);
	for (i = 0; i < s->nfd; i++)
		ent_free(&s->fd[i]);
	free(s->thr);
	free(s->fd);
	free(s->fd_sorted);
	if (s->proc.slot != NULL)
		ent_free(&s->proc);
	free(s->path);
	free(s->prog);
	free(s->version);
	free(s);
}

/* Thread order: epump threads, then workers, each by index. */
static int thr_cmp(const void *a, const void *b)
{
	const char *x = ((const struct ent *)a)->key;
	const char *y = ((const struct ent *)b)->key;
	const char *sx = strchr(x, '/'), *sy = strchr(y, '/');
	size_t lx = sx ? (size_t)(sx - x) : strlen(x);
	size_t ly = sy ? (size_t)(sy - y) : strlen(y);
	int c;

	if (lx != ly || strncmp(x, y, lx) != 0) {
		/* "epump" before "worker", others after, by name */
		c = strncmp(x, y, lx < ly ? lx : ly);
		return c != 0 ? c : (lx < ly ? -1 : 1);
	}
	if (sx && sy) {
		long long ix = strtoll(sx + 1, NULL, 10);
		long long iy = strtoll(sy + 1, NULL, 10);
		if (ix != iy)
			return ix < iy ? -1 : 1;
	}
	return strcmp(x, y);
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp((*(struct ent *const *)a)->key,
		      (*(struct ent *const *)b)->key);
}

static const struct ent *fd_lookup(struct sample *s, const char *key)
{
	struct ent k, *kp = &k, **r;
	size_t i;

	if (s == NULL || s->nfd == 0)
		return NULL;
	if (s->fd_sorted == NULL) {
		s->fd_sorted = xmalloc(s->nfd * sizeof(*s->fd_sorted));
		for (i = 0; i < s->nfd; i++)
			s->fd_sorted[i] = &s->fd[i];
		qsort(s->fd_sorted, s->nfd, sizeof(*s->fd_sorted), key_cmp);
	}
	k.key = (char *)key;
	r = bsearch(&kp, s->fd_sorted, s->nfd, sizeof(*s->fd_sorted), key_cmp);
	return r == NULL ? NULL : *r;
}

static const struct ent *thr_lookup(const struct sample *s, const char *key)
{
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < s->nthr; i++)
		if (strcmp(s->thr[i].key, key) == 0)
			return &s->thr[i];
	return NULL;
}

/* ---- the connection ---- */

struct conn {
	int fd;
	const char *path;
	char buf[8192];
	size_t off, len;       /* unread bytes in buf */
	double deadline;       /* monotonic; reads fail after it */
};

/* An ERR line as an exit code: 403 is the server refusing us. */
static int err_line(const struct conn *c, const char *line)
{
	long code = eps_err_code(line);

	if (code == 403)
		return seterr(EX_NOPERM, "%s: the server refused us: %s "
		    "(only its own user and root are served)", c->path, line);
	if (code == 503)
		return seterr(EX_TEMPFAIL, "%s: the server is busy: %s "
		    "(more than 16 clients); try again", c->path, line);
	return seterr(EX_PROTOCOL, "%s: the server answered %s", c->path,
	    line);
}

/* One line, without its newline, in a malloc'd string; 0, or an exit
 * code.  *line is NULL at end of file. */
static int read_line(struct conn *c, char **line)
{
	char *out = NULL;
	size_t olen = 0, used;
	ssize_t n;
	struct pollfd pfd;
	double left;

	*line = NULL;
	for (;;) {
		if (c->len > 0) {
			int r = eps_line_feed(&out, &olen, c->buf + c->off,
			    c->len, &used);

			c->off += used;
			c->len -= used;
			if (r == EPS_LINE_DONE) {
				*line = out;
				return 0;
			}
			if (r == EPS_LINE_LONG)
				return seterr(EX_PROTOCOL, "%s: a reply line is "
				    "longer than %d bytes", c->path,
				    EPS_LINE_MAX);
			if (r == EPS_LINE_NUL)
				return seterr(EX_PROTOCOL, "%s: a reply line "
				    "holds a NUL byte", c->path);
			if (r == EPS_LINE_NOMEM) {
				fprintf(stderr, PROG ": out of memory\n");
				exit(EX_OSERR);
			}
		}
		c->off = 0;
		left = c->deadline - now_mono();
		if (left <= 0) {
			free(out);
			return seterr(EX_TEMPFAIL, "%s: no answer within %g s",
			    c->path, opt_timeout);
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		n = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (n < 0 && errno == EINTR) {
			if (interrupted) {
				free(out);
				return seterr(EX_TEMPFAIL, "interrupted");
			}
			continue;
		}
		if (n < 0) {
			free(out);
			return seterr(EX_OSERR, "%s: poll: %s", c->path,
			    strerror(errno));
		}
		if (n == 0)
			continue;  /* the deadline check above ends it */
		n = read(c->fd, c->buf, sizeof(c->buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 && errno == ECONNRESET)
			n = 0;
		if (n < 0) {
			free(out);
			return seterr(EX_IOERR, "%s: read: %s", c->path,
			    strerror(errno));
		}
		if (n == 0) {
			if (out != NULL && olen > 0) {
				free(out);
				return seterr(EX_PROTOCOL, "%s: the reply ends "
				    "in the middle of a line", c->path);
			}
			free(out);
			return 0;
		}
		c->len = (size_t)n;
	}
}

static int send_line(struct conn *c, const char *cmd)
{
	char buf[256];
	size_t len = strlen(cmd), off = 0;
	ssize_t n;

	if (len + 2 > sizeof(buf))
		return seterr(EX_SOFTWARE, "command too long");
	memcpy(buf, cmd, len);
	buf[len++] = '\n';
	while (off < len) {
		n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return seterr(EX_PROTOCOL, "%s: the server closed the "
			    "connection", c->path);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return seterr(EX_TEMPFAIL, "%s: the server takes no "
			    "command within %g s", c->path, opt_timeout);
		if (n < 0)
			return seterr(EX_IOERR, "%s: send: %s", c->path,
			    strerror(errno));
		off += (size_t)n;
	}
	return 0;
}

/* Connect and check the greeting; fills s->pid, prog, version.  0, or an
 * exit code; *refused tells a stale socket (nobody listening). */
static int conn_open(struct conn *c, const char *path, struct sample *s,
		     int *refused)
{
	struct sockaddr_un sun;
	struct timeval tv;
	struct eps_greeting g;
	char *line = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->path = path;
	if (refused != NULL)
		*refused = 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		return seterr(EX_USAGE, "%s: path too long for a unix socket",
		    path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return seterr(EX_OSERR, "socket: %s", strerror(errno));
	/* A full backlog makes a unix connect block: bound it too. */
	tv.tv_sec = (time_t)opt_timeout;
	tv.tv_usec = (suseconds_t)((opt_timeout - (double)tv.tv_sec) * 1e6);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		if (e == ECONNREFUSED && refused != NULL)
			*refused = 1;
		if (e == EACCES || e == EPERM)
			return seterr(EX_NOPERM, "%s: permission denied "
			    "(the socket belongs to another user)", path);
		if (e == ENOENT)
			return seterr(EX_UNAVAILABLE, "%s: no such socket; "
			    "a libepump process serves one when it is "
			    "started with EPUMP_STATS=1", path);
		if (e == ECONNREFUSED)
			return seterr(EX_UNAVAILABLE, "%s: nobody listens "
			    "(a stale socket: the process has gone)", path);
		if (e == EAGAIN || e == EWOULDBLOCK)
			return seterr(EX_TEMPFAIL, "%s: connect: no room in "
			    "the backlog within %g s", path, opt_timeout);
		if (e == ENOTSOCK)
			return seterr(EX_UNAVAILABLE, "%s: not a socket",
			    path);
		return seterr(EX_UNAVAILABLE, "%s: connect: %s", path,
		    strerror(e));
	}
	c->deadline = now_mono() + opt_timeout;
	rc = read_line(c, &line);
	if (rc != 0)
		return rc;
	if (line == NULL)
		return seterr(EX_PROTOCOL, "%s: the server closed the "
		    "connection without a greeting", path);
	if (strncmp(line, "ERR ", 4) == 0) {
		rc = err_line(c, line);
		free(line);
		return rc;
	}
	if (eps_parse_greeting(line, &g) < 0) {
		rc = seterr(EX_PROTOCOL, "%s: bad greeting \"%.60s\" (not a "
		    "libepump stats socket?)", path, line);
		free(line);
		return rc;
	}
	s->proto = g.proto;
	s->pid = g.pid;
	if (g.prog != NULL)
		s->prog = xstrdup(g.prog);
	if (g.version != NULL)
		s->version = xstrdup(g.version);
	free(line);
	if (s->pid <= 0)
		return seterr(EX_PROTOCOL, "%s: bad greeting: no pid=", path);
	if (s->proto != PROTO_MAJOR)
		fprintf(stderr, PROG ": %s: protocol version %d, this epstat "
		    "speaks %d; trying anyway\n", path, s->proto, PROTO_MAJOR);
	if (s->prog == NULL)
		s->prog = xstrdup("?");
	if (s->version == NULL)
		s->version = xstrdup("?");
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		send(c->fd, "quit\n", 5, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(c->fd);
	}
	c->fd = -1;
}

static const struct known *lookup_known(const struct metric *m)
{
	size_t i;
	const char *eq, *v;
	char key[32];

	for (i = 0; i < NKNOWN; i++) {
		if (strcmp(known[i].name, m->name) != 0 ||
		    strcmp(known[i].type, m->type) != 0)
			continue;
		if (known[i].sel == NULL)
			return &known[i];
		eq = strchr(known[i].sel, '=');
		snprintf(key, sizeof(key), "%.*s", (int)(eq - known[i].sel),
		    known[i].sel);
		v = metric_label(m, key);
		if (v != NULL && strcmp(v, eq + 1) == 0)
			return &known[i];
	}
	return NULL;
}

/* Split a metric line in place; 0, or an exit code. */
static int parse_metric(struct conn *c, char *line, struct metric *m)
{
	const char *bad;

	switch (eps_parse_metric(line, m, &bad)) {
	case EPS_OK:
		return 0;
	case EPS_EMANYFIELDS:
		return seterr(EX_PROTOCOL, "%s: a reply line has more "
		    "than 4 tab-separated fields: \"%.80s\"", c->path, line);
	case EPS_EFIELDS:
		return seterr(EX_PROTOCOL, "%s: a reply line has not 4 "
		    "tab-separated fields: \"%.80s\"", c->path, line);
	case EPS_ENAME:
		return seterr(EX_PROTOCOL, "%s: bad metric name \"%.80s\"",
		    c->path, bad);
	case EPS_ELABEL:
		return seterr(EX_PROTOCOL, "%s: bad label \"%.60s\" in %s",
		    c->path, bad, m->name);
	default:
		fprintf(stderr, PROG ": out of memory\n");
		exit(EX_OSERR);
	}
}

/* Send one command and add its reply to the sample; 0, or an exit code. */
static int command(struct conn *c, const char *cmd, struct sample *s)
{
	char *line;
	struct metric m;
	const struct known *kn;
	const char *key;
	long total = 0;
	int rc;

	rc = send_line(c, cmd);
	if (rc != 0)
		return rc;
	c->deadline = now_mono() + opt_timeout;
	for (;;) {
		rc = read_line(c, &line);
		if (rc != 0)
			return rc;
		if (line == NULL)
			return seterr(EX_PROTOCOL, "%s: the reply to \"%s\" "
			    "ends without its empty line", c->path, cmd);
		if (line[0] == '\0') {
			free(line);
			return 0;
		}
		total += (long)strlen(line) + 1;
		if (total > REPLY_MAX) {
			free(line);
			return seterr(EX_PROTOCOL, "%s: the reply to \"%s\" is "
			    "larger than %ld bytes", c->path, cmd, REPLY_MAX);
		}
		if (strncmp(line, "ERR ", 4) == 0) {
			rc = err_line(c, line);
			free(line);
			return rc;
		}
		rc = parse_metric(c, line, &m);
		if (rc != 0) {
			free(line);
			return rc;
		}
		kn = lookup_known(&m);
		key = kn == NULL || kind_key[kn->kind] == NULL ? NULL :
		    metric_label(&m, kind_key[kn->kind]);
		if (kn == NULL || (kind_key[kn->kind] != NULL && key == NULL) ||
		    (strcmp(kn->type, "info") != 0 && isnan(m.num) &&
		    strcasecmp(m.value, "nan") != 0)) {
			/* unknown, or not as this epstat knows it: skip */
			free(m.lab);
			free(line);
			continue;
		}
		m.kn = kn;
		if (s->nm == s->capm) {
			s->capm = s->capm ? s->capm * 2 : 64;
			s->m = xrealloc(s->m, s->capm * sizeof(*s->m));
		}
		s->m[s->nm++] = m;
	}
}

/* Point the entities' slots at the metrics (after s->m stops moving). */
static void sample_index(struct sample *s)
{
	size_t i;
	struct metric *m;
	struct ent *e;

	for (i = 0; i < s->nm; i++) {
		m = &s->m[i];
		e = ent_find(s, m->kn->kind, kind_key[m->kn->kind] == NULL ?
		    NULL : metric_label(m, kind_key[m->kn->kind]));
		e->slot[m->kn->slot] = m;
	}
	if (s->nthr > 1)
		qsort(s->thr, s->nthr, sizeof(*s->thr), thr_cmp);
}

static const char *section_cmd[] = {
	"show info", "show threads", "show queues", "show timers", "show fds"
};

/* Connect to path, ask for the sections, and return the sample in *out.
 * 0, or an exit code with errmsg set. */
static int fetch(const char *path, int sections, struct sample **out,
		 int *refused)
{
	struct conn c;
	struct sample *s = calloc(1, sizeof(*s));
	int rc, i;

	*out = NULL;
	if (s == NULL)
		return seterr(EX_OSERR, "out of memory");
	s->path = xstrdup(path);
	s->sections = sections;
	rc = conn_open(&c, path, s, refused);
	for (i = S_INFO; rc == 0 && i <= S_FDS; i++)
		if (sections & (1 << i))
			rc = command(&c, section_cmd[i], s);
	conn_close(&c);
	if (rc != 0) {
		sample_free(s);
		return rc;
	}
	s->t = now_mono();
	sample_index(s);
	*out = s;
	return 0;
}

/* ---- finding sockets ---- */

struct paths {
	char **v;
	size_t n, cap;
};

static void paths_add(struct paths *p, const char *s)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->v[i], s) == 0)
			return;
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
	}
	p->v[p->n++] = xstrdup(s);
}

static void paths_free(struct paths *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

/* The directories epump-stats(7) names for the current user. */
static void socket_dirs(struct paths *dirs)
{
	char buf[PATH_MAX];
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (xdg != NULL && *xdg == '/') {
		snprintf(buf, sizeof(buf), "%s/epump", xdg);
		paths_add(dirs, buf);
	}
	if (geteuid() == 0)
		paths_add(dirs, "/run/epump");
	snprintf(buf, sizeof(buf), "/tmp/epump-%u", (unsigned)geteuid());
	paths_add(dirs, buf);
}

static int all_digits(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Does a socket name PROG.PID.sock or PROG.PID.N.sock name pid (pid < 0:
 * any)?  1 for the first core's socket, 2 for another core's, else 0. */
static int name_match(const char *name, long long pid)
{
	size_t len = strlen(name);
	const char *end, *p, *q;
	char want[32];

	if (len < 6 || strcmp(name + len - 5, ".sock") != 0)
		return 0;
	if (pid < 0)
		return 1;
	snprintf(want, sizeof(want), "%lld", pid);
	end = name + len - 5;                     /* at ".sock" */
	for (p = end; p > name && p[-1] != '.'; p--)
		;
	if (p > name && (size_t)(end - p) == strlen(want) &&
	    strncmp(p, want, (size_t)(end - p)) == 0)
		return 1;                         /* PROG.PID.sock */
	if (p <= name + 1 || !all_digits(p, (size_t)(end - p)))
		return 0;
	end = p - 1;                              /* PROG.PID.N.sock */
	for (q = end; q > name && q[-1] != '.'; q--)
		;
	if (q > name && (size_t)(end - q) == strlen(want) &&
	    strncmp(q, want, (size_t)(end - q)) == 0)
		return 2;
	return 0;
}

/* The sockets in the directories that match pid (< 0: all), the first
 * core's before the others'. */
static void scan_dirs(long long pid, struct paths *out)
{
	struct paths dirs = { 0 }, second = { 0 };
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	const char *env = getenv("EPUMP_STATS_SOCKET");
	DIR *d;
	size_t i;
	int k;

	socket_dirs(&dirs);
	for (i = 0; i < dirs.n; i++) {
		d = opendir(dirs.v[i]);
		if (d == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			k = name_match(de->d_name, pid);
			if (k == 0)
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", dirs.v[i],
			    de->d_name) >= (int)sizeof(path))
				continue;
			if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
				continue;
			paths_add(k == 1 ? out : &second, path);
		}
		closedir(d);
	}
	if (pid < 0 && env != NULL && *env != '\0' && stat(env, &st) == 0 &&
	    S_ISSOCK(st.st_mode))
		paths_add(out, env);
	for (i = 0; i < second.n; i++)
		paths_add(out, second.v[i]);
	paths_free(&dirs);
	paths_free(&second);
}

/* The listening unix sockets a process holds, from /proc: its fds'
 * socket inodes matched against /proc/net/unix.  0, or EACCES when the
 * process's fds are not ours to read, ESRCH when there is no process. */
static int scan_proc(long long pid, struct paths *out)
{
	char dir[64], link[PATH_MAX], fdpath[PATH_MAX + 80];
	char line[PATH_MAX + 128];
	unsigned long *inodes = NULL, ino;
	size_t ninodes = 0, i;
	struct dirent *de;
	ssize_t n;
	DIR *d;
	FILE *f;
	int e;

	snprintf(dir, sizeof(dir), "/proc/%lld/fd", pid);
	d = opendir(dir);
	if (d == NULL) {
		e = errno;
		snprintf(dir, sizeof(dir), "/proc/%lld", pid);
		return access(dir, F_OK) == 0 ? (e == ENOENT ? ESRCH : e) :
		    ESRCH;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", dir, de->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		inodes = xrealloc(inodes, (ninodes + 1) * sizeof(*inodes));
		inodes[ninodes++] = ino;
	}
	closedir(d);
	f = fopen("/proc/net/unix", "r");
	if (f == NULL) {
		free(inodes);
		return 0;
	}
	/* Num RefCount Protocol Flags Type St Inode Path */
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long flags, type, st;
		int off = 0;
		char *path;

		if (sscanf(line, "%*s %*s %*s %lx %lx %lx %lu %n", &flags,
		    &type, &st, &ino, &off) < 4 || off == 0)
			continue;
		if (type != SOCK_STREAM || !(flags & 0x10000)) /* listening */
			continue;
		path = line + off;
		path[strcspn(path, "\n")] = '\0';
		if (path[0] != '/')                /* abstract or unnamed */
			continue;
		for (i = 0; i < ninodes; i++)
			if (inodes[i] == ino) {
				paths_add(out, path);
				break;
			}
	}
	fclose(f);
	free(inodes);
	return 0;
}

static void proc_comm(long long pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/comm", pid);
	strlcpy(buf, "?", len);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	if (fgets(buf, (int)len, f) != NULL)
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* The socket of pid: by the naming convention, else through /proc.  The
 * greeting must name the pid.  0 and *path, or an exit code. */
static int resolve_pid(long long pid, char **path)
{
	struct paths cand = { 0 };
	struct sample *s;
	size_t i, named;
	char comm[64];
	int rc, err = 0, firstrc = 0, pe;
	char firstmsg[sizeof(errmsg)] = "";
	double saved;

	*path = NULL;
	scan_dirs(pid, &cand);
	named = cand.n;
	pe = scan_proc(pid, &cand);
	for (i = 0; i < cand.n; i++) {
		/* a socket found through /proc may be the program's own: a
		 * stats socket greets at once, so do not wait long for it */
		saved = opt_timeout;
		if (i >= named && opt_timeout > 1)
			opt_timeout = 1;
		rc = fetch(cand.v[i], 0, &s, NULL);
		opt_timeout = saved;
		if (rc == 0 && s->pid == pid) {
			*path = xstrdup(cand.v[i]);
			if (i + 1 < named)
				fprintf(stderr, PROG ": pid %lld has more "
				    "than one core; showing %s (-s PATH "
				    "shows another)\n", pid, cand.v[i]);
			sample_free(s);
			paths_free(&cand);
			return 0;
		}
		sample_free(s);
		/* A socket of the process that answered badly is worth
		 * telling; a foreign socket of its own is not. */
		if (rc != 0 && i < named && firstrc == 0 &&
		    rc != EX_UNAVAILABLE) {
			firstrc = rc;
			strlcpy(firstmsg, errmsg, sizeof(firstmsg));
		}
		if (rc == EX_NOPERM)
			err = EX_NOPERM;
	}
	paths_free(&cand);
	if (firstrc != 0) {
		strlcpy(errmsg, firstmsg, sizeof(errmsg));
		return firstrc;
	}
	if (pe == ESRCH)
		return seterr(EX_UNAVAILABLE, "no process with pid %lld; a "
		    "libepump process serves a stats socket when it is "
		    "started with EPUMP_STATS=1", pid);
	proc_comm(pid, comm, sizeof(comm));
	if (err == EX_NOPERM || pe == EACCES || pe == EPERM)
		return seterr(EX_NOPERM, "process %lld (%s) belongs to another "
		    "user: its stats socket is not ours to read", pid, comm);
	return seterr(EX_UNAVAILABLE, "process %lld (%s) serves no stats "
	    "socket: %s", pid, comm, STATS_HINT);
}

/* ---- formatting numbers ---- */

static int human(void)
{
	return opt_human >= 0 ? opt_human : tty;
}

/* Text safe for a terminal: no control characters from the server. */
static const char *safe(const char *s, char *buf, size_t len)
{
	size_t i;

	if (s == NULL)
		return "-";
	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static void fmt_count(char *buf, size_t len, const struct metric *m)
{
	if (m == NULL || isnan(m->num)) {
		strlcpy(buf, "-", len);
		return;
	}
	if (!human() || m->num >= 9.2e18 || m->num < 0 ||
	    humanize_number(buf, len < 6 ? len : 6, (int64_t)m->num, "",
	    HN_AUTOSCALE, HN_DECIMAL | HN_NOSPACE | HN_DIVISOR_1000) < 0)
		strlcpy(buf, m->value, len);
}

static void fmt_bytes(char *buf, size_t len, double v, const char *raw)
{
	if (isnan(v)) {
		strlcpy(buf, "-", len);
		return;
	}
	if (human() && v >= 0 && v < 9.2e18 &&
	    humanize_number(buf, len < 6 ? len : 6, (int64_t)v, "B",
	    HN_AUTOSCALE, HN_DECIMAL | HN_NOSPACE) >= 0)
		return;
	if (raw != NULL)
		strlcpy(buf, raw, len);
	else
		snprintf(buf, len, "%.0f", v);
}

/* A duration: 812us, 3.4ms, 12.4s, 3m12s, 2h05m, 3d04h. */
static void fmt_dur(char *buf, size_t len, double v, const char *raw)
{
	if (isnan(v)) {
		strlcpy(buf, "-", len);
		return;
	}
	if (!human() || v < 0) {
		if (raw != NULL)
			strlcpy(buf, raw, len);
		else
			snprintf(buf, len, "%.3f", v);
		return;
	}
	if (v < 1e-3)
		snprintf(buf, len, "%.0fus", v * 1e6);
	else if (v < 1e-2)
		snprintf(buf, len, "%.1fms", v * 1e3);
	else if (v < 1)
		snprintf(buf, len, "%.0fms", v * 1e3);
	else if (v < 60)
		snprintf(buf, len, "%.1fs", v);
	else if (v < 3600)
		snprintf(buf, len, "%dm%02ds", (int)(v / 60), (int)v % 60);
	else if (v < 86400)
		snprintf(buf, len, "%dh%02dm", (int)(v / 3600),
		    (int)(v / 60) % 60);
	else
		snprintf(buf, len, "%lldd%02dh", (long long)(v / 86400),
		    (int)(v / 3600) % 24);
}

static void fmt_metric_dur(char *buf, size_t len, const struct metric *m)
{
	fmt_dur(buf, len, m == NULL ? NAN : m->num, m == NULL ? NULL :
	    m->value);
}

static void fmt_rate(char *buf, size_t len, double r)
{
	if (isnan(r)) {
		strlcpy(buf, "-", len);
		return;
	}
	if (human() && r >= 1000 && r < 9.2e18 &&
	    humanize_number(buf, len < 6 ? len : 6, (int64_t)r, "",
	    HN_AUTOSCALE, HN_DECIMAL | HN_NOSPACE | HN_DIVISOR_1000) >= 0)
		return;
	snprintf(buf, len, r < 10 ? "%.1f" : "%.0f", r);
}

/* Per-second rate of a counter between two samples (NAN: no rate). */
static double rate(const struct ent *cur, const struct ent *prev, int slot,
		   double dt)
{
	double a = ent_num(cur, slot), b = ent_num(prev, slot);

	if (isnan(a) || isnan(b) || dt <= 0 || a < b)
		return NAN;
	return (a - b) / dt;
}

/* ---- tables ---- */

struct table {
	int ncol;
	char **cell;           /* row-major; row 0 is the header */
	int *right;            /* per column: right-aligned */
	int *red;              /* per row */
	int nrow, caprow, col;
};

static void tbl_init(struct table *t, const char *cols)
{
	const char *p;
	char *h, *tok, *save;
	int i = 0;

	memset(t, 0, sizeof(*t));
	t->ncol = 1;
	for (p = cols; *p; p++)
		t->ncol += *p == ' ';
	t->right = xmalloc((size_t)t->ncol * sizeof(int));
	h = xstrdup(cols);
	for (tok = strtok_r(h, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save), i++) {
		/* a leading '>' marks a right-aligned (numeric) column */
		t->right[i] = tok[0] == '>';
		t->cell = xrealloc(t->cell, (size_t)(i + 1) * sizeof(char *));
		t->cell[i] = xstrdup(tok + t->right[i]);
	}
	free(h);
	t->nrow = 1;
	t->caprow = 1;
	t->red = xmalloc(sizeof(int));
	t->red[0] = 0;
}

static void tbl_cell(struct table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void tbl_cell(struct table *t, const char *fmt, ...)
{
	char buf[1024], clean[1024];
	va_list ap;

	if (t->col == 0) {
		if (t->nrow == t->caprow) {
			t->caprow *= 2;
			t->cell = xrealloc(t->cell, (size_t)t->caprow *
			    (size_t)t->ncol * sizeof(char *));
			t->red = xrealloc(t->red, (size_t)t->caprow *
			    sizeof(int));
		}
		t->red[t->nrow] = 0;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	t->cell[t->nrow * t->ncol + t->col] = xstrdup(safe(buf, clean,
	    sizeof(clean)));
	if (++t->col == t->ncol) {
		t->col = 0;
		t->nrow++;
	}
}

static int use_color(void)
{
	const char *nc = getenv("NO_COLOR");

	if (opt_color >= 0)
		return opt_color;
	return tty && (nc == NULL || *nc == '\0');
}

static void tbl_print(struct table *t, FILE *fp)
{
	int *w = calloc((size_t)t->ncol, sizeof(int));
	int r, c, len, last;
	const char *s;

	if (w == NULL)
		exit(EX_OSERR);
	for (r = 0; r < t->nrow; r++)
		for (c = 0; c < t->ncol; c++) {
			len = (int)strlen(t->cell[r * t->ncol + c]);
			if (len > w[c])
				w[c] = len;
		}
	/* trailing empty columns (STALLED, say) are not padded for */
	for (r = 0; r < t->nrow; r++) {
		for (last = t->ncol - 1; last > 0 &&
		    t->cell[r * t->ncol + last][0] == '\0'; last--)
			;
		if (t->red[r] && use_color())
			fputs("\033[31m", fp);
		for (c = 0; c <= last; c++) {
			s = t->cell[r * t->ncol + c];
			if (c == last && !t->right[c])
				fputs(s, fp);
			else
				fprintf(fp, t->right[c] ? "%*s" : "%-*s", w[c],
				    s);
			if (c < last)
				fputs("  ", fp);
		}
		if (t->red[r] && use_color())
			fputs("\033[0m", fp);
		fputc('\n', fp);
	}
	for (r = 0; r < t->nrow; r++)
		for (c = 0; c < t->ncol; c++)
			free(t->cell[r * t->ncol + c]);
	free(t->cell);
	free(t->right);
	free(t->red);
	free(w);
}

/* ---- stalls ---- */

/* The extra labels of a thread's state (dev=, timer=, user=) as text. */
static void state_detail(const struct metric *m, char *buf, size_t len)
{
	int i;

	buf[0] = '\0';
	if (m == NULL)
		return;
	for (i = 0; i < m->nlab; i++) {
		if (strcmp(m->lab[i].k, "thread") == 0)
			continue;
		if (buf[0] != '\0')
			strlcat(buf, " ", len);
		strlcat(buf, m->lab[i].k, len);
		strlcat(buf, "=", len);
		strlcat(buf, m->lab[i].v, len);
	}
}

static int stalled(const struct ent *e)
{
	const char *st = ent_str(e, T_STATE);
	double sec = ent_num(e, T_STATE_SEC);

	return st != NULL && strcmp(st, "handler") == 0 && !isnan(sec) &&
	    sec * 1000 > (double)opt_stall_ms;
}

static void print_stalls(const struct sample *s, FILE *fp)
{
	char det[512], clean[512], kclean[64], tid[32];
	const struct ent *e;
	size_t i;

	for (i = 0; i < s->nthr; i++) {
		e = &s->thr[i];
		if (!stalled(e))
			continue;
		state_detail(ent_get(e, T_STATE), det, sizeof(det));
		if (ent_get(e, T_TID) != NULL)
			snprintf(tid, sizeof(tid), " (tid %s)",
			    ent_str(e, T_TID));
		else
			tid[0] = '\0';
		if (use_color())
			fputs("\033[31m", fp);
		fprintf(fp, "thread %s%s stuck in handler%s%s for %.1f s",
		    safe(e->key, kclean, sizeof(kclean)), tid,
		    det[0] ? " " : "", safe(det, clean, sizeof(clean)),
		    ent_num(e, T_STATE_SEC));
		if (use_color())
			fputs("\033[0m", fp);
		fputc('\n', fp);
	}
}

/* ---- table output ---- */

static int is_worker(const struct ent *e)
{
	return strncmp(e->key, "worker/", 7) == 0;
}

static void state_cell(struct table *t, const struct ent *e)
{
	char det[512];
	const char *st = ent_str(e, T_STATE);

	state_detail(ent_get(e, T_STATE), det, sizeof(det));
	tbl_cell(t, "%s%s%s", st ? st : "-", det[0] ? " " : "", det);
}

static void print_header(const struct sample *s, const struct sample *prev,
			 FILE *fp)
{
	char c1[64], c2[64], c3[32], up[32], ev[32], r[32], cl[3][256];
	const struct ent *p = &s->proc;
	double dt = prev ? s->t - prev->t : 0;

	fmt_dur(up, sizeof(up), ent_num(p, P_UPTIME), ent_str(p, P_UPTIME));
	fprintf(fp, "%s pid %lld: libepump %s, %s, up %s, maxfd %s\n",
	    safe(s->prog, cl[0], sizeof(cl[0])), s->pid,
	    safe(s->version, cl[1], sizeof(cl[1])),
	    safe(ent_str(p, P_BACKEND), cl[2], sizeof(cl[2])), up,
	    ent_str(p, P_MAXFD) ? ent_str(p, P_MAXFD) : "-");
	fmt_count(c1, sizeof(c1), ent_get(p, P_DEVICES));
	fmt_count(c2, sizeof(c2), ent_get(p, P_TIMERS));
	fmt_count(ev, sizeof(ev), ent_get(p, P_EVENTS));
	fmt_count(c3, sizeof(c3), ent_get(p, P_NEPUMP));
	fprintf(fp, "%s epump + ", c3);
	fmt_count(c3, sizeof(c3), ent_get(p, P_NWORKER));
	fprintf(fp, "%s worker threads, %s devices, %s timers, %s events",
	    c3, c1, c2, ev);
	if (prev != NULL) {
		fmt_rate(r, sizeof(r), rate(p, prev ? &prev->proc : NULL,
		    P_EVENTS, dt));
		fprintf(fp, " (%s/s)", r);
	}
	fputc('\n', fp);
}

static void print_summary(const struct sample *s, const struct sample *prev,
			  FILE *fp)
{
	struct table t;
	char a[64], b[64], c[64], d[64];
	const struct ent *e;
	double dt = prev ? s->t - prev->t : 0;
	size_t i;
	int any = 0;

	print_header(s, prev, fp);
	fputc('\n', fp);
	for (i = 0; i < s->nthr; i++)
		any |= stalled(&s->thr[i]);
	tbl_init(&t, prev ? "THREAD >TID STATE >FOR >EVENTS >EV/S >QUEUE "
	    ">QMAX STALL" : "THREAD >TID STATE >FOR >EVENTS >QUEUE >QMAX "
	    "STALL");
	for (i = 0; i < s->nthr; i++) {
		e = &s->thr[i];
		if (ent_get(e, T_TID) == NULL && ent_get(e, T_STATE) == NULL)
			continue;
		tbl_cell(&t, "%s", e->key);
		tbl_cell(&t, "%s", ent_str(e, T_TID) ? ent_str(e, T_TID) :
		    "-");
		state_cell(&t, e);
		fmt_metric_dur(a, sizeof(a), ent_get(e, T_STATE_SEC));
		tbl_cell(&t, "%s", a);
		fmt_count(b, sizeof(b), ent_get(e, T_EVENTS));
		tbl_cell(&t, "%s", b);
		if (prev != NULL) {
			fmt_rate(c, sizeof(c), rate(e, thr_lookup(prev,
			    e->key), T_EVENTS, dt));
			tbl_cell(&t, "%s", c);
		}
		fmt_count(c, sizeof(c), ent_get(e, Q_DEPTH));
		tbl_cell(&t, "%s", c);
		fmt_count(d, sizeof(d), ent_get(e, Q_DEPTH_MAX));
		tbl_cell(&t, "%s", d);
		t.red[t.nrow] = stalled(e);
		tbl_cell(&t, "%s", stalled(e) ? "STALLED" : "");
	}
	tbl_print(&t, fp);
	if (any) {
		fputc('\n', fp);
		print_stalls(s, fp);
	}
}

static void print_threads(const struct sample *s, const struct sample *prev,
			  FILE *fp)
{
	struct table t;
	char a[64];
	const struct ent *e, *pe;
	double dt = prev ? s->t - prev->t : 0, r;
	size_t i;

	tbl_init(&t, prev ? "THREAD >TID STATE >FOR >EVENTS >EV/S >BUSY% "
	    ">BUSY >WAIT >LOOPS >DEVICES >TIMERS STALL" :
	    "THREAD >TID STATE >FOR >EVENTS >BUSY >WAIT >LOOPS >DEVICES "
	    ">TIMERS STALL");
	for (i = 0; i < s->nthr; i++) {
		e = &s->thr[i];
		if (ent_get(e, T_TID) == NULL && ent_get(e, T_STATE) == NULL)
			continue;
		pe = thr_lookup(prev, e->key);
		tbl_cell(&t, "%s", e->key);
		tbl_cell(&t, "%s", ent_str(e, T_TID) ? ent_str(e, T_TID) :
		    "-");
		state_cell(&t, e);
		fmt_metric_dur(a, sizeof(a), ent_get(e, T_STATE_SEC));
		tbl_cell(&t, "%s", a);
		fmt_count(a, sizeof(a), ent_get(e, T_EVENTS));
		tbl_cell(&t, "%s", a);
		if (prev != NULL) {
			fmt_rate(a, sizeof(a), rate(e, pe, T_EVENTS, dt));
			tbl_cell(&t, "%s", a);
			r = rate(e, pe, T_BUSY, dt);
			if (isnan(r))
				tbl_cell(&t, "-");
			else
				tbl_cell(&t, "%.0f", r > 1 ? 100.0 : r * 100);
		}
		fmt_metric_dur(a, sizeof(a), ent_get(e, T_BUSY));
		tbl_cell(&t, "%s", a);
		fmt_metric_dur(a, sizeof(a), ent_get(e, T_WAIT));
		tbl_cell(&t, "%s", a);
		fmt_count(a, sizeof(a), ent_get(e, T_LOOPS));
		tbl_cell(&t, "%s", a);
		fmt_count(a, sizeof(a), ent_get(e, T_DEVICES));
		tbl_cell(&t, "%s", a);
		fmt_count(a, sizeof(a), ent_get(e, T_TIMERS));
		tbl_cell(&t, "%s", a);
		t.red[t.nrow] = stalled(e);
		tbl_cell(&t, "%s", stalled(e) ? "STALLED" : "");
	}
	tbl_print(&t, fp);
}

static void print_queues(const struct sample *s, const struct sample *prev,
			 FILE *fp)
{
	static const int q[] = { Q_WAIT50, Q_WAIT90, Q_WAIT99, Q_RUN50,
				 Q_RUN90, Q_RUN99 };
	struct table t;
	char a[64];
	const struct ent *e;
	double dt = prev ? s->t - prev->t : 0;
	size_t i, j;

	tbl_init(&t, prev ? "WORKER >DEPTH >MAX >EVENTS >EV/S >WAIT50 >WAIT90 "
	    ">WAIT99 >RUN50 >RUN90 >RUN99" : "WORKER >DEPTH >MAX >EVENTS "
	    ">WAIT50 >WAIT90 >WAIT99 >RUN50 >RUN90 >RUN99");
	for (i = 0; i < s->nthr; i++) {
		e = &s->thr[i];
		if (ent_get(e, Q_DEPTH) == NULL && ent_get(e, Q_EVENTS) == NULL)
			continue;
		tbl_cell(&t, "%s", e->key);
		fmt_count(a, sizeof(a), ent_get(e, Q_DEPTH));
		tbl_cell(&t, "%s", a);
		fmt_count(a, sizeof(a), ent_get(e, Q_DEPTH_MAX));
		tbl_cell(&t, "%s", a);
		fmt_count(a, sizeof(a), ent_get(e, Q_EVENTS));
		tbl_cell(&t, "%s", a);
		if (prev != NULL) {
			fmt_rate(a, sizeof(a), rate(e, thr_lookup(prev,
			    e->key), Q_EVENTS, dt));
			tbl_cell(&t, "%s", a);
		}
		for (j = 0; j < sizeof(q) / sizeof(q[0]); j++) {
			fmt_metric_dur(a, sizeof(a), ent_get(e, q[j]));
			tbl_cell(&t, "%s", a);
		}
	}
	tbl_print(&t, fp);
}

/* A field of epump_fd_info's value "fd=N type=T local=A ...": values may
 * hold spaces (a unix path), so a field runs to the next " key=". */
static void fd_field(const char *info, const char *key, char *buf,
		     size_t len)
{
	size_t klen = strlen(key), n;
	const char *p = info, *end, *q;

	strlcpy(buf, "-", len);
	if (info == NULL)
		return;
	for (;;) {
		if (strncmp(p, key, klen) == 0 && p[klen] == '=')
			break;
		p = strchr(p, ' ');
		if (p == NULL)
			return;
		p++;
	}
	p += klen + 1;
	/* the value ends where the next "word=" starts */
	for (end = p; (q = strchr(end, ' ')) != NULL; end = q + 1) {
		const char *w = q + 1;
		while (*w && (islower((unsigned char)*w) ||
		    *w == '_'))
			w++;
		if (w > q + 1 && *w == '=')
			break;
	}
	n = q != NULL ? (size_t)(q - p) : strlen(p);
	if (n + 1 < len)
		len = n + 1;
	strlcpy(buf, p, len);
}

/* The keys of epump_fd_info's value, in order. */
static int fd_keys(const char *info, char keys[][16], int max)
{
	const char *p = info, *w;
	int n = 0;

	while (p != NULL && *p && n < max) {
		for (w = p; islower((unsigned char)*w) || *w == '_'; w++)
			;
		if (w > p && *w == '=' && (size_t)(w - p) < 16 &&
		    (p == info || p[-1] == ' ')) {
			snprintf(keys[n], 16, "%.*s", (int)(w - p), p);
			n++;
		}
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	return n;
}

static int fd_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	const char *ix = ent_str(x, F_INFO), *iy = ent_str(y, F_INFO);
	char fx[32], fy[32];
	long long nx, ny;

	fd_field(ix, "fd", fx, sizeof(fx));
	fd_field(iy, "fd", fy, sizeof(fy));
	nx = strtoll(fx, NULL, 10);
	ny = strtoll(fy, NULL, 10);
	if (nx != ny)
		return nx < ny ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void print_fds(struct sample *s, struct sample *prev, FILE *fp)
{
	static const char *cols[] = { "fd", "type", "local", "remote", "rw",
				      "epump", "worker" };
	struct table t;
	char a[512];
	const struct ent *e, *pe;
	double dt = prev ? s->t - prev->t : 0;
	size_t i, j;

	if (s->nfd > 1) {
		qsort(s->fd, s->nfd, sizeof(*s->fd), fd_cmp);
		free(s->fd_sorted);
		s->fd_sorted = NULL;
	}
	tbl_init(&t, prev ? ">ID >FD TYPE LOCAL REMOTE RW >EPUMP >WORKER >IN "
	    ">OUT >IN/S >OUT/S >QUEUED >AGE >IDLE" : ">ID >FD TYPE LOCAL "
	    "REMOTE RW >EPUMP >WORKER >IN >OUT >QUEUED >AGE >IDLE");
	for (i = 0; i < s->nfd; i++) {
		e = &s->fd[i];
		pe = prev ? fd_lookup(prev, e->key) : NULL;
		tbl_cell(&t, "%s", e->key);
		for (j = 0; j < sizeof(cols) / sizeof(cols[0]); j++) {
			fd_field(ent_str(e, F_INFO), cols[j], a, sizeof(a));
			tbl_cell(&t, "%s", a);
		}
		fmt_bytes(a, sizeof(a), ent_num(e, F_IN), ent_str(e, F_IN));
		tbl_cell(&t, "%s", a);
		fmt_bytes(a, sizeof(a), ent_num(e, F_OUT), ent_str(e, F_OUT));
		tbl_cell(&t, "%s", a);
		if (prev != NULL) {
			fmt_bytes(a, sizeof(a), rate(e, pe, F_IN, dt), NULL);
			tbl_cell(&t, "%s", a);
			fmt_bytes(a, sizeof(a), rate(e, pe, F_OUT, dt), NULL);
			tbl_cell(&t, "%s", a);
		}
		fmt_bytes(a, sizeof(a), ent_num(e, F_QUEUED),
		    ent_str(e, F_QUEUED));
		tbl_cell(&t, "%s", a);
		fmt_metric_dur(a, sizeof(a), ent_get(e, F_AGE));
		tbl_cell(&t, "%s", a);
		fmt_metric_dur(a, sizeof(a), ent_get(e, F_IDLE));
		tbl_cell(&t, "%s", a);
	}
	tbl_print(&t, fp);
}

static void print_timers(const struct sample *s, FILE *fp)
{
	struct table t;
	char a[64];
	const struct ent *e;
	size_t i;

	tbl_init(&t, "THREAD >PENDING >NEXT");
	for (i = 0; i < s->nthr; i++) {
		e = &s->thr[i];
		if (ent_get(e, TM_PENDING) == NULL &&
		    ent_get(e, TM_NEXT) == NULL)
			continue;
		tbl_cell(&t, "%s", e->key);
		fmt_count(a, sizeof(a), ent_get(e, TM_PENDING));
		tbl_cell(&t, "%s", a);
		if (ent_num(e, TM_NEXT) < 0)
			tbl_cell(&t, "-");
		else {
			fmt_metric_dur(a, sizeof(a), ent_get(e, TM_NEXT));
			tbl_cell(&t, "%s", a);
		}
	}
	tbl_print(&t, fp);
}

static void print_list(struct sample **v, size_t n, FILE *fp)
{
	struct table t;
	char a[64], b[64];
	const struct ent *p;
	double ne, nw;
	size_t i;

	tbl_init(&t, ">PID PROG SOCKET >UPTIME >THREADS >DEVICES");
	for (i = 0; i < n; i++) {
		p = &v[i]->proc;
		tbl_cell(&t, "%lld", v[i]->pid);
		tbl_cell(&t, "%s", v[i]->prog);
		tbl_cell(&t, "%s", v[i]->path);
		fmt_dur(a, sizeof(a), ent_num(p, P_UPTIME),
		    ent_str(p, P_UPTIME));
		tbl_cell(&t, "%s", a);
		ne = ent_num(p, P_NEPUMP);
		nw = ent_num(p, P_NWORKER);
		if (isnan(ne) && isnan(nw))
			tbl_cell(&t, "-");
		else
			tbl_cell(&t, "%.0f", (isnan(ne) ? 0 : ne) +
			    (isnan(nw) ? 0 : nw));
		fmt_count(b, sizeof(b), ent_get(p, P_DEVICES));
		tbl_cell(&t, "%s", b);
	}
	tbl_print(&t, fp);
}

static void print_table(enum view view, struct sample *s,
			struct sample *prev, FILE *fp)
{
	switch (view) {
	case V_SUMMARY:
		print_summary(s, prev, fp);
		break;
	case V_THREADS:
		print_threads(s, prev, fp);
		break;
	case V_QUEUES:
		print_queues(s, prev, fp);
		break;
	case V_FDS:
		print_fds(s, prev, fp);
		break;
	case V_TIMERS:
		print_timers(s, fp);
		break;
	case V_ALL:
		print_summary(s, prev, fp);
		fputc('\n', fp);
		print_threads(s, prev, fp);
		fputc('\n', fp);
		print_queues(s, prev, fp);
		fputc('\n', fp);
		print_timers(s, fp);
		fputc('\n', fp);
		print_fds(s, prev, fp);
		break;
	case V_LIST:
		break;
	}
}

/* ---- JSON ---- */

struct json {
	FILE *fp;
	int depth;
	int first[32];
	int pretty;
};

static void j_str(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int n, i;

	fputc('"', fp);
	while (*p) {
		if (*p == '"' || *p == '\\') {
			fputc('\\', fp);
			fputc(*p++, fp);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(fp, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			fputc(*p++, fp);
		} else {
			/* copy a valid UTF-8 sequence; a bad byte becomes
			 * U+FFFD, so the document stays valid JSON */
			n = *p >= 0xf0 && *p <= 0xf4 ? 4 : *p >= 0xe0 ? 3 :
			    *p >= 0xc2 && *p <= 0xdf ? 2 : 0;
			if (n == 3 && *p > 0xef)
				n = 0;
			for (i = 1; i < n; i++)
				if ((p[i] & 0xc0) != 0x80)
					n = 0;
			if (n == 3 && ((*p == 0xe0 && p[1] < 0xa0) ||
			    (*p == 0xed && p[1] > 0x9f)))
				n = 0;
			if (n == 4 && ((*p == 0xf0 && p[1] < 0x90) ||
			    (*p == 0xf4 && p[1] > 0x8f)))
				n = 0;
			if (n == 0) {
				fputs("\\ufffd", fp);
				p++;
			} else {
				fwrite(p, 1, (size_t)n, fp);
				p += n;
			}
		}
	}
	fputc('"', fp);
}

static void j_sep(struct json *j, const char *key)
{
	int d;

	if (!j->first[j->depth])
		fputc(',', j->fp);
	j->first[j->depth] = 0;
	if (j->pretty) {
		fputc('\n', j->fp);
		for (d = 0; d < j->depth; d++)
			fputs("  ", j->fp);
	}
	if (key != NULL) {
		j_str(j->fp, key);
		fputs(j->pretty ? ": " : ":", j->fp);
	}
}

static void j_open(struct json *j, const char *key, int brace)
{
	if (j->depth > 0)
		j_sep(j, key);
	fputc(brace, j->fp);
	j->depth++;
	j->first[j->depth] = 1;
}

static void j_close(struct json *j, int brace)
{
	int d, empty = j->first[j->depth];

	j->depth--;
	if (j->pretty && !empty) {
		fputc('\n', j->fp);
		for (d = 0; d < j->depth; d++)
			fputs("  ", j->fp);
	}
	fputc(brace, j->fp);
	if (j->depth == 0)
		fputc('\n', j->fp);
}

static void j_kstr(struct json *j, const char *key, const char *s)
{
	j_sep(j, key);
	if (s == NULL)
		fputs("null", j->fp);
	else
		j_str(j->fp, s);
}

/* Is s a number as JSON spells it? */
static int json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (isdigit((unsigned char)*s))
		while (isdigit((unsigned char)*s))
			s++;
	else
		return 0;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return 0;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return 0;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

/* A value as a JSON number: the server's digits when they are already
 * JSON (no precision lost on 64-bit counters), null for NaN. */
static void j_knum_str(struct json *j, const char *key, const char *v,
		       double num)
{
	j_sep(j, key);
	if (v != NULL && json_number(v))
		fputs(v, j->fp);
	else if (isnan(num) || isinf(num))
		fputs("null", j->fp);
	else
		fprintf(j->fp, "%.17g", num);
}

static void j_knum(struct json *j, const char *key, double num)
{
	char buf[64];

	if (!isnan(num) && num > -9e15 && num < 9e15 &&
	    num == (double)(long long)num)
		snprintf(buf, sizeof(buf), "%.0f", num);
	else
		snprintf(buf, sizeof(buf), "%.6g", num);
	j_knum_str(j, key, isnan(num) || isinf(num) ? NULL : buf, num);
}

static void j_kbool(struct json *j, const char *key, int b)
{
	j_sep(j, key);
	fputs(b ? "true" : "false", j->fp);
}

static void j_metric(struct json *j, const char *key, const struct metric *m)
{
	if (strcmp(m->kn->type, "info") == 0)
		j_kstr(j, key, m->value);
	else
		j_knum_str(j, key, m->value, m->num);
}

/* The members of one section of an entity, in the order of `known';
 * quantiles nest under their member ("wait_seconds": {"0.5": ...}). */
static void j_section(struct json *j, const struct ent *e, enum section sect)
{
	const struct known *k;
	struct metric *m;
	const char *open = NULL;
	size_t i;

	for (i = 0; i < NKNOWN; i++) {
		k = &known[i];
		if (k->sect != sect || k->jkey == NULL)
			continue;
		/* the greeting's pid, prog and version are written already */
		if (k->kind == E_PROC && (k->slot == P_PID ||
		    k->slot == P_PROG || k->slot == P_VERSION))
			continue;
		m = ent_get(e, k->slot);
		if (open != NULL && strcmp(open, k->jkey) != 0) {
			j_close(j, '}');
			open = NULL;
		}
		if (m == NULL)
			continue;
		if (k->sel != NULL && strncmp(k->sel, "quantile=", 9) == 0) {
			if (open == NULL) {
				j_open(j, k->jkey, '{');
				open = k->jkey;
			}
			j_metric(j, k->sel + 9, m);
		} else {
			j_metric(j, k->jkey, m);
		}
	}
	if (open != NULL)
		j_close(j, '}');
}

static int has_section(const struct ent *e, enum section sect)
{
	size_t i;

	for (i = 0; i < NKNOWN; i++)
		if (known[i].sect == sect && known[i].kind == E_THR &&
		    ent_get(e, known[i].slot) != NULL)
			return 1;
	return 0;
}

static void j_state_labels(struct json *j, const struct metric *m)
{
	int i;

	j_open(j, "state_labels", '{');
	for (i = 0; m != NULL && i < m->nlab; i++)
		if (strcmp(m->lab[i].k, "thread") != 0)
			j_kstr(j, m->lab[i].k, m->lab[i].v);
	j_close(j, '}');
}

static void j_fd_info(struct json *j, const char *info)
{
	char keys[16][16], v[4096], *end;
	long long n;
	int nk, i;

	nk = fd_keys(info, keys, 16);
	for (i = 0; i < nk; i++) {
		fd_field(info, keys[i], v, sizeof(v));
		n = strtoll(v, &end, 10);
		if (strcmp(v, "-") == 0)
			j_kstr(j, keys[i], NULL);
		else if ((strcmp(keys[i], "fd") == 0 ||
		    strcmp(keys[i], "epump") == 0 ||
		    strcmp(keys[i], "worker") == 0) && *v && *end == '\0')
			j_knum(j, keys[i], (double)n);
		else
			j_kstr(j, keys[i], v);
	}
}

static void json_process(struct json *j, struct sample *s,
			 struct sample *prev)
{
	const struct ent *e, *pe;
	double dt = prev ? s->t - prev->t : 0;
	size_t i;
	int any;

	j_open(j, NULL, '{');
	j_open(j, "process", '{');
	j_knum(j, "pid", (double)s->pid);
	j_kstr(j, "prog", s->prog);
	j_kstr(j, "version", s->version);
	j_kstr(j, "socket", s->path);
	j_knum(j, "protocol", s->proto);
	j_section(j, &s->proc, S_INFO);
	if (prev != NULL)
		j_knum(j, "events_per_second", rate(&s->proc, &prev->proc,
		    P_EVENTS, dt));
	j_close(j, '}');
	if (s->sections & (1 << S_THREADS)) {
		j_open(j, "threads", '{');
		for (i = 0; i < s->nthr; i++) {
			e = &s->thr[i];
			if (!has_section(e, S_THREADS))
				continue;
			j_open(j, e->key, '{');
			j_kstr(j, "kind", is_worker(e) ? "worker" : "epump");
			j_section(j, e, S_THREADS);
			if (ent_get(e, T_STATE) != NULL)
				j_state_labels(j, ent_get(e, T_STATE));
			j_kbool(j, "stalled", stalled(e));
			if (prev != NULL) {
				pe = thr_lookup(prev, e->key);
				j_knum(j, "events_per_second", rate(e, pe,
				    T_EVENTS, dt));
				j_knum(j, "busy_ratio", rate(e, pe, T_BUSY,
				    dt));
			}
			j_close(j, '}');
		}
		j_close(j, '}');
	}
	if (s->sections & (1 << S_QUEUES)) {
		j_open(j, "queues", '{');
		for (i = 0; i < s->nthr; i++) {
			e = &s->thr[i];
			if (!has_section(e, S_QUEUES))
				continue;
			j_open(j, e->key, '{');
			j_section(j, e, S_QUEUES);
			if (prev != NULL)
				j_knum(j, "events_per_second", rate(e,
				    thr_lookup(prev, e->key), Q_EVENTS, dt));
			j_close(j, '}');
		}
		j_close(j, '}');
	}
	if (s->sections & (1 << S_TIMERS)) {
		j_open(j, "timers", '{');
		for (i = 0; i < s->nthr; i++) {
			e = &s->thr[i];
			if (!has_section(e, S_TIMERS))
				continue;
			j_open(j, e->key, '{');
			j_section(j, e, S_TIMERS);
			j_close(j, '}');
		}
		j_close(j, '}');
	}
	if (s->sections & (1 << S_FDS)) {
		j_open(j, "fds", '{');
		for (i = 0; i < s->nfd; i++) {
			e = &s->fd[i];
			j_open(j, e->key, '{');
			j_fd_info(j, ent_str(e, F_INFO));
			j_section(j, e, S_FDS);
			if (prev != NULL) {
				pe = fd_lookup(prev, e->key);
				j_knum(j, "bytes_in_per_second", rate(e, pe,
				    F_IN, dt));
				j_knum(j, "bytes_out_per_second", rate(e, pe,
				    F_OUT, dt));
			}
			j_close(j, '}');
		}
		j_close(j, '}');
	}
	if (s->sections & (1 << S_THREADS)) {
		j_open(j, "stalls", '[');
		for (i = 0, any = 0; i < s->nthr; i++) {
			e = &s->thr[i];
			if (!stalled(e))
				continue;
			any = 1;
			j_open(j, NULL, '{');
			j_kstr(j, "thread", e->key);
			j_knum_str(j, "tid", ent_str(e, T_TID),
			    ent_num(e, T_TID));
			j_state_labels(j, ent_get(e, T_STATE));
			j_knum_str(j, "seconds", ent_str(e, T_STATE_SEC),
			    ent_num(e, T_STATE_SEC));
			j_close(j, '}');
		}
		(void)any;
		j_close(j, ']');
	}
	j_close(j, '}');
}

static void json_list(struct json *j, struct sample **v, size_t n)
{
	size_t i;

	j_open(j, NULL, '{');
	j_open(j, "processes", '[');
	for (i = 0; i < n; i++) {
		j_open(j, NULL, '{');
		j_knum(j, "pid", (double)v[i]->pid);
		j_kstr(j, "prog", v[i]->prog);
		j_kstr(j, "version", v[i]->version);
		j_kstr(j, "socket", v[i]->path);
		j_section(j, &v[i]->proc, S_INFO);
		j_close(j, '}');
	}
	j_close(j, ']');
	j_close(j, '}');
}

/* ---- Prometheus text format 0.0.4 ---- */

static void p_labelval(FILE *fp, const char *v)
{
	fputc('"', fp);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', fp);
		if (*v == '\n')
			fputs("\\n", fp);
		else
			fputc(*v, fp);
	}
	fputc('"', fp);
}

/* A label name as Prometheus allows it: [a-zA-Z_][a-zA-Z0-9_]*. */
static void p_labelname(FILE *fp, const char *k)
{
	if (isdigit((unsigned char)*k))
		fputc('_', fp);
	for (; *k; k++)
		fputc(isalnum((unsigned char)*k) ? *k : '_', fp);
}

static void p_label(FILE *fp, int *first, const char *k, const char *v)
{
	fputc(*first ? '{' : ',', fp);
	*first = 0;
	p_labelname(fp, k);
	fputc('=', fp);
	p_labelval(fp, v);
}

static void p_common(FILE *fp, int *first, const struct sample *s)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%lld", s->pid);
	p_label(fp, first, "pid", pid);
	p_label(fp, first, "prog", s->prog);
}

static void p_value(FILE *fp, const struct metric *m)
{
	if (json_number(m->value))
		fprintf(fp, " %s\n", m->value);
	else if (isnan(m->num))
		fputs(" NaN\n", fp);
	else if (isinf(m->num))
		fputs(m->num > 0 ? " +Inf\n" : " -Inf\n", fp);
	else
		fprintf(fp, " %.17g\n", m->num);
}

/* One sample line of a known metric: the protocol's labels, pid, prog,
 * and for info metrics the text as labels, value 1. */
static void p_metric(FILE *fp, const struct sample *s, const struct metric *m)
{
	char keys[16][16], v[4096];
	int first = 1, i, nk;

	fputs(m->name, fp);
	p_common(fp, &first, s);
	for (i = 0; i < m->nlab; i++)
		if (strcmp(m->lab[i].k, "pid") != 0 &&
		    strcmp(m->lab[i].k, "prog") != 0)
			p_label(fp, &first, m->lab[i].k, m->lab[i].v);
	if (m->kn->kind == E_THR && m->kn->slot == T_STATE) {
		p_label(fp, &first, "state", m->value);
	} else if (m->kn->kind == E_FD && m->kn->slot == F_INFO) {
		nk = fd_keys(m->value, keys, 16);
		for (i = 0; i < nk; i++) {
			if (strcmp(keys[i], "id") == 0)
				continue;
			fd_field(m->value, keys[i], v, sizeof(v));
			p_label(fp, &first, keys[i], v);
		}
	}
	fputs(first ? "" : "}", fp);
	if (strcmp(m->kn->type, "info") == 0)
		fputs(" 1\n", fp);
	else
		p_value(fp, m);
}

static void prom_output(struct sample **v, size_t n, FILE *fp)
{
	const struct known *k;
	const struct ent *e;
	struct metric *m;
	size_t i, j, si, cnt;
	int first;

	/* epump_prog, epump_version and epump_backend as one info metric */
	fputs("# HELP epump_info The process: libepump version and poller "
	    "backend (value 1).\n# TYPE epump_info gauge\n", fp);
	for (si = 0; si < n; si++) {
		first = 1;
		fputs("epump_info", fp);
		p_common(fp, &first, v[si]);
		p_label(fp, &first, "version", v[si]->version);
		if (ent_str(&v[si]->proc, P_BACKEND) != NULL)
			p_label(fp, &first, "backend",
			    ent_str(&v[si]->proc, P_BACKEND));
		fputs("} 1\n", fp);
	}
	for (i = 0; i < NKNOWN; i++) {
		k = &known[i];
		if (k->help == NULL || (k->kind == E_PROC && (k->slot == P_PROG
		    || k->slot == P_VERSION || k->slot == P_BACKEND)))
			continue;
		if (i > 0 && strcmp(known[i - 1].name, k->name) == 0)
			continue;  /* a family is written once */
		cnt = 0;
		for (si = 0; si < n; si++)
			for (j = 0; j < v[si]->nm; j++)
				cnt += strcmp(v[si]->m[j].name, k->name) == 0;
		if (cnt == 0)
			continue;
		fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", k->name, k->help,
		    k->name, strcmp(k->type, "counter") == 0 ? "counter" :
		    "gauge");
		/* in entity order, so a thread's lines keep together */
		for (si = 0; si < n; si++) {
			for (j = 0; j < v[si]->nm; j++) {
				m = &v[si]->m[j];
				if (strcmp(m->name, k->name) == 0 &&
				    m->kn->kind == E_PROC)
					p_metric(fp, v[si], m);
			}
			for (j = 0; j < v[si]->nthr + v[si]->nfd; j++) {
				size_t q;
				e = j < v[si]->nthr ? &v[si]->thr[j] :
				    &v[si]->fd[j - v[si]->nthr];
				for (q = 0; q < NKNOWN; q++) {
					if (strcmp(known[q].name, k->name) != 0
					    || known[q].kind == E_PROC ||
					    (known[q].kind == E_FD) !=
					    (j >= v[si]->nthr))
						continue;
					m = ent_get(e, known[q].slot);
					if (m != NULL)
						p_metric(fp, v[si], m);
				}
			}
		}
	}
}

/* ---- the modes ---- */

static int sections_of(enum view view)
{
	switch (view) {
	case V_LIST:
		return 1 << S_INFO;
	case V_SUMMARY:
		return 1 << S_INFO | 1 << S_THREADS | 1 << S_QUEUES;
	case V_THREADS:
		return 1 << S_INFO | 1 << S_THREADS;
	case V_QUEUES:
		return 1 << S_INFO | 1 << S_QUEUES;
	case V_FDS:
		return 1 << S_INFO | 1 << S_FDS;
	case V_TIMERS:
		return 1 << S_INFO | 1 << S_TIMERS;
	case V_ALL:
		break;
	}
	return 1 << S_INFO | 1 << S_THREADS | 1 << S_QUEUES | 1 << S_TIMERS |
	    1 << S_FDS;
}

static int pid_cmp(const void *a, const void *b)
{
	const struct sample *x = *(struct sample *const *)a;
	const struct sample *y = *(struct sample *const *)b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* Every process whose socket we can see.  Stale sockets are skipped
 * quietly, others that fail with a warning. */
static size_t fetch_list(struct sample ***out)
{
	struct paths p = { 0 };
	struct sample **v = NULL, *s;
	size_t i, n = 0;
	int rc, refused;

	scan_dirs(-1, &p);
	for (i = 0; i < p.n; i++) {
		rc = fetch(p.v[i], sections_of(V_LIST), &s, &refused);
		if (rc != 0) {
			if (!refused && rc != EX_UNAVAILABLE)
				fprintf(stderr, PROG ": %s\n", errmsg);
			continue;
		}
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = s;
	}
	paths_free(&p);
	if (n > 1)
		qsort(v, n, sizeof(*v), pid_cmp);
	*out = v;
	return n;
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Sleep until the monotonic time t, or an interruption. */
static void sleep_until(double t)
{
	struct timespec ts;
	double left;

	while (!interrupted && (left = t - now_mono()) > 0) {
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

static void watch_title(FILE *fp, const char *what, long long i)
{
	char tbuf[32];
	time_t now = time(NULL);

	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime(&now));
	fprintf(fp, "epstat %s: sample %lld, every %g s, %s\n\n", what, i,
	    opt_watch, tbuf);
}

/* Write one sample's output in one go (no flicker when redrawing). */
static int flush_out(char *buf, size_t len)
{
	if (opt_watch > 0 && tty && opt_fmt == FMT_TABLE)
		fputs("\033[H\033[2J", stdout);
	fwrite(buf, 1, len, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, PROG ": stdout: %s\n", strerror(errno));
		return EX_IOERR;
	}
	return 0;
}

static int run(enum view view, const char *path)
{
	struct sample *s = NULL, *prev = NULL, **list = NULL;
	struct json j;
	char *buf = NULL, what[PATH_MAX + 32];
	size_t len = 0, n = 0, i;
	long long count;
	double next = now_mono();
	FILE *fp;
	int rc = 0;

	if (view == V_LIST)
		strlcpy(what, "list", sizeof(what));
	else
		snprintf(what, sizeof(what), "%s %s", path, view_names[view]);
	for (count = 1; !interrupted; count++) {
		if (view == V_LIST) {
			n = fetch_list(&list);
			if (n == 0 && opt_watch == 0) {
				fprintf(stderr, PROG ": no libepump process "
				    "with a stats socket found; a process "
				    "serves one when it is started with "
				    "EPUMP_STATS=1\n");
				free(list);
				return EX_UNAVAILABLE;
			}
		} else {
			rc = fetch(path, sections_of(view), &s, NULL);
			if (rc != 0) {
				if (!interrupted)
					fprintf(stderr, PROG ": %s\n", errmsg);
				break;
			}
			if (prev != NULL && prev->pid != s->pid) {
				sample_free(prev);   /* a new process */
				prev = NULL;
			}
		}
		fp = open_memstream(&buf, &len);
		if (fp == NULL) {
			fprintf(stderr, PROG ": %s\n", strerror(errno));
			return EX_OSERR;
		}
		memset(&j, 0, sizeof(j));
		j.fp = fp;
		j.pretty = opt_watch == 0;
		if (opt_watch > 0 && opt_fmt == FMT_TABLE)
			watch_title(fp, view == V_LIST ? "list" : what, count);
		else if (opt_watch > 0 && opt_fmt == FMT_PROM)
			fprintf(fp, "# epstat sample %lld\n", count);
		if (view == V_LIST) {
			if (opt_fmt == FMT_JSON)
				json_list(&j, list, n);
			else if (opt_fmt == FMT_PROM)
				prom_output(list, n, fp);
			else if (n == 0)
				fputs("(no libepump process with a stats "
				    "socket)\n", fp);
			else
				print_list(list, n, fp);
			for (i = 0; i < n; i++)
				sample_free(list[i]);
			free(list);
			list = NULL;
		} else {
			if (opt_fmt == FMT_JSON)
				json_process(&j, s, prev);
			else if (opt_fmt == FMT_PROM)
				prom_output(&s, 1, fp);
			else
				print_table(view, s, prev, fp);
			sample_free(prev);
			prev = s;
			s = NULL;
		}
		if (opt_watch > 0 && opt_fmt == FMT_TABLE && !tty)
			fputc('\n', fp);
		fclose(fp);
		rc = flush_out(buf, len);
		free(buf);
		buf = NULL;
		if (rc != 0 || opt_watch == 0 ||
		    (opt_count > 0 && count >= opt_count))
			break;
		next += opt_watch;
		if (next < now_mono())
			next = now_mono();
		sleep_until(next);
	}
	sample_free(prev);
	return interrupted ? 0 : rc;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [options]                   list the processes\n"
	    "       " PROG " [options] PID [VIEW]        one process\n"
	    "       " PROG " [options] -s PATH [VIEW]    the process at a "
	    "socket\n"
	    "VIEW: summary (default), threads, queues, fds, timers, all\n\n"
	    "  -s, --socket PATH     the process's stats socket\n"
	    "  -j, --json            one JSON document\n"
	    "  -o, --output FORMAT   table, json or prometheus\n"
	    "      --prometheus      the same as -o prometheus\n"
	    "  -w, --watch SECS      redraw every SECS seconds, with rates\n"
	    "  -n, --count COUNT     stop after COUNT samples\n"
	    "      --stall-ms MS     a handler running longer is stuck "
	    "(1000)\n"
	    "  -t, --timeout SECS    wait at most SECS for an answer (5)\n"
	    "  -H, --human           human units also when not on a "
	    "terminal\n"
	    "  -r, --raw             exact numbers also on a terminal\n"
	    "      --color WHEN      auto, always or never\n"
	    "  -h, --help            show this help and exit\n"
	    "  -V, --version         show the version and exit\n\n"
	    "A process serves the socket when started with EPUMP_STATS=1; "
	    "see epstat(1)\nand epump-stats(7).\n");
}

static int bad_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " --help' for more information.\n");
	return EX_USAGE;
}

int main(int argc, char **argv)
{
	enum {
		OPT_STALL = 256, OPT_PROM, OPT_COLOR
	};
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "prometheus", no_argument, NULL, OPT_PROM },
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' },
		{ "stall-ms", required_argument, NULL, OPT_STALL },
		{ "timeout", required_argument, NULL, 't' },
		{ "human", no_argument, NULL, 'H' },
		{ "raw", no_argument, NULL, 'r' },
		{ "color", required_argument, NULL, OPT_COLOR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *sockpath = NULL, *errstr;
	char *path = NULL;
	enum view view = V_SUMMARY;
	struct sigaction sa;
	long long pid = -1;
	int c, rc;
	size_t i;

	static char progname[] = PROG;

	argv[0] = progname;  /* getopt's messages start "epstat:" */
	while ((c = getopt_long(argc, argv, "s:jo:w:n:t:HrhV", longopts,
	    NULL)) != -1) {
		switch (c) {
		case 's':
			sockpath = optarg;
			break;
		case 'j':
			opt_fmt = FMT_JSON;
			break;
		case 'o':
			if (strcmp(optarg, "table") == 0)
				opt_fmt = FMT_TABLE;
			else if (strcmp(optarg, "json") == 0)
				opt_fmt = FMT_JSON;
			else if (strcmp(optarg, "prometheus") == 0)
				opt_fmt = FMT_PROM;
			else
				return bad_usage("unknown output format '%s' "
				    "(table, json or prometheus)", optarg);
			break;
		case OPT_PROM:
			opt_fmt = FMT_PROM;
			break;
		case 'w':
			if (eps_parse_secs(optarg, &opt_watch) < 0)
				return bad_usage("bad interval '%s': seconds, "
				    "more than 0", optarg);
			break;
		case 'n':
			opt_count = strtonum(optarg, 1, LLONG_MAX, &errstr);
			if (errstr != NULL)
				return bad_usage("bad count '%s': a number, at "
				    "least 1", optarg);
			break;
		case OPT_STALL:
			opt_stall_ms = strtonum(optarg, 0, 86400000LL * 365,
			    &errstr);
			if (errstr != NULL)
				return bad_usage("bad --stall-ms '%s': "
				    "milliseconds", optarg);
			break;
		case 't':
			if (eps_parse_secs(optarg, &opt_timeout) < 0)
				return bad_usage("bad timeout '%s': seconds, "
				    "more than 0", optarg);
			break;
		case 'H':
			opt_human = 1;
			break;
		case 'r':
			opt_human = 0;
			break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") == 0)
				opt_color = -1;
			else if (strcmp(optarg, "always") == 0)
				opt_color = 1;
			else if (strcmp(optarg, "never") == 0)
				opt_color = 0;
			else
				return bad_usage("bad --color '%s': auto, "
				    "always or never", optarg);
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf(PROG " " VERSION "\n");
			return EX_OK;
		default:
			fprintf(stderr, "Try '" PROG " --help' for more "
			    "information.\n");
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (sockpath == NULL && argc > 0) {
		for (i = V_SUMMARY; i <= V_ALL; i++)
			if (strcmp(argv[0], view_names[i]) == 0)
				return bad_usage("%s: a view needs a PID or -s "
				    "PATH", argv[0]);
		pid = strtonum(argv[0], 1, INT_MAX, &errstr);
		if (errstr != NULL)
			return bad_usage("'%s' is not a process id", argv[0]);
		argc--;
		argv++;
	}
	if (argc > 0) {
		for (i = V_SUMMARY; i <= V_ALL; i++)
			if (strcmp(argv[0], view_names[i]) == 0)
				break;
		if (i > V_ALL)
			return bad_usage("unknown view '%s' (summary, threads, "
			    "queues, fds, timers or all)", argv[0]);
		view = (enum view)i;
		argc--;
		argv++;
	}
	if (argc > 0)
		return bad_usage("too many arguments, from '%s'", argv[0]);
	if (sockpath == NULL && pid < 0)
		view = V_LIST;
	if (opt_count > 0 && opt_watch == 0)
		opt_watch = 1;
	tty = isatty(STDOUT_FILENO);

	if (opt_watch > 0) {
		/* a watch ends on ^C with status 0, like top(1) */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}

	if (view != V_LIST && sockpath == NULL) {
		rc = resolve_pid(pid, &path);
		if (rc != 0) {
			fprintf(stderr, PROG ": %s\n", errmsg);
			return rc;
		}
		sockpath = path;
	}
	rc = run(view, sockpath);
	free(path);
	return rc;
}
