/*
 * t_net.c - network and file devices: TCP listen/accept/connect on IPv4
 * and IPv6 loopback (events, addresses, echo, the device's thread),
 * refused and timed-out connects, eptcp_mlisten over epumps started
 * before and after it, UDP round trips, unix sockets (stale and live
 * socket files, removal at close), regular files, pipes and stdin,
 * running out of fds on accept, a peer's reset, and bad input.
 *
 * Everything talks to 127.0.0.1, ::1 or unix sockets in a temp dir; every
 * wait has a deadline.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* prlimit */
#endif
#include <epump.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

/* Waits until cond holds or ms pass; the value of cond at the end. */
#define WAIT_FOR(cond, ms)                                              \
	({                                                              \
		uint64_t end_ = tu_now_ms() + (ms);                     \
		int ok_;                                                \
		while (!(ok_ = !!(cond)) && tu_now_ms() < end_)         \
			tu_sleep_ms(1);                                 \
		ok_;                                                    \
	})

/* Time left until the absolute deadline end (ms), for WAIT_FOR. */
static unsigned left_ms(uint64_t end)
{
	uint64_t now = tu_now_ms();

	return end > now ? (unsigned)(end - now) : 0;
}

/* ---- the threads of a core: which one is a device's ---- */

struct thr_slot {
	atomic_int set;
	pthread_t t;
};

static struct thr_slot ep_thr[8], wk_thr[8];
static int n_ep, n_wk;

static int rec_thread(void *cbpara, void *para, int event, int fdtype)
{
	struct thr_slot *s = para;

	s->t = pthread_self();
	atomic_store(&s->set, 1);
	return 0;
}

/* Learns the pthread of every epump and worker of core (post to each). */
static int learn_threads(epcore_t *core)
{
	int i, ok = 1;

	memset(ep_thr, 0, sizeof(ep_thr));
	memset(wk_thr, 0, sizeof(wk_thr));
	n_ep = epcore_epump_count(core);
	n_wk = epcore_worker_count(core);
	if (n_ep > 8 || n_wk > 8)
		return 0;
	for (i = 0; i < n_ep; i++)
		ok &= epcore_post(core, EPT_EPUMP, i, IOE_USER_DEFINED,
		                  &ep_thr[i], rec_thread, NULL) == 0;
	for (i = 0; i < n_wk; i++)
		ok &= epcore_post(core, EPT_WORKER, i, IOE_USER_DEFINED,
		                  &wk_thr[i], rec_thread, NULL) == 0;
	for (i = 0; ok && i < n_ep; i++)
		ok &= WAIT_FOR(atomic_load(&ep_thr[i].set), 2000);
	for (i = 0; ok && i < n_wk; i++)
		ok &= WAIT_FOR(atomic_load(&wk_thr[i].set), 2000);
	return ok;
}

/* Is the caller the thread that runs dev's handlers (its worker, or
 * without workers its epump)? */
static int on_dev_thread(iodev_t *dev)
{
	int w = iodev_worker(dev), e = iodev_epump(dev);

	if (n_wk > 0)
		return w >= 0 && w < n_wk &&
		       pthread_equal(wk_thr[w].t, pthread_self());
	return e >= 0 && e < n_ep &&
	       pthread_equal(ep_thr[e].t, pthread_self());
}

/* ---- connection state, shared by clients and accepted devices ---- */

#define NCONN 160
#define RXCAP 32768

enum { K_NONE, K_CLIENT, K_SERVER, K_FILE };

struct conn {
	int kind;
	int echo;                  /* write back what arrives */
	atomic_long ev[7];         /* by event 1..6; [0]: any other */
	atomic_long total;
	atomic_long wrong_thread;
	atomic_int err;            /* iodev_error() at IOE_CONNFAIL */
	atomic_ullong t_fail;      /* when IOE_CONNFAIL came (ms) */
	atomic_ullong t_conn;      /* when IOE_CONNECTED came (ms) */
	atomic_ullong id;
	pthread_mutex_t mu;
	unsigned char rx[RXCAP];
	size_t rxlen;              /* under mu */
	atomic_long rxbytes;
	atomic_int eof;
	atomic_int rerr;           /* errno of a failed read */
	atomic_long send_bad;      /* echo sends that did not take it all */
	atomic_int addr_ok;        /* 1: fetched, -1: failed */
	char laddr[64], paddr[64];
	int lport, pport;
};

static struct conn conns[NCONN];
static atomic_int nconns;

static void conns_reset(void)
{
	int i, n = atomic_load(&nconns);

	for (i = 0; i < n && i < NCONN; i++)
		pthread_mutex_destroy(&conns[i].mu);
	memset(conns, 0, sizeof(conns));
	atomic_store(&nconns, 0);
}

static struct conn *conn_new(int kind)
{
	int i = atomic_fetch_add(&nconns, 1);
	struct conn *c;

	if (i >= NCONN)
		return NULL;
	c = &conns[i];
	pthread_mutex_init(&c->mu, NULL);
	c->kind = kind;
	return c;
}

static void fill_addrs(struct conn *c, iodev_t *dev)
{
	int ok = iodev_local_addr(dev, c->laddr, sizeof(c->laddr),
	                          &c->lport) == 0 &&
	         iodev_peer_addr(dev, c->paddr, sizeof(c->paddr),
	                         &c->pport) == 0;

	atomic_store(&c->addr_ok, ok ? 1 : -1);
}

static void conn_read(struct conn *c, iodev_t *dev)
{
	char buf[4096];
	int k;

	for (k = 0; k < 100000; k++) {
		ssize_t n = read(iodev_fd(dev), buf, sizeof(buf));

		if (n > 0) {
			pthread_mutex_lock(&c->mu);
			if (c->rxlen + (size_t)n <= RXCAP) {
				memcpy(c->rx + c->rxlen, buf, (size_t)n);
				c->rxlen += (size_t)n;
			}
			pthread_mutex_unlock(&c->mu);
			if (c->echo && iodev_send(dev, buf, (size_t)n) != n)
				atomic_fetch_add(&c->send_bad, 1);
			atomic_fetch_add(&c->rxbytes, n);
			continue;
		}
		if (n == 0) {
			atomic_store(&c->eof, 1);
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			atomic_store(&c->rerr, errno);
		break;
	}
}

static int conn_handler(void *cbpara, void *obj, int event, int fdtype)
{
	struct conn *c = cbpara;
	iodev_t *dev = obj;

	if (!on_dev_thread(dev))
		atomic_fetch_add(&c->wrong_thread, 1);
	switch (event) {
	case IOE_CONNFAIL:
		atomic_store(&c->err, iodev_error(dev));
		atomic_store(&c->t_fail, tu_now_ms());
		break;
	case IOE_CONNECTED:
		atomic_store(&c->t_conn, tu_now_ms());
		fill_addrs(c, dev);
		break;
	case IOE_READ:
		conn_read(c, dev);
		break;
	default:
		break;
	}
	/* Counted last: whoever sees the count sees what came with it. */
	atomic_fetch_add(&c->ev[event >= 1 && event <= 6 ? event : 0], 1);
	atomic_fetch_add(&c->total, 1);
	return 0;
}

static int conn_rx_is(struct conn *c, const unsigned char *want, size_t n)
{
	int same;

	pthread_mutex_lock(&c->mu);
	same = c->rxlen == n && memcmp(c->rx, want, n) == 0;
	pthread_mutex_unlock(&c->mu);
	return same;
}

static void pattern(unsigned char *buf, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)((i * 7 + seed * 31 + (i >> 8)) & 0xff);
}

/* ---- listeners ---- */

struct lsn {
	epcore_t *core;
	int usock;                 /* epusock_accept instead of eptcp_accept */
	int echo;
	int check_thread;
	atomic_long calls, accepted, nulls, bad_errno, other, wrong_thread;
	atomic_int last_errno;
	atomic_long by_epump[8];
	_Atomic(struct conn *) spare;
};

static int lsn_handler(void *cbpara, void *obj, int event, int fdtype)
{
	struct lsn *l = cbpara;
	iodev_t *ld = obj;
	int i;

	if (l->check_thread && !on_dev_thread(ld))
		atomic_fetch_add(&l->wrong_thread, 1);
	if (event != IOE_ACCEPT) {
		atomic_fetch_add(&l->other, 1);
		return 0;
	}
	atomic_fetch_add(&l->calls, 1);
	for (i = 0; i < 256; i++) {
		struct conn *c = atomic_exchange(&l->spare, NULL);
		iodev_t *d;

		if (c == NULL)
			c = conn_new(K_SERVER);
		if (c == NULL)
			break;
		c->echo = l->echo;
		if (l->usock)
			d = epusock_accept(l->core, ld, NULL, conn_handler, c,
			                   BIND_CURRENT_EPUMP, 0);
		else
			d = eptcp_accept(l->core, ld, NULL, conn_handler, c,
			                 BIND_CURRENT_EPUMP, 0);
		if (d == NULL) {
			int e = errno;
			struct conn *none = NULL;

			atomic_compare_exchange_strong(&l->spare, &none, c);
			atomic_fetch_add(&l->nulls, 1);
			atomic_store(&l->last_errno, e);
			if (e != EAGAIN && e != EWOULDBLOCK)
				atomic_fetch_add(&l->bad_errno, 1);
			break;
		}
		atomic_store(&c->id, iodev_id(d));
		fill_addrs(c, d);
		{
			int ep = iodev_epump(ld);

			if (ep >= 0 && ep < 8)
				atomic_fetch_add(&l->by_epump[ep], 1);
		}
		atomic_fetch_add(&l->accepted, 1);
	}
	return 0;
}

/* ---- small helpers ---- */

static int have_ipv6(void)
{
	struct sockaddr_in6 sa;
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

	if (fd < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_addr = in6addr_loopback;
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static socklen_t mkaddr(const char *ip, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		return sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, ip, &s4->sin_addr);
		return sizeof(*s4);
	}
}

