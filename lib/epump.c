/*
 * epump.c - the event-loop thread: wait on the poller, classify readiness
 * into events, run them (no workers) or batch them per worker, then serve
 * the inbox and the expired timers.
 *
 * Threads: the loop, the poller, the timers and the outboxes belong to the
 * epump thread.  Any thread may call ep__epump_send(): it pushes to the
 * inbox under inlock and writes the eventfd only if the epump announced
 * that it sleeps (sleeping/notified; both sides use seq_cst so a message
 * pushed while the epump goes to sleep is never missed).
 *
 * Pacing with workers: after handing out a batch, the epump yields once if
 * the batch is still queued (a worker on its CPU runs it first), and while
 * every worker is busy it sleeps on its eventfd until one goes idle
 * (wait_for_workers()) instead of polling for each packet that arrives
 * meanwhile; the next poll takes them all.
 */
#include "internal.h"
#include "devrun.h"

#include <errno.h>
#include <sched.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define EP_NPEV 512

struct epump *ep__epump_new(epcore_t *core, int index)
{
	struct epump *ep;
	size_t sz = (sizeof(*ep) + EP__CACHELINE - 1) &
	            ~(size_t)(EP__CACHELINE - 1);

	ep = aligned_alloc(EP__CACHELINE, sz);
	if (ep == NULL)
		return NULL;
	memset(ep, 0, sizeof(*ep));
	ep->core = core;
	ep->index = index;
	ep->ops = core->ops;
	ep->epfd = -1;
	ep->wakefd = -1;
	ep->pev = malloc(EP_NPEV * sizeof(*ep->pev));
	ep->npev = EP_NPEV;
	ep->poller = ep->ops->create();
	if (ep->pev == NULL || ep->poller == NULL)
		goto fail;
#ifdef HAVE_SYS_EPOLL_H
	if (ep->ops == &ep__poller_epoll)
		ep->epfd = ep__epoll_fd(ep->poller);
#endif
	ep->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ep->wakefd < 0 || ep->wakefd >= ep->ops->maxfd)
		goto fail;
	if (ep->ops->add(ep->poller, ep->wakefd, 0, EP_PR) < 0)
		goto fail;
	pthread_mutex_init(&ep->inlock, NULL);
	ep->self.core = core;
	ep->self.kind = EPT_EPUMP;
	ep->self.index = index;
	ep->self.ep = ep;
	ep->self.cur_src = index;
	ep->self.ts = &ep->ts;
	ep->now = ep__now_ms();
	ep__wheel_init(&ep->wheel, ep->now);
	return ep;
fail:
	{
		int e = errno ? errno : ENOMEM;

		if (ep->poller != NULL)
			ep->ops->destroy(ep->poller);
		if (ep->wakefd >= 0)
			close(ep->wakefd);
		free(ep->pev);
		free(ep);
		errno = e;
	}
	return NULL;
}

void ep__epump_destroy(struct epump *ep)
{
	uint32_t i;

	ep->ops->destroy(ep->poller);
	close(ep->wakefd);
	for (i = 0; i < ep->noutbox; i++)
		ep__evq_free(&ep->outbox[i]);
	free(ep->outbox);
	ep__evq_free(&ep->inbox);
	ep__evq_free(&ep->inspare);
	free(ep->pev);
	pthread_mutex_destroy(&ep->inlock);
	free(ep);
}

void ep__epump_wake(struct epump *ep)
{
	if (atomic_load(&ep->sleeping) &&
	    !atomic_exchange(&ep->notified, 1)) {
		uint64_t one = 1;
		ssize_t r = write(ep->wakefd, &one, sizeof(one));
		(void)r;
	}
}

int ep__epump_send(struct epump *ep, const struct ep__ev *ev)
{
	int r;

	pthread_mutex_lock(&ep->inlock);
	r = ep__evq_push(&ep->inbox, ev);
	if (r == 0)
		atomic_store(&ep->inlen, ep__evq_len(&ep->inbox));
	pthread_mutex_unlock(&ep->inlock);
	if (r < 0) {
		errno = ENOMEM;
		return -1;
	}
	ep__epump_wake(ep);
	return 0;
}

/*
 * After the poller refused to add dev (errno says why): an fd no poller
 * takes (a regular file; epoll's EPERM, e.g. /dev/null) is always ready,
 * so it gets IOE_READ once instead, and reads to end of file.  0, or -1.
 */
