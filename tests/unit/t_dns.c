/*
 * t_dns.c - asynchronous DNS on c-ares (dns_query, epcore_dnsrv_add,
 * epcore_dns_config) and eptcp_connect() to a host name, against
 * tests/tools/dnsstub on 127.0.0.1 (the only server: /etc/resolv.conf is
 * not read).  IP literals, A and AAAA with TTLs, NXDOMAIN, SERVFAIL,
 * REFUSED, a truncated answer (retried over TCP), a slow answer and no
 * answer (timeouts), the cache (no packet within the TTL, a new query
 * after it), one lookup shared by concurrent queries, 1,000 concurrent
 * queries, the thread a callback runs on, connect by name (IPv6 refused,
 * then IPv4) and shutdown with queries pending.  Every wait has a
 * deadline.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <epump.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/un.h>
#include <sys/time.h>
#include "tap.h"
#include "testutil.h"

#define WAIT_FOR(cond, ms)                                              \
	({                                                              \
		uint64_t end_ = tu_now_ms() + (ms);                     \
		int ok_;                                                \
		while (!(ok_ = !!(cond)) && tu_now_ms() < end_)         \
			tu_sleep_ms(1);                                 \
		ok_;                                                    \
	})

/* ---- the stub ---- */

static pid_t stub_pid;
static int stub_port;

static int stub_start(void)
{
	const char *top = getenv("top_builddir");
	char path[1024];
	int p[2], n;
	char buf[32] = "";
	static const char *const rules[] = {
		"dnsstub",
		"a.test=a:10.1.1.1/300", "a.test=aaaa:2001:db8::a/300",
		"v6.test=aaaa:2001:db8::6/300",
		"ttl.test=a:10.0.0.3/1",
		"nx.test=nx", "sf.test=servfail", "ref.test=refused",
		"tc.test=tc:10.1.2.3/300",
		"slow.test=slow:1500:10.9.9.9", "drop.test=drop",
		"pend.test=drop",
		"same.test=a:10.0.0.2/300",
		"*.many.test=a:10.0.0.1/300",
		"echo.test=aaaa:::1/300", "echo.test=a:127.0.0.1/300",
		NULL
	};

	snprintf(path, sizeof(path), "%s/tests/tools/dnsstub",
	         top ? top : ".");
	if (pipe(p) < 0)
		return -1;
	stub_pid = fork();
	if (stub_pid < 0)
		return -1;
	if (stub_pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(path, (char *const *)rules);
		_exit(127);
	}
	close(p[1]);
	{
		struct pollfd pf = { p[0], POLLIN, 0 };

		if (poll(&pf, 1, 5000) != 1)
			n = -1;
		else
			n = (int)read(p[0], buf, sizeof(buf) - 1);
	}
	close(p[0]);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	stub_port = atoi(buf);
	return stub_port > 0 ? 0 : -1;
}

static void stub_stop(void)
{
	if (stub_pid > 0) {
		kill(stub_pid, SIGTERM);
		waitpid(stub_pid, NULL, 0);
		stub_pid = 0;
	}
}

/* A control command to the stub; its numeric answer, or -1. */
static long stub_ask(const char *cmd)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct pollfd pf = { fd, POLLIN, 0 };
	char buf[64], msg[320];
	ssize_t n;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)stub_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(msg, sizeof(msg), "!ctl %s", cmd);
	if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
	           sizeof(sa)) < 0 || poll(&pf, 1, 2000) != 1) {
		close(fd);
		return -1;
	}
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return atol(buf);
}

static long stub_count(const char *name)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "!count %s", name);
	return stub_ask(cmd);
}

/* ---- results ---- */

struct res {
	atomic_int calls;
	int status, naddrs, from_cache;
	dns_addr_t addrs[8];
	pthread_t thr;
	atomic_int *returned;       /* dns_query had returned when it ran */
	int early;
};

static void got(void *cbobj, const dns_result_t *r)
{
	struct res *x = cbobj;
	int i;

	x->status = r->status;
	x->naddrs = r->naddrs;
	x->from_cache = r->from_cache;
	for (i = 0; i < r->naddrs && i < 8; i++)
		x->addrs[i] = r->addrs[i];
	x->thr = pthread_self();
	if (x->returned != NULL && !atomic_load(x->returned))
		x->early = 1;
	atomic_fetch_add(&x->calls, 1);
}