/* A port nobody listens on: bound once, then closed. */
static int closed_port(void)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr("127.0.0.1", 0, &ss);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&ss, len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* A blocking connect: the fd, or -1 with errno. */
static int raw_connect(const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(ip, port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int sink_handler(void *cbpara, void *obj, int event, int fdtype)
{
	char buf[512];
	int k;

	for (k = 0; event == IOE_READ && k < 10000; k++)
		if (read(iodev_fd(obj), buf, sizeof(buf)) <= 0)
			break;
	return 0;
}

/* ---- checks run in a forked child, reported by the parent ---- */

static int child_fd = -1, child_ack = -1, child_fails;

__attribute__((format(printf, 2, 3)))
static void ck(int cond, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(child_fd, "%d %s\n", cond ? 1 : 0, msg);
	if (!cond)
		child_fails++;
}

/*
 * The child's own RLIMIT_NOFILE, lowered to n by the kernel: setrlimit,
 * and where that is only emulated (valgrind keeps its own idea of the
 * limit and lets the kernel hand out higher fds, which it then closes:
 * an accept would lose its connection) the parent lowers it for real
 * with prlimit.  0, or -1.
 */
static int child_lower_nofile(rlim_t n)
{
	struct rlimit rl;
	char buf[4096], *p;
	unsigned long long cur = 0;
	ssize_t len;
	int fd;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	rl.rlim_cur = n;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	fd = open("/proc/self/limits", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* cannot tell: trust setrlimit */
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	p = strstr(buf, "Max open files");
	if (p == NULL || sscanf(p + 14, "%llu", &cur) != 1 || cur == n)
		return 0;
	/* Ask the parent, and wait for its answer. */
	{
		struct pollfd pf = { child_ack, POLLIN, 0 };
		char ack = 0;

		dprintf(child_fd, "P %llu\n", (unsigned long long)n);
		if (poll(&pf, 1, 5000) <= 0 || read(child_ack, &ack, 1) != 1 ||
		    ack != '1')
			return -1;
	}
	return 0;
}

static void run_child(const char *name, int (*fn)(void), unsigned ms)
{
	char buf[8192];
	size_t have = 0;
	uint64_t end = tu_now_ms() + ms;
	int p[2], a[2], st = 0, timed_out = 0, lines = 0;
	pid_t pid;

	if (pipe(p) < 0 || pipe(a) < 0) {
		TAP_OK(0, "%s: pipe", name);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		TAP_OK(0, "%s: fork", name);
		close(p[0]);
		close(p[1]);
		close(a[0]);
		close(a[1]);
		return;
	}
	if (pid == 0) {
		close(p[0]);
		close(a[1]);
		child_fd = p[1];
		child_ack = a[0];
		child_fails = 0;
		fn();
		close(child_fd);
		close(child_ack);
		_exit(child_fails ? 1 : 0);
	}
	close(p[1]);
	close(a[0]);
	for (;;) {
		struct pollfd pf = { p[0], POLLIN, 0 };
		uint64_t now = tu_now_ms();
		ssize_t n;
		char *nl;

		if (now >= end) {
			timed_out = 1;
			break;
		}
		if (poll(&pf, 1, (int)(end - now)) <= 0)
			continue;
		n = read(p[0], buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			if (buf[0] == 'P') {
				struct rlimit rl;
				char ack = '0';

				if (prlimit(pid, RLIMIT_NOFILE, NULL, &rl) == 0) {
					rl.rlim_cur = strtoull(buf + 2, NULL,
					                       10);
					if (prlimit(pid, RLIMIT_NOFILE, &rl,
					            NULL) == 0)
						ack = '1';
				}
				tap_diag("%s: setrlimit is emulated here "
				         "(valgrind?): prlimit from the parent "
				         "%s", name, ack == '1' ? "did it"
				                                : "failed");
				if (write(a[1], &ack, 1) != 1)
					tap_diag("write");
			} else {
				TAP_OK(buf[0] == '1', "%s: %s", name, buf + 2);
				lines++;
			}
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have);
			buf[have] = '\0';
		}
	}
	close(p[0]);
	close(a[1]);
	if (timed_out) {
		kill(pid, SIGKILL);
		TAP_OK(0, "%s: the child finished within %u ms", name, ms);
	}
	waitpid(pid, &st, 0);
	TAP_OK(lines > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "%s: the child exited cleanly (%d checks, status 0x%x)", name,
	       lines, st);
}

/* ---- TCP: listen, accept, connect, echo, addresses, threads ---- */

static void tcp_echo(const char *ip, int workers)
{
	enum { NCLI = 4, LEN = 6000 };
	struct lsn l;
	epcore_t *core = epcore_new(0);
	struct conn *cli[NCLI];
	unsigned char data[NCLI][LEN];
	char addr[64];
	iodev_t *ldev, *cdev[NCLI];
	int port = -1, i, j, ok, once = 1, conn_ok = 1, addr_match = 1,
	    echoed = 1, wrong = 0;
	uint64_t end;

	conns_reset();
	memset(&l, 0, sizeof(l));
	l.core = core;
	l.echo = 1;
	l.check_thread = 1;
	epcore_start_epump(core, 2);
	epcore_start_worker(core, workers);
	TAP_OK(learn_threads(core), "tcp %s, %d workers: core running", ip,
	       workers);
	ldev = eptcp_listen(core, ip, 0, NULL, lsn_handler, &l,
	                    BIND_ONE_EPUMP, 0);
	if (!TAP_OK(ldev != NULL, "eptcp_listen on %s port 0 (errno %d)", ip,
	            ldev ? 0 : errno)) {
		epcore_free(core);
		return;
	}
	ok = iodev_local_addr(ldev, addr, sizeof(addr), &port) == 0 &&
	     strcmp(addr, ip) == 0 && port > 0;
	TAP_OK(ok, "iodev_local_addr: %s port %d", addr, port);
	TAP_IS(iodev_fdtype(ldev), FDT_LISTEN, "the listener is FDT_LISTEN");
	for (i = 0; i < NCLI; i++) {
		cli[i] = conn_new(K_CLIENT);
		cdev[i] = eptcp_connect(core, ip, port, NULL, conn_handler,
		                        cli[i], 0);
		if (cdev[i] == NULL)
			conn_ok = 0;
		else
			atomic_store(&cli[i]->id, iodev_id(cdev[i]));
	}
	TAP_OK(conn_ok, "eptcp_connect returned %d devices", NCLI);
	if (!conn_ok) {
		epcore_free(core);
		return;
	}
	TAP_IS(iodev_fdtype(cdev[0]), FDT_CONNECTED,
	       "a client is FDT_CONNECTED");
	ok = 1;
	end = tu_now_ms() + 3000;
	for (i = 0; i < NCLI; i++)
		ok &= WAIT_FOR(atomic_load(&cli[i]->ev[IOE_CONNECTED]) +
		               atomic_load(&cli[i]->ev[IOE_CONNFAIL]) >= 1,
		               left_ms(end));
	TAP_OK(ok, "every client got its connect outcome");
	ok = WAIT_FOR(atomic_load(&l.accepted) >= NCLI, 3000);
	TAP_OK(ok, "the listener accepted %ld of %d",
	       atomic_load(&l.accepted), NCLI);
	/* The handler counts the last accept before its loop's final call
	 * returns NULL: wait for that end too. */
	(void)WAIT_FOR(atomic_load(&l.nulls) >= 1, 3000);
	TAP_OK(atomic_load(&l.nulls) >= 1 && atomic_load(&l.bad_errno) == 0,
	       "each accept loop ended with NULL/EAGAIN (%ld ends, %ld with "
	       "another errno, last %d)", atomic_load(&l.nulls),
	       atomic_load(&l.bad_errno), atomic_load(&l.last_errno));
	/* Echo: each client sends from this (foreign) thread; the server
	 * echoes from its handler. */
	for (i = 0; i < NCLI; i++) {
		pattern(data[i], LEN, (unsigned)(i + 1));
		if (iodev_send(cdev[i], data[i], LEN) != LEN)
			echoed = 0;
	}
	TAP_OK(echoed, "iodev_send of %d bytes on each client", LEN);
	end = tu_now_ms() + 3000;
	for (i = 0; i < NCLI; i++)
		WAIT_FOR(atomic_load(&cli[i]->rxbytes) >= LEN, left_ms(end));
	echoed = 1;
	for (i = 0; i < NCLI; i++)
		echoed &= conn_rx_is(cli[i], data[i], LEN);
	TAP_OK(echoed, "every client got its %d bytes back, byte-exact", LEN);
	tu_sleep_ms(100); /* a second outcome would come by now */
	for (i = 0; i < NCLI; i++)
		once &= atomic_load(&cli[i]->ev[IOE_CONNECTED]) == 1 &&
		        atomic_load(&cli[i]->ev[IOE_CONNFAIL]) == 0;
	TAP_OK(once, "exactly one IOE_CONNECTED per client, no IOE_CONNFAIL");
	/* Addresses agree between the two ends. */
	for (i = 0; i < NCLI; i++) {
		struct conn *c = cli[i], *s = NULL;
		int n = atomic_load(&nconns);

		if (atomic_load(&c->addr_ok) != 1) {
			addr_match = 0;
			continue;
		}
		for (j = 0; j < n && j < NCONN; j++)
			if (conns[j].kind == K_SERVER &&
			    atomic_load(&conns[j].addr_ok) == 1 &&
			    conns[j].pport == c->lport)
				s = &conns[j];
		if (s == NULL || strcmp(s->paddr, c->laddr) != 0 ||
		    strcmp(s->laddr, c->paddr) != 0 || s->lport != c->pport ||
		    c->pport != port || strcmp(c->paddr, ip) != 0) {
			tap_diag("client %d: local %s:%d peer %s:%d; server "
			         "local %s:%d peer %s:%d", i, c->laddr,
			         c->lport, c->paddr, c->pport,
			         s ? s->laddr : "?", s ? s->lport : -1,
			         s ? s->paddr : "?", s ? s->pport : -1);
			addr_match = 0;
		}
	}
	TAP_OK(addr_match, "iodev_local_addr/iodev_peer_addr agree between "
	       "client and accepted device");
	for (i = 0; i < atomic_load(&nconns) && i < NCONN; i++)
		wrong += (int)atomic_load(&conns[i].wrong_thread);
	wrong += (int)atomic_load(&l.wrong_thread);
	TAP_IS(wrong, 0, "connect outcomes, reads and accepts all ran on the "
	       "device's own thread");
	ok = 1;
	for (i = 0; i < atomic_load(&nconns) && i < NCONN; i++)
		if (conns[i].kind != K_NONE &&
		    (atomic_load(&conns[i].send_bad) ||
		     atomic_load(&conns[i].rerr) ||
		     atomic_load(&conns[i].ev[0]) ||
		     atomic_load(&conns[i].ev[IOE_INVALID_DEV])))
			ok = 0;
	TAP_OK(ok, "no read errors, short echoes or unexpected events");
	epcore_free(core);
}

/* A connect that completed is not touched when its timeout passes. */
static void tcp_timeout_after_connect(int workers)
{
	enum { NCLI = 24, LEN = 100 };
	struct lsn l;
	epcore_t *core = epcore_new(0);
	struct conn *cli[NCLI];
	unsigned char data[LEN];
	iodev_t *ldev, *cdev[NCLI];
	char addr[64];
	int port = 0, i, connected = 0, failed = 0, got = 0, made = 0;

	conns_reset();
	memset(&l, 0, sizeof(l));
	l.core = core;
	l.echo = 1;
	epcore_start_epump(core, 2);
	epcore_start_worker(core, workers);
	learn_threads(core);
	ldev = eptcp_listen(core, "127.0.0.1", 0, NULL, lsn_handler, &l,
	                    BIND_ONE_EPUMP, 0);
	if (ldev == NULL ||
	    iodev_local_addr(ldev, addr, sizeof(addr), &port) < 0) {
		TAP_OK(0, "listen for the connect-timeout case");
		epcore_free(core);
		return;
	}
	for (i = 0; i < NCLI; i++) {
		cli[i] = conn_new(K_CLIENT);
		cdev[i] = eptcp_connect(core, "127.0.0.1", port, NULL,
		                        conn_handler, cli[i], 100);
		made += cdev[i] != NULL;
	}
	TAP_IS(made, NCLI, "connects with timeout_ms 100 started");
	{
		uint64_t end = tu_now_ms() + 2000;

		for (i = 0; i < NCLI; i++)
			if (cdev[i] != NULL)
				WAIT_FOR(atomic_load(&cli[i]->total) >= 1,
				         left_ms(end));
	}
	tu_sleep_ms(300); /* every timeout has passed */
	pattern(data, LEN, 9);
	for (i = 0; i < NCLI; i++)
		if (cdev[i] != NULL &&
		    atomic_load(&cli[i]->ev[IOE_CONNECTED]) == 1)
			(void)iodev_send(cdev[i], data, LEN);
	for (i = 0; i < NCLI; i++) {
		if (cdev[i] == NULL)
			continue;
		connected += atomic_load(&cli[i]->ev[IOE_CONNECTED]) == 1;
		failed += atomic_load(&cli[i]->ev[IOE_CONNFAIL]) != 0;
	}
	{
		/* One deadline for all: a device that lost its reads must
		 * not make the test slow. */
		uint64_t end = tu_now_ms() + 1500;

		for (i = 0; i < NCLI; i++)
			if (cdev[i] != NULL &&
			    WAIT_FOR(atomic_load(&cli[i]->rxbytes) >= LEN,
			             left_ms(end)) &&
			    conn_rx_is(cli[i], data, LEN))
				got++;
	}
	TAP_OK(connected == made && failed == 0,
	       "%d workers: %d of %d connected, %d IOE_CONNFAIL after the "
	       "timeout passed", workers, connected, made, failed);
	TAP_IS(got, connected, "connected devices still get IOE_READ after "
	       "their connect timeout has passed");
	epcore_free(core);
}

/* ---- refused and timed-out connects ---- */

static void tcp_refused(int workers)
{
	epcore_t *core = epcore_new(0);
	struct conn *c;
	iodev_t *dev;
	int port = closed_port();
	uint64_t id;

	conns_reset();
	epcore_start_epump(core, 2);
	epcore_start_worker(core, workers);
	learn_threads(core);
	c = conn_new(K_CLIENT);
	errno = 0;
	dev = eptcp_connect(core, "127.0.0.1", port, NULL, conn_handler, c,
	                    0);
	if (dev == NULL) {
		TAP_OK(errno == ECONNREFUSED,
		       "%d workers: connect to closed port %d failed at once "
		       "(errno %d)", workers, port, errno);
		epcore_free(core);
		return;
	}
	id = iodev_id(dev);
	TAP_OK(WAIT_FOR(atomic_load(&c->total) >= 1, 3000),
	       "%d workers: connect to closed port %d: an outcome came",
	       workers, port);
	TAP_IS(atomic_load(&c->ev[IOE_CONNFAIL]), 1, "it is IOE_CONNFAIL");
	TAP_IS(atomic_load(&c->err), ECONNREFUSED,
	       "iodev_error() is ECONNREFUSED");
	tu_sleep_ms(200);
	TAP_IS(atomic_load(&c->total), 1,
	       "no other event for the device in the next 200 ms");
	TAP_IS(atomic_load(&c->wrong_thread), 0,
	       "the outcome ran on the device's thread");
	TAP_OK(iodev_close_by(core, id) == 0,
	       "the failed device stays open until closed");
	epcore_free(core);
}

/* ---- a reused slot starts a clean life ---- */

/*
 * A device's memory is reused by the next device made on the same thread,
 * and the library does not zero it: it sets every field.  What the last
 * life left (a queued send, write interest, end of file masked on poll
 * and select, a connect error) must not show in the next.
 */
struct reuse {
	epcore_t *core;
	int sa[2], sb[2];
	iodev_t *a, *b;
	atomic_int a_eof, a_queued, a_left, b_read, b_stale_read, err_a;
	atomic_int step_ok, same_slot, b_sendq, b_rwflags, b_error, b_epump;
	atomic_int b_bound;
};

static int reuse_a(void *cbpara, void *obj, int event, int fdtype)
{
	struct reuse *r = cbpara;
	char buf[4096];
	ssize_t n;

	if (event != IOE_READ)
		return 0;
	while ((n = read(iodev_fd(obj), buf, sizeof(buf))) > 0)
		;
	if (n == 0)
		atomic_store(&r->a_eof, 1);
	return 0;
}

static int reuse_b(void *cbpara, void *obj, int event, int fdtype)
{
	struct reuse *r = cbpara;
	char c;

	if (event == IOE_READ && read(iodev_fd(obj), &c, 1) == 1) {
		atomic_store(c == 'x' ? &r->b_read : &r->b_stale_read, 1);
	}
	return 0;
}

/* Notes what b inherited, binds it and gives its peer one byte. */
static void reuse_make_b(struct reuse *r, iodev_t *old)
{
	r->b = iodev_new(r->core, r->sb[0],
	                 FDT_USOCK_CONNECTED | IODEV_NONBLOCK, r, reuse_b, r);
	if (r->b == NULL)
		return;
	atomic_store(&r->same_slot, r->b == old);
	atomic_store(&r->b_sendq, (int)iodev_sendq_len(r->b));
	atomic_store(&r->b_rwflags, iodev_rwflags(r->b));
	atomic_store(&r->b_error, iodev_error(r->b));
	atomic_store(&r->b_epump, iodev_epump(r->b));
	if (iodev_bind_epump(r->b, BIND_CURRENT_EPUMP, 0) == 0 &&
	    write(r->sb[1], "x", 1) == 1)
		atomic_store(&r->b_bound, 1);
}

/* On the epump: a gets a queued send, write interest and, once its peer
 * shuts down, end of file. */
static int reuse_stage1(void *cbpara, void *para, int event, int fdtype)
{
	static char big[1 << 20];
	struct reuse *r = cbpara;

	r->a = iodev_new(r->core, r->sa[0],
	                 FDT_USOCK_CONNECTED | IODEV_NONBLOCK, r, reuse_a, r);
	if (r->a == NULL || iodev_bind_epump(r->a, BIND_CURRENT_EPUMP, 0) < 0)
		return 0;
	if (iodev_send(r->a, big, sizeof(big)) == (ssize_t)sizeof(big) &&
	    iodev_sendq_len(r->a) > 0 &&
	    iodev_add_notify(r->a, RWF_WRITE) == 0 &&
	    (iodev_rwflags(r->a) & RWF_WRITE))
		atomic_store(&r->a_queued, 1);
	shutdown(r->sa[1], SHUT_WR);
	atomic_store(&r->step_ok, 1);
	return 0;
}

/* On the epump, after a's end of file: a closed, b made in its place. */
static int reuse_stage2(void *cbpara, void *para, int event, int fdtype)
{
	struct reuse *r = cbpara;
	iodev_t *old = r->a;

	/* What b must not inherit is there when a closes. */
	atomic_store(&r->a_left, iodev_sendq_len(old) > 0);
	iodev_close(old);
	reuse_make_b(r, old);
	return 0;
}

static void reuse_queued(void)
{
	struct reuse r;

	memset(&r, 0, sizeof(r));
	r.core = epcore_new(0);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, r.sa) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, r.sb) < 0 ||
	    epcore_start_epump(r.core, 1) < 0 ||
	    iotimer_start(r.core, 0, 0, NULL, reuse_stage1, &r) == 0) {
		TAP_OK(0, "reused slot: setup (%s)", strerror(errno));
		epcore_free(r.core);
		return;
	}
	TAP_OK(WAIT_FOR(atomic_load(&r.step_ok), 3000) &&
	       atomic_load(&r.a_queued),
	       "reused slot: the first device has a queued send and "
	       "write interest");
	TAP_OK(WAIT_FOR(atomic_load(&r.a_eof), 3000),
	       "reused slot: the first device read end of file");
	iotimer_start(r.core, 0, 0, NULL, reuse_stage2, &r);
	TAP_OK(WAIT_FOR(atomic_load(&r.b_bound), 3000) &&
	       atomic_load(&r.same_slot),
	       "reused slot: the next device made on that thread has the "
	       "same memory");
	TAP_OK(atomic_load(&r.a_left),
	       "reused slot: the first device still had bytes queued when "
	       "it closed");
	TAP_IS(atomic_load(&r.b_sendq), 0, "reused slot: nothing queued");
	TAP_IS(atomic_load(&r.b_rwflags), RWF_READ,
	       "reused slot: interest is RWF_READ alone");
	TAP_IS(atomic_load(&r.b_epump), -1, "reused slot: not bound");
	TAP_OK(WAIT_FOR(atomic_load(&r.b_read), 3000),
	       "reused slot: its reads are reported (no end of file mask "
	       "left over)");
	TAP_IS(atomic_load(&r.b_stale_read), 0,
	       "reused slot: it reads its own peer's byte");
	epcore_free(r.core);
	close(r.sa[1]);
	close(r.sb[1]);
}

