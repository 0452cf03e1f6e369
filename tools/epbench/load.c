/*
 * load.c - the connections and their schedule.  Each connection lives on
 * one epump thread (made there by an epcore_post) and all its handlers and
 * timers run there, so it and its thread's struct ebstats need no lock;
 * main only reads counters (relaxed atomics) and the shared flags below.
 */
#define _GNU_SOURCE     /* strerrorname_np, strcasestr */
#include "epbench.h"

#include <epump.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define PIPE_MAX   256
#define RBUF       65536
#define RETRY_MS   100          /* between failed connects */
#define SWEEP_MS   20           /* timeout checks */

/* Owner-only counters that main reads for the progress line. */
#define BUMP(x, n) __atomic_store_n(&(x), (x) + (n), __ATOMIC_RELAXED)
#define PEEK(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

enum { C_IDLE, C_CONNECTING, C_UP };

struct slot {                   /* one request in flight */
	uint64_t intended;      /* when it was due (ns): latency's origin */
	uint64_t sent;          /* when it went out (ns): the timeout's */
	int counted;            /* in the measurement (not warmup) */
};

struct thr;

struct conn {
	struct thr *th;
	iodev_t *dev;
	int state, ever_up, failed_once;
	int head, n;            /* the ring of slots in flight */
	struct slot ring[PIPE_MAX];
	uint64_t next_due;      /* open loop: the next send's time (ns) */
	uint64_t interval;      /* open loop: ns between sends */
	uint64_t timer;         /* rate or retry timer id, 0: none */
	size_t echo_got;        /* bytes of the current echo received */
	uint64_t seq;           /* UDP: the sequence of the next datagram */
	struct ebhttp hp;
};

struct thr {
	int idx;
	struct conn *conns;
	int nconns;
	char *rbuf;             /* RBUF bytes: one read(2) */
	struct ebstats st;
};

static const struct ebopts *O;
static epcore_t *core;
static struct thr *thrs;
static char *req_buf;           /* one request (HTTP) or payload (echo) */
static size_t req_len;
static int head_req;

/* Shared flags and counters (atomics). */
static int phase;               /* 0 warmup, 1 measure, 2 done */
static int64_t tickets;         /* -n: requests left to send */
static uint64_t finished;       /* -n: counted requests ended */
static uint64_t first_fail;     /* connections whose first connect failed */
static uint64_t ever_up;        /* connections that were ever up */
static uint64_t measure_start;  /* ns */

uint64_t eb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *eb_errno_name(int e)
{
	const char *s = strerrorname_np(e);

	return s ? s : "EUNKNOWN";
}

static void err_count(struct thr *t, const char *what, int e)
{
	char key[40];

	if (e)
		snprintf(key, sizeof(key), "%s_%s", what, eb_errno_name(e));
	else
		snprintf(key, sizeof(key), "%s", what);
	if (PEEK(phase) == 1) {
		eb_count_add(&t->st.errs, key, 1);
		BUMP(t->st.errors, 1);
	}
}

static int on_conn(void *cbpara, void *obj, int event, int fdtype);
static int on_timer(void *cbpara, void *obj, int event, int fdtype);
static void conn_open(struct conn *c);
static void conn_fill(struct conn *c);

/* A counted request ended without a response. */
static void end_failed(struct conn *c, struct slot *s)
{
	if (s->counted) {
		BUMP(c->th->st.failed, 1);
		__atomic_fetch_add(&finished, 1, __ATOMIC_RELAXED);
	}
}

/* Drop the connection and everything in flight on it; reopen it. */
static void conn_reset(struct conn *c, int retry_later)
{
	while (c->n > 0) {
		end_failed(c, &c->ring[c->head]);
		c->head = (c->head + 1) % PIPE_MAX;
		c->n--;
	}
	if (c->dev != NULL)
		iodev_close(c->dev);
	c->dev = NULL;
	c->state = C_IDLE;
	c->echo_got = 0;
	if (c->timer)
		iotimer_stop(core, c->timer);
	c->timer = 0;
	if (PEEK(phase) == 2)
		return;
	if (retry_later)
		c->timer = iotimer_start(core, RETRY_MS, 0, c, on_timer, c);
	else
		conn_open(c);
}

