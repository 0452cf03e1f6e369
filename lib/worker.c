/*
 * worker.c - worker threads and their FIFO queues.
 *
 * Producers (epump threads flushing a batch, posters of user events) push
 * under the worker's own lock and wake it only if it announced that it
 * sleeps.  The worker takes the whole queue in one lock by swapping rings,
 * runs it without the lock, and sleeps on a futex word: it reads the word,
 * announces sleeping, re-checks the queue, then waits on the value it read,
 * so a push between the check and the wait changes the word and the wait
 * returns at once (no lost wakeup, no timed polling).  Going to sleep, it
 * counts itself in core->nidle and wakes the epumps that wait for an idle
 * worker (epump.c, wait_for_workers()).
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct worker *ep__worker_new(epcore_t *core, int index)
{
	size_t sz = (sizeof(struct worker) + EP__CACHELINE - 1) &
	            ~(size_t)(EP__CACHELINE - 1);
	struct worker *w = aligned_alloc(EP__CACHELINE, sz);

	if (w == NULL)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->core = core;
	w->index = index;
	pthread_mutex_init(&w->lock, NULL);
	w->self.core = core;
	w->self.kind = EPT_WORKER;
	w->self.index = index;
	w->self.wk = w;
	w->self.cur_src = -1;
	w->self.ts = &w->ts;
	return w;
}

void ep__worker_destroy(struct worker *w)
{
	ep__evq_free(&w->q);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void ep__worker_wake(struct worker *w)
{
	atomic_fetch_add(&w->futex, 1);
	syscall(SYS_futex, &w->futex, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

int ep__worker_push(struct worker *w, const struct ep__ev *ev, uint32_t n)
{
	uint64_t now = ep__stats_on(w->core) ? ep__now_ns() : 0;
	uint32_t i;

	pthread_mutex_lock(&w->lock);
	if (ep__evq_reserve(&w->q, n) < 0) {
		pthread_mutex_unlock(&w->lock);
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct ep__ev *slot = &w->q.ring[w->q.tail++ & (w->q.cap - 1)];

		*slot = ev[i];
		slot->t_ns = now; /* queue wait, for the stats */
	}
	atomic_store(&w->qlen, ep__evq_len(&w->q));
	pthread_mutex_unlock(&w->lock);
	if (atomic_load(&w->sleeping) && atomic_exchange(&w->sleeping, 0))
		ep__worker_wake(w);
	return 0;
}

/* The worker with the shortest queue plus fewest devices. */
int ep__worker_pick(epcore_t *core)
{
	int n = ep__nworkers(core), i, best = -1;
	uint32_t start;
	uint64_t bestload = UINT64_MAX;

	if (n == 0)
		return -1;
	start = atomic_fetch_add_explicit(&core->rr, 1, memory_order_relaxed);
	for (i = 0; i < n; i++) {
		int k = (int)((start + (uint32_t)i) % (uint32_t)n);
		struct worker *w = core->workers[k];
		uint64_t load = (uint64_t)atomic_load_explicit(&w->qlen,
		                    memory_order_relaxed) +
		                atomic_load_explicit(&w->ndevices,
		                    memory_order_relaxed);
		if (load < bestload) {
			bestload = load;
			best = k;
		}
	}
	return best;
}

/* The device's worker: chosen once (least loaded), then sticky. */
int ep__dev_worker(epcore_t *core, struct iodev *dev)
{
	int16_t w = atomic_load_explicit(&dev->worker, memory_order_acquire);
	int16_t pick;

	if (w >= 0)
		return w;
	pick = (int16_t)ep__worker_pick(core);
	if (atomic_compare_exchange_strong(&dev->worker, &w, pick)) {
		atomic_fetch_add_explicit(&core->workers[pick]->ndevices, 1,
		                          memory_order_relaxed);
		return pick;
	}
	return w; /* another epump assigned it first */
}