/* A refused connect's device closed in its handler: the next device made
 * on its epump has no error. */
static int reuse_connfail(void *cbpara, void *obj, int event, int fdtype);

static int reuse_stage3(void *cbpara, void *para, int event, int fdtype)
{
	struct reuse *r = cbpara;

	reuse_make_b(r, r->a);
	return 0;
}

static int reuse_connfail(void *cbpara, void *obj, int event, int fdtype)
{
	struct reuse *r = cbpara;

	if (event != IOE_CONNFAIL)
		return 0;
	atomic_store(&r->err_a, iodev_error(obj));
	r->a = obj;
	iodev_close(obj);
	/* Runs on this epump (no workers), after the close has finished. */
	iotimer_start(r->core, 0, 0, NULL, reuse_stage3, r);
	return 0;
}

static void reuse_error(void)
{
	struct reuse r;
	int port = closed_port();

	memset(&r, 0, sizeof(r));
	r.core = epcore_new(0);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, r.sb) < 0 ||
	    epcore_start_epump(r.core, 1) < 0) {
		TAP_OK(0, "reused slot: setup (%s)", strerror(errno));
		epcore_free(r.core);
		return;
	}
	if (eptcp_connect(r.core, "127.0.0.1", port, NULL, reuse_connfail, &r,
	                  0) == NULL) {
		tap_diag("skip: the connect to port %d failed at once", port);
		epcore_free(r.core);
		close(r.sb[0]);
		close(r.sb[1]);
		return;
	}
	TAP_OK(WAIT_FOR(atomic_load(&r.b_bound), 3000),
	       "reused slot: a device made where a refused connect's was");
	TAP_IS(atomic_load(&r.err_a), ECONNREFUSED,
	       "reused slot: the refused one had iodev_error() ECONNREFUSED");
	TAP_OK(atomic_load(&r.same_slot), "reused slot: the same memory");
	TAP_IS(atomic_load(&r.b_error), 0, "reused slot: iodev_error() is 0");
	TAP_OK(WAIT_FOR(atomic_load(&r.b_read), 3000),
	       "reused slot: it reads its peer's byte");
	epcore_free(r.core);
	close(r.sb[1]);
}

