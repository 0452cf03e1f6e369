/*
 * t_api.c - every function of include/epump.h with bad input: NULL
 * pointers, closed devices, closed and made-up ids, 0 ids, negative and
 * out-of-range values.  Each returns the documented error value with the
 * documented errno and does not crash; the objects it was handed keep
 * working.  Also: the version string, the backend name, the accessors of
 * a fresh device, and ids that stop naming a closed device.
 */
#include <epump.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

#define WAIT_MS 10000u

static const char *errname(int e)
{
	static __thread char buf[32];

	switch (e) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case ECANCELED: return "ECANCELED";
	case ESRCH: return "ESRCH";
	case ENOMEM: return "ENOMEM";
	case EDEADLK: return "EDEADLK";
	case EBADF: return "EBADF";
	case EALREADY: return "EALREADY";
	case EAGAIN: return "EAGAIN";
	default:
		snprintf(buf, sizeof(buf), "errno %d", e);
		return buf;
	}
}

/* int-returning call: -1 and errno want */
#define EXPECT_FAIL(call, want, what) do {                                  \
	int r_, e_;                                                         \
	errno = 0;                                                          \
	r_ = (call);                                                        \
	e_ = errno;                                                         \
	tap_ok(r_ == -1 && e_ == (want), "%s -> -1/%s (got %d/%s)", (what), \
	       errname(want), r_, errname(e_));                             \
} while (0)

/* pointer-returning call: NULL and errno want */
#define EXPECT_NULL(call, want, what) do {                                  \
	const void *r_;                                                     \
	int e_;                                                             \
	errno = 0;                                                          \
	r_ = (call);                                                        \
	e_ = errno;                                                         \
	tap_ok(r_ == NULL && e_ == (want), "%s -> NULL/%s (got %p/%s)",     \
	       (what), errname(want), r_, errname(e_));                     \
} while (0)

/* id-returning call: 0 and errno want */
#define EXPECT_ID0(call, want, what) do {                                   \
	uint64_t r_;                                                        \
	int e_;                                                             \
	errno = 0;                                                          \
	r_ = (call);                                                        \
	e_ = errno;                                                         \
	tap_ok(r_ == 0 && e_ == (want), "%s -> 0/%s (got %llu/%s)", (what), \
	       errname(want), (unsigned long long)r_, errname(e_));         \
} while (0)

static atomic_long nop_calls;

static int nop_h(void *cbpara, void *obj, int event, int fdtype)
{
	(void)cbpara; (void)obj; (void)event; (void)fdtype;
	atomic_fetch_add(&nop_calls, 1);
	return 0;
}

static epcore_t *new_core(int nepumps, int nworkers)
{
	epcore_t *core = epcore_new(0);

	if (core == NULL) {
		tap_ok(0, "epcore_new: %s", strerror(errno));
		return NULL;
	}
	if ((nepumps > 0 && epcore_start_epump(core, nepumps) != nepumps) ||
	    (nworkers > 0 &&
	     epcore_start_worker(core, nworkers) != nworkers)) {
		tap_ok(0, "start %d epumps, %d workers: %s", nepumps, nworkers,
		       strerror(errno));
		epcore_free(core);
		return NULL;
	}
	return core;
}

/* Runs fn(arg) in a user-event handler on kind/index and waits. */
struct call {
	void (*fn)(void *);
	void *arg;
	atomic_long done;
};

static int call_h(void *cbpara, void *para, int event, int fdtype)
{
	struct call *c = cbpara;

	(void)para; (void)event; (void)fdtype;
	if (c->fn != NULL)
		c->fn(c->arg);
	atomic_store(&c->done, 1);
	return 0;
}

static int run_on(epcore_t *core, int kind, int index, void (*fn)(void *),
                  void *arg)
{
	struct call *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return 0;
	c->fn = fn;
	c->arg = arg;
	if (epcore_post(core, kind, index, IOE_USER_DEFINED, NULL, call_h,
	                c) < 0) {
		free(c);
		return 0;
	}
	if (!tu_wait_ge(&c->done, 1, WAIT_MS))
		return 0; /* leaked on purpose: the handler may still run */
	free(c);
	return 1;
}

/* An open fd for a device: one end of a socketpair (the other closed). */
static int sock_fd(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	close(sv[1]);
	return sv[0];
}

static int fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

/* ---- 1. version, backend, epcore_new ---- */

