/*
 * stats.c - the introspection socket (epump-stats(7)): a unix stream
 * socket served by a thread of its own that only reads the per-thread and
 * per-device figures, so a process whose every epump and worker is stuck
 * in a handler can still be asked what it is doing.
 *
 * Threads: epcore_stats_enable() from any thread but a handler; the
 * server thread reads counters written by their owners (relaxed atomics)
 * and never takes a lock those threads take per event.  It also keeps an
 * fd table of its own where the kernel allows (own_fd_table()), so that
 * its being there costs the other threads' system calls nothing.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<linux/close_range.h>)
#include <linux/close_range.h>
#endif
#endif

/* The server moves to an fd table of its own (own_fd_table()) where the
 * kernel has what that takes (Linux 5.9), and not under ThreadSanitizer,
 * which tracks fds by number for the whole process. */
#if defined(SYS_close_range) && defined(CLOSE_RANGE_UNSHARE) && \
    defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd) && \
    !defined(__SANITIZE_THREAD__)
#define ST_OWN_FDS 1
#endif

#define ST_MAX_CLIENTS 16
#define ST_LINE_MAX    1024
#define ST_IDLE_MS     5000
#define ST_OUT_MAX     ((size_t)8 << 20)

struct st_client {
	int fd;
	bool closing;               /* close once the output is sent */
	uint32_t inlen;
	uint64_t deadline_ms;       /* a complete command by then */
	uint64_t taken_ms;          /* output pending: last taken, or since */
	char in[ST_LINE_MAX + 1];
	char *out;
	size_t outlen, outoff, outcap;
};

struct ep__stats {
	epcore_t *core;
	int lfd;
	int wakefd;
	bool own_fds;               /* in an fd table of its own */
	int pidfd;                  /* then: the process's pidfd, or -1 */
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *prog;
	int nclients;
	struct st_client cl[ST_MAX_CLIENTS];
};

/* ---- histograms ---- */

static unsigned hist_bucket(uint64_t ns)
{
	uint64_t us = ns / 1000u;
	unsigned msb, sub;

	if (us < 4)
		return (unsigned)us;
	msb = 63u - (unsigned)__builtin_clzll(us);
	sub = (unsigned)(us >> (msb - 2)) & 3u;
	if (4u * msb + sub >= EP__HIST_BUCKETS)
		return EP__HIST_BUCKETS - 1;
	return 4u * msb + sub;
}

/* The upper bound of bucket b, in microseconds. */
static uint64_t hist_upper_us(unsigned b)
{
	unsigned msb = b / 4u, sub = b % 4u;

	if (b < 4)
		return b + 1;
	return ((uint64_t)1 << msb) + (((uint64_t)sub + 1) << (msb - 2));
}

void ep__hist_add(struct ep__hist *h, uint64_t ns)
{
	ep__add64(&h->n[hist_bucket(ns)], 1);
}

/* The q-quantile of h in seconds (its bucket's upper bound), or 0. */
static double hist_quantile(const struct ep__hist *h, double q)
{
	uint64_t n[EP__HIST_BUCKETS], total = 0, want, run = 0;
	unsigned b;

	for (b = 0; b < EP__HIST_BUCKETS; b++) {
		n[b] = atomic_load_explicit(&h->n[b], memory_order_relaxed);
		total += n[b];
	}
	if (total == 0)
		return 0;
	want = (uint64_t)(q * (double)total);
	if (want == 0)
		want = 1;
	for (b = 0; b < EP__HIST_BUCKETS; b++) {
		run += n[b];
		if (run >= want)
			break;
	}
	if (b == EP__HIST_BUCKETS)
		b--;
	return (double)hist_upper_us(b) / 1e6;
}

/* ---- output ---- */

static void out_raw(struct st_client *c, const char *s, size_t n)
{
	if (c->closing && c->outlen == 0 && c->out == NULL)
		return;
	if (c->outlen == 0)
		c->taken_ms = ep__now_ms();
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		char *p;

		while (cap < c->outlen + n)
			cap *= 2;
		if (cap > ST_OUT_MAX || (p = realloc(c->out, cap)) == NULL) {
			/* Not reading its replies: drop it, and the rest of
			 * the reply being made (no tail without its head). */
			c->closing = true;
			c->outlen = c->outoff = c->outcap = 0;
			free(c->out);
			c->out = NULL;
			return;
		}
		c->out = p;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, s, n);
	c->outlen += n;
}