int ep__poller_refused(struct iodev *dev, uint64_t id)
{
	if (errno != EPERM)
		return -1;
	atomic_fetch_or(&dev->pflags, PF_REGFILE);
	ep__dev_deliver(dev, id, IOE_READ);
	return 0;
}

static struct ep__evq *outbox_for(struct epump *ep, int w)
{
	if ((uint32_t)w >= ep->noutbox) {
		uint32_t n = (uint32_t)ep__nworkers(ep->core);
		struct ep__evq *nb;

		if (n <= (uint32_t)w)
			n = (uint32_t)w + 1;
		nb = realloc(ep->outbox, n * sizeof(*nb));
		if (nb == NULL)
			return NULL;
		memset(nb + ep->noutbox, 0,
		       (n - ep->noutbox) * sizeof(*nb));
		ep->outbox = nb;
		ep->noutbox = n;
	}
	return &ep->outbox[w];
}

/* Queues ev for worker w; the batch leaves in flush_outboxes(). */
static void send_to_worker(struct epump *ep, int w, const struct ep__ev *ev)
{
	struct ep__evq *q = outbox_for(ep, w);

	if (q == NULL || ep__evq_push(q, ev) < 0) {
		/* No memory for the batch: hand this one over alone. */
		(void)ep__worker_push(ep->core->workers[w], ev, 1);
	}
}

/* Pushes each worker's batch: *pushed tells if there was one; true if a
 * worker still has it queued. */
static bool flush_outboxes(struct epump *ep, bool *pushed)
{
	bool waiting = false;
	uint32_t i;

	for (i = 0; i < ep->noutbox; i++) {
		struct ep__evq *q = &ep->outbox[i];
		struct worker *w = ep->core->workers[i];
		uint32_t n = ep__evq_len(q);

		if (n == 0)
			continue;
		*pushed = true;
		/* The ring is contiguous only up to the wrap point. */
		while (n > 0) {
			uint32_t h = q->head & (q->cap - 1);
			uint32_t run = q->cap - h < n ? q->cap - h : n;

			(void)ep__worker_push(w, q->ring + h, run);
			q->head += run;
			n -= run;
		}
		q->head = q->tail = 0;
		if (atomic_load_explicit(&w->qlen, memory_order_relaxed) > 0)
			waiting = true;
	}
	return waiting;
}

/* An event for a worker: batched in the worker's outbox. */
static void emit_to_worker(struct epump *ep, struct iodev *dev, uint64_t id,
                           int event)
{
	struct ep__ev ev = { 0 };
	int w;

	ev.id = id;
	ev.type = EV_DEV;
	ev.event = event;
	ev.src = (int16_t)ep->index;
	w = ep__dev_worker(ep->core, dev);
	if (!ep->ops->edge && (event == IOE_READ || event == IOE_ACCEPT) &&
	    !(atomic_load_explicit(&dev->ltmask, memory_order_relaxed) &
	      LT_INFLIGHT)) {
		/* Level-triggered: stop reporting reads until the worker's
		 * handler has run (MSG_DEV_REARM), or this thread would spin. */
		atomic_fetch_or(&dev->ltmask, LT_INFLIGHT);
		(void)ep__poller_apply(ep, dev, id, MSG_DEV_MOD);
	}
	send_to_worker(ep, w, &ev);
}

/*
 * A device event: run here when the core has no workers, else handed to
 * the device's worker.  Inline: classify() calls it for every result.
 * here: run the handler from this frame (reads and accepts, the events
 * that come most; devrun.h says why), else through ep__dev_ready().
 */
static inline __attribute__((always_inline))
void emit_at(struct epump *ep, struct iodev *dev, uint64_t id, int event,
             bool here)
{
	atomic_store_explicit(&ep->nevents,
	    atomic_load_explicit(&ep->nevents, memory_order_relaxed) + 1,
	    memory_order_relaxed);
	if (ep__nworkers(ep->core) != 0)
		emit_to_worker(ep, dev, id, event);
	else if (here)
		(void)ep__dev_ready_in(dev, id, event, ep->index);
	else
		(void)ep__dev_ready(dev, id, event, ep->index);
}

static inline void emit(struct epump *ep, struct iodev *dev, uint64_t id,
                        int event)
{
	emit_at(ep, dev, id, event, false);
}