static void t_version_backend(void)
{
	const char *v = epump_version(), *b;
	char want[64];
	unsigned a, m, p;
	int n = -1;
	char *saved;
	epcore_t *core;

	TAP_OK(v != NULL && sscanf(v, "%u.%u.%u%n", &a, &m, &p, &n) == 3 &&
	       n == (int)strlen(v), "epump_version() is X.Y.Z (\"%s\")",
	       v ? v : "(null)");
	snprintf(want, sizeof(want), "%d.%d.%d", EPUMP_VERSION_MAJOR,
	         EPUMP_VERSION_MINOR, EPUMP_VERSION_PATCH);
	TAP_OK(v != NULL && strcmp(v, want) == 0, "epump_version() is the "
	       "header's EPUMP_VERSION_* (%s)", want);
	TAP_OK(v != NULL && strcmp(v, "1.0.0") == 0, "epump_version() is "
	       "\"1.0.0\"");

	core = epcore_new(0);
	if (!TAP_OK(core != NULL, "epcore_new(0)"))
		return;
	b = epcore_backend(core);
	TAP_OK(b != NULL && strcmp(b, tap_backend) == 0, "epcore_backend is "
	       "EPUMP_BACKEND (%s, got %s)", tap_backend, b ? b : "(null)");
	epcore_free(core);
	EXPECT_NULL(epcore_backend(NULL), EINVAL, "epcore_backend(NULL)");

	core = epcore_new(-5);
	TAP_OK(core != NULL, "epcore_new(-5) (maxfd <= 0: the hard limit)");
	if (core != NULL)
		epcore_free(core);
	core = epcore_new(INT_MAX);
	TAP_OK(core != NULL, "epcore_new(INT_MAX) (capped at the hard limit)");
	if (core != NULL)
		epcore_free(core);

	saved = strdup(getenv("EPUMP_BACKEND") ? getenv("EPUMP_BACKEND") : "");
	setenv("EPUMP_BACKEND", "kqueue-nonesuch", 1);
	EXPECT_NULL(epcore_new(0), EINVAL, "epcore_new with EPUMP_BACKEND "
	            "naming no backend");
	if (saved != NULL && *saved != '\0')
		setenv("EPUMP_BACKEND", saved, 1);
	else
		unsetenv("EPUMP_BACKEND");
	free(saved);
}

/* ---- 2. the core's thread functions ---- */

struct inner {
	epcore_t *core;
	int r, e;
};

static void inner_main_start(void *arg)
{
	struct inner *in = arg;

	errno = 0;
	in->r = epump_main_start(in->core);
	in->e = errno;
}

static void inner_free(void *arg)
{
	struct inner *in = arg;

	errno = 0;
	in->r = epcore_free(in->core);
	in->e = errno;
}

struct tfree {
	epcore_t *core;
	int r, e;
	atomic_long done;
};

static int tfree_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct tfree *tf = cbpara;

	(void)obj; (void)event; (void)fdtype;
	errno = 0;
	tf->r = epcore_free(tf->core);
	tf->e = errno;
	atomic_store(&tf->done, 1);
	return 0;
}

/* Runs fn in a handler on kind/index; it must fail with -1/want. */
static void expect_inner(epcore_t *core, int kind, int index,
                         void (*fn)(void *), int want, const char *what)
{
	struct inner in = { core, 0, 0 };
	int ran = run_on(core, kind, index, fn, &in);

	tap_ok(ran && in.r == -1 && in.e == want, "%s -> -1/%s (got %s%d/%s)",
	       what, errname(want), ran ? "" : "no run, ", in.r,
	       errname(in.e));
}

struct mainthr {
	epcore_t *core;
	atomic_int ret;
	atomic_long done;
};

static void *main_start_thread(void *arg)
{
	struct mainthr *mt = arg;

	atomic_store(&mt->ret, epump_main_start(mt->core));
	atomic_store(&mt->done, 1);
	return NULL;
}