static void out_fmt(struct st_client *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	out_raw(c, line, (size_t)n);
}

static void out_err(struct st_client *c, int code, const char *text)
{
	out_fmt(c, "ERR %d %s\n\n", code, text);
}

/* ---- the metrics ---- */

static double ns_to_s(uint64_t ns)
{
	return (double)ns / 1e9;
}

static const char *state_name(uint32_t st)
{
	switch (st) {
	case TS_POLL:
		return "poll";
	case TS_RUN:
		return "run";
	case TS_HANDLER:
		return "handler";
	default:
		return "idle";
	}
}

/* The labels of thread kind/index, with what its handler runs for. */
static void thread_labels(char *buf, size_t len, const char *kind, int idx,
                          const struct ep__tstat *ts, bool with_what)
{
	uint32_t what = atomic_load_explicit(&ts->what, memory_order_relaxed);
	uint64_t id = atomic_load_explicit(&ts->what_id, memory_order_relaxed);
	const char *key = what == TW_DEV ? "dev" : what == TW_TIMER ? "timer"
	                : what == TW_USER ? "user" : NULL;

	if (with_what && key != NULL &&
	    atomic_load_explicit(&ts->state, memory_order_acquire) ==
	    TS_HANDLER)
		snprintf(buf, len, "thread=%s/%d,%s=%llu", kind, idx, key,
		         (unsigned long long)id);
	else
		snprintf(buf, len, "thread=%s/%d", kind, idx);
}

static void show_thread(struct st_client *c, const char *kind, int idx,
                        const struct ep__tstat *ts, uint64_t events,
                        uint64_t now)
{
	char lb[128], lw[160];
	uint32_t st = atomic_load_explicit(&ts->state, memory_order_acquire);
	uint64_t since = atomic_load_explicit(&ts->since_ns,
	                                      memory_order_relaxed);

	thread_labels(lb, sizeof(lb), kind, idx, ts, false);
	thread_labels(lw, sizeof(lw), kind, idx, ts, true);
	out_fmt(c, "epump_thread_tid\tgauge\t%s\t%d\n", lb,
	        (int)atomic_load_explicit(&ts->tid, memory_order_relaxed));
	out_fmt(c, "epump_thread_state\tinfo\t%s\t%s\n", lw, state_name(st));
	out_fmt(c, "epump_thread_state_seconds\tgauge\t%s\t%.3f\n", lb,
	        since != 0 && now > since ? ns_to_s(now - since) : 0.0);
	out_fmt(c, "epump_thread_events_total\tcounter\t%s\t%llu\n", lb,
	        (unsigned long long)events);
	out_fmt(c, "epump_thread_busy_seconds_total\tcounter\t%s\t%.6f\n", lb,
	        ns_to_s(atomic_load_explicit(&ts->busy_ns,
	                                     memory_order_relaxed)));
	out_fmt(c, "epump_thread_wait_seconds_total\tcounter\t%s\t%.6f\n", lb,
	        ns_to_s(atomic_load_explicit(&ts->wait_ns,
	                                     memory_order_relaxed)));
}

static void show_threads(struct ep__stats *s, struct st_client *c)
{
	epcore_t *core = s->core;
	uint64_t now = ep__now_ns();
	int i, n = ep__nepumps(core);

	for (i = 0; i < n; i++) {
		struct epump *ep = core->epumps[i];
		char lb[64];

		show_thread(c, "epump", i, &ep->ts,
		            atomic_load_explicit(&ep->nevents,
		                                 memory_order_relaxed), now);
		snprintf(lb, sizeof(lb), "thread=epump/%d", i);
		out_fmt(c, "epump_thread_loops_total\tcounter\t%s\t%llu\n", lb,
		        (unsigned long long)atomic_load_explicit(&ep->nloops,
		            memory_order_relaxed));
		out_fmt(c, "epump_thread_devices\tgauge\t%s\t%u\n", lb,
		        ep__epump_ndevices(ep));
		out_fmt(c, "epump_thread_timers\tgauge\t%s\t%u\n", lb,
		        atomic_load_explicit(&ep->ntimers,
		                             memory_order_relaxed));
	}
	n = ep__nworkers(core);
	for (i = 0; i < n; i++) {
		struct worker *w = core->workers[i];

		show_thread(c, "worker", i, &w->ts,
		            atomic_load_explicit(&w->nevents,
		                                 memory_order_relaxed), now);
	}
}