static void tcp_connect_timeout(void)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr("127.0.0.1", 0, &ss);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int fill[8], nfill = 0, stuck = 0, port, i;
	epcore_t *core;
	struct conn *c;
	iodev_t *dev;
	uint64_t t0, took;

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(lfd, 0) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &len) < 0) {
		TAP_OK(0, "a raw listener with backlog 0");
		if (lfd >= 0)
			close(lfd);
		return;
	}
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	/* Fill the backlog until a connect stays in progress. */
	while (nfill < 8 && !stuck) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		                SOCK_CLOEXEC, 0);
		struct pollfd pf = { fd, POLLOUT, 0 };

		if (fd < 0)
			break;
		fill[nfill++] = fd;
		if (connect(fd, (struct sockaddr *)&ss, len) == 0)
			continue;
		if (errno != EINPROGRESS)
			break;
		if (poll(&pf, 1, 100) == 0)
			stuck = 1;
	}
	if (!stuck) {
		tap_diag("skip: the kernel completed every connect to a full "
		         "backlog (%d tried)", nfill);
		goto out;
	}
	conns_reset();
	core = epcore_new(0);
	epcore_start_epump(core, 1);
	learn_threads(core);
	c = conn_new(K_CLIENT);
	t0 = tu_now_ms();
	dev = eptcp_connect(core, "127.0.0.1", port, NULL, conn_handler, c,
	                    200);
	if (!TAP_OK(dev != NULL, "connect to a full backlog started (errno "
	            "%d)", dev ? 0 : errno)) {
		epcore_free(core);
		goto out;
	}
	WAIT_FOR(atomic_load(&c->total) >= 1, 3000);
	if (atomic_load(&c->ev[IOE_CONNECTED]) > 0) {
		tap_diag("skip: the kernel completed the connect to a full "
		         "backlog");
		epcore_free(core);
		goto out;
	}
	TAP_IS(atomic_load(&c->ev[IOE_CONNFAIL]), 1,
	       "timeout_ms 200: one IOE_CONNFAIL");
	TAP_IS(atomic_load(&c->err), ETIMEDOUT, "iodev_error() is ETIMEDOUT");
	took = atomic_load(&c->t_fail) - t0;
	TAP_OK(atomic_load(&c->t_fail) != 0 && took >= 200,
	       "not before 200 ms (%llu ms)", (unsigned long long)took);
	tu_sleep_ms(200);
	TAP_IS(atomic_load(&c->total), 1,
	       "no other event for the device in the next 200 ms");
	TAP_IS(atomic_load(&c->wrong_thread), 0,
	       "the timeout ran on the device's thread");
	epcore_free(core);
out:
	for (i = 0; i < nfill; i++)
		close(fill[i]);
	close(lfd);
}

/* ---- eptcp_mlisten ---- */

static void tcp_mlisten(int given_port)
{
	enum { NCLI = 60 };
	struct lsn l;
	epcore_t *core = epcore_new(0);
	int fds[NCLI], port, want = 0, i, ok = 1, refused = 0, later = 0,
	    spread = 1;
	long total;

	conns_reset();
	memset(&l, 0, sizeof(l));
	l.core = core;
	epcore_start_epump(core, 2);
	learn_threads(core);
	if (given_port) {
		want = closed_port();
		port = eptcp_mlisten(core, "127.0.0.1", want, NULL,
		                     lsn_handler, &l);
		TAP_OK(port == want, "eptcp_mlisten on port %d: %d (errno %d)",
		       want, port, port < 0 ? errno : 0);
	} else {
		port = eptcp_mlisten(core, "127.0.0.1", 0, NULL, lsn_handler,
		                     &l);
		TAP_OK(port > 0, "eptcp_mlisten on port 0 picked port %d "
		       "(errno %d)", port, port < 0 ? errno : 0);
	}
	if (port <= 0) {
		epcore_free(core);
		return;
	}
	TAP_IS(epcore_start_epump(core, 1), 1, "one more epump started after");
	for (i = 0; i < NCLI; i++) {
		fds[i] = raw_connect("127.0.0.1", port);
		if (fds[i] < 0) {
			if (ok)
				tap_diag("connect %d: errno %d", i, errno);
			ok = 0;
		}
	}
	TAP_OK(ok, "%d connects to port %d succeeded", NCLI, port);
	ok = WAIT_FOR(atomic_load(&l.accepted) >= NCLI, 3000);
	TAP_OK(ok, "all reached the handler through eptcp_accept (%ld)",
	       atomic_load(&l.accepted));
	total = 0;
	for (i = 0; i < 3; i++)
		total += atomic_load(&l.by_epump[i]);
	if (total == atomic_load(&l.accepted)) {
		/* One socket per epump (SO_REUSEPORT): each takes some. */
		for (i = 0; i < 3; i++)
			spread &= atomic_load(&l.by_epump[i]) > 0;
		later = atomic_load(&l.by_epump[2]) > 0;
		TAP_OK(spread, "each of the 3 epumps accepted some "
		       "(%ld, %ld, %ld)", atomic_load(&l.by_epump[0]),
		       atomic_load(&l.by_epump[1]),
		       atomic_load(&l.by_epump[2]));
		TAP_OK(later, "the epump started after eptcp_mlisten took "
		       "connections too");
	} else {
		tap_diag("no SO_REUSEPORT here: one socket for all epumps");
	}
	TAP_IS(atomic_load(&l.bad_errno), 0, "accept loops ended with EAGAIN");
	for (i = 0; i < NCLI; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	TAP_OK(eptcp_mlisten_close(core, port) == 0, "eptcp_mlisten_close");
	{
		uint64_t end = tu_now_ms() + 2000;

		while (!refused && tu_now_ms() < end) {
			int fd = raw_connect("127.0.0.1", port);

			if (fd < 0 && errno == ECONNREFUSED) {
				refused = 1;
				break;
			}
			if (fd >= 0)
				close(fd);
			tu_sleep_ms(10);
		}
	}
	TAP_OK(refused, "then connects to port %d are refused", port);
	ok = 1;
	for (i = 0; i < 5; i++) {
		int fd = raw_connect("127.0.0.1", port);

		if (fd >= 0) {
			close(fd);
			ok = 0;
		} else if (errno != ECONNREFUSED) {
			ok = 0;
		}
	}
	TAP_OK(ok, "and stay refused (5 more)");
	errno = 0;
	TAP_OK(eptcp_mlisten_close(core, port) == -1 && errno == ENOENT,
	       "a second eptcp_mlisten_close: ENOENT");
	epcore_free(core);
}

/* ---- UDP ---- */

struct udp_state {
	atomic_long got;
	atomic_int bad;
	char from[64];
	int fromport;
	atomic_int from_ok;
	pthread_mutex_t mu;
	char last[8][64];
	int nlast;
};

static int udp_srv_handler(void *cbpara, void *obj, int event, int fdtype)
{
	struct udp_state *u = cbpara;
	int k;

	if (event != IOE_READ) {
		atomic_store(&u->bad, 1);
		return 0;
	}
	for (k = 0; k < 1000; k++) {
		struct sockaddr_storage from;
		socklen_t flen = 0;
		char buf[128], reply[160];
		ssize_t n = epudp_recvfrom(obj, buf, sizeof(buf) - 1, &from,
		                           &flen);
		int rl;

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				atomic_store(&u->bad, 2);
			break;
		}
		buf[n] = '\0';
		/* from/fromport are read by the test's thread: under mu (the
		 * reply that tells it they are set goes through the kernel,
		 * which orders nothing for the compiler or the CPU). */
		pthread_mutex_lock(&u->mu);
		if (flen == 0 ||
		    epaddr_format((struct sockaddr *)&from, u->from,
		                  sizeof(u->from), &u->fromport) < 0)
			atomic_store(&u->bad, 3);
		else
			atomic_store(&u->from_ok, 1);
		pthread_mutex_unlock(&u->mu);
		rl = snprintf(reply, sizeof(reply), "re:%s", buf);
		if (epudp_sendto(obj, reply, (size_t)rl,
		                 (struct sockaddr *)&from, flen) != rl)
			atomic_store(&u->bad, 4);
		atomic_fetch_add(&u->got, 1);
	}
	return 0;
}