static void t_core_threads(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	epcore_t *core;
	struct mainthr mt;
	pthread_t th;
	int r;

	if (ncpu < 1)
		ncpu = 1;
	EXPECT_FAIL(epcore_free(NULL), EINVAL, "epcore_free(NULL)");
	epcore_stop(NULL);
	TAP_OK(1, "epcore_stop(NULL) is harmless");
	EXPECT_FAIL(epcore_start_epump(NULL, 1), EINVAL,
	            "epcore_start_epump(NULL)");
	EXPECT_FAIL(epcore_start_worker(NULL, 1), EINVAL,
	            "epcore_start_worker(NULL)");
	EXPECT_FAIL(epump_main_start(NULL), EINVAL, "epump_main_start(NULL)");
	EXPECT_FAIL(epcore_epump_count(NULL), EINVAL,
	            "epcore_epump_count(NULL)");
	EXPECT_FAIL(epcore_worker_count(NULL), EINVAL,
	            "epcore_worker_count(NULL)");

	core = epcore_new(0);
	if (!TAP_OK(core != NULL, "epcore_new"))
		return;
	r = epcore_epump_count(core);
	TAP_IS(r, 0, "a new core has 0 epumps");
	r = epcore_worker_count(core);
	TAP_IS(r, 0, "and 0 workers");
	EXPECT_FAIL(epcore_start_worker(core, -1), EINVAL,
	            "epcore_start_worker(n -1)");
	EXPECT_FAIL(epcore_start_worker(core, INT_MIN), EINVAL,
	            "epcore_start_worker(n INT_MIN)");
	r = epcore_worker_count(core);
	TAP_IS(r, 0, "failed starts started no worker");
	r = epcore_start_worker(core, 0);
	TAP_IS(r, 0, "epcore_start_worker(0) -> 0");
	r = epcore_start_worker(core, 2);
	TAP_IS(r, 2, "epcore_start_worker(2) -> 2");
	r = epcore_worker_count(core);
	TAP_IS(r, 2, "epcore_worker_count");
	r = epcore_start_epump(core, 2);
	TAP_IS(r, 2, "epcore_start_epump(2) -> 2");
	r = epcore_start_epump(core, 0);
	TAP_IS(r, ncpu, "epcore_start_epump(0) -> one per online CPU");
	if (2 + 2 * ncpu <= 256) { /* the library's limit is 256 */
		r = epcore_start_epump(core, -3);
		TAP_IS(r, ncpu, "epcore_start_epump(-3) -> one per online CPU");
		r = epcore_epump_count(core);
		TAP_IS(r, 2 + 2 * ncpu, "epcore_epump_count");
	}

	/* From inside a handler: no second loop, no free. */
	expect_inner(core, EPT_EPUMP, 0, inner_main_start, EINVAL,
	             "epump_main_start from an epump handler");
	expect_inner(core, EPT_WORKER, 1, inner_main_start, EINVAL,
	             "epump_main_start from a worker handler");
	expect_inner(core, EPT_EPUMP, 1, inner_free, EDEADLK,
	             "epcore_free from an epump handler");
	expect_inner(core, EPT_WORKER, 0, inner_free, EDEADLK,
	             "epcore_free from a worker handler");
	{
		struct tfree tf = { core, 0, 0, 0 };

		TAP_OK(iotimer_start(core, 1, 0, NULL, tfree_h, &tf) != 0 &&
		       tu_wait_ge(&tf.done, 1, WAIT_MS) && tf.r == -1 &&
		       tf.e == EDEADLK, "epcore_free from a timer handler -> "
		       "-1/EDEADLK");
	}
	TAP_OK(run_on(core, EPT_EPUMP, 1, NULL, NULL) &&
	       run_on(core, EPT_WORKER, 0, NULL, NULL),
	       "the core still runs user events afterwards");
	atomic_store(&nop_calls, 0);
	TAP_OK(iotimer_start(core, 1, 0, NULL, nop_h, NULL) != 0 &&
	       tu_wait_ge(&nop_calls, 1, WAIT_MS),
	       "and timers");
	r = epcore_free(core);
	TAP_IS(r, 0, "then epcore_free from main -> 0");

	/* epump_main_start on a thread; from a timer handler: EDEADLK. */
	core = epcore_new(0);
	if (!TAP_OK(core != NULL, "epcore_new"))
		return;
	memset(&mt, 0, sizeof(mt));
	mt.core = core;
	if (pthread_create(&th, NULL, main_start_thread, &mt) != 0) {
		tap_ok(0, "pthread_create");
		epcore_free(core);
		return;
	}
	{
		uint64_t end = tu_now_ms() + WAIT_MS;

		while (epcore_epump_count(core) < 1 && tu_now_ms() < end)
			tu_sleep_ms(1);
	}
	r = epcore_epump_count(core);
	TAP_IS(r, 1, "epump_main_start on a thread: 1 epump");
	expect_inner(core, EPT_EPUMP, 0, inner_main_start, EINVAL,
	             "epump_main_start from inside that loop");
	expect_inner(core, EPT_EPUMP, 0, inner_free, EDEADLK,
	             "epcore_free from a handler on the epump_main_start "
	             "thread");
	TAP_OK(run_on(core, EPT_EPUMP, 0, NULL, NULL), "that loop still runs");
	epcore_stop(core);
	epcore_stop(core);
	TAP_OK(tu_wait_ge(&mt.done, 1, WAIT_MS), "epcore_stop (twice) ends "
	       "epump_main_start");
	if (!atomic_load(&mt.done))
		return; /* do not free a core a thread still runs */
	pthread_join(th, NULL);
	TAP_IS(atomic_load(&mt.ret), 0, "epump_main_start -> 0");
	EXPECT_FAIL(epump_main_start(core), ECANCELED,
	            "epump_main_start on a stopped core");
	errno = 0;
	r = epcore_start_epump(core, 1);
	tap_ok(r == -1, "epcore_start_epump on a stopped core -> -1 (got %d/%s)",
	       r, errname(errno));
	errno = 0;
	r = epcore_start_worker(core, 1);
	tap_ok(r == -1, "epcore_start_worker on a stopped core -> -1 (got "
	       "%d/%s)", r, errname(errno));
	r = epcore_free(core);
	TAP_IS(r, 0, "epcore_free of a stopped core -> 0");

	/* A core never started, stopped twice, freed. */
	core = epcore_new(0);
	if (core != NULL) {
		epcore_stop(core);
		epcore_stop(core);
		r = epcore_free(core);
		TAP_IS(r, 0, "stop, stop, free of a core that never ran");
	}
}

/* ---- 3. iodev_new ---- */