static int query_wait(epcore_t *core, const char *name, struct res *x,
                      unsigned ms)
{
	memset(x, 0, sizeof(*x));
	if (dns_query(core, name, got, x) < 0)
		return -1;
	return WAIT_FOR(atomic_load(&x->calls) > 0, ms) ? 0 : -1;
}

static int has_addr(const struct res *x, int fam, const char *ip)
{
	unsigned char b[16];
	int i;

	if (inet_pton(fam, ip, b) != 1)
		return 0;
	for (i = 0; i < x->naddrs && i < 8; i++)
		if (x->addrs[i].family == fam &&
		    memcmp(x->addrs[i].addr, b, fam == AF_INET ? 4 : 16) == 0)
			return 1;
	return 0;
}

/* ---- the thread a callback runs on ---- */

struct onthr {
	epcore_t *core;
	struct res r;
	atomic_int returned;
	pthread_t asker;
	atomic_int asked;
	int rc;
};

static int ask_here(void *cbpara, void *para, int event, int fdtype)
{
	struct onthr *o = para;

	o->asker = pthread_self();
	memset(&o->r, 0, sizeof(o->r));
	o->r.returned = &o->returned;
	o->rc = dns_query(o->core, "127.0.0.1", got, &o->r);
	atomic_store(&o->returned, 1);
	atomic_store(&o->asked, 1);
	return 0;
}

static void thread_case(epcore_t *core, int kind, int index,
                        const char *what)
{
	struct onthr o;

	memset(&o, 0, sizeof(o));
	o.core = core;
	TAP_OK(epcore_post(core, kind, index, IOE_USER_DEFINED, &o, ask_here,
	                   NULL) == 0 &&
	       WAIT_FOR(atomic_load(&o.asked) &&
	                atomic_load(&o.r.calls) > 0, 3000) &&
	       o.rc == 0 && !o.r.early && o.r.status == DNS_OK &&
	       pthread_equal(o.asker, o.r.thr),
	       "a literal asked on %s: answered after dns_query returned, "
	       "on the asking thread", what);
}

/* ---- an echo server and a client by name ---- */

struct cli {
	atomic_int connected, failed, err, other;
	char rx[64];
	atomic_int rxlen;
};

static int echo_h(void *cbpara, void *obj, int event, int fdtype)
{
	iodev_t *dev = obj;
	char buf[512];
	ssize_t n;

	if (event == IOE_ACCEPT) {
		while (eptcp_accept(iodev_core(dev), dev, NULL, echo_h, NULL,
		                    BIND_CURRENT_EPUMP, 0) != NULL)
			;
		return 0;
	}
	if (event == IOE_READ) {
		while ((n = read(iodev_fd(dev), buf, sizeof(buf))) > 0)
			(void)iodev_send(dev, buf, (size_t)n);
		if (n == 0)
			iodev_close(dev);
	}
	return 0;
}

static int cli_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct cli *c = cbpara;
	iodev_t *dev = obj;
	ssize_t n;

	switch (event) {
	case IOE_CONNECTED:
		atomic_fetch_add(&c->connected, 1);
		(void)iodev_send(dev, "hello", 5);
		break;
	case IOE_CONNFAIL:
		atomic_store(&c->err, iodev_error(dev));
		atomic_fetch_add(&c->failed, 1);
		iodev_close(dev);
		break;
	case IOE_READ: {
		int l = atomic_load(&c->rxlen);

		while ((n = read(iodev_fd(dev), c->rx + l,
		                 sizeof(c->rx) - 1 - (size_t)l)) > 0)
			l += (int)n;
		atomic_store(&c->rxlen, l);
		break;
	}
	default:
		atomic_fetch_add(&c->other, 1);
	}
	return 0;
}

/* ---- the cases ---- */

#define NMANY 1000
static struct res many[NMANY];