static void show_queues(struct ep__stats *s, struct st_client *c)
{
	static const double qs[] = { 0.5, 0.9, 0.99 };
	epcore_t *core = s->core;
	int i, k, n = ep__nworkers(core);

	for (i = 0; i < n; i++) {
		struct worker *w = core->workers[i];
		uint32_t depth = atomic_load_explicit(&w->qlen,
		                                      memory_order_relaxed);
		uint32_t max = atomic_load_explicit(&w->ts.qmax,
		                                    memory_order_relaxed);
		char lb[64];

		snprintf(lb, sizeof(lb), "thread=worker/%d", i);
		out_fmt(c, "epump_queue_depth\tgauge\t%s\t%u\n", lb, depth);
		out_fmt(c, "epump_queue_depth_max\tgauge\t%s\t%u\n", lb,
		        depth > max ? depth : max);
		out_fmt(c, "epump_queue_events_total\tcounter\t%s\t%llu\n", lb,
		        (unsigned long long)atomic_load_explicit(&w->nevents,
		            memory_order_relaxed));
		for (k = 0; k < 3; k++)
			out_fmt(c, "epump_queue_wait_seconds\tgauge\t"
			        "%s,quantile=%g\t%.6f\n", lb, qs[k],
			        hist_quantile(&w->ts.qwait, qs[k]));
		for (k = 0; k < 3; k++)
			out_fmt(c, "epump_handler_seconds\tgauge\t"
			        "%s,quantile=%g\t%.6f\n", lb, qs[k],
			        hist_quantile(&w->ts.hrun, qs[k]));
	}
}

static const char *type_name(int fdtype)
{
	switch (fdtype) {
	case FDT_LISTEN: return "listen";
	case FDT_CONNECTED: return "connected";
	case FDT_ACCEPTED: return "accepted";
	case FDT_UDPSRV: return "udpsrv";
	case FDT_UDPCLI: return "udpcli";
	case FDT_USOCK_LISTEN: return "usock_listen";
	case FDT_USOCK_CONNECTED: return "usock_connected";
	case FDT_USOCK_ACCEPTED: return "usock_accepted";
	case FDT_RAWSOCK: return "rawsock";
	case FDT_FILEDEV: return "file";
	case FDT_STDIN: return "stdin";
	case FDT_STDOUT: return "stdout";
	default: return "other";
	}
}

/* "ip:port", a unix path, or "-"; never a tab, comma or equals sign. */
static void fd_addr(int fd, bool peer, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN + 108];
	int port = 0, r;
	char *p;

	memset(&ss, 0, sizeof(ss));
	r = peer ? getpeername(fd, (struct sockaddr *)&ss, &sl)
	         : getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (r < 0 || epaddr_format((struct sockaddr *)&ss, ip, sizeof(ip),
	                           &port) < 0 || ip[0] == '\0') {
		strlcpy(buf, "-", len);
		return;
	}
	if (ss.ss_family == AF_UNIX)
		snprintf(buf, len, "%s", ip);
	else if (ss.ss_family == AF_INET6)
		snprintf(buf, len, "[%s]:%d", ip, port);
	else
		snprintf(buf, len, "%s:%d", ip, port);
	for (p = buf; *p != '\0'; p++)
		if (*p == '\t' || *p == ',' || *p == '=' || *p == ' ' ||
		    *p == '\n')
			*p = '_';
}

struct fds_walk {
	struct st_client *c;
	epcore_t *core;
	const struct ep__stats *s;
	uint64_t now_ms;            /* since the core was born */
	uint32_t count;
};

/* A device's fd, usable by the server: in its own fd table, a copy taken
 * from the process's (pidfd_getfd(2); close it with put_dev_fd()). */
static int dev_fd(const struct ep__stats *s, int fd)
{
	if (!s->own_fds)
		return fd;
#ifdef ST_OWN_FDS
	if (s->pidfd >= 0)
		return (int)syscall(SYS_pidfd_getfd, s->pidfd, fd, 0u);
#endif
	return -1;
}

static void put_dev_fd(const struct ep__stats *s, int fd)
{
	if (s->own_fds)
		close(fd);
}