static void t_iodev_new(void)
{
	static const int types[] = {
		FDT_LISTEN, FDT_CONNECTED, FDT_ACCEPTED, FDT_UDPSRV, FDT_UDPCLI,
		FDT_USOCK_LISTEN, FDT_USOCK_CONNECTED, FDT_USOCK_ACCEPTED,
		FDT_RAWSOCK, FDT_FILEDEV, FDT_STDIN, FDT_STDOUT,
	};
	static const int bad_types[] = {
		0, -1, FDT_LISTEN | FDT_CONNECTED, FDT_TIMER, FDT_USERCMD,
		FDT_LINGER_CLOSE, FDT_CONNECTED | FDT_LINGER_CLOSE, 0x400,
		0x8000000, INT_MIN,
	};
	epcore_t *core = new_core(1, 0);
	int fd, bad_fd, i, ok;
	char what[96];
	iodev_t *dev;

	if (core == NULL)
		return;
	fd = sock_fd();
	if (!TAP_OK(fd >= 0, "a socket fd"))
		goto out;
	EXPECT_NULL(iodev_new(NULL, fd, FDT_USOCK_CONNECTED, NULL, nop_h, NULL),
	            EINVAL, "iodev_new(NULL core)");
	EXPECT_NULL(iodev_new(core, fd, FDT_USOCK_CONNECTED, NULL, NULL, NULL),
	            EINVAL, "iodev_new(NULL handler)");
	EXPECT_NULL(iodev_new(core, -1, FDT_USOCK_CONNECTED, NULL, nop_h, NULL),
	            EINVAL, "iodev_new(fd -1)");
	EXPECT_NULL(iodev_new(core, INT_MIN, FDT_USOCK_CONNECTED, NULL, nop_h,
	                      NULL), EINVAL, "iodev_new(fd INT_MIN)");
	for (i = 0; i < (int)(sizeof(bad_types) / sizeof(bad_types[0])); i++) {
		snprintf(what, sizeof(what), "iodev_new(fdtype %#x)",
		         (unsigned)bad_types[i]);
		EXPECT_NULL(iodev_new(core, fd, bad_types[i], NULL, nop_h, NULL),
		            EINVAL, what);
	}
	TAP_OK(fd_open(fd), "the failed calls left the fd open");
	bad_fd = dup(fd);
	close(bad_fd);
	EXPECT_NULL(iodev_new(core, bad_fd, FDT_USOCK_CONNECTED, NULL, nop_h,
	                      NULL), EBADF, "iodev_new(an fd that is not open)");
	EXPECT_NULL(iodev_new(core, 1 << 24, FDT_FILEDEV, NULL, nop_h, NULL),
	            EBADF, "iodev_new(fd 2^24, not open)");
	close(fd);

	/* Every device type is accepted, and iodev_fdtype gives it back. */
	ok = 1;
	for (i = 0; i < (int)(sizeof(types) / sizeof(types[0])); i++) {
		fd = sock_fd();
		dev = fd >= 0 ? iodev_new(core, fd, types[i], NULL, nop_h, NULL)
		              : NULL;
		if (dev == NULL || iodev_fdtype(dev) != types[i] ||
		    iodev_fd(dev) != fd) {
			tap_diag("fdtype %#x: %s", (unsigned)types[i],
			         dev ? "accessors differ" : strerror(errno));
			ok = 0;
		}
		if (dev != NULL)
			iodev_close(dev);
		else if (fd >= 0)
			close(fd);
	}
	TAP_OK(ok, "iodev_new accepts each of the 12 device types, "
	       "iodev_fdtype returns it");

	fd = sock_fd();
	epcore_stop(core);
	EXPECT_NULL(iodev_new(core, fd, FDT_USOCK_CONNECTED, NULL, nop_h, NULL),
	            ECANCELED, "iodev_new after epcore_stop");
	close(fd);
out:
	epcore_free(core);
}

/* ---- 4. accessors of a fresh device, ids, close ---- */

static void t_iodev_accessors(void)
{
	epcore_t *core = new_core(2, 1);
	int fd, para, para2, r, fl;
	iodev_t *dev;
	uint64_t id;

	if (core == NULL)
		return;
	fd = sock_fd();
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	dev = iodev_new(core, fd, FDT_USOCK_CONNECTED, &para, nop_h, NULL);
	if (!TAP_OK(dev != NULL, "iodev_new")) {
		close(fd);
		epcore_free(core);
		return;
	}
	r = iodev_fd(dev);
	TAP_IS(r, fd, "iodev_fd is the fd given");
	r = iodev_fdtype(dev);
	TAP_IS(r, FDT_USOCK_CONNECTED, "iodev_fdtype is the type given");
	TAP_OK(iodev_para(dev) == &para, "iodev_para is the para given");
	r = iodev_rwflags(dev);
	TAP_IS(r, RWF_READ, "iodev_rwflags of a fresh device is RWF_READ");
	TAP_OK(iodev_core(dev) == core, "iodev_core is the core");
	r = iodev_epump(dev);
	TAP_IS(r, -1, "iodev_epump before binding is -1");
	r = iodev_worker(dev);
	TAP_IS(r, -1, "iodev_worker before any event is -1");
	TAP_OK(fcntl(fd, F_GETFL) & O_NONBLOCK, "iodev_new made the fd "
	       "non-blocking");
	id = iodev_id(dev);
	TAP_OK(id != 0, "iodev_id is not 0");
	TAP_OK(iodev_by_id(core, id) == dev, "iodev_by_id(core, id) is the "
	       "device");
	iodev_set_para(dev, &para2);
	TAP_OK(iodev_para(dev) == &para2, "iodev_set_para then iodev_para");
	iodev_set_para(dev, NULL);
	TAP_OK(iodev_para(dev) == NULL, "iodev_set_para(NULL)");
	r = iodev_bind_epump(dev, BIND_GIVEN_EPUMP, 1);
	TAP_IS(r, 0, "iodev_bind_epump(BIND_GIVEN_EPUMP, 1)");
	r = iodev_epump(dev);
	TAP_IS(r, 1, "iodev_epump is then 1");
	TAP_OK(iodev_id(dev) == id && iodev_by_id(core, id) == dev,
	       "binding keeps the id");
	iodev_close(dev);
	epcore_free(core);

	/* NULL everywhere */
	EXPECT_ID0(iodev_id(NULL), EINVAL, "iodev_id(NULL)");
	EXPECT_FAIL(iodev_fd(NULL), EINVAL, "iodev_fd(NULL)");
	EXPECT_FAIL(iodev_fdtype(NULL), EINVAL, "iodev_fdtype(NULL)");
	EXPECT_NULL(iodev_para(NULL), EINVAL, "iodev_para(NULL)");
	iodev_set_para(NULL, &para);
	TAP_OK(1, "iodev_set_para(NULL, p) is harmless");
	EXPECT_FAIL(iodev_rwflags(NULL), EINVAL, "iodev_rwflags(NULL)");
	EXPECT_NULL(iodev_core(NULL), EINVAL, "iodev_core(NULL)");
	EXPECT_FAIL(iodev_epump(NULL), EINVAL, "iodev_epump(NULL)");
	EXPECT_FAIL(iodev_worker(NULL), EINVAL, "iodev_worker(NULL)");
	iodev_close(NULL);
	TAP_OK(1, "iodev_close(NULL) is harmless");
	EXPECT_FAIL(iodev_bind_epump(NULL, BIND_ONE_EPUMP, 0), EINVAL,
	            "iodev_bind_epump(NULL)");
	EXPECT_FAIL(iodev_add_notify(NULL, RWF_WRITE), EINVAL,
	            "iodev_add_notify(NULL)");
	EXPECT_FAIL(iodev_del_notify(NULL, RWF_READ), EINVAL,
	            "iodev_del_notify(NULL)");
	EXPECT_FAIL(iodev_close_by(NULL, 1), EINVAL, "iodev_close_by(NULL core)");
	EXPECT_NULL(iodev_by_id(NULL, 1), EINVAL, "iodev_by_id(NULL core)");
}

