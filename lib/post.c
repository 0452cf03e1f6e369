/*
 * post.c - user events: a handler call posted from any thread to an epump
 * thread, a worker, or the thread that runs a given device's handlers.
 */
#include "internal.h"

#include <errno.h>

static int post_check(epcore_t *core, int event, IOHandler *handler)
{
	if (core == NULL || handler == NULL || event < IOE_USER_DEFINED) {
		errno = EINVAL;
		return -1;
	}
	if (ep__stopping(core)) {
		errno = ECANCELED;
		return -1;
	}
	return 0;
}

static int16_t post_src(epcore_t *core)
{
	struct ep__thread *self = ep__self_in(core);

	return (int16_t)(self != NULL ? self->cur_src : -1);
}

int epcore_post(epcore_t *core, int kind, int index, int event, void *para,
                IOHandler *handler, void *cbpara)
{
	struct ep__ev ev = { 0 };
	int n;

	if (post_check(core, event, handler) < 0)
		return -1;
	if (index < -1) {
		errno = EINVAL;
		return -1;
	}
	ev.type = EV_USER;
	ev.event = event;
	ev.para = para;
	ev.handler = handler;
	ev.cbpara = cbpara;
	ev.src = post_src(core);
	if (kind == EPT_EPUMP) {
		n = ep__nepumps(core);
		if (index < 0)
			index = ep__epump_pick(core);
		if (index < 0 || index >= n) {
			errno = ESRCH;
			return -1;
		}
		if (!atomic_load(&core->epumps[index]->running)) {
			errno = ESRCH;
			return -1;
		}
		return ep__epump_send(core->epumps[index], &ev);
	}
	if (kind == EPT_WORKER) {
		n = ep__nworkers(core);
		if (index < 0)
			index = ep__worker_pick(core);
		if (index < 0 || index >= n) {
			errno = ESRCH;
			return -1;
		}
		return ep__worker_push(core->workers[index], &ev, 1);
	}
	errno = EINVAL;
	return -1;
}

int iodev_post(epcore_t *core, uint64_t devid, int event, void *para,
               IOHandler *handler, void *cbpara)
{
	struct ep__ev ev = { 0 };
	struct iodev *dev;
	uint64_t tag;
	int idx;

	if (post_check(core, event, handler) < 0)
		return -1;
	dev = ep__dev_lookup(core, devid);
	if (dev == NULL) {
		errno = ENOENT;
		return -1;
	}
	ev.type = EV_DEVUSER;
	ev.id = devid;
	ev.event = event;
	ev.para = para;
	ev.handler = handler;
	ev.cbpara = cbpara;
	ev.src = post_src(core);
	if (ep__nworkers(core) > 0)
		return ep__worker_push(core->workers[ep__dev_worker(core, dev)],
		                       &ev, 1);
	tag = atomic_load(&dev->tag);
	switch (ep__tag_bound(tag)) {
	case DEVB_ONE:
		idx = ep__tag_epump(tag);
		break;
	case DEVB_ALL:
		idx = 0;
		break;
	default:
		errno = ESRCH; /* not polled: no thread runs its handlers */
		return -1;
	}
	ev.src = (int16_t)idx;
	return ep__epump_send(core->epumps[idx], &ev);
}