static void show_fd(void *obj, void *arg)
{
	struct iodev *dev = obj;
	struct fds_walk *fw = arg;
	struct st_client *c = fw->c;
	uint64_t tag = atomic_load_explicit(&dev->tag, memory_order_acquire);
	uint64_t id = EP__MKID(EP__TAG_GEN(tag), dev->slot);
	char local[160], remote[160], lb[48];
	uint32_t pf, born, last;
	int fd, sfd, rw;

	if ((tag & (DEV_LIVE | DEV_CLOSING)) != DEV_LIVE)
		return;
	fd = atomic_load_explicit(&dev->fd, memory_order_relaxed);
	pf = atomic_load_explicit(&dev->pflags, memory_order_relaxed);
	born = atomic_load_explicit(&dev->born_s, memory_order_relaxed);
	last = atomic_load_explicit(&dev->last_ms, memory_order_relaxed);
	rw = (int)(pf & (PF_READ | PF_WRITE));
	if ((pf & PF_SOCKET) && (sfd = dev_fd(fw->s, fd)) >= 0) {
		fd_addr(sfd, false, local, sizeof(local));
		fd_addr(sfd, true, remote, sizeof(remote));
		put_dev_fd(fw->s, sfd);
	} else {
		strlcpy(local, "-", sizeof(local));
		strlcpy(remote, "-", sizeof(remote));
	}
	/* The device may have closed while we looked: then skip it. */
	if (((atomic_load_explicit(&dev->tag, memory_order_acquire) ^ tag) &
	     (EP__TAG_GENBITS | DEV_LIVE | DEV_CLOSING)) != 0)
		return;
	fw->count++;
	snprintf(lb, sizeof(lb), "id=%llu", (unsigned long long)id);
	out_fmt(c, "epump_fd_info\tinfo\t%s\tfd=%d type=%s local=%s "
	        "remote=%s rw=%s epump=%d worker=%d\n", lb, fd,
	        type_name(atomic_load_explicit(&dev->fdtype,
	                                       memory_order_relaxed)),
	        local, remote,
	        rw == (RWF_READ | RWF_WRITE) ? "rw" : rw == RWF_READ ? "r" :
	        rw == RWF_WRITE ? "w" : "-",
	        ep__tag_bound(tag) == DEVB_ONE ? ep__tag_epump(tag) : -1,
	        atomic_load_explicit(&dev->worker, memory_order_relaxed));
	out_fmt(c, "epump_fd_bytes_in_total\tcounter\t%s\t%llu\n", lb,
	        (unsigned long long)atomic_load_explicit(&dev->bytes_in,
	            memory_order_relaxed));
	out_fmt(c, "epump_fd_bytes_out_total\tcounter\t%s\t%llu\n", lb,
	        (unsigned long long)atomic_load_explicit(&dev->bytes_out,
	            memory_order_relaxed));
	out_fmt(c, "epump_fd_queued_bytes\tgauge\t%s\t%zu\n", lb,
	        iodev_sendq_len(dev));
	out_fmt(c, "epump_fd_age_seconds\tgauge\t%s\t%.3f\n", lb,
	        fw->now_ms / 1000.0 > born ? fw->now_ms / 1000.0 - born : 0.0);
	out_fmt(c, "epump_fd_idle_seconds\tgauge\t%s\t%.3f\n", lb,
	        last != 0 && fw->now_ms > last ? (fw->now_ms - last) / 1000.0
	        : fw->now_ms / 1000.0 > born ? fw->now_ms / 1000.0 - born
	        : 0.0);
}

/* Walks the device table up to what has been handed out so far. */
static void each_dev(epcore_t *core, void (*fn)(void *, void *), void *arg)
{
	uint32_t next, slot;

	pthread_mutex_lock(&core->devs.lock);
	next = core->devs.next;
	pthread_mutex_unlock(&core->devs.lock);
	for (slot = 0; slot < next; slot++) {
		void *o = ep__slab_at(&core->devs, slot);

		if (o != NULL)
			fn(o, arg);
	}
}

static void count_dev(void *obj, void *arg)
{
	struct iodev *dev = obj;

	if ((atomic_load_explicit(&dev->tag, memory_order_relaxed) &
	     (DEV_LIVE | DEV_CLOSING)) == DEV_LIVE)
		(*(uint32_t *)arg)++;
}

static void show_fds(struct ep__stats *s, struct st_client *c)
{
	struct fds_walk fw;

	fw.c = c;
	fw.core = s->core;
	fw.s = s;
	fw.now_ms = (ep__now_ns() - s->core->born_ns) / 1000000u;
	fw.count = 0;
	each_dev(s->core, show_fd, &fw);
}