/* Holds an epump thread in a handler until released (at most 5 s), so
 * that what a close leaves to that epump is still pending. */
struct blocker {
	atomic_long started, release;
};

static int block_h(void *cbpara, void *para, int event, int fdtype)
{
	struct blocker *b = cbpara;

	(void)para; (void)event; (void)fdtype;
	atomic_store(&b->started, 1);
	tu_wait_ge(&b->release, 1, 5000);
	return 0;
}

/* Closing: the id stops naming the device, at once, whichever way it was
 * closed; a new device never gets the old id.  A bound device is closed
 * from main while its epump is busy in a handler. */
static void close_case(epcore_t *core, int bind, int by_id)
{
	const char *how = by_id ? "iodev_close_by" : "iodev_close";
	const char *st = bind ? "a bound device (its epump busy)"
	                      : "an unbound device";
	struct blocker b = { 0, 0 };
	iodev_t *dev, *dev2;
	uint64_t id, id2, now;
	int fd, fd2, r;

	fd = sock_fd();
	dev = fd >= 0 ? iodev_new(core, fd, FDT_USOCK_CONNECTED, NULL, nop_h,
	                          NULL) : NULL;
	if (!TAP_OK(dev != NULL, "a device (%s, %s)", st, how)) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (bind && iodev_bind_epump(dev, BIND_GIVEN_EPUMP, 0) != 0)
		tap_ok(0, "iodev_bind_epump: %s", errname(errno));
	if (bind)
		TAP_OK(epcore_post(core, EPT_EPUMP, 0, IOE_USER_DEFINED, NULL,
		                   block_h, &b) == 0 &&
		       tu_wait_ge(&b.started, 1, WAIT_MS),
		       "the device's epump is busy in a handler");
	id = iodev_id(dev);
	if (by_id) {
		r = iodev_close_by(core, id);
		TAP_IS(r, 0, "iodev_close_by(live id) -> 0");
	} else {
		iodev_close(dev);
	}
	/* Right after the close returned. */
	now = iodev_id(dev);
	tap_ok(now != id, "after %s of %s, iodev_id(dev) no longer returns "
	       "the old id (old %#llx, now %#llx)", how, st,
	       (unsigned long long)id, (unsigned long long)now);
	EXPECT_NULL(iodev_by_id(core, id), ENOENT, "iodev_by_id(old id)");
	EXPECT_FAIL(iodev_close_by(core, id), ENOENT, "iodev_close_by(old id)");
	EXPECT_FAIL(iodev_add_notify(dev, RWF_WRITE), ENOENT,
	            "iodev_add_notify(closed device)");
	EXPECT_FAIL(iodev_del_notify(dev, RWF_READ), ENOENT,
	            "iodev_del_notify(closed device)");
	EXPECT_FAIL(iodev_bind_epump(dev, BIND_ONE_EPUMP, 0), ENOENT,
	            "iodev_bind_epump(closed device)");
	EXPECT_FAIL(iodev_post(core, id, IOE_USER_DEFINED, NULL, nop_h, NULL),
	            ENOENT, "iodev_post(old id)");
	iodev_close(dev);
	TAP_OK(1, "closing a closed device again is harmless");
	atomic_store(&b.release, 1);
	/* The device closes its fd (a bound one by its epump, shortly). */
	{
		uint64_t end = tu_now_ms() + 2000;

		while (fd_open(fd) && tu_now_ms() < end)
			tu_sleep_ms(1);
	}
	TAP_OK(!fd_open(fd), "the device's fd was closed");
	now = iodev_id(dev);
	tap_ok(now != id, "iodev_id(dev) once the close finished is not the "
	       "old id (%#llx)", (unsigned long long)now);

	/* A new device, maybe in the same slot or on the same fd number. */
	fd2 = sock_fd();
	dev2 = fd2 >= 0 ? iodev_new(core, fd2, FDT_USOCK_CONNECTED, NULL,
	                            nop_h, NULL) : NULL;
	if (TAP_OK(dev2 != NULL, "a new device")) {
		id2 = iodev_id(dev2);
		TAP_OK(id2 != 0 && id2 != id, "it has a new id");
		EXPECT_NULL(iodev_by_id(core, id), ENOENT,
		            "iodev_by_id(old id) with a new device around");
		EXPECT_FAIL(iodev_close_by(core, id), ENOENT,
		            "iodev_close_by(old id) with a new device around");
		TAP_OK(iodev_by_id(core, id2) == dev2, "the new device was not "
		       "closed by the old id");
		iodev_close(dev2);
	} else if (fd2 >= 0) {
		close(fd2);
	}
}