/* Turns one poller result into events (rule 5: none is swallowed). */
static EP__HOT void classify(struct epump *ep,
                             const struct ep__pevent *pe)
{
	struct iodev *dev = ep__dev_lookup(ep->core, pe->id);
	uint32_t pf, ev = pe->ev;

	if (dev == NULL)
		return; /* stale: the device closed since the kernel saw it */
	pf = atomic_load_explicit(&dev->pflags, memory_order_relaxed);
	if (pf & PF_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!(ev & (EP_PW | EP_PERR | EP_PHUP)))
			return;
		if (getsockopt(dev->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == 0 && (ev & EP_PERR))
			err = ECONNREFUSED;
		if (!(atomic_fetch_and(&dev->pflags,
		                       ~(uint32_t)(PF_CONNECTING | PF_WRITE)) &
		      PF_CONNECTING))
			return; /* the connect timeout came first */
		ep__dev_timer_stop(dev);
		dev->error = err;
		if (err != 0) /* a failed connect reports nothing more */
			atomic_fetch_and(&dev->pflags, ~(uint32_t)PF_READ);
		if (!ep->ops->edge)
			(void)ep__poller_apply(ep, dev, pe->id, MSG_DEV_MOD);
		emit(ep, dev, pe->id, err ? IOE_CONNFAIL : IOE_CONNECTED);
		/* Sent while connecting: the socket is writable now. */
		if (err == 0 && iodev_sendq_len(dev) > 0)
			emit(ep, dev, pe->id, IOE_WRITE);
		if (err == 0 && (ev & EP_PR) && (pf & PF_READ))
			emit(ep, dev, pe->id, IOE_READ);
		return;
	}
	if ((ev & (EP_PR | EP_PERR | EP_PHUP)) && (pf & PF_READ)) {
		if ((pf & PF_LISTEN) || !(ev & (EP_PERR | EP_PHUP))) {
			emit_at(ep, dev, pe->id,
			        (pf & PF_LISTEN) ? IOE_ACCEPT : IOE_READ, true);
		} else {
			/*
			 * End of file or an error: a handler that stopped at a
			 * short read has not seen it, and no new edge will come,
			 * so READ comes once more after the handler returns
			 * (dropped if the handler closed the device).  On a
			 * level-triggered backend the condition is reported
			 * once, as an edge would be: reads are masked after it.
			 */
			emit(ep, dev, pe->id, IOE_READ);
			emit(ep, dev, pe->id, IOE_READ);
			if (!ep->ops->edge && ep__dev_lookup(ep->core, pe->id)) {
				atomic_fetch_or(&dev->ltmask, LT_EOF);
				(void)ep__poller_apply(ep, dev, pe->id,
				                       MSG_DEV_MOD);
			}
		}
	}
	if ((ev & (EP_PW | EP_PERR | EP_PHUP)) && (pf & PF_WRITE)) {
		/* One-shot: clear before posting; iodev_add_notify re-arms. */
		uint32_t old = atomic_fetch_and(&dev->pflags,
		                                ~(uint32_t)PF_WRITE);
		if (old & PF_WRITE) {
			if (!ep->ops->edge)
				(void)ep__poller_apply(ep, dev, pe->id,
				                       MSG_DEV_MOD);
			emit(ep, dev, pe->id, IOE_WRITE);
		}
	}
}

static void run_user(struct epump *ep, const struct ep__ev *ev)
{
	ep->self.cur_src = ep->index;
	(void)ep__ts_handler(&ep->self, TW_USER, (uint64_t)ev->event);
	ev->handler(ev->cbpara, ev->para, ev->event, FDT_USERCMD);
	ep__ts_set(&ep->self, TS_RUN, TW_NONE, 0);
}

static void dev_close_msg(struct epump *ep, uint64_t id)
{
	struct iodev *dev = ep__slab_at(&ep->core->devs, EP__ID_SLOT(id));
	uint64_t tag;

	if (dev == NULL)
		return;
	tag = atomic_load(&dev->tag);
	if (EP__TAG_GEN(tag) != EP__ID_GEN(id) || !(tag & DEV_CLOSING))
		return;
	(void)ep->ops->del(ep->poller, dev->fd);
	if (ep__tag_bound(tag) == DEVB_ALL &&
	    atomic_fetch_sub(&dev->nregs, 1) != 1)
		return;
	ep__dev_finish(dev);
}