static void show_timers(struct ep__stats *s, struct st_client *c)
{
	epcore_t *core = s->core;
	uint64_t now = ep__now_ms();
	int i, n = ep__nepumps(core);

	for (i = 0; i < n; i++) {
		struct epump *ep = core->epumps[i];
		uint64_t due = atomic_load_explicit(&ep->next_due_ms,
		                                    memory_order_relaxed);
		char lb[64];

		snprintf(lb, sizeof(lb), "thread=epump/%d", i);
		out_fmt(c, "epump_timers_pending\tgauge\t%s\t%u\n", lb,
		        atomic_load_explicit(&ep->ntimers,
		                             memory_order_relaxed));
		if (due == 0)
			out_fmt(c, "epump_timers_next_seconds\tgauge\t%s\t-1\n",
			        lb);
		else
			out_fmt(c, "epump_timers_next_seconds\tgauge\t%s\t"
			        "%.3f\n", lb,
			        due > now ? (double)(due - now) / 1000.0 : 0.0);
	}
}

static void show_info(struct ep__stats *s, struct st_client *c)
{
	epcore_t *core = s->core;
	uint64_t events = 0;
	uint32_t timers = 0, devices = 0;
	int i, n = ep__nepumps(core);

	for (i = 0; i < n; i++) {
		events += atomic_load_explicit(&core->epumps[i]->nevents,
		                               memory_order_relaxed);
		timers += atomic_load_explicit(&core->epumps[i]->ntimers,
		                               memory_order_relaxed);
	}
	each_dev(core, count_dev, &devices);
	out_fmt(c, "epump_pid\tgauge\t-\t%d\n", (int)getpid());
	out_fmt(c, "epump_prog\tinfo\t-\t%s\n", s->prog);
	out_fmt(c, "epump_version\tinfo\t-\t%s\n", PACKAGE_VERSION);
	out_fmt(c, "epump_backend\tinfo\t-\t%s\n", core->ops->name);
	out_fmt(c, "epump_uptime_seconds\tgauge\t-\t%.3f\n",
	        ns_to_s(ep__now_ns() - core->born_ns));
	out_fmt(c, "epump_maxfd\tgauge\t-\t%d\n", core->maxfd);
	out_fmt(c, "epump_threads\tgauge\tkind=epump\t%d\n", n);
	out_fmt(c, "epump_threads\tgauge\tkind=worker\t%d\n",
	        ep__nworkers(core));
	out_fmt(c, "epump_devices\tgauge\t-\t%u\n", devices);
	out_fmt(c, "epump_timers\tgauge\t-\t%u\n", timers);
	out_fmt(c, "epump_events_total\tcounter\t-\t%llu\n",
	        (unsigned long long)events);
}

static void command(struct ep__stats *s, struct st_client *c,
                    enum ep__stats_cmd cmd)
{
	const char *name;
	size_t i;

	switch (cmd) {
	case EP__SC_HELP:
		for (i = 0; (name = ep__stats_cmd_name(i)) != NULL; i++)
			out_fmt(c, "help\tinfo\t-\t%s\n", name);
		break;
	case EP__SC_INFO:
		show_info(s, c);
		break;
	case EP__SC_THREADS:
		show_threads(s, c);
		break;
	case EP__SC_QUEUES:
		show_queues(s, c);
		break;
	case EP__SC_FDS:
		show_fds(s, c);
		break;
	case EP__SC_TIMERS:
		show_timers(s, c);
		break;
	case EP__SC_ALL:
		show_info(s, c);
		show_threads(s, c);
		show_queues(s, c);
		show_timers(s, c);
		show_fds(s, c);
		break;
	case EP__SC_QUIT:
		c->closing = true;
		return;
	default:
		out_err(c, 400, "unknown command (try help)");
		return;
	}
	out_raw(c, "\n", 1);
}

/* ---- the server ---- */

static void client_close(struct ep__stats *s, int i)
{
	struct st_client *c = &s->cl[i];

	close(c->fd);
	free(c->out);
	s->cl[i] = s->cl[--s->nclients];
	memset(&s->cl[s->nclients], 0, sizeof(s->cl[0]));
}

