/*
 * devrun.h - running a device's handler: the one body behind
 * ep__dev_run() and ep__dev_ready() (iodev.c), and inlined once more into
 * the epump's loop for a read, the event that comes most (epump.c).
 *
 * Why a second copy: the handler is entered before the system calls it
 * makes and left after them, and so is every frame around it.  Each such
 * frame's return mispredicts (sys.h), and ep__dev_ready() was one more of
 * them for every event, besides its call and its six saved registers.
 */
#ifndef EP_DEVRUN_H
#define EP_DEVRUN_H

#include "internal.h"

#include <sched.h>

/*
 * Runs one event of dev (EV_DEV or EV_DEVUSER) if id still names it, with
 * DEV_BUSY held.  Returns 1 if a handler ran, 0 if the event was stale.
 * Inlined into its entries, so that readiness run on the epump builds no
 * event and tests none of a user event's branches.
 */
static inline __attribute__((always_inline))
int ep__dev_run_in(struct iodev *dev, uint64_t id, const struct ep__ev *ev)
{
	struct ep__thread *self = ep__self;
	uint32_t gen = EP__ID_GEN(id);
	uint64_t cur = atomic_load(&dev->tag), prev_dev, t = 0;
	int prev_src, event = ev->event;

	for (;;) {
		if (EP__TAG_GEN(cur) != gen ||
		    (cur & (DEV_LIVE | DEV_CLOSING)) != DEV_LIVE)
			return 0;
		if (!(cur & DEV_BUSY)) {
			if (atomic_compare_exchange_weak(&dev->tag, &cur,
			                                 cur | DEV_BUSY))
				break;
			continue;
		}
		/* Held by another thread: only a BIND_ALL device without
		 * workers gets here.  Readiness is handed to the holder;
		 * a user event waits its turn. */
		if (ev->type == EV_DEV) {
			atomic_store(&dev->rerun_ev, event);
			if (atomic_compare_exchange_weak(&dev->tag, &cur,
			                                 cur | DEV_RERUN))
				return 0;
			continue;
		}
		sched_yield();
		cur = atomic_load(&dev->tag);
	}

	prev_dev = self->cur_dev;
	prev_src = self->cur_src;
	self->cur_dev = id;
	self->cur_src = ev->src;
	for (;;) {
		t = ep__ts_handler(self, TW_DEV, id);
		if (t != 0)
			atomic_store_explicit(&dev->last_ms, (uint32_t)
			    ((t - dev->core->born_ns) / 1000000u),
			    memory_order_relaxed);
		if (ev->type == EV_DEVUSER)
			ev->handler(ev->cbpara, ev->para, event, FDT_USERCMD);
		else if (event != IOE_WRITE || ep__sendq_flush(dev) != 0)
			dev->handler(dev->cbpara, dev, event, dev->fdtype);
		/* else: iodev_send's queue is not drained yet, re-armed */
		cur = atomic_load(&dev->tag);
		for (;;) {
			if (EP__TAG_GEN(cur) != gen)
				goto done; /* closed and freed by the handler */
			if (cur & DEV_CLOSING) {
				ep__dev_close_claimed(dev, id);
				goto done;
			}
			if (cur & DEV_RERUN) {
				if (atomic_compare_exchange_weak(&dev->tag,
				        &cur, cur & ~(uint64_t)DEV_RERUN)) {
					event = atomic_load(&dev->rerun_ev);
					break; /* run it again */
				}
				continue;
			}
			if (atomic_compare_exchange_weak(&dev->tag, &cur,
			                                 cur & ~(uint64_t)DEV_BUSY))
				goto done;
		}
		if (ev->type == EV_DEVUSER)
			break; /* cannot happen: only readiness reruns */
	}
done:
	self->cur_dev = prev_dev;
	self->cur_src = prev_src;
	if (self->wk == NULL) /* workers: run_event */
		ep__ts_set_at(self, TS_RUN, t);
	return 1;
}

/* ep__dev_run_in() for readiness (EV_DEV) from epump src. */
static inline __attribute__((always_inline))
int ep__dev_ready_in(struct iodev *dev, uint64_t id, int event, int src)
{
	struct ep__ev ev;

	ev.id = id;
	ev.type = EV_DEV;
	ev.event = event;
	ev.src = (int16_t)src;
	return ep__dev_run_in(dev, id, &ev);
}

#endif /* EP_DEVRUN_H */
