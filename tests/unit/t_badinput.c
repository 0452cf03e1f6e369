/*
 * t_badinput.c - the whole of include/epump.h fed bad input: NULL
 * pointers, closed devices, closed, stale, made-up and 0 ids, negative
 * counts, unknown enum values, out-of-range ports and huge sizes.  Every
 * call must fail with the error value and the errno the header documents,
 * and never crash; the objects it was handed keep working.
 *
 * The checked calls record the function they call (from the macro's
 * stringified call), and the test ends by reading include/epump.h (from
 * $top_srcdir, exported by the test harness) for every EPUMP_API
 * function: one the test does not call is a failure, so a function added
 * to the header without bad-input cases here fails this test.
 */
#include <epump.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

#define WAIT_MS 10000u

/* ---- which API functions were exercised ---- */

#define MAXFN 256
static char covered[MAXFN][64];
static int ncovered;

/* Records the function named at the start of the call's text. */
static void cover(const char *calltext)
{
	char name[64];
	size_t n = 0;
	int i;

	while (isspace((unsigned char)*calltext))
		calltext++;
	while ((isalnum((unsigned char)calltext[n]) || calltext[n] == '_') &&
	       n < sizeof(name) - 1) {
		name[n] = calltext[n];
		n++;
	}
	name[n] = '\0';
	for (i = 0; i < ncovered; i++)
		if (strcmp(covered[i], name) == 0)
			return;
	if (ncovered < MAXFN)
		strcpy(covered[ncovered++], name);
}

static const char *errname(int e)
{
	static __thread char buf[32];

	switch (e) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case ECANCELED: return "ECANCELED";
	case ESRCH: return "ESRCH";
	case EDEADLK: return "EDEADLK";
	case EBADF: return "EBADF";
	case EALREADY: return "EALREADY";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case ENOSPC: return "ENOSPC";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOTCONN: return "ENOTCONN";
	case ENOTSOCK: return "ENOTSOCK";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default:
		snprintf(buf, sizeof(buf), "errno %d", e);
		return buf;
	}
}

/* int or ssize_t result: -1 and errno want */
#define FAIL(call, want) do {                                               \
	long long r_;                                                       \
	int e_;                                                             \
	cover(#call);                                                       \
	errno = 0;                                                          \
	r_ = (long long)(call);                                             \
	e_ = errno;                                                         \
	tap_ok(r_ == -1 && e_ == (want), "%s -> -1/%s (got %lld/%s)", #call, \
	       errname(want), r_, errname(e_));                             \
} while (0)