/* Best effort, for a client we drop at once. */
static void refuse(int fd, const char *msg)
{
	ssize_t r = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)r;
	close(fd);
}

static void client_accept(struct ep__stats *s)
{
	struct st_client *c;
	uid_t uid;
	gid_t gid;
	int fd;

	fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getpeereid(fd, &uid, &gid) < 0 ||
	    (uid != geteuid() && uid != 0)) {
		refuse(fd, "ERR 403 forbidden\n\n");
		return;
	}
	if (s->nclients == ST_MAX_CLIENTS) {
		refuse(fd, "ERR 503 too many clients\n\n");
		return;
	}
	c = &s->cl[s->nclients++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->deadline_ms = ep__now_ms() + ST_IDLE_MS;
	out_fmt(c, "EPUMP-STATS/1 pid=%d prog=%s version=%s\n", (int)getpid(),
	        s->prog, PACKAGE_VERSION);
}

/* Reads what the client sent and answers its complete lines; false when
 * it is to be dropped now. */
static bool client_read(struct ep__stats *s, struct st_client *c)
{
	ssize_t n = read(c->fd, c->in + c->inlen, ST_LINE_MAX - c->inlen);
	size_t used;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return false;
	if (n < 0)
		return true;
	c->inlen += (uint32_t)n;
	while (!c->closing) {
		enum ep__stats_cmd cmd = ep__stats_cmd_next(c->in, c->inlen,
		                                             &used);

		if (cmd == EP__SC_NONE)
			break;
		if (cmd == EP__SC_BINARY) {
			out_err(c, 400, "not a text command");
			c->closing = true;
			break;
		}
		command(s, c, cmd);
		c->deadline_ms = ep__now_ms() + ST_IDLE_MS;
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= (uint32_t)used;
	}
	if (!c->closing && c->inlen >= ST_LINE_MAX) {
		out_err(c, 413, "line too long");
		c->closing = true;
	}
	return true;
}

/* Sends what is pending; false when the client is to be dropped. */
static bool client_write(struct st_client *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff,
		                 c->outlen - c->outoff, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->outoff += (size_t)n;
		c->taken_ms = ep__now_ms();
	}
	c->outoff = c->outlen = 0;
	return !c->closing;
}

#ifdef ST_OWN_FDS
/* Closes [lo, hi] in this thread's fd table (lo > hi: nothing). */
static void close_fds(int lo, int hi)
{
	if (lo <= hi)
		(void)syscall(SYS_close_range, (unsigned)lo, (unsigned)hi, 0u);
}
#endif

/*
 * Moves the server thread to an fd table of its own that holds only its
 * listening socket, its eventfd, a pidfd of the process, and /dev/null as
 * its standard streams.
 *
 * Why: while a second thread shares the fd table, the kernel takes and
 * drops a reference on the file in every system call on an fd, in every
 * thread (a single-threaded process skips that).  Here that is about 50 ns
 * per read(2), so with the stats socket on, a program whose one epump runs
 * on its main thread would pay it two or three times per event.  With its
 * own table the server leaves the process's table unshared again.
 *
 * The server then reads a device's addresses through a copy of its fd
 * taken with pidfd_getfd(2) (dev_fd()).  Where the kernel refuses any of
 * this (before Linux 5.9, or a seccomp filter), the server stays on the
 * shared table, as it did before: slower for the others, same replies.
 *
 * A copy holds its file open: an fd the program closes while this thread
 * holds a copy (between the unshare and the close_range() calls below,
 * or while show fds reads its addresses) is closed for good when the copy
 * is, microseconds later.  Events that come meanwhile carry a stale id.
 */
static void own_fd_table(struct ep__stats *s)
{
#ifdef ST_OWN_FDS
	int pidfd, probe, lo, hi;

	/* Try pidfd_getfd() first, in the shared table, and leave nothing
	 * open in it. */
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0u);
	if (pidfd < 0)
		return;
	probe = (int)syscall(SYS_pidfd_getfd, pidfd, s->lfd, 0u);
	close(pidfd);
	if (probe < 0)
		return;
	close(probe);
	lo = s->lfd < s->wakefd ? s->lfd : s->wakefd;
	hi = s->lfd < s->wakefd ? s->wakefd : s->lfd;
	/* The kernel copies only the fds below the range it closes. */
	if (syscall(SYS_close_range, (unsigned)hi + 1, ~0u,
	            (unsigned)CLOSE_RANGE_UNSHARE) < 0)
		return;
	close_fds(0, lo - 1);
	close_fds(lo + 1, hi - 1);
	/* 0, 1 and 2 on /dev/null, not free for a client's socket: what the
	 * C library would write to stderr on this thread goes nowhere rather
	 * than to a client. */
	for (;;) {
		int nfd = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (nfd < 0)
			break;
		if (nfd > 2) {
			close(nfd);
			break;
		}
	}
	s->own_fds = true;
	/* Failing now, after the probe: addresses show as "-". */
	s->pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0u);