static void conn_open(struct conn *c)
{
	int e;

	c->state = C_CONNECTING;
	eb_http_reset(&c->hp, head_req);
	switch (O->url.proto) {
	case EB_UDP:
		c->dev = epudp_client(core, O->url.host, O->url.port, c,
		    on_conn, c);
		break;
	case EB_UNIX:
		c->dev = epusock_connect(core, O->url.path, c, on_conn, c,
		    (int)O->timeout_ms);
		break;
	default:
		c->dev = eptcp_connect(core, O->url.host, O->url.port, c,
		    on_conn, c, (int)O->timeout_ms);
	}
	if (c->dev == NULL) {
		e = errno;
		err_count(c->th, "connect", e);
		if (!c->ever_up && !c->failed_once) {
			c->failed_once = 1;
			__atomic_fetch_add(&first_fail, 1, __ATOMIC_RELAXED);
		}
		c->state = C_IDLE;
		c->timer = iotimer_start(core, RETRY_MS, 0, c, on_timer, c);
		return;
	}
	if (O->url.proto == EB_UDP) {   /* no handshake */
		c->state = C_UP;
		if (!c->ever_up) {
			c->ever_up = 1;
			__atomic_fetch_add(&ever_up, 1, __ATOMIC_RELAXED);
		}
		BUMP(c->th->st.established, 1);
		conn_fill(c);
	}
}

/* May one more request go out now?  Claims a -n ticket if so. */
static int claim(struct slot *s)
{
	int ph = PEEK(phase);

	if (ph == 2)
		return 0;
	s->counted = ph == 1;
	if (s->counted && O->total > 0 &&
	    __atomic_sub_fetch(&tickets, 1, __ATOMIC_RELAXED) < 0)
		return 0;
	return 1;
}

static int send_one(struct conn *c, uint64_t intended, uint64_t now)
{
	struct slot *s = &c->ring[(c->head + c->n) % PIPE_MAX];
	ssize_t w;

	if (!claim(s))
		return -1;
	s->intended = intended;
	s->sent = now;
	c->n++;
	if (O->url.proto == EB_UDP && req_len >= 8)
		memcpy(req_buf, &c->seq, 8);   /* to match the echo */
	c->seq++;
	w = iodev_send(c->dev, req_buf, req_len);
	if (w != (ssize_t)req_len) {
		if (O->url.proto == EB_UDP && w < 0 && errno == EAGAIN) {
			err_count(c->th, "write", EAGAIN);
			c->n--;
			end_failed(c, s);
			return -1;
		}
		err_count(c->th, "write", w < 0 ? errno : ENOBUFS);
		conn_reset(c, 0);
		return -1;
	}
	if (s->counted)
		BUMP(c->th->st.bytes_out, req_len);
	return 0;
}

/* Send what the loop allows: closed loop, up to the pipeline depth; open
 * loop, also only what is due, and arm a timer for the next one. */
static void conn_fill(struct conn *c)
{
	uint64_t now;
	int64_t ms;

	if (c->state != C_UP)
		return;
	now = eb_now_ns();
	while (c->n < O->pipeline) {
		if (O->rate <= 0) {
			if (send_one(c, now, now) < 0)
				return;
			continue;
		}
		if (c->next_due > now)
			break;
		/* Late (the connection was busy): the latency counts from
		 * when it was due, as wrk2 does. */
		if (send_one(c, c->next_due, now) < 0)
			return;
		c->next_due += c->interval;
	}
	if (O->rate > 0 && c->timer == 0 && c->n < O->pipeline) {
		ms = (int64_t)((c->next_due - now + 999999) / 1000000);
		c->timer = iotimer_start(core, (int)ms, 1, c, on_timer, c);
	}
}