static int udp_cli_handler(void *cbpara, void *obj, int event, int fdtype)
{
	struct udp_state *u = cbpara;
	int k;

	if (event != IOE_READ) {
		atomic_store(&u->bad, 1);
		return 0;
	}
	for (k = 0; k < 1000; k++) {
		char buf[128];
		ssize_t n = epudp_recvfrom(obj, buf, sizeof(buf) - 1, NULL,
		                           NULL);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				atomic_store(&u->bad, 2);
			break;
		}
		buf[n] = '\0';
		pthread_mutex_lock(&u->mu);
		if (u->nlast < 8)
			snprintf(u->last[u->nlast++], 64, "%.60s", buf);
		pthread_mutex_unlock(&u->mu);
		atomic_fetch_add(&u->got, 1);
	}
	return 0;
}

static void udp_roundtrip(const char *ip)
{
	enum { N = 5 };
	struct udp_state su, cu;
	epcore_t *core = epcore_new(0);
	iodev_t *srv, *cli;
	char addr[64], caddr[64];
	int port = 0, cport = 0, i, sent = 1, order = 1;

	memset(&su, 0, sizeof(su));
	memset(&cu, 0, sizeof(cu));
	pthread_mutex_init(&su.mu, NULL);
	pthread_mutex_init(&cu.mu, NULL);
	epcore_start_epump(core, 2);
	srv = epudp_listen(core, ip, 0, NULL, udp_srv_handler, &su,
	                   BIND_ONE_EPUMP, 0);
	if (!TAP_OK(srv != NULL, "epudp_listen on %s port 0 (errno %d)", ip,
	            srv ? 0 : errno))
		goto out;
	i = iodev_local_addr(srv, addr, sizeof(addr), &port) == 0 &&
	    port > 0 && strcmp(addr, ip) == 0;
	TAP_OK(i, "its address: %s port %d", addr, port);
	TAP_IS(iodev_fdtype(srv), FDT_UDPSRV, "FDT_UDPSRV");
	cli = epudp_client(core, ip, port, NULL, udp_cli_handler, &cu);
	if (!TAP_OK(cli != NULL, "epudp_client to it (errno %d)",
	            cli ? 0 : errno))
		goto out;
	TAP_IS(iodev_fdtype(cli), FDT_UDPCLI, "FDT_UDPCLI");
	iodev_local_addr(cli, caddr, sizeof(caddr), &cport);
	for (i = 0; i < N; i++) {
		char msg[32];
		int n = snprintf(msg, sizeof(msg), "dgram %d", i);

		if (iodev_send(cli, msg, (size_t)n) != n)
			sent = 0;
		/* Lossless on loopback, but paced so order is plain. */
		WAIT_FOR(atomic_load(&cu.got) >= i + 1, 2000);
	}
	TAP_OK(sent, "%d datagrams sent with iodev_send", N);
	sent = WAIT_FOR(atomic_load(&cu.got) >= N, 2000);
	TAP_OK(sent, "%ld of %d replies came back", atomic_load(&cu.got), N);
	pthread_mutex_lock(&cu.mu);
	for (i = 0; i < N && i < cu.nlast; i++) {
		char want[32];

		snprintf(want, sizeof(want), "re:dgram %d", i);
		order &= strcmp(cu.last[i], want) == 0;
	}
	order &= cu.nlast == N;
	pthread_mutex_unlock(&cu.mu);
	TAP_OK(order, "each reply is its datagram, whole");
	pthread_mutex_lock(&su.mu);
	TAP_OK(atomic_load(&su.from_ok) && strcmp(su.from, caddr) == 0 &&
	       su.fromport == cport && cport > 0,
	       "epudp_recvfrom reported the client's address (%s:%d, "
	       "client %s:%d)", su.from, su.fromport, caddr, cport);
	pthread_mutex_unlock(&su.mu);
	TAP_IS(atomic_load(&su.bad) + atomic_load(&cu.bad), 0,
	       "no unexpected event or error");
out:
	epcore_free(core);
	pthread_mutex_destroy(&su.mu);
	pthread_mutex_destroy(&cu.mu);
}

/* ---- unix sockets ---- */