#else
	(void)s;
#endif
}

static void *stats_main(void *arg)
{
	struct ep__stats *s = arg;
	struct pollfd pfd[2 + ST_MAX_CLIENTS];

	own_fd_table(s);
	for (;;) {
		uint64_t now = ep__now_ms(), next = now + ST_IDLE_MS;
		int i, n = 2, timeout;

		for (i = s->nclients - 1; i >= 0; i--) {
			struct st_client *c = &s->cl[i];

			/* Taking none of its replies for as long: dropped,
			 * else clients that stop reading hold every place. */
			if (c->outlen > 0 && c->taken_ms + ST_IDLE_MS <= now) {
				client_close(s, i);
				continue;
			}
			if (c->deadline_ms <= now && !c->closing) {
				out_err(c, 408, "idle too long");
				c->closing = true;
			}
			if (!c->closing && c->deadline_ms < next)
				next = c->deadline_ms;
			if (c->outlen > 0 && c->taken_ms + ST_IDLE_MS < next)
				next = c->taken_ms + ST_IDLE_MS;
		}
		pfd[0].fd = s->wakefd;
		pfd[0].events = POLLIN;
		pfd[1].fd = s->lfd;
		pfd[1].events = POLLIN;
		for (i = 0; i < s->nclients; i++, n++) {
			pfd[n].fd = s->cl[i].fd;
			pfd[n].events = (short)((s->cl[i].closing ? 0 : POLLIN) |
			                (s->cl[i].outlen > 0 || s->cl[i].closing
			                 ? POLLOUT : 0));
			pfd[n].revents = 0;
		}
		timeout = next > now ? (int)(next - now) : 0;
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			break; /* epcore_free */
		/* Clients first (their indexes match pfd), then new ones. */
		for (i = s->nclients - 1; i >= 0; i--) {
			struct st_client *c = &s->cl[i];
			short re = pfd[2 + i].revents;
			bool keep = true;

			if (re & POLLIN)
				keep = client_read(s, c);
			if (keep && (re & (POLLOUT | POLLERR | POLLHUP)))
				keep = client_write(c);
			else if (keep && c->closing && c->outlen == 0)
				keep = false;
			if (keep && c->outlen > 0 && !(re & POLLOUT))
				keep = client_write(c);
			if (!keep)
				client_close(s, i);
		}
		if (pfd[1].revents & POLLIN)
			client_accept(s);
	}
	while (s->nclients > 0)
		client_close(s, s->nclients - 1);
	if (s->own_fds) {
		/* This table's copies: ep__stats_free() closes the others. */
		close(s->lfd);
		close(s->wakefd);
		if (s->pidfd >= 0)
			close(s->pidfd);
	}
	return NULL;
}

/* ---- paths and lifetime ---- */

static pthread_mutex_t paths_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t paths_once = PTHREAD_ONCE_INIT;
static char *live_paths[64];
static unsigned core_seq;

/* Normal exit: remove the sockets of cores never freed. */
static void paths_atexit(void)
{
	size_t i;

	for (i = 0; i < sizeof(live_paths) / sizeof(live_paths[0]); i++)
		if (live_paths[i] != NULL)
			(void)unlink(live_paths[i]);
}

static void paths_init(void)
{
	(void)atexit(paths_atexit);
}