static void completed(struct conn *c, int status, uint64_t now)
{
	struct slot *s = &c->ring[c->head];
	char code[24];

	c->head = (c->head + 1) % PIPE_MAX;
	c->n--;
	if (!s->counted)
		return;
	eb_hist_record(&c->th->st.hist,
	    now > s->intended ? (now - s->intended) / 1000 : 0);
	BUMP(c->th->st.requests, 1);
	__atomic_fetch_add(&finished, 1, __ATOMIC_RELAXED);
	if (status > 0) {
		snprintf(code, sizeof(code), "%d", status);
		eb_count_add(&c->th->st.status, code, 1);
		if (status < 200 || status > 299) {
			snprintf(code, sizeof(code), "status_%d", status);
			eb_count_add(&c->th->st.errs, code, 1);
			BUMP(c->th->st.errors, 1);
		}
	}
}

/* Bytes arrived: complete the responses they hold.  -1: reset. */
static int consume(struct conn *c, const char *buf, size_t len, uint64_t now)
{
	size_t used;
	int r;

	if (O->url.http) {
		while (len > 0) {
			if (c->n == 0) {
				err_count(c->th, "protocol", 0); /* unasked */
				return -1;
			}
			r = eb_http_feed(&c->hp, buf, len, &used);
			buf += used;
			len -= used;
			if (r == HP_ERROR) {
				err_count(c->th, "protocol", 0);
				return -1;
			}
			if (r == HP_MORE)
				break;
			completed(c, c->hp.status, now);
			if (c->hp.closing)
				return -2;      /* Connection: close */
			eb_http_reset(&c->hp, head_req);
		}
		return 0;
	}
	c->echo_got += len;
	if (c->echo_got > (size_t)c->n * req_len) {
		err_count(c->th, "protocol", 0);    /* more than we sent */
		return -1;
	}
	while (c->echo_got >= req_len && c->n > 0) {
		c->echo_got -= req_len;
		completed(c, 0, now);
	}
	return 0;
}

static void on_readable(struct conn *c)
{
	char *buf = c->th->rbuf;
	ssize_t r;
	uint64_t now;
	int rc;

	for (;;) {
		if (O->url.proto == EB_UDP)
			r = epudp_recvfrom(c->dev, buf, RBUF, NULL, NULL);
		else
			r = iodev_recv(c->dev, buf, RBUF);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r < 0) {
			err_count(c->th, "read", errno);
			if (O->url.proto == EB_UDP) {  /* ICMP: keep going */
				if (c->n > 0) {
					end_failed(c, &c->ring[c->head]);
					c->head = (c->head + 1) % PIPE_MAX;
					c->n--;
				}
				continue;
			}
			conn_reset(c, 1);
			return;
		}
		if (r == 0) {
			if (O->url.http && c->n > 0 &&
			    eb_http_eof(&c->hp) == HP_OK) {
				completed(c, c->hp.status, eb_now_ns());
			} else if (c->n > 0)
				err_count(c->th, "read_eof", 0);
			conn_reset(c, 0);
			return;
		}
		if (PEEK(phase) == 1)
			BUMP(c->th->st.bytes_in, (uint64_t)r);
		now = eb_now_ns();
		if (O->url.proto == EB_UDP) {
			uint64_t seq;

			/* A datagram: one echo, unless a stale one. */
			if (c->n == 0 || (size_t)r != req_len)
				continue;
			if (req_len >= 8) {
				memcpy(&seq, buf, 8);
				if (seq != c->seq - 1)
					continue;
			}
			completed(c, 0, now);
			continue;
		}
		rc = consume(c, buf, (size_t)r, now);
		if (rc < 0) {
			conn_reset(c, 0);
			return;
		}
		if (r < RBUF)
			break;
	}
	conn_fill(c);
}

