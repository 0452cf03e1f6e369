/*
 * epcore.c - the process-wide core: creation and teardown, the registry of
 * epump and worker threads, the objects parked until an epump exists, and
 * epcore_stop().
 *
 * Threads: epcore_new/epcore_free belong to the application's thread (not
 * a handler); the start functions and parking take core->lock;
 * epcore_stop() takes no lock (it is async-signal-safe).
 */
#include "internal.h"
#include "sys.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread struct ep__thread *ep__self
    __attribute__((tls_model("initial-exec")));

/* EPUMP_LIBC_IO=1: the per-event system calls go through the C library's
 * functions (sys.h).  Read once, when the library is loaded, so that it
 * never changes under a running thread. */
bool ep__libc_io;

static void __attribute__((constructor)) libc_io_init(void)
{
	const char *v = getenv("EPUMP_LIBC_IO");

	ep__libc_io = v != NULL && strcmp(v, "1") == 0;
}

const char *epump_version(void)
{
	return PACKAGE_VERSION;
}

int ep__idvec_add(struct ep__idvec *v, uint64_t id)
{
	if (v->n == v->cap) {
		uint32_t nc = v->cap ? v->cap * 2 : 16;
		uint64_t *nv = realloc(v->v, (size_t)nc * sizeof(*nv));

		if (nv == NULL)
			return -1;
		v->v = nv;
		v->cap = nc;
	}
	v->v[v->n++] = id;
	return 0;
}

bool ep__idvec_del(struct ep__idvec *v, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < v->n; i++) {
		if (v->v[i] == id) {
			v->v[i] = v->v[--v->n];
			return true;
		}
	}
	return false;
}

static void raise_nofile(int maxfd)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	want = maxfd > 0 ? (rlim_t)maxfd : rl.rlim_max;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
		want = rl.rlim_max;
	if (want == RLIM_INFINITY)
		want = 1u << 20;
	if (want > rl.rlim_cur) {
		rl.rlim_cur = want;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

epcore_t *epcore_new(int maxfd)
{
	const struct ep__poller_ops *ops;
	epcore_t *core;
	struct rlimit rl;

	ops = ep__poller_find(getenv("EPUMP_BACKEND"));
	if (ops == NULL) {
		errno = EINVAL;
		return NULL;
	}
	/* Aligned: the workers' idle count (with the drainers' bits) starts
	 * a cache line of its own. */
	core = aligned_alloc(EP__CACHELINE, (sizeof(*core) + EP__CACHELINE - 1) &
	                     ~(size_t)(EP__CACHELINE - 1));
	if (core == NULL)
		return NULL;
	memset(core, 0, sizeof(*core));
	/* Devices and timers set every field at their start (dev_init(),
	 * iotimer.c): a reused slot is not zeroed first. */
	if (ep__slab_init(&core->devs, sizeof(struct iodev)) < 0 ||
	    ep__slab_init(&core->timers, sizeof(struct iotimer)) < 0) {
		ep__slab_destroy(&core->devs);
		free(core);
		errno = ENOMEM;
		return NULL;
	}
	core->dns = ep__dns_new(core);
	if (core->dns == NULL) {
		ep__slab_destroy(&core->devs);
		ep__slab_destroy(&core->timers);
		free(core);
		errno = ENOMEM;
		return NULL;
	}
	raise_nofile(maxfd);
	core->maxfd = maxfd;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < INT_MAX)
		core->maxfd = (int)rl.rlim_cur;
	core->ops = ops;
	core->born_ns = ep__now_ns();
	pthread_mutex_init(&core->lock, NULL);
	pthread_cond_init(&core->cond, NULL);
	/* For programs not built for it: the socket from the environment.
	 * Failing that is not the program's failure: it runs without. */
	{
		const char *on = getenv("EPUMP_STATS");

		if (on != NULL && strcmp(on, "1") == 0)
			(void)epcore_stats_enable(core,
			                          getenv("EPUMP_STATS_SOCKET"));
	}
	return core;
}