static void paths_set(const char *path, bool add)
{
	size_t i;

	pthread_once(&paths_once, paths_init);
	pthread_mutex_lock(&paths_lock);
	for (i = 0; i < sizeof(live_paths) / sizeof(live_paths[0]); i++) {
		if (add && live_paths[i] == NULL) {
			live_paths[i] = strdup(path);
			break;
		}
		if (!add && live_paths[i] != NULL &&
		    strcmp(live_paths[i], path) == 0) {
			free(live_paths[i]);
			live_paths[i] = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&paths_lock);
}

/* dir exists (made 0700 if not), is ours and closed to others. */
static int private_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	if (lstat(dir, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

static int default_path(char *buf, size_t len, const char *prog)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned seq;
	int n;

	if (xdg != NULL && *xdg != '\0')
		n = snprintf(dir, sizeof(dir), "%s/epump", xdg);
	else if (geteuid() == 0)
		n = snprintf(dir, sizeof(dir), "/run/epump");
	else
		n = snprintf(dir, sizeof(dir), "/tmp/epump-%u",
		             (unsigned)geteuid());
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (private_dir(dir) < 0)
		return -1;
	pthread_mutex_lock(&paths_lock);
	seq = core_seq++;
	pthread_mutex_unlock(&paths_lock);
	if (seq == 0)
		n = snprintf(buf, len, "%s/%s.%d.sock", dir, prog,
		             (int)getpid());
	else
		n = snprintf(buf, len, "%s/%s.%d.%u.sock", dir, prog,
		             (int)getpid(), seq);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* A listening socket at path, replacing a stale one. */
static int stats_listen(const char *path)
{
	struct sockaddr_un sun;
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int probe;

		if (errno != EADDRINUSE)
			goto fail;
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sun,
		                          sizeof(sun)) < 0 &&
		    errno == ECONNREFUSED) {
			close(probe);
			(void)unlink(path); /* a leftover: nobody listens */
			if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
				goto fail;
		} else {
			if (probe >= 0)
				close(probe);
			errno = EADDRINUSE;
			goto fail;
		}
	}
	if (chmod(path, 0600) < 0 || listen(fd, ST_MAX_CLIENTS) < 0) {
		e = errno;
		(void)unlink(path);
		errno = e;
		goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int epcore_stats_enable(epcore_t *core, const char *path)
{
	struct ep__stats *s;
	int e;

	if (core == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (ep__self_in(core) != NULL) {
		errno = EDEADLK; /* a handler: epcore_free would wait on us */
		return -1;
	}
	pthread_mutex_lock(&core->lock);
	if (core->stats != NULL) {
		pthread_mutex_unlock(&core->lock);
		errno = EALREADY;
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		pthread_mutex_unlock(&core->lock);
		return -1;
	}
	s->core = core;
	s->lfd = s->wakefd = s->pidfd = -1;
	s->prog = getprogname();
	if (s->prog == NULL || *s->prog == '\0')
		s->prog = "epump";
	if (path != NULL && *path != '\0') {
		if (strlcpy(s->path, path, sizeof(s->path)) >= sizeof(s->path)) {
			errno = ENAMETOOLONG;
			goto fail;
		}
	} else if (default_path(s->path, sizeof(s->path), s->prog) < 0) {
		goto fail;
	}
	s->lfd = stats_listen(s->path);
	if (s->lfd < 0)
		goto fail;
	s->wakefd = eventfd(0, EFD_CLOEXEC);
	if (s->wakefd < 0)
		goto fail_unlink;
	atomic_store(&core->stats_on, true);
	e = pthread_create(&s->thread, NULL, stats_main, s);
	if (e != 0) {
		atomic_store(&core->stats_on, false);
		errno = e;
		goto fail_unlink;
	}
	paths_set(s->path, true);
	core->stats = s;
	pthread_mutex_unlock(&core->lock);
	return 0;
fail_unlink:
	e = errno;
	(void)unlink(s->path);
	errno = e;
fail:
	e = errno;
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->wakefd >= 0)
		close(s->wakefd);
	free(s);
	pthread_mutex_unlock(&core->lock);
	errno = e;
	return -1;
}

const char *epcore_stats_path(const epcore_t *core)
{
	if (core == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (core->stats == NULL) {
		errno = ENOENT;
		return NULL;
	}
	return core->stats->path;
}

/* epcore_free(): stop the server first, while what it reads still is. */
void ep__stats_free(epcore_t *core)
{
	struct ep__stats *s = core->stats;
	uint64_t one = 1;
	ssize_t r;

	if (s == NULL)
		return;
	r = write(s->wakefd, &one, sizeof(one));
	(void)r;
	pthread_join(s->thread, NULL);
	close(s->lfd);
	close(s->wakefd);
	(void)unlink(s->path);
	paths_set(s->path, false);
	free(s);
	core->stats = NULL;
	atomic_store(&core->stats_on, false);
}