static int on_conn(void *cbpara, void *obj, int event, int fdtype)
{
	struct conn *c = cbpara;
	int e;

	(void)fdtype;
	if (obj != c->dev)
		return 0;
	switch (event) {
	case IOE_CONNECTED:
		c->state = C_UP;
		if (!c->ever_up) {
			c->ever_up = 1;
			__atomic_fetch_add(&ever_up, 1, __ATOMIC_RELAXED);
		}
		BUMP(c->th->st.established, 1);
		if (O->url.proto == EB_TCP || O->url.proto == EB_HTTP)
			eptcp_nodelay(c->dev, 1);
		if (O->rate > 0 && c->next_due < eb_now_ns() &&
		    c->n == 0 && c->interval > 0) {
			/* Reconnected: what fell due while down is lost
			 * (counted as neither), restart the schedule now. */
			uint64_t now = eb_now_ns();

			c->next_due += (now - c->next_due) / c->interval *
			    c->interval;
		}
		conn_fill(c);
		break;
	case IOE_CONNFAIL:
		e = iodev_error(c->dev);
		err_count(c->th, "connect", e ? e : ECONNREFUSED);
		if (!c->ever_up && !c->failed_once) {
			c->failed_once = 1;
			__atomic_fetch_add(&first_fail, 1, __ATOMIC_RELAXED);
		}
		conn_reset(c, 1);
		break;
	case IOE_READ:
		on_readable(c);
		break;
	case IOE_INVALID_DEV:
		err_count(c->th, "read", EBADF);
		conn_reset(c, 1);
		break;
	}
	return 0;
}

static int on_timer(void *cbpara, void *obj, int event, int fdtype)
{
	struct conn *c = cbpara;

	(void)obj; (void)event; (void)fdtype;
	c->timer = 0;
	if (PEEK(phase) == 2)
		return 0;
	if (c->state == C_IDLE)
		conn_open(c);
	else
		conn_fill(c);
	return 0;
}

/* Per thread, every SWEEP_MS: requests older than --timeout fail. */
static int on_sweep(void *cbpara, void *obj, int event, int fdtype)
{
	struct thr *t = cbpara;
	uint64_t now = eb_now_ns(), lim = O->timeout_ms * 1000000ull;
	int i;

	(void)obj; (void)event; (void)fdtype;
	if (PEEK(phase) == 2)
		return 0;
	for (i = 0; i < t->nconns; i++) {
		struct conn *c = &t->conns[i];

		if (c->state != C_UP || c->n == 0 ||
		    now - c->ring[c->head].sent < lim)
			continue;
		err_count(t, "timeout", 0);
		if (O->url.proto == EB_UDP) {   /* lost: send the next */
			end_failed(c, &c->ring[c->head]);
			c->head = (c->head + 1) % PIPE_MAX;
			c->n--;
			conn_fill(c);
		} else
			conn_reset(c, 0);
	}
	iotimer_start(core, SWEEP_MS, 2, t, on_sweep, t);
	return 0;
}

/* On epump thread t->idx: open its connections. */
static int on_start(void *cbpara, void *obj, int event, int fdtype)
{
	struct thr *t = cbpara;
	uint64_t now = eb_now_ns();
	int i;

	(void)obj; (void)event; (void)fdtype;
	for (i = 0; i < t->nconns; i++) {
		struct conn *c = &t->conns[i];

		c->th = t;
		if (O->rate > 0) {
			/* Spread the connections' schedules over a period. */
			c->interval = (uint64_t)(1e9 * O->conns / O->rate);
			c->next_due = now + c->interval *
			    (uint64_t)(i * O->threads + t->idx) /
			    (uint64_t)O->conns;
		}
		conn_open(c);
	}
	iotimer_start(core, SWEEP_MS, 2, t, on_sweep, t);
	return 0;
}