static void cancel_case(void)
{
	epcore_t *core = epcore_new(0);
	static struct res r[5];
	struct cli c;
	int i, ok = 1;

	memset(&c, 0, sizeof(c));
	memset(r, 0, sizeof(r));
	TAP_OK(core != NULL && epcore_dnsrv_add(core, "127.0.0.1",
	                                        stub_port) == 0 &&
	       epcore_start_epump(core, 1) == 1, "a second core");
	if (core == NULL)
		return;
	for (i = 0; i < 5; i++)
		ok &= dns_query(core, "pend.test", got, &r[i]) == 0;
	ok &= eptcp_connect(core, "pend.test", 9, NULL, cli_h, &c, 0) != NULL;
	TAP_OK(ok, "5 queries and a connect for a name nobody answers");
	tu_sleep_ms(50);
	TAP_IS(epcore_free(core), 0, "epcore_free with them pending");
	for (i = 0; i < 5; i++)
		ok &= atomic_load(&r[i].calls) == 1 &&
		      r[i].status == DNS_ECANCELED;
	TAP_OK(ok, "each callback ran once, DNS_ECANCELED, before "
	           "epcore_free returned");
	TAP_OK(atomic_load(&c.connected) == 0 && atomic_load(&c.failed) == 0,
	       "the pending connect reports nothing after free");
}

/* c-ares's sockets are devices like any other: the stats socket shows
 * the one a pending query uses (a server that never answers). */
static void stats_case(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { 2, 0 };
	char path[64], want[64], buf[16384];
	socklen_t al = sizeof(a);
	size_t len = 0;
	epcore_t *core;
	struct res x;
	int u, fd;

	memset(&x, 0, sizeof(x));
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(u, (struct sockaddr *)&a, sizeof(a));
	getsockname(u, (struct sockaddr *)&a, &al);
	snprintf(path, sizeof(path), "/tmp/t_dns.%d.sock", (int)getpid());
	core = epcore_new(0);
	epcore_start_epump(core, 1);
	epcore_stats_enable(core, path);
	epcore_dnsrv_add(core, "127.0.0.1", ntohs(a.sin_port));
	dns_query(core, "silent.example", got, &x);
	usleep(200000);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
	    write(fd, "show fds\n", 9) == 9) {
		ssize_t n;

		while (len + 1 < sizeof(buf) &&
		       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
			len += (size_t)n;
			buf[len] = '\0';
			if (strstr(buf, "\n\n") != NULL)
				break;
		}
	}
	buf[len] = '\0';
	snprintf(want, sizeof(want), "remote=127.0.0.1:%d ",
	         ntohs(a.sin_port));
	TAP_OK(strstr(buf, "type=udpcli") != NULL && strstr(buf, want) != NULL,
	       "a query's c-ares socket is a device in the stats socket's "
	       "show fds (%s)", want);
	close(fd);
	epcore_free(core);
	TAP_IS(atomic_load(&x.calls), 1, "and its callback ran once, "
	       "cancelled by epcore_free");
	close(u);
}