const char *epcore_backend(const epcore_t *core)
{
	if (core == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return core->ops->name;
}

int epcore_epump_count(const epcore_t *core)
{
	if (core == NULL) {
		errno = EINVAL;
		return -1;
	}
	return ep__nepumps(core);
}

int epcore_worker_count(const epcore_t *core)
{
	if (core == NULL) {
		errno = EINVAL;
		return -1;
	}
	return ep__nworkers(core);
}

struct epump *ep__epump_at(epcore_t *core, int index)
{
	if (index < 0 || index >= ep__nepumps(core))
		return NULL;
	return core->epumps[index];
}

/* The epump with the fewest devices and timers, or -1 if none runs. */
int ep__epump_pick(epcore_t *core)
{
	int n = ep__nepumps(core), i, best = -1;
	uint32_t start, bestload = UINT32_MAX;

	if (n == 0)
		return -1;
	start = atomic_fetch_add_explicit(&core->rr, 1, memory_order_relaxed);
	for (i = 0; i < n; i++) {
		int k = (int)((start + (uint32_t)i) % (uint32_t)n);
		struct epump *ep = core->epumps[k];
		uint32_t load = ep__epump_ndevices(ep) +
		                atomic_load_explicit(&ep->ntimers,
		                                     memory_order_relaxed);
		if (load < bestload) {
			bestload = load;
			best = k;
		}
	}
	return best;
}

/*
 * Hands the parked objects to a new epump (all of them to the first one;
 * BIND_ALL devices to every one).  Caller holds core->lock; the epump's
 * thread is not running its loop yet, so its poller and timers are ours.
 */
static void core_adopt(epcore_t *core, struct epump *ep)
{
	uint32_t i;

	for (i = 0; i < core->parked_devs.n; i++) {
		struct iodev *dev = ep__dev_lookup(core,
		                                   core->parked_devs.v[i]);
		if (dev != NULL)
			ep__dev_adopt(ep, dev);
	}
	core->parked_devs.n = 0;
	for (i = 0; i < core->all_devs.n; i++) {
		struct iodev *dev = ep__dev_lookup(core, core->all_devs.v[i]);
		if (dev != NULL)
			ep__dev_adopt(ep, dev);
	}
	for (i = 0; i < core->parked_timers.n; i++) {
		uint64_t id = core->parked_timers.v[i];
		struct iotimer *t = ep__slab_at(&core->timers,
		                                EP__ID_SLOT(id));
		if (t != NULL && EP__TAG_GEN(atomic_load(&t->tag)) ==
		                     EP__ID_GEN(id))
			ep__timer_adopt(ep, t);
	}
	core->parked_timers.n = 0;
	ep__mlisten_adopt(core, ep);
}

static void *epump_thread(void *arg)
{
	struct epump *ep = arg;

	ep__self = &ep->self;
	ep__epump_loop(ep);
	ep__slab_flush(&ep->core->devs, &ep->self.devcache);
	ep__slab_flush(&ep->core->timers, &ep->self.tmcache);
	ep__self = NULL;
	return NULL;
}

/* Registers and adopts a new epump; caller holds core->lock. */
static struct epump *core_add_epump(epcore_t *core)
{
	int idx = ep__nepumps(core);
	struct epump *ep;

	if (idx >= EP__MAX_EPUMPS) {
		errno = EAGAIN;
		return NULL;
	}
	ep = ep__epump_new(core, idx);
	if (ep == NULL)
		return NULL;
	/* Visible before adoption: a timer stopped from another thread just
	 * after adoption sends its message to core->epumps[idx]. */
	core->epumps[idx] = ep;
	core_adopt(core, ep);
	return ep;
}

int epcore_start_epump(epcore_t *core, int n)
{
	int started = 0, err = 0;

	if (core == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (n <= 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c > 0 ? (int)c : 1;
	}
	pthread_mutex_lock(&core->lock);
	while (started < n) {
		struct epump *ep;

		if (ep__stopping(core)) {
			err = ECANCELED;
			break;
		}
		ep = core_add_epump(core);
		if (ep == NULL) {
			err = errno;
			break;
		}
		ep->spawned = true;
		atomic_store(&ep->running, true);
		err = pthread_create(&ep->thread, NULL, epump_thread, ep);
		if (err != 0) {
			/* Adopted objects stay with it; free() closes them. */
			ep->spawned = false;
			atomic_store(&ep->running, false);
			atomic_fetch_add_explicit(&core->nepumps, 1,
			                          memory_order_release);
			break;
		}
		atomic_fetch_add_explicit(&core->nepumps, 1,
		                          memory_order_release);
		started++;
	}
	pthread_mutex_unlock(&core->lock);
	if (started == 0) {
		errno = err ? err : EAGAIN;
		return -1;
	}
	return started;
}

int epump_main_start(epcore_t *core)
{
	struct ep__thread *prev = ep__self;
	struct epump *ep;

	if (core == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (prev != NULL) {
		/* Already one of a core's threads: it cannot run two loops. */
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&core->lock);
	if (ep__stopping(core)) {
		pthread_mutex_unlock(&core->lock);
		errno = ECANCELED;
		return -1;
	}
	ep = core_add_epump(core);
	if (ep == NULL) {
		int e = errno;
		pthread_mutex_unlock(&core->lock);
		errno = e;
		return -1;
	}
	ep->thread = pthread_self();
	atomic_store(&ep->running, true);
	atomic_fetch_add_explicit(&core->nepumps, 1, memory_order_release);
	core->nmain++;
	pthread_mutex_unlock(&core->lock);

	ep__self = &ep->self;
	ep__epump_loop(ep);
	ep__slab_flush(&core->devs, &ep->self.devcache);
	ep__slab_flush(&core->timers, &ep->self.tmcache);
	ep__self = prev;

	pthread_mutex_lock(&core->lock);
	atomic_store(&ep->running, false);
	core->nmain--;
	pthread_cond_broadcast(&core->cond);
	pthread_mutex_unlock(&core->lock);
	return 0;
}

int epcore_start_worker(epcore_t *core, int n)
{
	int started = 0, err = 0;

	if (core == NULL || n < 0) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&core->lock);
	while (started < n) {
		int idx = ep__nworkers(core);
		struct worker *w;

		if (ep__stopping(core)) {
			err = ECANCELED;
			break;
		}
		if (idx >= EP__MAX_WORKERS) {
			err = EAGAIN;
			break;
		}
		w = ep__worker_new(core, idx);
		if (w == NULL) {
			err = errno;
			break;
		}
		err = pthread_create(&w->thread, NULL, ep__worker_main, w);
		if (err != 0) {
			ep__worker_destroy(w);
			break;
		}
		core->workers[idx] = w;
		atomic_fetch_add_explicit(&core->nworkers, 1,
		                          memory_order_release);
		started++;
	}
	pthread_mutex_unlock(&core->lock);
	if (started < n && started == 0) {
		errno = err ? err : EAGAIN;
		return -1;
	}
	return started;
}

/* Async-signal-safe: atomics, write(2) and futex(2) only. */
void epcore_stop(epcore_t *core)
{
	int i, n;

	if (core == NULL)
		return;
	atomic_store(&core->stopping, 1);
	n = ep__nepumps(core);
	for (i = 0; i < n; i++) {
		uint64_t one = 1;
		ssize_t r = write(core->epumps[i]->wakefd, &one, sizeof(one));
		(void)r;
	}
	n = ep__nworkers(core);
	for (i = 0; i < n; i++) {
		struct worker *w = core->workers[i];

		atomic_fetch_add(&w->futex, 1);
		syscall(SYS_futex, &w->futex, FUTEX_WAKE_PRIVATE, INT_MAX,
		        NULL, NULL, 0);
	}
}

int epcore_free(epcore_t *core)
{
	int i, n;

	if (core == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (ep__self_in(core) != NULL) {
		errno = EDEADLK;
		return -1;
	}
	epcore_stop(core);
	ep__stats_free(core);
	n = ep__nepumps(core);
	for (i = 0; i < n; i++)
		if (core->epumps[i]->spawned)
			pthread_join(core->epumps[i]->thread, NULL);
	n = ep__nworkers(core);
	for (i = 0; i < n; i++)
		pthread_join(core->workers[i]->thread, NULL);
	pthread_mutex_lock(&core->lock);
	while (core->nmain > 0)
		pthread_cond_wait(&core->cond, &core->lock);
	pthread_mutex_unlock(&core->lock);

	ep__dns_free(core);
	ep__dev_close_all(core);
	n = ep__nepumps(core);
	for (i = 0; i < n; i++)
		ep__epump_destroy(core->epumps[i]);
	n = ep__nworkers(core);
	for (i = 0; i < n; i++)
		ep__worker_destroy(core->workers[i]);
	ep__mlisten_free(core);
	ep__slab_destroy(&core->devs);
	ep__slab_destroy(&core->timers);
	free(core->parked_devs.v);
	free(core->all_devs.v);
	free(core->parked_timers.v);
	pthread_mutex_destroy(&core->lock);
	pthread_cond_destroy(&core->cond);
	free(core);
	return 0;
}