static void build_request(void)
{
	size_t cap;

	if (!O->url.http) {
		req_len = O->size;
		req_buf = malloc(req_len);
		for (size_t i = 0; req_buf && i < req_len; i++)
			req_buf[i] = (char)('a' + i % 26);
		return;
	}
	head_req = strcmp(O->method, "HEAD") == 0;
	cap = strlen(O->method) + strlen(O->url.target) + strlen(O->url.hosthdr)
	    + (O->headers ? strlen(O->headers) : 0)
	    + (O->body ? strlen(O->body) : 0) + 128;
	req_buf = malloc(cap);
	if (req_buf == NULL)
		return;
	req_len = (size_t)snprintf(req_buf, cap, "%s %s HTTP/1.1\r\n%s%s%s%s",
	    O->method, O->url.target,
	    O->headers && strcasestr(O->headers, "\nHost:") ? "" : "Host: ",
	    O->headers && strcasestr(O->headers, "\nHost:") ? "" :
	    O->url.hosthdr,
	    O->headers && strcasestr(O->headers, "\nHost:") ? "" : "\r\n",
	    O->headers ? O->headers + 2 : "");
	if (O->body)
		req_len += (size_t)snprintf(req_buf + req_len, cap - req_len,
		    "Content-Length: %zu\r\n\r\n%s", strlen(O->body), O->body);
	else
		req_len += (size_t)snprintf(req_buf + req_len, cap - req_len,
		    "\r\n");
}

static void progress(uint64_t now, uint64_t *last_req, uint64_t *last_t)
{
	uint64_t req = 0, errs = 0, p99;
	static struct ebhist h;
	double el = (double)(now - measure_start) / 1e9;
	int i;

	eb_hist_init(&h);
	for (i = 0; i < O->threads; i++) {
		req += PEEK(thrs[i].st.requests);
		errs += PEEK(thrs[i].st.errors);
		for (int k = 0; k < EB_HIST_LEN; k++) {
			uint64_t n = PEEK(thrs[i].st.hist.counts[k]);

			h.counts[k] += n;
			h.total += n;
		}
	}
	h.max = UINT64_MAX;
	p99 = eb_hist_percentile(&h, 99.0);
	printf("\r\033[K%s %6.1fs  %10.0f req/s  %llu errors  p99 %.3f ms",
	    PEEK(phase) == 0 ? "warmup" : "", el < 0 ? 0 : el,
	    now > *last_t ? (double)(req - *last_req) * 1e9 /
	    (double)(now - *last_t) : 0.0, (unsigned long long)errs,
	    (double)p99 / 1000.0);
	fflush(stdout);
	*last_req = req;
	*last_t = now;
}