static void t_iodev_close(void)
{
	epcore_t *core = new_core(1, 0);
	int r;

	if (core == NULL)
		return;
	close_case(core, 0, 0);
	close_case(core, 0, 1);
	close_case(core, 1, 0);
	close_case(core, 1, 1);
	EXPECT_FAIL(iodev_close_by(core, 0x00ab00cd00ef0123ull), ENOENT,
	            "iodev_close_by(made-up id)");
	EXPECT_FAIL(iodev_close_by(core, UINT64_MAX), ENOENT,
	            "iodev_close_by(UINT64_MAX)");
	errno = 0;
	r = iodev_close_by(core, 0);
	tap_ok(r == -1 && (errno == EINVAL || errno == ENOENT),
	       "iodev_close_by(id 0) -> -1/EINVAL or ENOENT (got %d/%s)", r,
	       errname(errno));
	EXPECT_NULL(iodev_by_id(core, 0), ENOENT, "iodev_by_id(id 0)");
	EXPECT_NULL(iodev_by_id(core, 0x00ab00cd00ef0123ull), ENOENT,
	            "iodev_by_id(made-up id)");
	EXPECT_NULL(iodev_by_id(core, UINT64_MAX), ENOENT,
	            "iodev_by_id(UINT64_MAX)");
	/* A made-up id in a live device's slot does not touch it. */
	{
		int fd = sock_fd();
		iodev_t *dev = fd >= 0 ? iodev_new(core, fd,
		                                   FDT_USOCK_CONNECTED, NULL,
		                                   nop_h, NULL) : NULL;

		if (TAP_OK(dev != NULL, "a live device")) {
			uint64_t id = iodev_id(dev);

			EXPECT_FAIL(iodev_close_by(core, id + (1ull << 32)),
			            ENOENT, "iodev_close_by(live slot, next "
			            "generation)");
			EXPECT_FAIL(iodev_close_by(core, id - (1ull << 32)),
			            ENOENT, "iodev_close_by(live slot, previous "
			            "generation)");
			EXPECT_NULL(iodev_by_id(core, id + (5ull << 32)),
			            ENOENT, "iodev_by_id(live slot, other "
			            "generation)");
			TAP_OK(iodev_by_id(core, id) == dev && fd_open(fd),
			       "the live device is untouched");
			iodev_close(dev);
		} else if (fd >= 0) {
			close(fd);
		}
	}
	epcore_free(core);
}

/* ---- 5. binding and notify flags ---- */