static void run_event(struct worker *w, const struct ep__ev *ev)
{
	epcore_t *core = w->core;
	uint64_t t0 = 0;
	struct iodev *dev;

	if (ev->t_ns != 0 && ep__stats_on(core)) {
		t0 = ep__now_ns();
		ep__hist_add(&w->ts.qwait, t0 > ev->t_ns ? t0 - ev->t_ns : 0);
	}

	switch (ev->type) {
	case EV_DEV:
	case EV_DEVUSER:
		dev = ep__slab_at(&core->devs, EP__ID_SLOT(ev->id));
		if (dev == NULL)
			break;
		(void)ep__dev_run(dev, ev->id, ev);
		if (ev->type == EV_DEV && !core->ops->edge &&
		    (ev->event == IOE_READ || ev->event == IOE_ACCEPT) &&
		    ev->src >= 0) {
			struct ep__ev m = { 0 };

			m.type = MSG_DEV_REARM;
			m.id = ev->id;
			(void)ep__epump_send(core->epumps[ev->src], &m);
		}
		break;
	case EV_TIMER:
		w->self.cur_src = ev->src;
		(void)ep__timer_run(core, ev->id);
		break;
	case EV_USER:
		w->self.cur_src = ev->src;
		ep__ts_set(&w->self, TS_HANDLER, TW_USER, (uint64_t)ev->event);
		ev->handler(ev->cbpara, ev->para, ev->event, FDT_USERCMD);
		break;
	default:
		break;
	}
	w->self.cur_src = -1;
	if (t0 != 0) {
		uint64_t t1 = ep__ts_set(&w->self, TS_RUN, TW_NONE, 0);

		if (t1 != 0)
			ep__hist_add(&w->ts.hrun, t1 - t0);
	}
	atomic_store_explicit(&w->nevents,
	    atomic_load_explicit(&w->nevents, memory_order_relaxed) + 1,
	    memory_order_relaxed);
}

/*
 * A worker is going to sleep: wake the epumps that wait for one to (see
 * wait_for_workers() in epump.c).  The bits stay set: each epump clears
 * its own when it wakes, so a wake that finds it not yet asleep is not
 * the last chance (the next worker to sleep tries again), and
 * ep__epump_wake() writes its eventfd at most once per sleep.
 */
void ep__wake_drainers(epcore_t *core)
{
	size_t i;

	for (i = 0; i < sizeof(core->drainers) / sizeof(core->drainers[0]);
	     i++) {
		uint64_t m = atomic_load(&core->drainers[i]);

		while (m != 0) {
			ep__epump_wake(core->epumps[i * 64 +
			                            (size_t)__builtin_ctzll(m)]);
			m &= m - 1;
		}
	}
}

void *ep__worker_main(void *arg)
{
	struct worker *w = arg;
	epcore_t *core = w->core;
	struct ep__evq mine = { 0 };
	struct ep__ev ev;

	uint64_t t_run = 0, t_idle;

	ep__self = &w->self;
	atomic_store_explicit(&w->ts.tid, (int32_t)gettid(),
	                      memory_order_relaxed);
	while (!ep__stopping(core)) {
		uint32_t seq = atomic_load(&w->futex);

		if (atomic_load(&w->qlen) > 0) {
			struct ep__evq t;

			pthread_mutex_lock(&w->lock);
			t = w->q;
			w->q = mine;
			atomic_store(&w->qlen, 0);
			pthread_mutex_unlock(&w->lock);
			mine = t;
			if (ep__evq_len(&mine) >
			    atomic_load_explicit(&w->ts.qmax, memory_order_relaxed))
				atomic_store_explicit(&w->ts.qmax,
				    ep__evq_len(&mine), memory_order_relaxed);
			while (!ep__stopping(core) && ep__evq_pop(&mine, &ev))
				run_event(w, &ev);
			mine.head = mine.tail = 0;
			continue;
		}
		atomic_store(&w->sleeping, 1);
		atomic_fetch_add(&core->nidle, 1);
		if (atomic_load(&w->qlen) > 0 || ep__stopping(core)) {
			atomic_store(&w->sleeping, 0);
			atomic_fetch_sub(&core->nidle, 1);
			continue;
		}
		ep__wake_drainers(core);
		if ((t_idle = ep__ts_set(&w->self, TS_IDLE, TW_NONE, 0)) &&
		    t_run != 0)
			ep__add64(&w->ts.busy_ns, t_idle - t_run);
		syscall(SYS_futex, &w->futex, FUTEX_WAIT_PRIVATE, seq, NULL,
		        NULL, 0);
		atomic_store(&w->sleeping, 0);
		atomic_fetch_sub(&core->nidle, 1);
		if ((t_run = ep__ts_set(&w->self, TS_RUN, TW_NONE, 0)) &&
		    t_idle != 0)
			ep__add64(&w->ts.wait_ns, t_run - t_idle);
	}
	ep__evq_free(&mine);
	ep__slab_flush(&core->devs, &w->self.devcache);
	ep__slab_flush(&core->timers, &w->self.tmcache);
	ep__self = NULL;
	return NULL;
}