static int raw_unix_listener(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, 8) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int raw_unix_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int is_socket_file(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int gone(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 && errno == ENOENT;
}

static void unix_sockets(int workers)
{
	enum { LEN = 4000 };
	char dir[] = "/tmp/t_net.XXXXXX";
	char path[128], stale[128], live[128], plain[128], addr[128];
	unsigned char data[LEN];
	struct lsn l;
	epcore_t *core;
	iodev_t *ldev, *ldev2, *d, *cdev;
	struct conn *c;
	uint64_t lid;
	int fd, lfd, port = -1, fd2;

	if (mkdtemp(dir) == NULL) {
		TAP_OK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/l.sock", dir);
	snprintf(stale, sizeof(stale), "%s/stale.sock", dir);
	snprintf(live, sizeof(live), "%s/live.sock", dir);
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	conns_reset();
	memset(&l, 0, sizeof(l));
	core = epcore_new(0);
	l.core = core;
	l.usock = 1;
	l.echo = 1;
	l.check_thread = 1;
	epcore_start_epump(core, 2);
	epcore_start_worker(core, workers);
	learn_threads(core);
	ldev = epusock_listen(core, path, NULL, lsn_handler, &l,
	                      BIND_ONE_EPUMP, 0);
	if (!TAP_OK(ldev != NULL, "unix, %d workers: epusock_listen "
	            "(errno %d)", workers, ldev ? 0 : errno)) {
		epcore_free(core);
		goto out;
	}
	lid = iodev_id(ldev);
	TAP_IS(iodev_fdtype(ldev), FDT_USOCK_LISTEN, "FDT_USOCK_LISTEN");
	TAP_OK(is_socket_file(path), "the socket file exists");
	fd = iodev_local_addr(ldev, addr, sizeof(addr), &port) == 0 &&
	     strcmp(addr, path) == 0 && port == 0;
	TAP_OK(fd, "iodev_local_addr gives the path and port 0");
	errno = 0;
	d = epusock_listen(core, path, NULL, lsn_handler, &l, BIND_ONE_EPUMP,
	                   0);
	TAP_OK(d == NULL && errno == EADDRINUSE,
	       "a second listen on the live path: EADDRINUSE (errno %d)",
	       errno);
	c = conn_new(K_CLIENT);
	cdev = epusock_connect(core, path, NULL, conn_handler, c, 0);
	if (!TAP_OK(cdev != NULL, "epusock_connect (errno %d)",
	            cdev ? 0 : errno)) {
		epcore_free(core);
		goto out;
	}
	TAP_IS(iodev_fdtype(cdev), FDT_USOCK_CONNECTED, "FDT_USOCK_CONNECTED");
	TAP_OK(WAIT_FOR(atomic_load(&c->total) >= 1, 3000),
	       "the connect has an outcome");
	TAP_OK(WAIT_FOR(atomic_load(&l.accepted) >= 1, 3000),
	       "the listener accepted with epusock_accept");
	pattern(data, LEN, 5);
	TAP_IS(iodev_send(cdev, data, LEN), LEN, "iodev_send on the client");
	WAIT_FOR(atomic_load(&c->rxbytes) >= LEN, 3000);
	TAP_OK(conn_rx_is(c, data, LEN), "the echo came back byte-exact");
	tu_sleep_ms(100);
	TAP_IS(atomic_load(&c->ev[IOE_CONNECTED]), 1,
	       "exactly one IOE_CONNECTED");
	TAP_IS(atomic_load(&c->ev[IOE_CONNFAIL]), 0, "no IOE_CONNFAIL");
	{
		int n = atomic_load(&nconns), i, wrong = 0;

		for (i = 0; i < n && i < NCONN; i++)
			wrong += (int)atomic_load(&conns[i].wrong_thread);
		TAP_IS(wrong + atomic_load(&l.wrong_thread), 0,
		       "events ran on the devices' own threads");
	}

	/* A stale socket file: a listener that closed without unlinking. */
	lfd = raw_unix_listener(stale);
	if (lfd >= 0)
		close(lfd);
	TAP_OK(lfd >= 0 && is_socket_file(stale),
	       "a stale socket file is left behind");
	ldev2 = epusock_listen(core, stale, NULL, lsn_handler, &l,
	                       BIND_ONE_EPUMP, 0);
	TAP_OK(ldev2 != NULL, "epusock_listen replaces the stale socket file "
	       "(errno %d)", ldev2 ? 0 : errno);
	fd = raw_unix_connect(stale);
	TAP_OK(fd >= 0, "and takes connections (errno %d)",
	       fd >= 0 ? 0 : errno);
	TAP_OK(WAIT_FOR(atomic_load(&l.accepted) >= 2, 3000),
	       "the new listener accepted it");

	/* A live socket file of somebody else. */
	lfd = raw_unix_listener(live);
	errno = 0;
	d = epusock_listen(core, live, NULL, lsn_handler, &l, BIND_ONE_EPUMP,
	                   0);
	TAP_OK(lfd >= 0 && d == NULL && errno == EADDRINUSE,
	       "a live socket file of another listener: EADDRINUSE "
	       "(errno %d)", errno);
	fd2 = raw_unix_connect(live);
	TAP_OK(fd2 >= 0, "that listener still takes connections");
	if (fd2 >= 0)
		close(fd2);
	if (lfd >= 0)
		close(lfd);
	unlink(live);

	/* Not a socket: left alone. */
	fd2 = open(plain, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd2 >= 0) {
		if (write(fd2, "keep", 4) != 4)
			tap_diag("write");
		close(fd2);
	}
	errno = 0;
	d = epusock_listen(core, plain, NULL, lsn_handler, &l, BIND_ONE_EPUMP,
	                   0);
	{
		struct stat st;

		TAP_OK(d == NULL && lstat(plain, &st) == 0 &&
		       S_ISREG(st.st_mode) && st.st_size == 4,
		       "a regular file at the path: listen fails (errno %d) "
		       "and the file stays", errno);
	}
	unlink(plain);

	/* Closing the listening device removes its socket file. */
	TAP_OK(iodev_close_by(core, lid) == 0, "close the first listener");
	TAP_OK(WAIT_FOR(gone(path), 2000),
	       "its socket file is removed");
	errno = 0;
	d = epusock_connect(core, path, NULL, conn_handler,
	                    c = conn_new(K_CLIENT), 0);
	TAP_OK((d == NULL && (errno == ENOENT || errno == ECONNREFUSED)) ||
	       (d != NULL && WAIT_FOR(atomic_load(&c->ev[IOE_CONNFAIL]) == 1,
	                              2000)),
	       "a connect to the removed path fails (errno %d)", errno);
	if (fd >= 0)
		close(fd);
	TAP_OK(is_socket_file(stale), "the replacing listener's file is "
	       "there while it is open");
	epcore_free(core);
	TAP_OK(gone(stale), "epcore_free removed the socket file of the "
	       "listener still open");
out:
	unlink(path);
	unlink(stale);
	unlink(live);
	unlink(plain);
	TAP_OK(rmdir(dir) == 0, "nothing else was left in the temp dir");
}

/* ---- files, pipes, stdin ---- */

static void file_regular(int workers)
{
	enum { LEN = 20000 };
	char tmpl[] = "/tmp/t_net.file.XXXXXX";
	unsigned char data[LEN];
	epcore_t *core;
	struct conn *c;
	iodev_t *dev;
	int fd = mkstemp(tmpl);
	uint64_t id;

	if (fd < 0) {
		TAP_OK(0, "mkstemp");
		return;
	}
	unlink(tmpl);
	pattern(data, LEN, 3);
	if (write(fd, data, LEN) != LEN || lseek(fd, 0, SEEK_SET) != 0) {
		TAP_OK(0, "write the file");
		close(fd);
		return;
	}
	conns_reset();
	core = epcore_new(0);
	epcore_start_epump(core, 1);
	epcore_start_worker(core, workers);
	learn_threads(core);
	c = conn_new(K_FILE);
	dev = epfile_bind_fd(core, fd, NULL, conn_handler, c);
	if (!TAP_OK(dev != NULL, "file, %d workers: epfile_bind_fd on a "
	            "regular file (errno %d)", workers, dev ? 0 : errno)) {
		close(fd);
		epcore_free(core);
		return;
	}
	id = iodev_id(dev);
	TAP_IS(iodev_fdtype(dev), FDT_FILEDEV, "FDT_FILEDEV");
	TAP_OK(WAIT_FOR(atomic_load(&c->eof), 2000),
	       "the handler read to end of file");
	TAP_OK(conn_rx_is(c, data, LEN), "it read the whole content "
	       "(%ld bytes)", atomic_load(&c->rxbytes));
	tu_sleep_ms(200);
	TAP_IS(atomic_load(&c->ev[IOE_READ]), 1, "IOE_READ came once");
	TAP_IS(atomic_load(&c->total), 1, "and nothing else");
	TAP_IS(atomic_load(&c->wrong_thread), 0,
	       "on the device's own thread");
	TAP_OK(iodev_close_by(core, id) == 0, "close it");
	TAP_OK(WAIT_FOR(fcntl(fd, F_GETFD) < 0 && errno == EBADF, 2000),
	       "the device owned the fd: it is closed");
	epcore_free(core);
}

static void file_pipe(int workers)
{
	enum { NPIECE = 5, PIECE = 1500 };
	unsigned char data[NPIECE * PIECE];
	epcore_t *core;
	struct conn *c;
	iodev_t *dev;
	int p[2], i, inorder = 1;

	if (pipe(p) < 0) {
		TAP_OK(0, "pipe");
		return;
	}
	conns_reset();
	core = epcore_new(0);
	epcore_start_epump(core, 1);
	epcore_start_worker(core, workers);
	learn_threads(core);
	c = conn_new(K_FILE);
	dev = epfile_bind_fd(core, p[0], NULL, conn_handler, c);
	if (!TAP_OK(dev != NULL, "pipe, %d workers: epfile_bind_fd (errno "
	            "%d)", workers, dev ? 0 : errno)) {
		close(p[0]);
		close(p[1]);
		epcore_free(core);
		return;
	}
	pattern(data, sizeof(data), 4);
	tu_sleep_ms(20);
	TAP_IS(atomic_load(&c->total), 0, "no event before data is written");
	for (i = 0; i < NPIECE; i++) {
		if (write(p[1], data + i * PIECE, PIECE) != PIECE)
			inorder = 0;
		if (!WAIT_FOR(atomic_load(&c->rxbytes) >= (i + 1) * PIECE,
		              2000))
			inorder = 0;
	}
	TAP_OK(inorder, "each piece was read as it was written");
	TAP_IS(atomic_load(&c->eof), 0, "no end of file while the writer is "
	       "open");
	close(p[1]);
	TAP_OK(WAIT_FOR(atomic_load(&c->eof), 2000),
	       "end of file once the writer closed");
	TAP_OK(conn_rx_is(c, data, sizeof(data)), "all %d bytes, in order",
	       (int)sizeof(data));
	TAP_OK(atomic_load(&c->ev[IOE_READ]) >= NPIECE,
	       "IOE_READ per piece (%ld)", atomic_load(&c->ev[IOE_READ]));
	TAP_IS(atomic_load(&c->wrong_thread) + atomic_load(&c->rerr), 0,
	       "on the device's own thread, no read error");
	epcore_free(core);
}

static int stdin_child(void)
{
	static const char msg1[] = "hello stdin\n", msg2[] = "and bye\n";
	epcore_t *core;
	struct conn *c;
	iodev_t *dev;
	int p[2], fl;
	uint64_t id;

	if (pipe(p) < 0 || dup2(p[0], 0) < 0) {
		ck(0, "pipe onto fd 0");
		return 1;
	}
	close(p[0]);
	conns_reset();
	core = epcore_new(0);
	epcore_start_epump(core, 1);
	learn_threads(core);
	c = conn_new(K_FILE);
	dev = epfile_bind_stdin(core, NULL, conn_handler, c);
	ck(dev != NULL, "epfile_bind_stdin (errno %d)", dev ? 0 : errno);
	if (dev == NULL) {
		epcore_free(core);
		return 1;
	}
	id = iodev_id(dev);
	ck(iodev_fdtype(dev) == FDT_STDIN && iodev_fd(dev) == 0,
	   "FDT_STDIN on fd 0");
	if (write(p[1], msg1, strlen(msg1)) < 0)
		ck(0, "write");
	ck(WAIT_FOR(atomic_load(&c->rxbytes) >= (long)strlen(msg1), 2000),
	   "the first line was read");
	if (write(p[1], msg2, strlen(msg2)) < 0)
		ck(0, "write");
	close(p[1]);
	ck(WAIT_FOR(atomic_load(&c->eof), 2000), "end of file after the "
	   "writer closed");
	ck(conn_rx_is(c, (const unsigned char *)"hello stdin\nand bye\n",
	              strlen(msg1) + strlen(msg2)), "all of it, in order");
	ck(iodev_close_by(core, id) == 0, "iodev_close of the stdin device");
	tu_sleep_ms(100);
	fl = fcntl(0, F_GETFD);
	ck(fl >= 0, "fd 0 is still open after the close (fcntl %d, errno %d)",
	   fl, fl < 0 ? errno : 0);
	epcore_free(core);
	fl = fcntl(0, F_GETFL);
	ck(fl >= 0, "and after epcore_free");
	return 0;
}

/* ---- out of fds on accept ---- */

static struct {
	epcore_t *core;
	atomic_long calls, accepted, emfile, other_err;
	atomic_int last_err;
} em;

static int em_lsn(void *cbpara, void *obj, int event, int fdtype)
{
	int i;

	if (event != IOE_ACCEPT)
		return 0;
	atomic_fetch_add(&em.calls, 1);
	for (i = 0; i < 64; i++) {
		iodev_t *d = eptcp_accept(em.core, obj, NULL, sink_handler,
		                          NULL, BIND_CURRENT_EPUMP, 0);

		if (d == NULL) {
			if (errno == EMFILE || errno == ENFILE) {
				atomic_fetch_add(&em.emfile, 1);
			} else if (errno != EAGAIN) {
				atomic_fetch_add(&em.other_err, 1);
				atomic_store(&em.last_err, errno);
			}
			break;
		}
		atomic_fetch_add(&em.accepted, 1);
	}
	return 0;
}

static int emfile_child(void)
{
	enum { NCL = 20, LIMIT = 64, MAXFILL = 256 };
	struct sockaddr_storage ss;
	socklen_t len;
	char addr[64];
	iodev_t *ldev;
	int cl[NCL], fill[MAXFILL], nfill = 0, port = 0, i, e, conn_ok = 1;
	long c0, c1;

	memset(&em, 0, sizeof(em));
	em.core = epcore_new(0);
	epcore_start_epump(em.core, 1);
	ldev = eptcp_listen(em.core, "127.0.0.1", 0, NULL, em_lsn, NULL,
	                    BIND_ONE_EPUMP, 0);
	i = ldev != NULL && iodev_local_addr(ldev, addr, sizeof(addr),
	                                     &port) == 0;
	ck(i, "listening on 127.0.0.1 port %d", port);
	if (ldev == NULL) {
		epcore_free(em.core);
		return 1;
	}
	len = mkaddr("127.0.0.1", port, &ss);
	for (i = 0; i < NCL; i++)
		cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		               SOCK_CLOEXEC, 0);
	ck(child_lower_nofile(LIMIT) == 0, "RLIMIT_NOFILE lowered to %d",
	   LIMIT);
	while (nfill < MAXFILL) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			break;
		fill[nfill++] = fd;
	}
	e = errno;
	ck(nfill < MAXFILL && e == EMFILE, "fds used up: %d more opened, then "
	   "errno %d", nfill, e);
	for (i = 0; i < NCL; i++)
		if (cl[i] < 0 || (connect(cl[i], (struct sockaddr *)&ss,
		                          len) < 0 && errno != EINPROGRESS))
			conn_ok = 0;
	ck(conn_ok, "%d clients connect", NCL);
	ck(WAIT_FOR(atomic_load(&em.emfile) >= 1, 2000),
	   "eptcp_accept returned NULL with EMFILE");
	c0 = atomic_load(&em.calls);
	tu_sleep_ms(1000);
	c1 = atomic_load(&em.calls);
	ck(c1 - c0 < 50, "IOE_ACCEPT calls in 1 s while out of fds: %ld "
	   "(< 50: no busy loop)", c1 - c0);
	ck(c1 - c0 >= 2, "the listener tried again by itself meanwhile "
	   "(%ld calls)", c1 - c0);
	ck(atomic_load(&em.accepted) == 0, "nothing accepted meanwhile (%ld)",
	   atomic_load(&em.accepted));
	for (i = 0; i < nfill && i < 40; i++)
		close(fill[i]);
	conn_ok = WAIT_FOR(atomic_load(&em.accepted) >= NCL, 2000);
	ck(conn_ok, "with fds freed, the waiting connections are accepted "
	   "within 2 s (%ld of %d)", atomic_load(&em.accepted), NCL);
	ck(atomic_load(&em.other_err) == 0, "no other accept error (last %d)",
	   atomic_load(&em.last_err));
	for (; i < nfill; i++)
		close(fill[i]);
	for (i = 0; i < NCL; i++)
		if (cl[i] >= 0)
			close(cl[i]);
	epcore_free(em.core);
	return 0;
}