int eb_run(const struct ebopts *o, struct ebresult *r)
{
	uint64_t start, end_at, now, next_tick, last_req = 0, last_t,
	    stall_at, last_fin = 0;
	int i, n, tty = isatty(STDOUT_FILENO) && !o->quiet, rc = EX_OK;
	struct conn *all;

	O = o;
	build_request();
	thrs = calloc((size_t)o->threads, sizeof(*thrs));
	all = calloc((size_t)o->conns, sizeof(*all));
	if (req_buf == NULL || thrs == NULL || all == NULL) {
		fprintf(stderr, EB_PROG ": out of memory\n");
		return EX_OSERR;
	}
	/* Connection k goes to thread k % threads. */
	for (i = 0, n = 0; i < o->threads; i++) {
		thrs[i].idx = i;
		thrs[i].conns = all + n;
		thrs[i].nconns = o->conns / o->threads +
		    (i < o->conns % o->threads);
		n += thrs[i].nconns;
		eb_hist_init(&thrs[i].st.hist);
		if ((thrs[i].rbuf = malloc(RBUF)) == NULL) {
			fprintf(stderr, EB_PROG ": out of memory\n");
			return EX_OSERR;
		}
	}
	tickets = (int64_t)o->total;
	phase = o->warmup_ms > 0 ? 0 : 1;
	if ((core = epcore_new(o->conns + 64)) == NULL) {
		fprintf(stderr, EB_PROG ": epcore_new: %s\n", strerror(errno));
		return EX_OSERR;
	}
	if (epcore_start_epump(core, o->threads) != o->threads) {
		fprintf(stderr, EB_PROG ": cannot start %d epump threads: %s\n",
		    o->threads, strerror(errno));
		epcore_free(core);
		return EX_OSERR;
	}
	start = eb_now_ns();
	measure_start = start + o->warmup_ms * 1000000ull;
	for (i = 0; i < o->threads; i++)
		if (epcore_post(core, EPT_EPUMP, i, IOE_USER_DEFINED, NULL,
		    on_start, &thrs[i]) < 0) {
			fprintf(stderr, EB_PROG ": epcore_post: %s\n",
			    strerror(errno));
			epcore_free(core);
			return EX_SOFTWARE;
		}
	end_at = o->total > 0 ? UINT64_MAX :
	    measure_start + o->duration_ms * 1000000ull;
	next_tick = start + 1000000000ull;
	last_t = measure_start;
	stall_at = start + (o->timeout_ms + 2000) * 1000000ull;
	for (;;) {
		usleep(5000);
		now = eb_now_ns();
		if (PEEK(phase) == 0 && now >= measure_start)
			__atomic_store_n(&phase, 1, __ATOMIC_RELAXED);
		if (now >= end_at)
			break;
		if (o->total > 0 && PEEK(finished) >= o->total)
			break;
		if (PEEK(ever_up) == 0 &&
		    PEEK(first_fail) == (uint64_t)o->conns) {
			rc = EX_UNAVAILABLE;    /* every connect failed */
			break;
		}
		/* Never hang: nothing ended and nothing connected for
		 * longer than a request may take. */
		if (PEEK(finished) != last_fin) {
			last_fin = PEEK(finished);
			stall_at = now + (o->timeout_ms + 2000) * 1000000ull;
		} else if (o->total > 0 && now >= stall_at &&
		    PEEK(phase) == 1) {
			fprintf(stderr, EB_PROG ": no request ended for %.1f s:"
			    " giving up\n", (double)(o->timeout_ms + 2000) /
			    1e3);
			rc = EX_UNAVAILABLE;
			break;
		}
		if (tty && now >= next_tick) {
			progress(now, &last_req, &last_t);
			next_tick += 1000000000ull;
		}
	}
	__atomic_store_n(&phase, 2, __ATOMIC_RELAXED);
	now = eb_now_ns();
	epcore_stop(core);
	epcore_free(core);
	if (tty)
		printf("\r\033[K");
	fflush(stdout);

	memset(r, 0, sizeof(*r));
	eb_hist_init(&r->st.hist);
	for (i = 0; i < o->threads; i++) {
		struct ebstats *s = &thrs[i].st;

		r->st.requests += s->requests;
		r->st.failed += s->failed;
		r->st.bytes_in += s->bytes_in;
		r->st.bytes_out += s->bytes_out;
		r->st.errors += s->errors;
		r->st.established += s->established;
		for (int k = 0; k < s->errs.len; k++)
			eb_count_add(&r->st.errs, s->errs.c[k].key,
			    s->errs.c[k].n);
		for (int k = 0; k < s->status.len; k++)
			eb_count_add(&r->st.status, s->status.c[k].key,
			    s->status.c[k].n);
		eb_hist_merge(&r->st.hist, &s->hist);
	}
	snprintf(r->target, sizeof(r->target), "%s", o->url_text);
	snprintf(r->mode, sizeof(r->mode), "%s", o->url.proto == EB_HTTP ?
	    "http" : o->url.proto == EB_TCP ? "tcp" : o->url.proto == EB_UDP ?
	    "udp" : o->url.http ? "unix-http" : "unix");
	r->threads = o->threads;
	r->pipeline = o->pipeline;
	r->conns = (uint64_t)o->conns;
	r->established_conns = PEEK(ever_up);
	r->rate = o->rate;
	r->duration_s = now > measure_start ?
	    (double)(now - measure_start) / 1e9 : 0;
	eb_finish(r);
	if (rc == EX_OK && r->established_conns == 0)
		rc = EX_UNAVAILABLE;
	for (i = 0; i < o->threads; i++)
		free(thrs[i].rbuf);
	free(all);
	free(thrs);
	free(req_buf);
	return rc;
}