static void handle_msg(struct epump *ep, const struct ep__ev *ev)
{
	struct iodev *dev;

	switch (ev->type) {
	case EV_USER:
		run_user(ep, ev);
		break;
	case EV_DEV:
		dev = ep__dev_lookup(ep->core, ev->id);
		if (dev != NULL)
			emit(ep, dev, ev->id, ev->event);
		break;
	case EV_DEVUSER:
		dev = ep__dev_lookup(ep->core, ev->id);
		if (dev != NULL)
			(void)ep__dev_run(dev, ev->id, ev);
		break;
	case MSG_DEV_ADD:
		dev = ep__dev_lookup(ep->core, ev->id);
		if (dev != NULL &&
		    ep__poller_apply(ep, dev, ev->id, MSG_DEV_ADD) < 0)
			emit(ep, dev, ev->id, IOE_INVALID_DEV);
		break;
	case MSG_DEV_MOD:
		dev = ep__dev_lookup(ep->core, ev->id);
		if (dev != NULL)
			(void)ep__poller_apply(ep, dev, ev->id, MSG_DEV_MOD);
		break;
	case MSG_DEV_REARM:
		dev = ep__dev_lookup(ep->core, ev->id);
		if (dev != NULL &&
		    (atomic_fetch_and(&dev->ltmask, (uint8_t)~LT_INFLIGHT) &
		     LT_INFLIGHT)) {
			(void)ep__poller_apply(ep, dev, ev->id, MSG_DEV_MOD);
		}
		break;
	case MSG_DEV_CLOSE:
		dev_close_msg(ep, ev->id);
		break;
	case MSG_TIMER_ARM:
		ep__timer_arm_msg(ep, ev->id);
		break;
	case MSG_TIMER_DEL:
		ep__timer_del_msg(ep, ev->id);
		break;
	case MSG_TIMER_MOVE:
		ep__timer_move_msg(ep, ev->id, ev->t_ns);
		break;
	default:
		break;
	}
}

/*
 * Takes the whole inbox in one lock by swapping it with the spare ring,
 * then serves it without the lock: no allocation once the rings are grown.
 */
static void drain_inbox(struct epump *ep)
{
	struct ep__evq mine;
	struct ep__ev ev;

	if (atomic_load(&ep->inlen) == 0)
		return;
	pthread_mutex_lock(&ep->inlock);
	mine = ep->inbox;
	ep->inbox = ep->inspare;
	atomic_store(&ep->inlen, 0);
	pthread_mutex_unlock(&ep->inlock);
	while (!ep__stopping(ep->core) && ep__evq_pop(&mine, &ev))
		handle_msg(ep, &ev);
	mine.head = mine.tail = 0;
	ep->inspare = mine;
}

/* The eventfd was written (ep__epump_wake()): empty it, so the next
 * wake writes it again. */
static void take_wakeup(struct epump *ep)
{
	uint64_t v;
	ssize_t r = read(ep->wakefd, &v, sizeof(v));

	(void)r;
	atomic_store(&ep->notified, 0);
}

/* With stats on: time spent waiting (in the poller, or for a worker) vs
 * out of it.  t_run: when the last wait ended (0: unknown). */
static inline void wait_begin(struct epump *ep, uint64_t t_run,
                              uint64_t *t_wait)
{
	ep->self.t_woke = 0; /* not taken: no handler ran */
	if (!ep__stats_on(ep->core))
		return;
	if ((*t_wait = ep__ts_set(&ep->self, TS_POLL, TW_NONE, 0)) &&
	    t_run != 0)
		ep__add64(&ep->ts.busy_ns, *t_wait - t_run);
}

static inline void wait_end(struct epump *ep, uint64_t t_wait,
                            uint64_t *t_run)
{
	if (!ep__stats_on(ep->core)) {
		*t_run = 0;
		return;
	}
	if ((*t_run = ep__ts_set(&ep->self, TS_RUN, TW_NONE, 0)) &&
	    t_wait != 0)
		ep__add64(&ep->ts.wait_ns, *t_run - t_wait);
	ep->self.t_woke = *t_run;
}

/* The loop's time, read after each wait only while timers are on the
 * wheel: the one thing that needs it.  A timer started on an empty wheel
 * reads the clock itself (iotimer.c).  t_run: the same clock read by
 * wait_end() (stats on), else 0. */
static inline void loop_clock(struct epump *ep, uint64_t t_run)
{
	if (ep->wheel.n != 0)
		ep->now = t_run != 0 ? t_run / 1000000u : ep__now_ms();
}