static void t_bind_notify(void)
{
	static const int bad_bind[] = { BIND_NONE, 4, 6, -1, 99, INT_MIN };
	static const int bad_rw[] = { 0, 0x01, 0x08, RWF_READ | 0x100, -1,
	                              INT_MIN, 0x10 };
	epcore_t *core = new_core(2, 0), *none;
	iodev_t *dev;
	int fd, i, r;
	char what[96];

	if (core == NULL)
		return;
	fd = sock_fd();
	dev = fd >= 0 ? iodev_new(core, fd, FDT_USOCK_CONNECTED, NULL, nop_h,
	                          NULL) : NULL;
	if (!TAP_OK(dev != NULL, "a device")) {
		if (fd >= 0)
			close(fd);
		goto out;
	}
	for (i = 0; i < (int)(sizeof(bad_bind) / sizeof(bad_bind[0])); i++) {
		snprintf(what, sizeof(what), "iodev_bind_epump(bindtype %d)",
		         bad_bind[i]);
		EXPECT_FAIL(iodev_bind_epump(dev, bad_bind[i], 0), EINVAL, what);
	}
	EXPECT_FAIL(iodev_bind_epump(dev, BIND_GIVEN_EPUMP, 2), ESRCH,
	            "iodev_bind_epump(BIND_GIVEN_EPUMP, 2 of 2 epumps)");
	EXPECT_FAIL(iodev_bind_epump(dev, BIND_GIVEN_EPUMP, -1), ESRCH,
	            "iodev_bind_epump(BIND_GIVEN_EPUMP, -1)");
	EXPECT_FAIL(iodev_bind_epump(dev, BIND_GIVEN_EPUMP, 255), ESRCH,
	            "iodev_bind_epump(BIND_GIVEN_EPUMP, 255)");
	EXPECT_FAIL(iodev_bind_epump(dev, BIND_GIVEN_EPUMP, INT_MAX), ESRCH,
	            "iodev_bind_epump(BIND_GIVEN_EPUMP, INT_MAX)");
	r = iodev_epump(dev);
	TAP_IS(r, -1, "the failed binds left it unbound");

	/* notify flags on an unbound device (nothing changes them behind
	 * our back) */
	for (i = 0; i < (int)(sizeof(bad_rw) / sizeof(bad_rw[0])); i++) {
		snprintf(what, sizeof(what), "iodev_add_notify(rwflags %#x)",
		         (unsigned)bad_rw[i]);
		EXPECT_FAIL(iodev_add_notify(dev, bad_rw[i]), EINVAL, what);
		snprintf(what, sizeof(what), "iodev_del_notify(rwflags %#x)",
		         (unsigned)bad_rw[i]);
		EXPECT_FAIL(iodev_del_notify(dev, bad_rw[i]), EINVAL, what);
	}
	r = iodev_rwflags(dev);
	TAP_IS(r, RWF_READ, "the refused calls left the flags as they were");
	r = iodev_add_notify(dev, RWF_WRITE);
	TAP_IS(r, 0, "iodev_add_notify(RWF_WRITE)");
	r = iodev_rwflags(dev);
	TAP_IS(r, RWF_READ | RWF_WRITE, "rwflags READ|WRITE");
	r = iodev_del_notify(dev, RWF_READ);
	TAP_IS(r, 0, "iodev_del_notify(RWF_READ)");
	r = iodev_rwflags(dev);
	TAP_IS(r, RWF_WRITE, "rwflags WRITE");
	r = iodev_del_notify(dev, RWF_READ | RWF_WRITE);
	TAP_IS(r, 0, "iodev_del_notify(RWF_READ|RWF_WRITE)");
	r = iodev_rwflags(dev);
	TAP_IS(r, 0, "rwflags 0");
	r = iodev_add_notify(dev, RWF_READ);
	TAP_IS(r, 0, "iodev_add_notify(RWF_READ)");
	r = iodev_add_notify(dev, RWF_READ);
	TAP_IS(r, 0, "iodev_add_notify(RWF_READ) again");
	r = iodev_rwflags(dev);
	TAP_IS(r, RWF_READ, "rwflags READ");

	r = iodev_bind_epump(dev, BIND_GIVEN_EPUMP, 1);
	TAP_IS(r, 0, "a good bind after the bad ones works");
	r = iodev_epump(dev);
	TAP_IS(r, 1, "on epump 1");
	EXPECT_FAIL(iodev_bind_epump(dev, BIND_GIVEN_EPUMP, 0), EALREADY,
	            "iodev_bind_epump of a bound device");
	EXPECT_FAIL(iodev_bind_epump(dev, BIND_ALL_EPUMP, 0), EALREADY,
	            "iodev_bind_epump(BIND_ALL) of a bound device");
	EXPECT_FAIL(iodev_bind_epump(dev, 4, 0), EINVAL,
	            "iodev_bind_epump(bindtype 4) of a bound device");
	r = iodev_epump(dev);
	TAP_IS(r, 1, "still on epump 1");
	iodev_close(dev);

	/* BIND_ALL: iodev_epump is -1. */
	fd = sock_fd();
	dev = fd >= 0 ? iodev_new(core, fd, FDT_USOCK_CONNECTED, NULL, nop_h,
	                          NULL) : NULL;
	if (TAP_OK(dev != NULL, "a device for BIND_ALL_EPUMP")) {
		r = iodev_bind_epump(dev, BIND_ALL_EPUMP, 0);
		TAP_IS(r, 0, "iodev_bind_epump(BIND_ALL_EPUMP)");
		r = iodev_epump(dev);
		TAP_IS(r, -1, "iodev_epump of a BIND_ALL device is -1");
		iodev_close(dev);
	} else if (fd >= 0) {
		close(fd);
	}

	/* select: fd >= FD_SETSIZE cannot be polled. */
	if (strcmp(epcore_backend(core), "select") == 0) {
		int big = -1;

		fd = sock_fd();
		if (fd >= 0)
			big = fcntl(fd, F_DUPFD, FD_SETSIZE + 10);
		if (fd >= 0)
			close(fd);
		dev = big >= 0 ? iodev_new(core, big, FDT_USOCK_CONNECTED, NULL,
		                           nop_h, NULL) : NULL;
		if (TAP_OK(dev != NULL, "select: a device on fd %d", big)) {
			EXPECT_FAIL(iodev_bind_epump(dev, BIND_ONE_EPUMP, 0),
			            EINVAL, "select: iodev_bind_epump(fd >= "
			            "FD_SETSIZE)");
			iodev_close(dev);
		} else if (big >= 0) {
			close(big);
		}
	}
out:
	epcore_free(core);

	/* No epump with that index on a core without epumps. */
	none = epcore_new(0);
	if (none == NULL)
		return;
	fd = sock_fd();
	dev = fd >= 0 ? iodev_new(none, fd, FDT_USOCK_CONNECTED, NULL, nop_h,
	                          NULL) : NULL;
	if (TAP_OK(dev != NULL, "a device on a core without epumps")) {
		EXPECT_FAIL(iodev_bind_epump(dev, BIND_GIVEN_EPUMP, 0), ESRCH,
		            "iodev_bind_epump(BIND_GIVEN_EPUMP, 0), no epumps");
		r = iodev_bind_epump(dev, BIND_ONE_EPUMP, 0);
		TAP_IS(r, 0, "iodev_bind_epump(BIND_ONE_EPUMP), no epumps: "
		       "parked");
		EXPECT_FAIL(iodev_bind_epump(dev, BIND_ONE_EPUMP, 0), EALREADY,
		            "binding a parked device again");
		iodev_close(dev);
	} else if (fd >= 0) {
		close(fd);
	}
	epcore_free(none);
}