/* ---- a peer's reset while data is queued ---- */

static struct {
	epcore_t *core;
	atomic_long accepted, queued, events, after_close;
	atomic_int err, closed, eof;
	atomic_ullong id;
} rs;

static int rst_conn(void *cbpara, void *obj, int event, int fdtype)
{
	iodev_t *dev = obj;
	char buf[4096];
	int k;

	atomic_fetch_add(&rs.events, 1);
	if (atomic_load(&rs.closed))
		atomic_fetch_add(&rs.after_close, 1);
	if (event == IOE_READ) {
		for (k = 0; k < 10000; k++) {
			ssize_t n = read(iodev_fd(dev), buf, sizeof(buf));

			if (n > 0)
				continue;
			if (n == 0) {
				atomic_store(&rs.eof, 1);
			} else if (errno == EINTR) {
				continue;
			} else if (errno == EAGAIN) {
				break;
			} else {
				atomic_store(&rs.err, errno);
			}
			iodev_close(dev);
			atomic_store(&rs.closed, 1);
			break;
		}
	} else if (event == IOE_WRITE) {
		if (iodev_send(dev, "x", 1) < 0) {
			atomic_store(&rs.err, errno);
			iodev_close(dev);
			atomic_store(&rs.closed, 1);
		}
	}
	return 0;
}

static int rst_lsn(void *cbpara, void *obj, int event, int fdtype)
{
	static unsigned char big[2 << 20];
	iodev_t *d;
	int k;

	for (k = 0; k < 16 && (d = eptcp_accept(rs.core, obj, NULL, rst_conn,
	                                        NULL, BIND_CURRENT_EPUMP,
	                                        0)) != NULL; k++) {
		ssize_t r = iodev_send(d, big, sizeof(big));

		atomic_store(&rs.id, iodev_id(d));
		atomic_store(&rs.queued, r == (ssize_t)sizeof(big)
		                             ? (long)iodev_sendq_len(d) : -1);
		atomic_fetch_add(&rs.accepted, 1);
	}
	return 0;
}

static void peer_reset(int workers)
{
	struct linger lg = { 1, 0 };
	char addr[64];
	iodev_t *ldev;
	int port = 0, fd, small = 4096, e;

	memset(&rs, 0, sizeof(rs));
	rs.core = epcore_new(0);
	epcore_start_epump(rs.core, 1);
	epcore_start_worker(rs.core, workers);
	ldev = eptcp_listen(rs.core, "127.0.0.1", 0, NULL, rst_lsn, NULL,
	                    BIND_ONE_EPUMP, 0);
	if (ldev == NULL ||
	    iodev_local_addr(ldev, addr, sizeof(addr), &port) < 0) {
		TAP_OK(0, "listen for the reset case");
		epcore_free(rs.core);
		return;
	}
	/* Small buffers on both sides, so most of the data stays queued. */
	setsockopt(iodev_fd(ldev), SOL_SOCKET, SO_SNDBUF, &small,
	           sizeof(small));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	{
		struct sockaddr_storage ss;
		socklen_t len = mkaddr("127.0.0.1", port, &ss);

		if (connect(fd, (struct sockaddr *)&ss, len) < 0)
			tap_diag("connect: errno %d", errno);
	}
	TAP_OK(WAIT_FOR(atomic_load(&rs.accepted) == 1, 2000),
	       "reset, %d workers: accepted", workers);
	TAP_OK(atomic_load(&rs.queued) > 0,
	       "2 MiB sent to a peer that does not read: %ld bytes queued",
	       atomic_load(&rs.queued));
	tu_sleep_ms(20);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd); /* with SO_LINGER {1, 0}: a reset */
	TAP_OK(WAIT_FOR(atomic_load(&rs.closed), 2000),
	       "the server's handler saw the end and closed");
	e = atomic_load(&rs.err);
	TAP_OK(e == ECONNRESET || e == EPIPE,
	       "read or iodev_send failed with ECONNRESET/EPIPE (errno %d, "
	       "eof %d)", e, atomic_load(&rs.eof));
	TAP_OK(WAIT_FOR(iodev_by_id(rs.core, atomic_load(&rs.id)) == NULL,
	                1000) && errno == ENOENT,
	       "the device is gone (ENOENT)");
	tu_sleep_ms(50);
	TAP_IS(atomic_load(&rs.after_close), 0,
	       "no handler call after the close");
	epcore_free(rs.core);
}

/* ---- bad input ---- */