/* pointer result: NULL and errno want */
#define FAILNULL(call, want) do {                                           \
	const void *r_;                                                     \
	int e_;                                                             \
	cover(#call);                                                       \
	errno = 0;                                                          \
	r_ = (call);                                                        \
	e_ = errno;                                                         \
	tap_ok(r_ == NULL && e_ == (want), "%s -> NULL/%s (got %p/%s)",     \
	       #call, errname(want), r_, errname(e_));                      \
} while (0)

/* id or size result: 0 and errno want */
#define FAIL0(call, want) do {                                              \
	unsigned long long r_;                                              \
	int e_;                                                             \
	cover(#call);                                                       \
	errno = 0;                                                          \
	r_ = (unsigned long long)(call);                                    \
	e_ = errno;                                                         \
	tap_ok(r_ == 0 && e_ == (want), "%s -> 0/%s (got %llu/%s)", #call,  \
	       errname(want), r_, errname(e_));                             \
} while (0)

/* void call: it returns (does not crash); the caller checks the rest */
#define VOIDCALL(call) do {                                                 \
	cover(#call);                                                       \
	call;                                                               \
	tap_ok(1, "%s returns", #call);                                     \
} while (0)

/* a call that must succeed (the good input next to the bad) */
#define GOOD(call) (cover(#call), (call))

static atomic_long nop_calls;

static int nop_h(void *cbpara, void *obj, int event, int fdtype)
{
	(void)cbpara; (void)obj; (void)event; (void)fdtype;
	atomic_fetch_add(&nop_calls, 1);
	return 0;
}

static void nop_dns(void *cbobj, const dns_result_t *res)
{
	(void)cbobj; (void)res;
}

static epcore_t *new_core(int nepumps)
{
	epcore_t *core = epcore_new(0);

	if (core == NULL) {
		tap_ok(0, "epcore_new: %s", strerror(errno));
		return NULL;
	}
	if (nepumps > 0 && epcore_start_epump(core, nepumps) != nepumps) {
		tap_ok(0, "epcore_start_epump(%d): %s", nepumps,
		       strerror(errno));
		epcore_free(core);
		return NULL;
	}
	return core;
}

/* One end of a socketpair (the other end kept in *peer, or closed). */
static int sock_fd(int *peer)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	if (peer != NULL)
		*peer = sv[1];
	else
		close(sv[1]);
	return sv[0];
}

static int fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/* Runs fn(core, arg) in a user event on epump 0 and waits for it. */
struct call {
	void (*fn)(epcore_t *, void *);
	epcore_t *core;
	void *arg;
	atomic_long done;
};

static int call_h(void *cbpara, void *para, int event, int fdtype)
{
	struct call *c = cbpara;

	(void)para; (void)event; (void)fdtype;
	c->fn(c->core, c->arg);
	atomic_store(&c->done, 1);
	return 0;
}

static int run_in_handler(epcore_t *core, void (*fn)(epcore_t *, void *),
                          void *arg)
{
	static struct call c;

	c.fn = fn;
	c.core = core;
	c.arg = arg;
	atomic_store(&c.done, 0);
	if (epcore_post(core, EPT_EPUMP, 0, IOE_USER_DEFINED, NULL, call_h,
	                &c) < 0)
		return 0;
	return tu_wait_ge(&c.done, 1, WAIT_MS);
}

/* ---- the core ---- */

static void in_handler_core(epcore_t *core, void *arg)
{
	(void)arg;
	FAIL(epcore_free(core), EDEADLK);
	FAIL(epcore_stats_enable(core, NULL), EDEADLK);
}

static void t_core(void)
{
	char *saved = getenv("EPUMP_BACKEND") ?
	              strdup(getenv("EPUMP_BACKEND")) : NULL;
	const char *v;
	char longpath[300];
	epcore_t *core;

	v = GOOD(epump_version());
	TAP_OK(v != NULL && strcmp(v, "1.0.0") == 0, "epump_version() is "
	       "1.0.0 (takes no input)");

	setenv("EPUMP_BACKEND", "no-such-backend", 1);
	FAILNULL(epcore_new(0), EINVAL);
	setenv("EPUMP_BACKEND", "", 1);
	core = GOOD(epcore_new(INT_MIN));
	TAP_OK(core != NULL, "epcore_new(INT_MIN), empty EPUMP_BACKEND: the "
	       "hard limit, the best backend");
	if (core != NULL)
		epcore_free(core);
	if (saved != NULL) {
		setenv("EPUMP_BACKEND", saved, 1);
		free(saved);
	} else {
		unsetenv("EPUMP_BACKEND");
	}

	FAIL(epcore_free(NULL), EINVAL);
	VOIDCALL(epcore_stop(NULL));
	FAIL(epcore_start_epump(NULL, 1), EINVAL);
	FAIL(epcore_start_worker(NULL, 1), EINVAL);
	FAIL(epump_main_start(NULL), EINVAL);
	FAILNULL(epcore_backend(NULL), EINVAL);
	FAIL(epcore_epump_count(NULL), EINVAL);
	FAIL(epcore_worker_count(NULL), EINVAL);
	FAIL(epcore_stats_enable(NULL, NULL), EINVAL);
	FAILNULL(epcore_stats_path(NULL), EINVAL);
	FAIL(epcore_post(NULL, EPT_EPUMP, -1, IOE_USER_DEFINED, NULL, nop_h,
	                 NULL), EINVAL);
	FAIL(iodev_post(NULL, 1, IOE_USER_DEFINED, NULL, nop_h, NULL), EINVAL);
	FAIL0(iotimer_start(NULL, 1, 0, NULL, nop_h, NULL), EINVAL);
	FAIL(iotimer_stop(NULL, 1), EINVAL);
	FAIL(iotimer_restart(NULL, 1, 10), EINVAL);
	FAIL(iodev_close_by(NULL, 1), EINVAL);
	FAILNULL(iodev_by_id(NULL, 1), EINVAL);
	FAIL(dns_query(NULL, "localhost", nop_dns, NULL), EINVAL);
	FAIL(epcore_dnsrv_add(NULL, "127.0.0.1", 53), EINVAL);
	FAIL(epcore_dns_config(NULL, 100, 1), EINVAL);
	FAIL(eptcp_mlisten(NULL, "127.0.0.1", 0, NULL, nop_h, NULL), EINVAL);
	FAIL(eptcp_mlisten_close(NULL, 1), EINVAL);
	FAILNULL(eptcp_listen(NULL, "127.0.0.1", 0, NULL, nop_h, NULL,
	                      BIND_ONE_EPUMP, 0), EINVAL);
	FAILNULL(eptcp_connect(NULL, "127.0.0.1", 1, NULL, nop_h, NULL, 0),
	         EINVAL);
	FAILNULL(epudp_listen(NULL, "127.0.0.1", 0, NULL, nop_h, NULL,
	                      BIND_ONE_EPUMP, 0), EINVAL);
	FAILNULL(epudp_client(NULL, "127.0.0.1", 9, NULL, nop_h, NULL), EINVAL);
	FAILNULL(epusock_listen(NULL, "/tmp/x.sock", NULL, nop_h, NULL,
	                        BIND_ONE_EPUMP, 0), EINVAL);
	FAILNULL(epusock_connect(NULL, "/tmp/x.sock", NULL, nop_h, NULL, 0),
	         EINVAL);
	FAILNULL(epfile_bind_fd(NULL, 0, NULL, nop_h, NULL), EINVAL);
	FAILNULL(epfile_bind_stdin(NULL, NULL, nop_h, NULL), EINVAL);

	/* A live core, bad values. */
	core = new_core(1);
	if (core == NULL)
		return;
	FAIL(epcore_start_worker(core, -1), EINVAL);
	FAIL(epcore_start_worker(core, INT_MIN), EINVAL);
	TAP_IS(epcore_worker_count(core), 0, "the refused starts started no "
	       "worker");
	FAILNULL(epcore_stats_path(core), ENOENT);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	FAIL(epcore_stats_enable(core, longpath), ENAMETOOLONG);
	FAILNULL(epcore_stats_path(core), ENOENT);
	TAP_OK(run_in_handler(core, in_handler_core, NULL), "from a handler: "
	       "epcore_free and epcore_stats_enable refuse (EDEADLK)");
	TAP_IS(epcore_epump_count(core), 1, "the core still has its epump");

	/* A stopped core refuses new work. */
	epcore_stop(core);
	VOIDCALL(epcore_stop(core));
	FAIL(epcore_start_epump(core, 1), ECANCELED);
	FAIL(epcore_start_worker(core, 1), ECANCELED);
	FAIL(epump_main_start(core), ECANCELED);
	FAIL(epcore_post(core, EPT_EPUMP, 0, IOE_USER_DEFINED, NULL, nop_h,
	                 NULL), ECANCELED);
	FAIL0(iotimer_start(core, 1, 0, NULL, nop_h, NULL), ECANCELED);
	FAIL(dns_query(core, "localhost", nop_dns, NULL), ECANCELED);
	{
		int fd = sock_fd(NULL);

		FAILNULL(iodev_new(core, fd, FDT_USOCK_CONNECTED, NULL, nop_h,
		                   NULL), ECANCELED);
		TAP_OK(fd_open(fd), "the refused iodev_new left the fd to "
		       "the caller");
		close(fd);
	}
	TAP_IS(epcore_free(core), 0, "then epcore_free of the stopped core");
}

/* ---- user events and timers ---- */

static void t_post_timers(void)
{
	static const int bad_kinds[] = { 0, 3, -1, INT_MAX, INT_MIN };
	epcore_t *core = new_core(1);
	uint64_t id, tid;
	iodev_t *dev;
	size_t i;

	if (core == NULL)
		return;
	for (i = 0; i < sizeof(bad_kinds) / sizeof(bad_kinds[0]); i++)
		FAIL(epcore_post(core, bad_kinds[i], -1, IOE_USER_DEFINED,
		                 NULL, nop_h, NULL), EINVAL);
	FAIL(epcore_post(core, EPT_EPUMP, -1, IOE_USER_DEFINED - 1, NULL,
	                 nop_h, NULL), EINVAL);
	FAIL(epcore_post(core, EPT_EPUMP, -1, INT_MIN, NULL, nop_h, NULL),
	     EINVAL);
	FAIL(epcore_post(core, EPT_EPUMP, -1, IOE_USER_DEFINED, NULL, NULL,
	                 NULL), EINVAL);
	FAIL(epcore_post(core, EPT_EPUMP, -2, IOE_USER_DEFINED, NULL, nop_h,
	                 NULL), EINVAL);
	FAIL(epcore_post(core, EPT_WORKER, INT_MIN, IOE_USER_DEFINED, NULL,
	                 nop_h, NULL), EINVAL);
	FAIL(epcore_post(core, EPT_EPUMP, 1, IOE_USER_DEFINED, NULL, nop_h,
	                 NULL), ESRCH);
	FAIL(epcore_post(core, EPT_WORKER, INT_MAX, IOE_USER_DEFINED, NULL,
	                 nop_h, NULL), ESRCH);

	/* iodev_post: ids that name no live device. */
	FAIL(iodev_post(core, 0, IOE_USER_DEFINED, NULL, nop_h, NULL), ENOENT);
	FAIL(iodev_post(core, UINT64_MAX, IOE_USER_DEFINED, NULL, nop_h, NULL),
	     ENOENT);
	dev = iodev_new(core, sock_fd(NULL), FDT_USOCK_CONNECTED, NULL, nop_h,
	                NULL);
	if (!TAP_OK(dev != NULL, "a device"))
		goto out;
	id = iodev_id(dev);
	FAIL(iodev_post(core, id, IOE_USER_DEFINED - 1, NULL, nop_h, NULL),
	     EINVAL);
	FAIL(iodev_post(core, id, IOE_USER_DEFINED, NULL, NULL, NULL), EINVAL);
	FAIL(iodev_post(core, id, IOE_USER_DEFINED, NULL, nop_h, NULL), ESRCH);
	FAIL(iodev_post(core, id + (1ull << 32), IOE_USER_DEFINED, NULL, nop_h,
	                NULL), ENOENT);
	iodev_close(dev);
	FAIL(iodev_post(core, id, IOE_USER_DEFINED, NULL, nop_h, NULL), ENOENT);
	if (!TAP_OK(epcore_start_worker(core, 1) == 1, "a worker"))
		goto out;
	FAIL(epcore_post(core, EPT_WORKER, 1, IOE_USER_DEFINED, NULL, nop_h,
	                 NULL), ESRCH);

	/* Timers. */
	FAIL0(iotimer_start(core, 1, 0, NULL, NULL, NULL), EINVAL);
	FAIL0(iotimer_start(core, -1, 0, NULL, nop_h, NULL), EINVAL);
	FAIL0(iotimer_start(core, INT_MIN, 0, NULL, nop_h, NULL), EINVAL);
	FAIL(iotimer_stop(core, 0), ENOENT);
	FAIL(iotimer_stop(core, UINT64_MAX), ENOENT);
	FAIL(iotimer_restart(core, 0, 10), ENOENT);
	FAIL(iotimer_restart(core, UINT64_MAX, 10), ENOENT);
	tid = GOOD(iotimer_start(core, 600000, 7, NULL, nop_h, NULL));
	if (TAP_OK(tid != 0, "a 10-minute timer")) {
		FAIL(iotimer_restart(core, tid, -1), EINVAL);
		FAIL(iotimer_restart(core, tid, INT_MIN), EINVAL);
		FAIL(iotimer_restart(core, tid + (1ull << 32), 10), ENOENT);
		FAIL(iotimer_stop(core, tid + (1ull << 32)), ENOENT);
		FAIL(iotimer_stop(core, tid ^ 0xffffffffull), ENOENT);
		TAP_IS(GOOD(iotimer_stop(core, tid)), 0, "the live timer was "
		       "untouched: iotimer_stop -> 0");
		FAIL(iotimer_stop(core, tid), ENOENT);
		FAIL(iotimer_restart(core, tid, 10), ENOENT);
	}
	FAIL0(iotimer_id(NULL), EINVAL);
	FAIL(iotimer_cmdid(NULL), EINVAL);
	FAILNULL(iotimer_para(NULL), EINVAL);
out:
	epcore_free(core);
}

/* ---- devices ---- */

/* On an epump thread: a device for fd, bound to that epump with the
 * calls that have a path of their own there (the epump binding itself). */
static void new_sock_dev(epcore_t *core, int fd, const char *what)
{
	iodev_t *dev = iodev_new(core, fd, FDT_USOCK_CONNECTED |
	                         IODEV_NONBLOCK, NULL, nop_h, NULL);
	int ok = dev != NULL && iodev_fd(dev) == fd &&
	         iodev_fdtype(dev) == FDT_USOCK_CONNECTED;

	tap_ok(ok, "%s on the epump thread: a device for the fd, fdtype "
	       "without IODEV_NONBLOCK (got %p, fdtype %d)", what,
	       (void *)dev, dev != NULL ? iodev_fdtype(dev) : -1);
	if (dev == NULL)
		return;
	FAIL(iodev_bind_epump(dev, 4, 0), EINVAL);
	ok = iodev_bind_epump(dev, BIND_CURRENT_EPUMP, 0) == 0 &&
	     iodev_epump(dev) == 0;
	tap_ok(ok, "%s: bound to the epump it was made on (epump %d)", what,
	       iodev_epump(dev));
	FAIL(iodev_bind_epump(dev, BIND_CURRENT_EPUMP, 0), EALREADY);
	FAIL(iodev_bind_epump(dev, BIND_GIVEN_EPUMP, 0), EALREADY);
	iodev_close(dev);
}

/* select(2) cannot poll an fd >= FD_SETSIZE: refused on the epump's
 * own path as on the others. */
static void in_handler_bigfd(epcore_t *core, void *arg)
{
	int big = *(int *)arg;
	iodev_t *dev = iodev_new(core, big, FDT_USOCK_CONNECTED |
	                         IODEV_NONBLOCK, NULL, nop_h, NULL);

	if (!TAP_OK(dev != NULL, "select: a device on fd %d in a handler",
	            big)) {
		close(big);
		return;
	}
	FAIL(iodev_bind_epump(dev, BIND_CURRENT_EPUMP, 0), EINVAL);
	FAIL(iodev_bind_epump(dev, BIND_GIVEN_EPUMP, 0), EINVAL);
	iodev_close(dev);
}

/*
 * iodev_new() with IODEV_NONBLOCK on an epump thread of the core, with a
 * slot in the thread's stock, is the common case (accepting) and has a
 * path of its own: the same wrong arguments are refused there too, and a
 * right call on it works.  The first device fills the stock.
 */
static void in_handler_devices(epcore_t *core, void *arg)
{
	static const int bad_types[] = { 0, FDT_LISTEN | FDT_ACCEPTED,
	                                 FDT_UDPSRV | FDT_USOCK_ACCEPTED,
	                                 0x400, FDT_TIMER, INT_MIN };
	const int nb = IODEV_NONBLOCK;
	int fd = sock_fd(NULL), i;

	(void)arg;
	new_sock_dev(core, sock_fd(NULL), "a first iodev_new");
	FAILNULL(iodev_new(NULL, fd, FDT_USOCK_CONNECTED | nb, NULL, nop_h,
	                   NULL), EINVAL);
	FAILNULL(iodev_new(core, fd, FDT_USOCK_CONNECTED | nb, NULL, NULL,
	                   NULL), EINVAL);
	FAILNULL(iodev_new(core, -1, FDT_USOCK_CONNECTED | nb, NULL, nop_h,
	                   NULL), EINVAL);
	FAILNULL(iodev_new(core, INT_MIN, FDT_ACCEPTED | nb, NULL, nop_h,
	                   NULL), EINVAL);
	for (i = 0; i < (int)(sizeof(bad_types) / sizeof(bad_types[0])); i++)
		FAILNULL(iodev_new(core, fd, bad_types[i] | nb, NULL, nop_h,
		                   NULL), EINVAL);
	TAP_OK(fd_open(fd), "the refused iodev_new calls on an epump thread "
	       "left the fd open");
	new_sock_dev(core, fd, "then a right one");
}

static void t_devices(void)
{
	static const int bad_types[] = { 0, -1, FDT_TIMER, FDT_USERCMD,
	                                 FDT_LINGER_CLOSE, FDT_LISTEN |
	                                 FDT_ACCEPTED, 0x400, INT_MIN };
	static const int bad_bind[] = { BIND_NONE, 4, 6, -1, INT_MAX };
	static const int bad_rw[] = { 0, 1, 8, RWF_READ | 1, -1, INT_MAX };
	epcore_t *core = new_core(1);
	iodev_t *dev;
	uint64_t id;
	char buf[64];
	int fd, peer = -1, port, i, x;

	if (core == NULL)
		return;
	fd = sock_fd(&peer);
	FAILNULL(iodev_new(NULL, fd, FDT_USOCK_CONNECTED, NULL, nop_h, NULL),
	         EINVAL);
	FAILNULL(iodev_new(core, fd, FDT_USOCK_CONNECTED, NULL, NULL, NULL),
	         EINVAL);
	FAILNULL(iodev_new(core, -1, FDT_USOCK_CONNECTED, NULL, nop_h, NULL),
	         EINVAL);
	FAILNULL(iodev_new(core, INT_MIN, FDT_USOCK_CONNECTED, NULL, nop_h,
	                   NULL), EINVAL);
	FAILNULL(iodev_new(core, INT_MAX, FDT_USOCK_CONNECTED, NULL, nop_h,
	                   NULL), EBADF);
	for (i = 0; i < (int)(sizeof(bad_types) / sizeof(bad_types[0])); i++)
		FAILNULL(iodev_new(core, fd, bad_types[i], NULL, nop_h, NULL),
		         EINVAL);
	TAP_OK(fd_open(fd), "the refused iodev_new calls left the fd open");
	TAP_OK(run_in_handler(core, in_handler_devices, NULL),
	       "iodev_new's checks ran in a handler on epump 0");
	if (strcmp(epcore_backend(core), "select") == 0) {
		int s = sock_fd(NULL), big = -1;

		if (s >= 0) {
			big = fcntl(s, F_DUPFD, FD_SETSIZE + 10);
			close(s);
		}
		TAP_OK(big >= 0 && run_in_handler(core, in_handler_bigfd,
		                                  &big),
		       "select: the fd >= FD_SETSIZE case ran in a handler");
	}

	/* Accessors and the rest with NULL. */
	FAIL0(iodev_id(NULL), EINVAL);
	FAIL(iodev_fd(NULL), EINVAL);
	FAIL(iodev_fdtype(NULL), EINVAL);
	FAILNULL(iodev_para(NULL), EINVAL);
	VOIDCALL(iodev_set_para(NULL, &x));
	FAIL(iodev_rwflags(NULL), EINVAL);
	FAILNULL(iodev_core(NULL), EINVAL);
	FAIL(iodev_epump(NULL), EINVAL);
	FAIL(iodev_worker(NULL), EINVAL);
	FAIL(iodev_error(NULL), EINVAL);
	FAIL(iodev_bind_epump(NULL, BIND_ONE_EPUMP, 0), EINVAL);
	FAIL(iodev_add_notify(NULL, RWF_READ), EINVAL);
	FAIL(iodev_del_notify(NULL, RWF_READ), EINVAL);
	VOIDCALL(iodev_close(NULL));
	FAIL(iodev_send(NULL, "x", 1), EINVAL);
	FAIL(iodev_recv(NULL, buf, sizeof(buf)), EINVAL);
	FAIL0(iodev_sendq_len(NULL), EINVAL);
	FAIL(iodev_set_sendq_limit(NULL, 1), EINVAL);
	FAIL(iodev_linger_close(NULL, 0), EINVAL);
	FAIL(iodev_local_addr(NULL, buf, sizeof(buf), &port), EINVAL);
	FAIL(iodev_peer_addr(NULL, buf, sizeof(buf), &port), EINVAL);
	FAIL(eptcp_nodelay(NULL, 1), EINVAL);
	FAIL(eptcp_cork(NULL, 1), EINVAL);
	FAIL(epudp_recvfrom(NULL, buf, sizeof(buf), NULL, NULL), EINVAL);
	FAIL(epudp_sendto(NULL, "x", 1, NULL, 0), EINVAL);
	FAILNULL(eptcp_accept(core, NULL, NULL, nop_h, NULL, BIND_ONE_EPUMP, 0),
	         EINVAL);
	FAILNULL(epusock_accept(core, NULL, NULL, nop_h, NULL, BIND_ONE_EPUMP,
	                        0), EINVAL);

	/* A live device: bad values, then the device still works. */
	dev = GOOD(iodev_new(core, fd, FDT_USOCK_CONNECTED, NULL, nop_h, NULL));
	if (!TAP_OK(dev != NULL, "a device"))
		goto out;
	id = iodev_id(dev);
	for (i = 0; i < (int)(sizeof(bad_bind) / sizeof(bad_bind[0])); i++)
		FAIL(iodev_bind_epump(dev, bad_bind[i], 0), EINVAL);
	FAIL(iodev_bind_epump(dev, BIND_GIVEN_EPUMP, 1), ESRCH);
	FAIL(iodev_bind_epump(dev, BIND_GIVEN_EPUMP, -1), ESRCH);
	FAIL(iodev_bind_epump(dev, BIND_GIVEN_EPUMP, INT_MAX), ESRCH);
	for (i = 0; i < (int)(sizeof(bad_rw) / sizeof(bad_rw[0])); i++) {
		FAIL(iodev_add_notify(dev, bad_rw[i]), EINVAL);
		FAIL(iodev_del_notify(dev, bad_rw[i]), EINVAL);
	}
	TAP_IS(iodev_rwflags(dev), RWF_READ, "the refused calls left the "
	       "interest as it was");
	FAIL(iodev_send(dev, NULL, 1), EINVAL);
	FAIL(iodev_send(dev, "x", (size_t)SSIZE_MAX + 1), EINVAL);
	FAIL(iodev_send(dev, "x", SIZE_MAX), EINVAL);
	FAIL(iodev_recv(dev, NULL, 1), EINVAL);
	FAIL(iodev_recv(dev, buf, (size_t)SSIZE_MAX + 1), EINVAL);
	FAIL(iodev_local_addr(dev, NULL, 64, &port), EINVAL);
	FAIL(iodev_local_addr(dev, buf, 0, &port), EINVAL);
	FAIL(iodev_peer_addr(dev, NULL, 64, &port), EINVAL);
	FAIL(epudp_recvfrom(dev, NULL, 1, NULL, NULL), EINVAL);
	FAIL(epudp_recvfrom(dev, buf, (size_t)SSIZE_MAX + 1, NULL, NULL),
	     EINVAL);
	FAIL(epudp_sendto(dev, NULL, 1, NULL, 0), EINVAL);
	FAIL(epudp_sendto(dev, "x", SIZE_MAX, NULL, 0), EINVAL);
	FAILNULL(eptcp_accept(core, dev, NULL, nop_h, NULL, BIND_ONE_EPUMP, 0),
	         EINVAL);
	FAILNULL(epusock_accept(core, dev, NULL, nop_h, NULL, BIND_ONE_EPUMP,
	                        0), EINVAL);
	TAP_IS(GOOD(iodev_bind_epump(dev, BIND_ONE_EPUMP, 0)), 0,
	       "a good bind after the bad ones");
	FAIL(iodev_bind_epump(dev, BIND_ONE_EPUMP, 0), EALREADY);
	TAP_IS(GOOD(iodev_send(dev, "ping", 4)), 4, "the device sends");
	TAP_OK(read(peer, buf, sizeof(buf)) == 4, "and the peer reads it");
	TAP_OK(GOOD(iodev_by_id(core, id)) == dev, "iodev_by_id(live id)");

	/* Closed: the pointer (not yet reused: no device is made until the
	 * checks are done) and the id name nothing. */
	VOIDCALL(iodev_close(dev));
	VOIDCALL(iodev_close(dev));
	FAILNULL(iodev_by_id(core, id), ENOENT);
	FAIL(iodev_close_by(core, id), ENOENT);
	FAIL(iodev_post(core, id, IOE_USER_DEFINED, NULL, nop_h, NULL), ENOENT);
	FAIL(iodev_bind_epump(dev, BIND_ONE_EPUMP, 0), ENOENT);
	FAIL(iodev_add_notify(dev, RWF_WRITE), ENOENT);
	FAIL(iodev_del_notify(dev, RWF_READ), ENOENT);
	FAIL(iodev_send(dev, "x", 1), ENOENT);
	FAIL(iodev_recv(dev, buf, sizeof(buf)), ENOENT);
	FAIL(iodev_set_sendq_limit(dev, 1), ENOENT);
	FAIL(iodev_linger_close(dev, 0), ENOENT);
	FAIL(iodev_local_addr(dev, buf, sizeof(buf), &port), ENOENT);
	FAIL(iodev_peer_addr(dev, buf, sizeof(buf), &port), ENOENT);
	FAIL(epudp_recvfrom(dev, buf, sizeof(buf), NULL, NULL), ENOENT);
	FAIL(epudp_sendto(dev, "x", 1, NULL, 0), ENOENT);
	FAIL(eptcp_nodelay(dev, 1), ENOENT);
	FAIL(eptcp_cork(dev, 1), ENOENT);

	/* Ids that never named a device. */
	FAILNULL(iodev_by_id(core, 0), ENOENT);
	FAIL(iodev_close_by(core, 0), EINVAL); /* iodev(3): id 0 is EINVAL */
	FAILNULL(iodev_by_id(core, UINT64_MAX), ENOENT);
	FAIL(iodev_close_by(core, UINT64_MAX), ENOENT);
	FAIL(iodev_close_by(core, id + (7ull << 32)), ENOENT);
	close(peer);

	/* A device that is not a TCP socket. */
	fd = sock_fd(&peer);
	dev = iodev_new(core, fd, FDT_USOCK_CONNECTED, NULL, nop_h, NULL);
	if (TAP_OK(dev != NULL, "a unix socket device")) {
		FAIL(eptcp_nodelay(dev, 1), EOPNOTSUPP);
		FAIL(eptcp_cork(dev, 1), EOPNOTSUPP);
		TAP_IS(GOOD(iodev_sendq_len(dev)), 0, "iodev_sendq_len of a "
		       "fresh device is 0");
		TAP_IS(GOOD(iodev_set_sendq_limit(dev, SIZE_MAX)), 0,
		       "iodev_set_sendq_limit(SIZE_MAX) (no limit) -> 0");
		TAP_IS(GOOD(iodev_linger_close(dev, INT_MIN)), 0,
		       "iodev_linger_close(INT_MIN): the default timeout");
	}
	close(peer);
	/* A regular file is not a socket. */
	fd = open("/dev/null", O_RDONLY);
	dev = iodev_new(core, fd, FDT_FILEDEV, NULL, nop_h, NULL);
	if (TAP_OK(dev != NULL, "a device on /dev/null")) {
		FAIL(iodev_local_addr(dev, buf, sizeof(buf), &port), ENOTSOCK);
		FAIL(iodev_peer_addr(dev, buf, sizeof(buf), &port), ENOTSOCK);
		FAIL(eptcp_nodelay(dev, 0), ENOTSOCK);
		iodev_close(dev);
	}
out:
	epcore_free(core);
}

/* ---- addresses ---- */

static void t_addr(void)
{
	static const char *const bad_ip[] = { "1.2.3", "256.1.1.1", "::1::2",
	                                      "[::1", "localhost", " 1.2.3.4",
	                                      "1.2.3.4 " };
	static const int bad_port[] = { -1, 65536, INT_MAX, INT_MIN };
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	struct sockaddr_un sun;
	socklen_t len;
	char buf[64];
	int port;
	size_t i;

	for (i = 0; i < sizeof(bad_ip) / sizeof(bad_ip[0]); i++)
		FAIL(epaddr_parse(bad_ip[i], 80, &ss, &len), EINVAL);
	for (i = 0; i < sizeof(bad_port) / sizeof(bad_port[0]); i++)
		FAIL(epaddr_parse("127.0.0.1", bad_port[i], &ss, &len), EINVAL);
	FAIL(epaddr_parse("127.0.0.1", 80, NULL, &len), EINVAL);
	FAIL(epaddr_parse("127.0.0.1", 80, &ss, NULL), EINVAL);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x7f000001);
	FAIL(epaddr_format(NULL, buf, sizeof(buf), &port), EINVAL);
	FAIL(epaddr_format((struct sockaddr *)&sin, NULL, 64, &port), EINVAL);
	FAIL(epaddr_format((struct sockaddr *)&sin, buf, 0, &port), EINVAL);
	FAIL(epaddr_format((struct sockaddr *)&sin, buf, 5, &port), ENOSPC);
	sin.sin_family = AF_APPLETALK;
	FAIL(epaddr_format((struct sockaddr *)&sin, buf, sizeof(buf), &port),
	     EAFNOSUPPORT);
	sin.sin_family = 0xffff;
	FAIL(epaddr_format((struct sockaddr *)&sin, buf, sizeof(buf), &port),
	     EAFNOSUPPORT);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memset(sun.sun_path, 'p', sizeof(sun.sun_path) - 1);
	FAIL(epaddr_format((struct sockaddr *)&sun, buf, sizeof(buf), &port),
	     ENOSPC);
	TAP_IS(GOOD(epaddr_parse("[::1]", 65535, &ss, &len)), 0,
	       "epaddr_parse(\"[::1]\", 65535) after the bad ones");
}