static void run(void)
{
	epcore_t *core;
	struct res x, y;
	iodev_t *ldev, *cdev;
	struct cli c, c2;
	int i, ok, port, rc;
	long cnt;
	char ip[64];
	uint64_t t0;

	if (!TAP_OK(stub_start() == 0, "dnsstub runs on 127.0.0.1:%d",
	            stub_port))
		return;
	core = epcore_new(0);
	TAP_OK(core != NULL, "epcore_new");
	if (core == NULL) {
		stub_stop();
		return;
	}
	TAP_IS(epcore_dnsrv_add(core, "127.0.0.1", stub_port), 0,
	       "epcore_dnsrv_add: the stub only");
	TAP_IS(epcore_dns_config(core, 300, 2), 0,
	       "epcore_dns_config 300 ms, 2 tries");
	TAP_IS(epcore_start_epump(core, 2), 2, "two epumps");
	TAP_IS(epcore_start_worker(core, 1), 1, "one worker");

	/* bad input */
	errno = 0;
	TAP_OK(dns_query(core, "a..b", got, &x) == -1 && errno == EINVAL,
	       "dns_query \"a..b\": EINVAL");
	errno = 0;
	TAP_OK(dns_query(core, "1.2.3", got, &x) == -1 && errno == EINVAL,
	       "dns_query \"1.2.3\": EINVAL");
	errno = 0;
	TAP_OK(dns_query(core, "a.test", NULL, &x) == -1 && errno == EINVAL,
	       "dns_query NULL callback: EINVAL");
	TAP_OK(epcore_dnsrv_add(core, "nowhere", 53) == -1 && errno == EINVAL,
	       "epcore_dnsrv_add of a name: EINVAL");

	/* literals, and the thread a callback runs on */
	TAP_OK(query_wait(core, "192.0.2.7", &x, 2000) == 0 &&
	       x.status == DNS_OK && x.naddrs == 1 && x.from_cache &&
	       has_addr(&x, AF_INET, "192.0.2.7") && stub_ask("!total") == 0,
	       "an IPv4 literal answers without a query");
	TAP_OK(query_wait(core, "[2001:db8::1]", &y, 2000) == 0 &&
	       y.status == DNS_OK && y.naddrs == 1 &&
	       has_addr(&y, AF_INET6, "2001:db8::1"),
	       "an IPv6 literal in brackets");
	thread_case(core, EPT_EPUMP, 1, "epump 1");
	thread_case(core, EPT_WORKER, 0, "worker 0");

	/* A and AAAA, with TTLs */
	rc = query_wait(core, "a.test", &x, 3000);
	TAP_OK(rc == 0 &&
	       x.status == DNS_OK && x.naddrs == 2 &&
	       x.addrs[0].family == AF_INET6 &&
	       has_addr(&x, AF_INET, "10.1.1.1") &&
	       has_addr(&x, AF_INET6, "2001:db8::a") &&
	       x.addrs[0].ttl > 290 && x.addrs[0].ttl <= 300 && !x.from_cache,
	       "a.test: A and AAAA, IPv6 first, TTL 300 (got status %d, "
	       "%d addresses)", x.status, x.naddrs);
	TAP_IS(stub_count("a.test"), 2, "a.test: two packets (A, AAAA)");
	TAP_OK(query_wait(core, "A.Test.", &y, 2000) == 0 &&
	       y.status == DNS_OK && y.naddrs == 2 && y.from_cache &&
	       stub_count("a.test") == 2,
	       "a repeat within the TTL comes from the cache, no packet");
	TAP_OK(query_wait(core, "v6.test", &x, 3000) == 0 &&
	       x.status == DNS_OK && x.naddrs == 1 &&
	       has_addr(&x, AF_INET6, "2001:db8::6"), "v6.test: AAAA only");

	/* TTL expiry */
	TAP_OK(query_wait(core, "ttl.test", &x, 3000) == 0 &&
	       x.status == DNS_OK && x.addrs[0].ttl == 1 &&
	       stub_count("ttl.test") == 2, "ttl.test: TTL 1");
	tu_sleep_ms(1100);
	rc = query_wait(core, "ttl.test", &x, 3000);
	cnt = stub_count("ttl.test");
	TAP_OK(rc == 0 && x.status == DNS_OK && !x.from_cache && cnt == 4,
	       "after the TTL, a new query (stub count %ld)", cnt);

	/* errors */
	rc = query_wait(core, "nx.test", &x, 3000);
	TAP_OK(rc == 0 &&
	       x.status == DNS_ENONAME && x.naddrs == 0,
	       "NXDOMAIN: DNS_ENONAME (got %d)", x.status);
	rc = query_wait(core, "sf.test", &x, 3000);
	TAP_OK(rc == 0 &&
	       x.status == DNS_ESERVFAIL, "SERVFAIL: DNS_ESERVFAIL (got %d)",
	       x.status);
	rc = query_wait(core, "ref.test", &x, 3000);
	TAP_OK(rc == 0 &&
	       x.status == DNS_EREFUSED, "REFUSED: DNS_EREFUSED (got %d)",
	       x.status);
	rc = query_wait(core, "tc.test", &x, 3000);
	cnt = stub_ask("!tcp");
	TAP_OK(rc == 0 &&
	       x.status == DNS_OK && has_addr(&x, AF_INET, "10.1.2.3") &&
	       cnt > 0,
	       "a truncated answer is asked again over TCP (got %d, tcp "
	       "queries %ld)", x.status, cnt);
	t0 = tu_now_ms();
	memset(&x, 0, sizeof(x));
	memset(&y, 0, sizeof(y));
	ok = dns_query(core, "slow.test", got, &x) == 0 &&
	     dns_query(core, "drop.test", got, &y) == 0;
	ok = ok && WAIT_FOR(atomic_load(&x.calls) && atomic_load(&y.calls),
	                    4000);
	TAP_OK(ok && x.status == DNS_ETIMEOUT && y.status == DNS_ETIMEOUT,
	       "a slow answer and none: DNS_ETIMEOUT (got %d, %d) after "
	       "%llu ms", x.status, y.status,
	       (unsigned long long)(tu_now_ms() - t0));
	TAP_OK(atomic_load(&x.calls) == 1 && atomic_load(&y.calls) == 1,
	       "once each");

	/* one lookup shared */
	{
		static struct res s[50];

		memset(s, 0, sizeof(s));
		ok = 1;
		for (i = 0; i < 50; i++)
			ok &= dns_query(core, "same.test", got, &s[i]) == 0;
		for (i = 0; i < 50 && ok; i++)
			ok &= WAIT_FOR(atomic_load(&s[i].calls) == 1, 3000) &&
			      s[i].status == DNS_OK &&
			      has_addr(&s[i], AF_INET, "10.0.0.2");
		cnt = stub_count("same.test");
		TAP_OK(ok && cnt == 2, "50 concurrent queries for one name: "
		       "one lookup (stub count %ld)", cnt);
	}

	/* 1,000 at once */
	/* A burst of 2,000 datagrams may lose some on a loaded machine
	 * (c-ares's socket buffer): enough tries that loss only delays. */
	TAP_IS(epcore_dns_config(core, 1000, 8), 0,
	       "epcore_dns_config while idle");
	memset(many, 0, sizeof(many));
	ok = 1;
	t0 = tu_now_ms();
	for (i = 0; i < NMANY; i++) {
		char name[64];

		snprintf(name, sizeof(name), "q%d.many.test", i);
		ok &= dns_query(core, name, got, &many[i]) == 0;
	}
	TAP_OK(ok, "1,000 concurrent queries started");
	for (i = 0; i < NMANY && ok; i++)
		ok &= WAIT_FOR(atomic_load(&many[i].calls) >= 1, 60000) &&
		      many[i].status == DNS_OK &&
		      has_addr(&many[i], AF_INET, "10.0.0.1");
	tu_sleep_ms(20);
	for (i = 0; i < NMANY && ok; i++)
		ok &= atomic_load(&many[i].calls) == 1;
	TAP_OK(ok, "all 1,000 answered, once each, in %llu ms",
	       (unsigned long long)(tu_now_ms() - t0));

	/* connect by name */
	memset(&c, 0, sizeof(c));
	memset(&c2, 0, sizeof(c2));
	ldev = eptcp_listen(core, "127.0.0.1", 0, NULL, echo_h, NULL,
	                    BIND_ONE_EPUMP, 0);
	port = 0;
	TAP_OK(ldev != NULL && iodev_local_addr(ldev, ip, sizeof(ip),
	                                        &port) == 0,
	       "an echo server on 127.0.0.1:%d", port);
	cdev = eptcp_connect(core, "echo.test", port, NULL, cli_h, &c, 5000);
	TAP_OK(cdev != NULL, "eptcp_connect(\"echo.test\") gives a device "
	       "at once");
	TAP_OK(WAIT_FOR(atomic_load(&c.rxlen) >= 5, 5000) &&
	       memcmp(c.rx, "hello", 5) == 0,
	       "connected (::1 refused, then 127.0.0.1) and echoed");
	tu_sleep_ms(20);
	TAP_OK(atomic_load(&c.connected) == 1 && atomic_load(&c.failed) == 0,
	       "exactly one IOE_CONNECTED, no IOE_CONNFAIL (%d, %d)",
	       atomic_load(&c.connected), atomic_load(&c.failed));
	cdev = eptcp_connect(core, "nx.test", port, NULL, cli_h, &c2, 5000);
	TAP_OK(cdev != NULL && WAIT_FOR(atomic_load(&c2.failed) == 1, 5000) &&
	       atomic_load(&c2.err) == ENOENT &&
	       atomic_load(&c2.connected) == 0,
	       "a name that does not exist: one IOE_CONNFAIL, ENOENT (%d)",
	       atomic_load(&c2.err));
	memset(&c2, 0, sizeof(c2));
	cdev = eptcp_connect(core, "drop.test", port, NULL, cli_h, &c2, 200);
	TAP_OK(cdev != NULL && WAIT_FOR(atomic_load(&c2.failed) == 1, 3000) &&
	       atomic_load(&c2.err) == ETIMEDOUT,
	       "a name nobody answers, timeout 200 ms: IOE_CONNFAIL, "
	       "ETIMEDOUT (%d)", atomic_load(&c2.err));
	errno = 0;
	TAP_OK(eptcp_connect(core, "bad..name", port, NULL, cli_h, &c2, 0) ==
	       NULL && errno == EINVAL, "eptcp_connect(\"bad..name\"): EINVAL");

	TAP_IS(epcore_free(core), 0, "epcore_free");
	cancel_case();
	stats_case();
	stub_stop();
}

int main(void)
{
	return tap_backends(run);
}