#define NULL_WITH(call, err, what)                                      \
	do {                                                            \
		void *r_;                                               \
		errno = 0;                                              \
		r_ = (void *)(call);                                    \
		TAP_OK(r_ == NULL && errno == (err), "%s: NULL, %s "    \
		       "(errno %d)", (what), #err, errno);              \
		if (r_ != NULL)                                         \
			iodev_close(r_);                                \
	} while (0)

#define MINUS1_WITH(call, err, what)                                    \
	do {                                                            \
		long r_;                                                \
		errno = 0;                                              \
		r_ = (long)(call);                                      \
		TAP_OK(r_ == -1 && errno == (err), "%s: -1, %s "        \
		       "(got %ld, errno %d)", (what), #err, r_, errno); \
	} while (0)

static void bad_input(void)
{
	epcore_t *core = epcore_new(0), *core2 = epcore_new(0);
	IOHandler *h = sink_handler;
	iodev_t *ldev, *udp, *pairdev;
	char small[4];
	int fds0, fd, sv[2], port;

	epcore_start_epump(core, 1);
	epcore_start_epump(core2, 1);
	fds0 = count_fds();
	NULL_WITH(eptcp_listen(NULL, "127.0.0.1", 0, NULL, h, NULL,
	                       BIND_ONE_EPUMP, 0), EINVAL,
	          "eptcp_listen NULL core");
	NULL_WITH(eptcp_listen(core, "127.0.0.1", 0, NULL, NULL, NULL,
	                       BIND_ONE_EPUMP, 0), EINVAL,
	          "eptcp_listen NULL handler");
	NULL_WITH(eptcp_listen(core, "300.1.2.3", 0, NULL, h, NULL,
	                       BIND_ONE_EPUMP, 0), EINVAL,
	          "eptcp_listen \"300.1.2.3\"");
	NULL_WITH(eptcp_listen(core, "localhost", 0, NULL, h, NULL,
	                       BIND_ONE_EPUMP, 0), EINVAL,
	          "eptcp_listen \"localhost\" (not a literal)");
	NULL_WITH(eptcp_listen(core, "127.0.0.1", -1, NULL, h, NULL,
	                       BIND_ONE_EPUMP, 0), EINVAL,
	          "eptcp_listen port -1");
	NULL_WITH(eptcp_listen(core, "127.0.0.1", 70000, NULL, h, NULL,
	                       BIND_ONE_EPUMP, 0), EINVAL,
	          "eptcp_listen port 70000");
	NULL_WITH(eptcp_connect(NULL, "127.0.0.1", 80, NULL, h, NULL, 0),
	          EINVAL, "eptcp_connect NULL core");
	NULL_WITH(eptcp_connect(core, "127.0.0.1", 80, NULL, NULL, NULL, 0),
	          EINVAL, "eptcp_connect NULL handler");
	NULL_WITH(eptcp_connect(core, NULL, 80, NULL, h, NULL, 0), EINVAL,
	          "eptcp_connect NULL host");
	NULL_WITH(eptcp_connect(core, "1.2.3", 80, NULL, h, NULL, 0), EINVAL,
	          "eptcp_connect \"1.2.3\"");
	NULL_WITH(eptcp_connect(core, "::1::2", 80, NULL, h, NULL, 0), EINVAL,
	          "eptcp_connect \"::1::2\"");
	NULL_WITH(eptcp_connect(core, "127.0.0.1", -1, NULL, h, NULL, 0),
	          EINVAL, "eptcp_connect port -1");
	NULL_WITH(eptcp_connect(core, "127.0.0.1", 70000, NULL, h, NULL, 0),
	          EINVAL, "eptcp_connect port 70000");
	NULL_WITH(epudp_listen(NULL, "127.0.0.1", 0, NULL, h, NULL,
	                       BIND_ONE_EPUMP, 0), EINVAL,
	          "epudp_listen NULL core");
	NULL_WITH(epudp_listen(core, "127.0.0.1", 0, NULL, NULL, NULL,
	                       BIND_ONE_EPUMP, 0), EINVAL,
	          "epudp_listen NULL handler");
	NULL_WITH(epudp_listen(core, "x.y.z.w", 0, NULL, h, NULL,
	                       BIND_ONE_EPUMP, 0), EINVAL,
	          "epudp_listen bad ip");
	NULL_WITH(epudp_listen(core, "127.0.0.1", 70000, NULL, h, NULL,
	                       BIND_ONE_EPUMP, 0), EINVAL,
	          "epudp_listen port 70000");
	NULL_WITH(epudp_client(NULL, "127.0.0.1", 9, NULL, h, NULL), EINVAL,
	          "epudp_client NULL core");
	NULL_WITH(epudp_client(core, "127.0.0.1", 9, NULL, NULL, NULL), EINVAL,
	          "epudp_client NULL handler");
	NULL_WITH(epudp_client(core, NULL, 9, NULL, h, NULL), EINVAL,
	          "epudp_client NULL host");
	NULL_WITH(epudp_client(core, "nohost", 9, NULL, h, NULL), EINVAL,
	          "epudp_client bad ip");
	NULL_WITH(epudp_client(core, "127.0.0.1", -1, NULL, h, NULL), EINVAL,
	          "epudp_client port -1");
	NULL_WITH(epusock_listen(NULL, "/tmp/x.sock", NULL, h, NULL,
	                         BIND_ONE_EPUMP, 0), EINVAL,
	          "epusock_listen NULL core");
	NULL_WITH(epusock_listen(core, "/tmp/x.sock", NULL, NULL, NULL,
	                         BIND_ONE_EPUMP, 0), EINVAL,
	          "epusock_listen NULL handler");
	NULL_WITH(epusock_listen(core, NULL, NULL, h, NULL, BIND_ONE_EPUMP,
	                         0), EINVAL, "epusock_listen NULL path");
	NULL_WITH(epusock_connect(NULL, "/tmp/x.sock", NULL, h, NULL, 0),
	          EINVAL, "epusock_connect NULL core");
	NULL_WITH(epusock_connect(core, NULL, NULL, h, NULL, 0), EINVAL,
	          "epusock_connect NULL path");
	NULL_WITH(epfile_bind_fd(NULL, 0, NULL, h, NULL), EINVAL,
	          "epfile_bind_fd NULL core");
	NULL_WITH(epfile_bind_fd(core, -1, NULL, h, NULL), EINVAL,
	          "epfile_bind_fd fd -1");
	NULL_WITH(epfile_bind_fd(core, 0, NULL, NULL, NULL), EINVAL,
	          "epfile_bind_fd NULL handler");
	fd = open("/dev/null", O_RDONLY);
	close(fd);
	NULL_WITH(epfile_bind_fd(core, fd, NULL, h, NULL), EBADF,
	          "epfile_bind_fd on a closed fd");
	NULL_WITH(epfile_bind_stdin(NULL, NULL, h, NULL), EINVAL,
	          "epfile_bind_stdin NULL core");
	MINUS1_WITH(eptcp_mlisten(NULL, "127.0.0.1", 0, NULL, h, NULL),
	            EINVAL, "eptcp_mlisten NULL core");
	MINUS1_WITH(eptcp_mlisten(core, "127.0.0.1", 0, NULL, NULL, NULL),
	            EINVAL, "eptcp_mlisten NULL handler");
	MINUS1_WITH(eptcp_mlisten(core, "not-an-ip", 0, NULL, h, NULL),
	            EINVAL, "eptcp_mlisten bad ip");
	MINUS1_WITH(eptcp_mlisten(core, "127.0.0.1", 70000, NULL, h, NULL),
	            EINVAL, "eptcp_mlisten port 70000");
	MINUS1_WITH(eptcp_mlisten_close(core, 1), ENOENT,
	            "eptcp_mlisten_close of nothing");

	/* Accepting on what does not listen. */
	ldev = eptcp_listen(core, "127.0.0.1", 0, NULL, h, NULL,
	                    BIND_ONE_EPUMP, 0);
	udp = epudp_listen(core, "127.0.0.1", 0, NULL, h, NULL,
	                   BIND_ONE_EPUMP, 0);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pairdev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL, h, NULL);
	iodev_bind_epump(pairdev, BIND_ONE_EPUMP, 0);
	TAP_OK(ldev != NULL && udp != NULL && pairdev != NULL,
	       "a listener, a UDP device and a connected device");
	NULL_WITH(eptcp_accept(core, NULL, NULL, h, NULL, BIND_CURRENT_EPUMP,
	                       0), EINVAL, "eptcp_accept NULL listener");
	NULL_WITH(eptcp_accept(core, udp, NULL, h, NULL, BIND_CURRENT_EPUMP,
	                       0), EINVAL, "eptcp_accept on a UDP device");
	NULL_WITH(eptcp_accept(core, pairdev, NULL, h, NULL,
	                       BIND_CURRENT_EPUMP, 0), EINVAL,
	          "eptcp_accept on a connected device");
	NULL_WITH(epusock_accept(core, pairdev, NULL, h, NULL,
	                         BIND_CURRENT_EPUMP, 0), EINVAL,
	          "epusock_accept on a connected device");
	NULL_WITH(eptcp_accept(core, ldev, NULL, NULL, NULL,
	                       BIND_CURRENT_EPUMP, 0), EINVAL,
	          "eptcp_accept NULL handler");
	NULL_WITH(eptcp_accept(core2, ldev, NULL, h, NULL, BIND_CURRENT_EPUMP,
	                       0), EINVAL,
	          "eptcp_accept with another core's listener");
	NULL_WITH(eptcp_accept(core, ldev, NULL, h, NULL, BIND_CURRENT_EPUMP,
	                       0), EAGAIN,
	          "eptcp_accept with nothing pending");
	MINUS1_WITH(iodev_local_addr(ldev, small, sizeof(small), &port),
	            ENOSPC, "iodev_local_addr into 4 bytes");
	MINUS1_WITH(iodev_local_addr(NULL, small, sizeof(small), &port),
	            EINVAL, "iodev_local_addr NULL device");
	MINUS1_WITH(iodev_peer_addr(ldev, small, sizeof(small), &port),
	            ENOTCONN, "iodev_peer_addr of a listener");
	iodev_close(ldev);
	iodev_close(udp);
	iodev_close(pairdev);
	close(sv[1]);
	fd = WAIT_FOR(count_fds() == fds0, 2000);
	TAP_OK(fd, "no fd left behind by the failed calls (%d, was %d)",
	       count_fds(), fds0);
	epcore_free(core);
	epcore_free(core2);
}

static void all(void)
{
	int v6 = have_ipv6();

	tcp_echo("127.0.0.1", 0);
	tcp_echo("127.0.0.1", 2);
	if (v6) {
		tcp_echo("::1", 0);
		tcp_echo("::1", 2);
	} else {
		tap_diag("skip: no IPv6 loopback here");
	}
	tcp_timeout_after_connect(0);
	tcp_timeout_after_connect(2);
	tcp_refused(0);
	tcp_refused(2);
	tcp_connect_timeout();
	reuse_queued();
	reuse_error();
	tcp_mlisten(0);
	tcp_mlisten(1);
	udp_roundtrip("127.0.0.1");
	if (v6)
		udp_roundtrip("::1");
	unix_sockets(0);
	unix_sockets(2);
	file_regular(0);
	file_regular(2);
	file_pipe(0);
	file_pipe(2);
	run_child("stdin", stdin_child, 10000);
	run_child("EMFILE", emfile_child, 15000);
	peer_reset(0);
	peer_reset(2);
	bad_input();
	conns_reset();
}

int main(void)
{
	return tap_backends(all);
}