/* ---- TCP, UDP, unix sockets, files ---- */

static void t_net(void)
{
	static const int bad_port[] = { -1, 65536, INT_MAX, INT_MIN };
	epcore_t *core = new_core(1);
	iodev_t *l, *dev;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
	char buf[64];
	int fd, port = 0;
	size_t i;

	if (core == NULL)
		return;
	for (i = 0; i < sizeof(bad_port) / sizeof(bad_port[0]); i++) {
		FAILNULL(eptcp_listen(core, "127.0.0.1", bad_port[i], NULL,
		                      nop_h, NULL, BIND_ONE_EPUMP, 0), EINVAL);
		FAIL(eptcp_mlisten(core, "127.0.0.1", bad_port[i], NULL, nop_h,
		                   NULL), EINVAL);
		FAILNULL(epudp_listen(core, "127.0.0.1", bad_port[i], NULL,
		                      nop_h, NULL, BIND_ONE_EPUMP, 0), EINVAL);
		FAILNULL(epudp_client(core, "127.0.0.1", bad_port[i], NULL,
		                      nop_h, NULL), EINVAL);
		FAILNULL(eptcp_connect(core, "127.0.0.1", bad_port[i], NULL,
		                       nop_h, NULL, 0), EINVAL);
		FAILNULL(eptcp_connect(core, "localhost", bad_port[i], NULL,
		                       nop_h, NULL, 0), EINVAL);
		FAIL(epcore_dnsrv_add(core, "127.0.0.1", bad_port[i]), EINVAL);
		FAIL(eptcp_mlisten_close(core, bad_port[i]), ENOENT);
	}
	FAILNULL(eptcp_listen(core, "1.2.3", 0, NULL, nop_h, NULL,
	                      BIND_ONE_EPUMP, 0), EINVAL);
	FAILNULL(eptcp_listen(core, "127.0.0.1", 0, NULL, NULL, NULL,
	                      BIND_ONE_EPUMP, 0), EINVAL);
	FAILNULL(eptcp_listen(core, "127.0.0.1", 0, NULL, nop_h, NULL, 4, 0),
	         EINVAL);
	FAILNULL(eptcp_listen(core, "127.0.0.1", 0, NULL, nop_h, NULL,
	                      BIND_GIVEN_EPUMP, 5), ESRCH);
	FAIL(eptcp_mlisten(core, "127.0.0.1", 0, NULL, NULL, NULL), EINVAL);
	FAIL(eptcp_mlisten(core, "no such address", 0, NULL, nop_h, NULL),
	     EINVAL);
	FAIL(eptcp_mlisten_close(core, 0), ENOENT);
	FAIL(eptcp_mlisten_close(core, 9), ENOENT);
	FAILNULL(eptcp_connect(core, NULL, 80, NULL, nop_h, NULL, 0), EINVAL);
	FAILNULL(eptcp_connect(core, "", 80, NULL, nop_h, NULL, 0), EINVAL);
	FAILNULL(eptcp_connect(core, "127.0.0.1", 80, NULL, NULL, NULL, 0),
	         EINVAL);
	FAILNULL(eptcp_connect(core, "127.0.0.1", 80, NULL, nop_h, NULL, -1),
	         EINVAL);
	FAILNULL(epudp_listen(core, "::1::", 0, NULL, nop_h, NULL,
	                      BIND_ONE_EPUMP, 0), EINVAL);
	FAILNULL(epudp_listen(core, "127.0.0.1", 0, NULL, NULL, NULL,
	                      BIND_ONE_EPUMP, 0), EINVAL);
	FAILNULL(epudp_client(core, NULL, 9, NULL, nop_h, NULL), EINVAL);
	FAILNULL(epudp_client(core, "", 9, NULL, nop_h, NULL), EINVAL);
	FAILNULL(epudp_client(core, "not-a-literal", 9, NULL, nop_h, NULL),
	         EINVAL);
	FAILNULL(epudp_client(core, "127.0.0.1", 9, NULL, NULL, NULL), EINVAL);

	/* Unix sockets: paths that cannot be. */
	memset(path, 'u', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	FAILNULL(epusock_listen(core, NULL, NULL, nop_h, NULL, BIND_ONE_EPUMP,
	                        0), EINVAL);
	FAILNULL(epusock_listen(core, "", NULL, nop_h, NULL, BIND_ONE_EPUMP, 0),
	         EINVAL);
	FAILNULL(epusock_listen(core, path, NULL, nop_h, NULL, BIND_ONE_EPUMP,
	                        0), ENAMETOOLONG);
	FAILNULL(epusock_listen(core, "/tmp/x", NULL, NULL, NULL,
	                        BIND_ONE_EPUMP, 0), EINVAL);
	FAILNULL(epusock_connect(core, NULL, NULL, nop_h, NULL, 0), EINVAL);
	FAILNULL(epusock_connect(core, "", NULL, nop_h, NULL, 0), EINVAL);
	FAILNULL(epusock_connect(core, path, NULL, nop_h, NULL, 0),
	         ENAMETOOLONG);
	FAILNULL(epusock_connect(core, "/tmp/x", NULL, NULL, NULL, 0), EINVAL);
	FAILNULL(epusock_connect(core, "/tmp/x", NULL, nop_h, NULL, -1),
	         EINVAL);

	/* Files. */
	FAILNULL(epfile_bind_fd(core, -1, NULL, nop_h, NULL), EINVAL);
	FAILNULL(epfile_bind_fd(core, INT_MIN, NULL, nop_h, NULL), EINVAL);
	FAILNULL(epfile_bind_fd(core, INT_MAX, NULL, nop_h, NULL), EBADF);
	fd = open("/dev/null", O_RDONLY);
	FAILNULL(epfile_bind_fd(core, fd, NULL, NULL, NULL), EINVAL);
	TAP_OK(fd_open(fd), "the refused epfile_bind_fd left the fd open");
	close(fd);
	FAILNULL(epfile_bind_fd(core, fd, NULL, nop_h, NULL), EBADF);
	FAILNULL(epfile_bind_stdin(core, NULL, NULL, NULL), EINVAL);

	/* Accept on a listener that was closed, and on a UDP device. */
	l = GOOD(eptcp_listen(core, "127.0.0.1", 0, NULL, nop_h, NULL,
	                      BIND_ONE_EPUMP, 0));
	if (TAP_OK(l != NULL, "a TCP listener")) {
		FAILNULL(eptcp_accept(core, l, NULL, NULL, NULL, BIND_ONE_EPUMP,
		                      0), EINVAL);
		FAILNULL(eptcp_accept(NULL, l, NULL, nop_h, NULL,
		                      BIND_ONE_EPUMP, 0), EINVAL);
		FAIL(iodev_peer_addr(l, buf, sizeof(buf), &port), ENOTCONN);
		TAP_IS(GOOD(iodev_local_addr(l, buf, 2, &port)), -1,
		       "iodev_local_addr with a 2-byte buffer -> -1");
		TAP_IS(errno, ENOSPC, "errno ENOSPC");
		FAILNULL(eptcp_accept(core, l, NULL, nop_h, NULL,
		                      BIND_ONE_EPUMP, 0), EAGAIN);
		iodev_close(l);
		FAILNULL(eptcp_accept(core, l, NULL, nop_h, NULL,
		                      BIND_ONE_EPUMP, 0), ENOENT);
		FAILNULL(epusock_accept(core, l, NULL, nop_h, NULL,
		                        BIND_ONE_EPUMP, 0), ENOENT);
	}
	dev = GOOD(epudp_listen(core, "127.0.0.1", 0, NULL, nop_h, NULL,
	                        BIND_ONE_EPUMP, 0));
	if (TAP_OK(dev != NULL, "a UDP device")) {
		FAILNULL(eptcp_accept(core, dev, NULL, nop_h, NULL,
		                      BIND_ONE_EPUMP, 0), EINVAL);
		FAIL(epudp_recvfrom(dev, buf, sizeof(buf), NULL, NULL),
		     EAGAIN);
		FAIL(epudp_sendto(dev, "x", 1, NULL, 0), EDESTADDRREQ);
		iodev_close(dev);
	}
	port = GOOD(eptcp_mlisten(core, "127.0.0.1", 0, NULL, nop_h, NULL));
	if (TAP_OK(port > 0, "eptcp_mlisten on a free port (%d)", port)) {
		FAIL(eptcp_mlisten(core, "127.0.0.1", port, NULL, nop_h, NULL),
		     EADDRINUSE);
		TAP_IS(GOOD(eptcp_mlisten_close(core, port)), 0,
		       "eptcp_mlisten_close");
		FAIL(eptcp_mlisten_close(core, port), ENOENT);
	}
	epcore_free(core);
}

/* ---- DNS ---- */

static void t_dns(void)
{
	char longname[300], longlabel[80];
	epcore_t *core = new_core(1);

	if (core == NULL)
		return;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memset(longlabel, 'b', sizeof(longlabel) - 1);
	longlabel[sizeof(longlabel) - 1] = '\0';
	FAIL(dns_query(core, NULL, nop_dns, NULL), EINVAL);
	FAIL(dns_query(core, "localhost", NULL, NULL), EINVAL);
	FAIL(dns_query(core, "", nop_dns, NULL), EINVAL);
	FAIL(dns_query(core, ".", nop_dns, NULL), EINVAL);
	FAIL(dns_query(core, "a..b", nop_dns, NULL), EINVAL);
	FAIL(dns_query(core, "bad name", nop_dns, NULL), EINVAL);
	FAIL(dns_query(core, "evil\n.example", nop_dns, NULL), EINVAL);
	FAIL(dns_query(core, longname, nop_dns, NULL), EINVAL);
	FAIL(dns_query(core, longlabel, nop_dns, NULL), EINVAL);
	FAIL(epcore_dnsrv_add(core, NULL, 53), EINVAL);
	FAIL(epcore_dnsrv_add(core, "", 53), EINVAL);
	FAIL(epcore_dnsrv_add(core, "dns.example", 53), EINVAL);
	FAIL(epcore_dnsrv_add(core, "1.2.3.4.5", 53), EINVAL);
	TAP_IS(GOOD(epcore_dns_config(core, INT_MIN, -1)), 0,
	       "epcore_dns_config(<= 0, <= 0) keeps the values -> 0");
	epcore_free(core);
}

/* ---- every EPUMP_API function of the header was exercised ---- */

/* Reads the header; collects the name before the first '(' after each
 * EPUMP_API outside comments and preprocessor lines. */
static int header_functions(char names[][64], int max)
{
	const char *top = getenv("top_srcdir");
	char path[4096], *text, *p, *q;
	FILE *f;
	long size;
	int n = 0;

	/* make check sets top_srcdir; run by hand, the source tree's own
	 * path (compiled in) serves. */
	snprintf(path, sizeof(path), "%s/include/epump.h",
	         top != NULL ? top : T_TOP_SRCDIR);
	f = fopen(path, "r");
	if (f == NULL) {
		tap_diag("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)size + 1);
	if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		free(text);
		return -1;
	}
	fclose(f);
	/* Blank out comments and preprocessor lines. */
	for (p = text; *p != '\0'; p++) {
		if (p[0] == '/' && p[1] == '*') {
			q = strstr(p + 2, "*/");
			q = q != NULL ? q + 2 : p + strlen(p);
			memset(p, ' ', (size_t)(q - p));
			p = q - 1;
		} else if (p[0] == '/' && p[1] == '/') {
			for (; *p != '\0' && *p != '\n'; p++)
				*p = ' ';
		} else if (*p == '#' && (p == text || p[-1] == '\n')) {
			for (; *p != '\0' && *p != '\n'; p++) {
				if (*p == '\\' && p[1] == '\n')
					*p++ = ' ';
				*p = ' ';
			}
		}
		if (*p == '\0')
			break;
	}
	for (p = text; (p = strstr(p, "EPUMP_API")) != NULL; p += 9) {
		char *paren = strchr(p, '('), *e;

		if (paren == NULL)
			break;
		e = paren;
		while (e > p && isspace((unsigned char)e[-1]))
			e--;
		q = e;
		while (q > p && (isalnum((unsigned char)q[-1]) || q[-1] == '_'))
			q--;
		if (q < e && n < max) {
			snprintf(names[n], 64, "%.*s", (int)(e - q), q);
			n++;
		}
	}
	free(text);
	return n;
}

static void t_coverage(void)
{
	static char names[MAXFN][64];
	int n = header_functions(names, MAXFN), i, j, missing = 0;

	if (!TAP_OK(n > 40, "include/epump.h declares %d EPUMP_API functions",
	            n))
		return;
	for (i = 0; i < n; i++) {
		for (j = 0; j < ncovered; j++)
			if (strcmp(names[i], covered[j]) == 0)
				break;
		if (j == ncovered) {
			tap_diag("not exercised with bad input: %s()", names[i]);
			missing++;
		}
	}
	TAP_IS(missing, 0, "every function of include/epump.h is called "
	       "with bad input here");
	for (j = 0; j < ncovered; j++) {
		for (i = 0; i < n; i++)
			if (strcmp(names[i], covered[j]) == 0)
				break;
		if (i == n)
			tap_diag("called but not in the header: %s()",
			         covered[j]);
		missing += i == n;
	}
	TAP_IS(missing, 0, "and nothing else is counted as covered");
}

static void all(void)
{
	ncovered = 0;
	t_core();
	t_post_timers();
	t_devices();
	t_addr();
	t_net();
	t_dns();
	t_coverage();
}

int main(void)
{
	return tap_backends(all);
}