/*
 * Every worker is busy and this epump has just handed out work: sleep
 * until a worker goes idle (or a message or a timer comes) instead of
 * polling again.  Readiness is edge-triggered and the kernel keeps it, so
 * nothing is lost by waiting; polling now would only wake this thread for
 * every packet that arrives while the workers are behind, to queue one
 * event at a time behind them.  The next poll collects in one call what
 * came meanwhile.  While any worker is idle, polling goes on as before:
 * what arrives may be work for it.
 *
 * The wait is a poll(2) on the epump's own eventfd, the one its inbox
 * wakes it with: this thread still blocks in nothing but a poller wait.
 * Lost wakeups: the epump sets its bit in core->drainers, then reads
 * core->nidle; a worker going to sleep counts itself in nidle, then reads
 * drainers (worker.c); all seq_cst, so one of them sees the other.
 */
static void wait_for_workers(struct epump *ep, uint64_t *t_run)
{
	epcore_t *core = ep->core;
	_Atomic uint64_t *word = &core->drainers[ep->index / 64];
	uint64_t bit = (uint64_t)1 << (ep->index % 64);
	struct pollfd pfd;
	uint64_t t_wait = 0;
	int timeout;

	if (atomic_load(&core->nidle) > 0)
		return;
	atomic_fetch_or(word, bit);
	atomic_store(&ep->sleeping, 1);
	if (atomic_load(&core->nidle) > 0 || atomic_load(&ep->inlen) > 0 ||
	    ep__stopping(core)) {
		atomic_store(&ep->sleeping, 0);
		atomic_fetch_and(word, ~bit);
		return;
	}
	timeout = ep__timer_next_ms(ep);
	pfd.fd = ep->wakefd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	wait_begin(ep, *t_run, &t_wait);
	if (poll(&pfd, 1, timeout) > 0)
		take_wakeup(ep);
	atomic_store_explicit(&ep->sleeping, 0, memory_order_relaxed);
	wait_end(ep, t_wait, t_run);
	atomic_fetch_and(word, ~bit);
	loop_clock(ep, *t_run);
}

EP__HOT void ep__epump_loop(struct epump *ep)
{
	epcore_t *core = ep->core;
	uint64_t t_run = 0, t_poll = 0;

	atomic_store_explicit(&ep->ts.tid, (int32_t)gettid(),
	                      memory_order_relaxed);
	ep->now = ep__now_ms();
	while (!ep__stopping(core)) {
		int timeout = ep->wheel.n != 0 ? ep__timer_next_ms(ep) : -1;
		int n, i;
		bool queued, pushed = false;

		ep__store64(&ep->next_due_ms,
		            timeout < 0 ? 0 : ep->now + (uint64_t)timeout);

		wait_begin(ep, t_run, &t_poll);
		atomic_store(&ep->sleeping, 1);
		if (atomic_load(&ep->inlen) > 0 || ep__stopping(core))
			timeout = 0;
#ifdef HAVE_SYS_EPOLL_H
		if (ep->epfd >= 0) /* the results need no translation */
			n = ep__sys_epoll_wait(ep->epfd,
			    (struct epoll_event *)(void *)ep->pev, ep->npev,
			    timeout);
		else
#endif
			n = ep->ops->wait(ep->poller, ep->pev, ep->npev,
			                  timeout);
		/* Relaxed: seen late, it costs a spare eventfd write. */
		atomic_store_explicit(&ep->sleeping, 0, memory_order_relaxed);
		wait_end(ep, t_poll, &t_run);
		loop_clock(ep, t_run);
		atomic_store_explicit(&ep->nloops,
		    atomic_load_explicit(&ep->nloops, memory_order_relaxed) + 1,
		    memory_order_relaxed);
		for (i = 0; i < n; i++) {
			if (ep->pev[i].id == 0) {
				take_wakeup(ep);
				continue;
			}
			classify(ep, &ep->pev[i]);
		}
		/* Without workers there are no outboxes: skip the calls. */
		queued = ep->noutbox > 0 && flush_outboxes(ep, &pushed);
		drain_inbox(ep);
		if (ep->wheel.n != 0)
			ep__timers_expire(ep);
		if (ep->noutbox > 0)
			queued |= flush_outboxes(ep, &pushed);
		/* Work we handed out is still queued: a worker sharing our CPU
		 * has not run yet.  Let it run before polling again, or every
		 * packet would wake us to hand over one event at a time (two
		 * context switches per event instead of per batch).  On a CPU
		 * of its own the worker has taken it already, or this returns
		 * at once. */
		if (queued)
			sched_yield();
		/* Still all busy: wait for one of them before polling. */
		if (pushed)
			wait_for_workers(ep, &t_run);
	}
}