/* ---- 6. timers and user events with bad input ---- */

static void t_timers_posts(void)
{
	epcore_t *core = new_core(1, 1);
	uint64_t id;

	if (core == NULL)
		return;
	EXPECT_ID0(iotimer_start(NULL, 1, 0, NULL, nop_h, NULL), EINVAL,
	           "iotimer_start(NULL core)");
	EXPECT_ID0(iotimer_start(core, 1, 0, NULL, NULL, NULL), EINVAL,
	           "iotimer_start(NULL handler)");
	EXPECT_ID0(iotimer_start(core, -1, 0, NULL, nop_h, NULL), EINVAL,
	           "iotimer_start(ms -1)");
	EXPECT_ID0(iotimer_start(core, INT_MIN, 0, NULL, nop_h, NULL), EINVAL,
	           "iotimer_start(ms INT_MIN)");
	EXPECT_FAIL(iotimer_stop(NULL, 1), EINVAL, "iotimer_stop(NULL core)");
	EXPECT_FAIL(iotimer_stop(core, 0), ENOENT, "iotimer_stop(id 0)");
	EXPECT_FAIL(iotimer_stop(core, 0x00ab00cd00ef0123ull), ENOENT,
	            "iotimer_stop(made-up id)");
	EXPECT_FAIL(iotimer_stop(core, UINT64_MAX), ENOENT,
	            "iotimer_stop(UINT64_MAX)");
	id = iotimer_start(core, 100000, 0, NULL, nop_h, NULL);
	TAP_OK(id != 0, "a long timer");
	EXPECT_FAIL(iotimer_stop(core, id + (1ull << 32)), ENOENT,
	            "iotimer_stop(live slot, other generation)");
	TAP_OK(iotimer_stop(core, id) == 0, "the live timer was untouched: "
	       "its stop -> 0");
	EXPECT_FAIL(iotimer_stop(core, id), ENOENT, "iotimer_stop(stopped id)");
	EXPECT_ID0(iotimer_id(NULL), EINVAL, "iotimer_id(NULL)");
	EXPECT_FAIL(iotimer_cmdid(NULL), EINVAL, "iotimer_cmdid(NULL)");
	EXPECT_NULL(iotimer_para(NULL), EINVAL, "iotimer_para(NULL)");

	EXPECT_FAIL(epcore_post(NULL, EPT_EPUMP, 0, IOE_USER_DEFINED, NULL,
	                        nop_h, NULL), EINVAL, "epcore_post(NULL core)");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, 0, IOE_USER_DEFINED, NULL,
	                        NULL, NULL), EINVAL,
	            "epcore_post(NULL handler)");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, 0, IOE_USER_DEFINED - 1, NULL,
	                        nop_h, NULL), EINVAL,
	            "epcore_post(event below IOE_USER_DEFINED)");
	EXPECT_FAIL(epcore_post(core, 0, 0, IOE_USER_DEFINED, NULL, nop_h,
	                        NULL), EINVAL, "epcore_post(kind 0)");
	EXPECT_FAIL(epcore_post(core, 7, 0, IOE_USER_DEFINED, NULL, nop_h,
	                        NULL), EINVAL, "epcore_post(kind 7)");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, 1, IOE_USER_DEFINED, NULL,
	                        nop_h, NULL), ESRCH,
	            "epcore_post(EPT_EPUMP, index 1 of 1)");
	EXPECT_FAIL(epcore_post(core, EPT_WORKER, 1, IOE_USER_DEFINED, NULL,
	                        nop_h, NULL), ESRCH,
	            "epcore_post(EPT_WORKER, index 1 of 1)");
	EXPECT_FAIL(iodev_post(NULL, 1, IOE_USER_DEFINED, NULL, nop_h, NULL),
	            EINVAL, "iodev_post(NULL core)");
	EXPECT_FAIL(iodev_post(core, 0, IOE_USER_DEFINED, NULL, nop_h, NULL),
	            ENOENT, "iodev_post(id 0)");
	EXPECT_FAIL(iodev_post(core, 0x00ab00cd00ef0123ull, IOE_USER_DEFINED,
	                       NULL, nop_h, NULL), ENOENT,
	            "iodev_post(made-up id)");
	epcore_stop(core);
	EXPECT_ID0(iotimer_start(core, 1, 0, NULL, nop_h, NULL), ECANCELED,
	           "iotimer_start after epcore_stop");
	EXPECT_FAIL(epcore_post(core, EPT_WORKER, 0, IOE_USER_DEFINED, NULL,
	                        nop_h, NULL), ECANCELED,
	            "epcore_post after epcore_stop");
	epcore_free(core);
}

/* ---- main ---- */

#define RUN(name, call) do {                                     \
	const char *only_ = getenv("T_ONLY");                    \
	if (only_ == NULL || strstr(only_, name) != NULL)        \
		call;                                            \
} while (0)

static void all(void)
{
	RUN("version", t_version_backend());
	RUN("core", t_core_threads());
	RUN("new", t_iodev_new());
	RUN("accessors", t_iodev_accessors());
	RUN("close", t_iodev_close());
	RUN("bind", t_bind_notify());
	RUN("timers", t_timers_posts());
}

int main(void)
{
	return tap_backends(all);
}
