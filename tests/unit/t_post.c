/*
 * t_post.c - user events: epcore_post(3) delivers each event exactly once,
 * with its para, cbpara, event code and FDT_USERCMD, on the kind of thread
 * asked for, in FIFO order per poster and target; iodev_post(3) runs on
 * the device's own thread, never concurrently with the device's handler,
 * in order, and not after the device is closed; and the errors.
 */
#include <epump.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

#define WAIT_MS 20000u

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
	default:
		snprintf(buf, sizeof(buf), "errno %d", e);
		return buf;
	}
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

/* The thread a handler posted to kind/index runs on (0 if none ran). */
struct whoami {
	pthread_t thr;
	atomic_long done;
};

static int whoami_h(void *cbpara, void *para, int event, int fdtype)
{
	struct whoami *w = cbpara;

	(void)para; (void)event; (void)fdtype;
	w->thr = pthread_self();
	atomic_store(&w->done, 1);
	return 0;
}

static int thread_of(epcore_t *core, int kind, int index, pthread_t *thr)
{
	struct whoami *w = calloc(1, sizeof(*w));

	if (w == NULL ||
	    epcore_post(core, kind, index, IOE_USER_DEFINED, NULL, whoami_h,
	                w) < 0) {
		free(w);
		return 0;
	}
	if (!tu_wait_ge(&w->done, 1, WAIT_MS))
		return 0; /* leaked on purpose: the handler may still run */
	*thr = w->thr;
	free(w);
	return 1;
}

#define EXPECT_FAIL(call, want, what) do {                                  \
	int r_, e_;                                                         \
	errno = 0;                                                          \
	r_ = (call);                                                        \
	e_ = errno;                                                         \
	tap_ok(r_ == -1 && e_ == (want), "%s -> -1/%s (got %d/%s)", (what), \
	       errname(want), r_, errname(e_));                             \
} while (0)

/* ---- 1. exactly once, right thread kind, FIFO: 2 posters x 5*10^4 ---- */

#define NPOSTERS 2
#define NPER     50000
#define NTARGETS 6

static const struct { int kind, index; } targets[NTARGETS] = {
	{ EPT_WORKER, -1 }, { EPT_WORKER, 0 }, { EPT_WORKER, 1 },
	{ EPT_EPUMP, -1 }, { EPT_EPUMP, 0 }, { EPT_EPUMP, 1 },
};

struct rec {
	atomic_int count;
	int poster, target, seq, event;
};

struct mass;

struct poster {
	struct mass *m;
	int p;
	long failed;
	int last_errno;
};

struct mass {
	epcore_t *core;
	struct rec *rec;
	struct poster posters[NPOSTERS];
	pthread_t main_thr, w[2], e[2];
	/* last seq seen per poster, target and (for index -1) thread slot;
	 * each cell is written by one thread only */
	int last[NPOSTERS][NTARGETS][4];
	atomic_long total, bad_fdtype, bad_event, bad_cb, bad_kind,
	            bad_index, bad_fifo, bad_para;
};

static int slot_of(struct mass *m, pthread_t me)
{
	if (pthread_equal(me, m->w[0])) return 0;
	if (pthread_equal(me, m->w[1])) return 1;
	if (pthread_equal(me, m->e[0])) return 2;
	if (pthread_equal(me, m->e[1])) return 3;
	return -1;
}

static int mass_h(void *cbpara, void *para, int event, int fdtype)
{
	struct poster *po = cbpara;
	struct mass *m = po->m;
	struct rec *r = para;
	pthread_t me = pthread_self();
	int slot, t;

	if (r < m->rec || r >= m->rec + NPOSTERS * NPER) {
		atomic_fetch_add(&m->bad_para, 1);
		atomic_fetch_add(&m->total, 1);
		return 0;
	}
	if (fdtype != FDT_USERCMD)
		atomic_fetch_add(&m->bad_fdtype, 1);
	if (event != r->event)
		atomic_fetch_add(&m->bad_event, 1);
	if (po != &m->posters[r->poster])
		atomic_fetch_add(&m->bad_cb, 1);
	t = r->target;
	slot = slot_of(m, me);
	if (targets[t].kind == EPT_WORKER ? (slot != 0 && slot != 1)
	                                  : (slot != 2 && slot != 3))
		atomic_fetch_add(&m->bad_kind, 1);
	if (targets[t].index >= 0 &&
	    slot != (targets[t].kind == EPT_WORKER ? 0 : 2) + targets[t].index)
		atomic_fetch_add(&m->bad_index, 1);
	if (slot >= 0) {
		int *last = &m->last[r->poster][t][slot];

		if (r->seq <= *last)
			atomic_fetch_add(&m->bad_fifo, 1);
		*last = r->seq;
	}
	atomic_fetch_add(&r->count, 1);
	atomic_fetch_add(&m->total, 1);
	return 0;
}

static void *mass_poster(void *arg)
{
	struct poster *po = arg;
	struct mass *m = po->m;
	int k;

	for (k = 0; k < NPER; k++) {
		struct rec *r = &m->rec[po->p * NPER + k];
		int t = r->target;

		if (epcore_post(m->core, targets[t].kind, targets[t].index,
		                r->event, r, mass_h, po) != 0) {
			po->failed++;
			po->last_errno = errno;
		}
	}
	return NULL;
}

static void t_mass(void)
{
	struct mass *m = calloc(1, sizeof(*m));
	epcore_t *core = new_core(2, 2);
	pthread_t th[NPOSTERS];
	int p, k, t, s, started = 0;
	long failed = 0, not_once = 0, dup = 0;
	uint64_t t0;

	if (core == NULL || m == NULL)
		goto out;
	m->core = core;
	m->rec = calloc(NPOSTERS * NPER, sizeof(*m->rec));
	if (m->rec == NULL)
		goto out;
	m->main_thr = pthread_self();
	if (!TAP_OK(thread_of(core, EPT_WORKER, 0, &m->w[0]) &&
	            thread_of(core, EPT_WORKER, 1, &m->w[1]) &&
	            thread_of(core, EPT_EPUMP, 0, &m->e[0]) &&
	            thread_of(core, EPT_EPUMP, 1, &m->e[1]),
	            "a user event ran on each of 2 workers and 2 epumps"))
		goto out;
	{
		pthread_t all[5] = { m->w[0], m->w[1], m->e[0], m->e[1],
		                     m->main_thr };
		int i, j, distinct = 1;

		for (i = 0; i < 5; i++)
			for (j = 0; j < i; j++)
				if (pthread_equal(all[i], all[j]))
					distinct = 0;
		TAP_OK(distinct, "worker 0, worker 1, epump 0, epump 1 and main "
		       "are 5 distinct threads");
	}
	for (p = 0; p < NPOSTERS; p++)
		for (t = 0; t < NTARGETS; t++)
			for (s = 0; s < 4; s++)
				m->last[p][t][s] = -1;
	for (p = 0; p < NPOSTERS; p++) {
		int seq[NTARGETS] = { 0 };

		m->posters[p].m = m;
		m->posters[p].p = p;
		for (k = 0; k < NPER; k++) {
			struct rec *r = &m->rec[p * NPER + k];

			r->poster = p;
			r->target = (k * 7 + p) % NTARGETS;
			r->seq = seq[r->target]++;
			r->event = IOE_USER_DEFINED + (p * NPER + k) % 5000;
		}
	}
	t0 = tu_now_ms();
	for (p = 0; p < NPOSTERS; p++)
		if (pthread_create(&th[p], NULL, mass_poster,
		                   &m->posters[p]) == 0)
			started++;
	TAP_IS(started, NPOSTERS, "poster threads started");
	for (p = 0; p < started; p++)
		pthread_join(th[p], NULL);
	for (p = 0; p < NPOSTERS; p++) {
		failed += m->posters[p].failed;
		if (m->posters[p].failed)
			tap_diag("poster %d: %ld posts failed, last errno %s", p,
			         m->posters[p].failed,
			         errname(m->posters[p].last_errno));
	}
	TAP_IS(failed, 0, "every epcore_post returned 0");
	TAP_OK(tu_wait_ge(&m->total, NPOSTERS * NPER - failed, WAIT_MS),
	       "all %d events were handled", NPOSTERS * NPER);
	tap_diag("%d events posted and handled in %llu ms", NPOSTERS * NPER,
	         (unsigned long long)(tu_now_ms() - t0));
	tu_sleep_ms(50);
	for (k = 0; k < NPOSTERS * NPER; k++) {
		int c = atomic_load(&m->rec[k].count);

		if (c != 1)
			not_once++;
		if (c > 1)
			dup++;
	}
	tap_ok(not_once == 0, "every event's handler ran exactly once (%ld "
	       "not once, %ld more than once)", not_once, dup);
	TAP_IS(atomic_load(&m->bad_para), 0, "every handler got a para that "
	       "was posted");
	TAP_IS(atomic_load(&m->bad_fdtype), 0, "every handler got FDT_USERCMD");
	TAP_IS(atomic_load(&m->bad_event), 0, "every handler got its event "
	       "code");
	TAP_IS(atomic_load(&m->bad_cb), 0, "every handler got its cbpara");
	TAP_IS(atomic_load(&m->bad_kind), 0, "EPT_WORKER events ran on a "
	       "worker, EPT_EPUMP events on an epump thread");
	TAP_IS(atomic_load(&m->bad_index), 0, "events posted to an explicit "
	       "index ran on that thread");
	TAP_IS(atomic_load(&m->bad_fifo), 0, "events from one poster to one "
	       "thread ran in FIFO order");
out:
	if (core != NULL)
		epcore_free(core);
	if (m != NULL)
		free(m->rec);
	free(m);
}

/* ---- 2. thread kinds on lopsided cores, and posts from handlers ---- */

struct pingpong {
	epcore_t *core;
	pthread_t w, e;
	int n, max;
	atomic_long done, wrong;
};

static int ping_h(void *cbpara, void *para, int event, int fdtype)
{
	struct pingpong *pp = cbpara;
	int to_worker = (int)(intptr_t)para;
	pthread_t me = pthread_self();

	(void)event; (void)fdtype;
	if (!pthread_equal(me, to_worker ? pp->w : pp->e))
		atomic_fetch_add(&pp->wrong, 1);
	if (++pp->n >= pp->max) {
		atomic_store(&pp->done, 1);
		return 0;
	}
	if (epcore_post(pp->core, to_worker ? EPT_EPUMP : EPT_WORKER, 0,
	                IOE_USER_DEFINED + pp->n, (void *)(intptr_t)!to_worker,
	                ping_h, pp) != 0) {
		atomic_fetch_add(&pp->wrong, 1000000);
		atomic_store(&pp->done, 1);
	}
	return 0;
}

static void t_kinds(void)
{
	epcore_t *core;
	pthread_t thr, e;
	struct pingpong *pp;

	/* epumps only */
	core = new_core(2, 0);
	if (core == NULL)
		return;
	TAP_OK(thread_of(core, EPT_EPUMP, -1, &thr) &&
	       !pthread_equal(thr, pthread_self()),
	       "no workers: EPT_EPUMP -1 runs on an epump thread");
	EXPECT_FAIL(epcore_post(core, EPT_WORKER, -1, IOE_USER_DEFINED, NULL,
	                        whoami_h, NULL), ESRCH,
	            "no workers: epcore_post(EPT_WORKER, -1)");
	EXPECT_FAIL(epcore_post(core, EPT_WORKER, 0, IOE_USER_DEFINED, NULL,
	                        whoami_h, NULL), ESRCH,
	            "no workers: epcore_post(EPT_WORKER, 0)");
	epcore_free(core);

	/* workers only */
	core = new_core(0, 2);
	if (core == NULL)
		return;
	TAP_OK(thread_of(core, EPT_WORKER, -1, &thr) &&
	       !pthread_equal(thr, pthread_self()),
	       "no epumps: EPT_WORKER -1 runs on a worker thread");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, -1, IOE_USER_DEFINED, NULL,
	                        whoami_h, NULL), ESRCH,
	            "no epumps: epcore_post(EPT_EPUMP, -1)");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, 0, IOE_USER_DEFINED, NULL,
	                        whoami_h, NULL), ESRCH,
	            "no epumps: epcore_post(EPT_EPUMP, 0)");
	epcore_free(core);

	/* posts from handlers: epump 0 <-> worker 0, 2000 hops */
	core = new_core(1, 1);
	pp = calloc(1, sizeof(*pp));
	if (core == NULL || pp == NULL)
		goto out;
	pp->core = core;
	pp->max = 2000;
	if (!TAP_OK(thread_of(core, EPT_WORKER, 0, &pp->w) &&
	            thread_of(core, EPT_EPUMP, 0, &e),
	            "thread identities of worker 0 and epump 0"))
		goto out;
	pp->e = e;
	TAP_OK(epcore_post(core, EPT_WORKER, 0, IOE_USER_DEFINED,
	                   (void *)(intptr_t)1, ping_h, pp) == 0 &&
	       tu_wait_ge(&pp->done, 1, WAIT_MS) && pp->n == pp->max,
	       "events posted from handlers, worker <-> epump, %d hops", pp->max);
	TAP_IS(atomic_load(&pp->wrong), 0, "each hop ran on the thread asked");
out:
	if (core != NULL)
		epcore_free(core);
	free(pp);
}

/* ---- 3. iodev_post ---- */

#define NDP   10000
#define NLATE 2000

struct dp {
	epcore_t *core;
	iodev_t *dev;
	uint64_t id;
	int peer;
	int seq[NDP + NLATE];
	int last;
	atomic_int inside;
	atomic_int owner_set;
	pthread_t owner;
	atomic_long overlap, wrong_thread, bad_fifo, bad_args;
	atomic_long nuser, nread, bytes, read_ev;
	atomic_int closed;
	atomic_long after_close;
	long post_failed;
	int post_errno;
	atomic_int posting;
};

static void dp_enter(struct dp *d)
{
	pthread_t me = pthread_self();
	int exp = 0;

	if (atomic_exchange(&d->inside, 1) != 0)
		atomic_fetch_add(&d->overlap, 1);
	if (atomic_compare_exchange_strong(&d->owner_set, &exp, 1)) {
		d->owner = me;
		atomic_store(&d->owner_set, 2);
	} else {
		while (atomic_load(&d->owner_set) != 2)
			;
		if (!pthread_equal(d->owner, me))
			atomic_fetch_add(&d->wrong_thread, 1);
	}
}

static void dp_leave(struct dp *d)
{
	int i;

	/* Stay a little, so an overlap would be seen. */
	for (i = 0; i < 50; i++)
		(void)atomic_load(&d->overlap);
	atomic_store(&d->inside, 0);
}

static int dp_user_h(void *cbpara, void *para, int event, int fdtype)
{
	struct dp *d = cbpara;
	int *seq = para;

	if (atomic_load(&d->closed))
		atomic_fetch_add(&d->after_close, 1);
	if (fdtype != FDT_USERCMD || event != IOE_USER_DEFINED + 7 ||
	    seq < d->seq || seq >= d->seq + NDP + NLATE) {
		atomic_fetch_add(&d->bad_args, 1);
		return 0;
	}
	dp_enter(d);
	if (*seq != d->last + 1)
		atomic_fetch_add(&d->bad_fifo, 1);
	d->last = *seq;
	dp_leave(d);
	atomic_fetch_add(&d->nuser, 1);
	return 0;
}

static int dp_dev_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct dp *d = cbpara;
	char buf[256];
	ssize_t n;

	(void)fdtype;
	if (atomic_load(&d->closed))
		atomic_fetch_add(&d->after_close, 1);
	if (obj != d->dev)
		atomic_fetch_add(&d->bad_args, 1);
	dp_enter(d);
	atomic_fetch_add(&d->read_ev, 1);
	if (event == IOE_READ) {
		while ((n = read(iodev_fd(obj), buf, sizeof(buf))) > 0)
			atomic_fetch_add(&d->bytes, n);
		atomic_fetch_add(&d->nread, 1);
	}
	dp_leave(d);
	return 0;
}

static void *dp_poster(void *arg)
{
	struct dp *d = arg;
	int k;

	for (k = 0; k < NDP; k++) {
		if (iodev_post(d->core, d->id, IOE_USER_DEFINED + 7, &d->seq[k],
		               dp_user_h, d) != 0) {
			d->post_failed++;
			d->post_errno = errno;
		}
		if (k % 100 == 99)
			usleep(100);
	}
	atomic_store(&d->posting, 0);
	return NULL;
}

/* workers: 2 epumps + 2 workers, closed with iodev_close; else 2 epumps
 * and no workers, closed with iodev_close_by. */
static void t_iodev_post(int workers)
{
	struct dp *d = calloc(1, sizeof(*d));
	epcore_t *core = new_core(2, workers);
	int sv[2] = { -1, -1 }, k, r, bound;
	pthread_t th, expect_thr;
	long ran_late, wrote = 0;
	const char *cfg = workers ? "2 workers" : "no workers";

	if (core == NULL || d == NULL)
		goto out;
	d->core = core;
	d->last = -1;
	for (k = 0; k < NDP + NLATE; k++)
		d->seq[k] = k;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		tap_ok(0, "socketpair: %s", strerror(errno));
		goto out;
	}
	fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
	d->peer = sv[1];
	d->dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL, dp_dev_h, d);
	if (!TAP_OK(d->dev != NULL, "iodev_new on a socketpair (%s)", cfg)) {
		close(sv[0]);
		goto out;
	}
	d->id = iodev_id(d->dev);
	bound = iodev_bind_epump(d->dev, BIND_ONE_EPUMP, 0) == 0;
	if (!TAP_OK(bound, "iodev_bind_epump(BIND_ONE_EPUMP) (%s)", cfg))
		goto out;
	/* A first read event, so the device's thread is known. */
	if (write(sv[1], "x", 1) == 1)
		wrote++;
	tu_wait_ge(&d->nread, 1, WAIT_MS);

	atomic_store(&d->posting, 1);
	if (pthread_create(&th, NULL, dp_poster, d) != 0) {
		tap_ok(0, "pthread_create");
		goto out;
	}
	/* Keep the device readable while the events are posted. */
	while (atomic_load(&d->posting)) {
		if (write(sv[1], "y", 1) == 1)
			wrote++;
		usleep(200);
	}
	pthread_join(th, NULL);
	tu_wait_ge(&d->nuser, NDP - d->post_failed, WAIT_MS);
	tap_ok(d->post_failed == 0, "every iodev_post returned 0 (%ld failed, "
	       "last %s) (%s)", d->post_failed, errname(d->post_errno), cfg);
	TAP_IS(atomic_load(&d->nuser), NDP, "all 10^4 events posted to the "
	       "device ran");
	tu_wait_ge(&d->bytes, wrote, 2000);
	tap_diag("%ld bytes written, %ld read in %ld read events (%s)", wrote,
	         atomic_load(&d->bytes), atomic_load(&d->nread), cfg);
	TAP_OK(atomic_load(&d->nread) > 1, "the device's IOE_READ handler ran "
	       "meanwhile");
	TAP_IS(atomic_load(&d->bad_args), 0, "handlers got their para, event, "
	       "FDT_USERCMD and device");
	TAP_IS(atomic_load(&d->overlap), 0, "a posted event never ran "
	       "concurrently with the device's handler (or another one)");
	TAP_IS(atomic_load(&d->wrong_thread), 0, "posted events ran on the "
	       "thread that runs the device's IOE_READ handler");
	TAP_IS(atomic_load(&d->bad_fifo), 0, "posted events ran in FIFO order");
	if (workers) {
		int w = iodev_worker(d->dev);

		TAP_OK(w >= 0 && w < workers && thread_of(core, EPT_WORKER, w,
		       &expect_thr) && pthread_equal(expect_thr, d->owner),
		       "that thread is the device's worker (%d)", w);
	} else {
		int e = iodev_epump(d->dev);

		TAP_OK(e == 0 && thread_of(core, EPT_EPUMP, e, &expect_thr) &&
		       pthread_equal(expect_thr, d->owner),
		       "that thread is the device's epump (%d)", e);
	}

	/* A burst, then a close at once: what has not run is dropped. */
	for (k = NDP; k < NDP + NLATE; k++)
		(void)iodev_post(core, d->id, IOE_USER_DEFINED + 7, &d->seq[k],
		                 dp_user_h, d);
	if (workers) {
		iodev_close(d->dev);
	} else {
		r = iodev_close_by(core, d->id);
		TAP_IS(r, 0, "iodev_close_by(the device's id)");
	}
	atomic_store(&d->closed, 1);
	tu_sleep_ms(100);
	ran_late = atomic_load(&d->nuser) - NDP;
	tap_diag("%ld of %d events posted just before the close ran", ran_late,
	         NLATE);
	/* At most one handler can have started before the close returned
	 * yet read the flag after it was set. */
	tap_ok(atomic_load(&d->after_close) <= 1, "no handler started after "
	       "%s returned (%ld did)", workers ? "iodev_close" :
	       "iodev_close_by", atomic_load(&d->after_close));
	TAP_IS(atomic_load(&d->bad_fifo), 0, "those that ran were in order");
	EXPECT_FAIL(iodev_post(core, d->id, IOE_USER_DEFINED + 7, &d->seq[0],
	                       dp_user_h, d), ENOENT,
	            workers ? "iodev_post after iodev_close"
	                    : "iodev_post after iodev_close_by");
	tu_sleep_ms(20);
	TAP_IS(atomic_load(&d->nuser), NDP + ran_late, "the refused post did "
	       "not run");
out:
	if (core != NULL)
		epcore_free(core);
	if (sv[1] >= 0)
		close(sv[1]);
	free(d);
}

/* ---- 4. errors ---- */

static int nop_h(void *cbpara, void *para, int event, int fdtype)
{
	atomic_long *n = cbpara;

	(void)para; (void)event; (void)fdtype;
	if (n != NULL)
		atomic_fetch_add(n, 1);
	return 0;
}

static void t_errors(void)
{
	epcore_t *core = new_core(2, 2), *bare;
	atomic_long ran = 0;
	int sv[2], r;
	iodev_t *dev = NULL;
	uint64_t id = 0;

	if (core == NULL)
		return;
	EXPECT_FAIL(epcore_post(core, EPT_WORKER, -1, IOE_USER_DEFINED - 1,
	                        NULL, nop_h, &ran), EINVAL,
	            "epcore_post(event IOE_USER_DEFINED - 1)");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, 0, IOE_TIMEOUT, NULL, nop_h,
	                        &ran), EINVAL, "epcore_post(event IOE_TIMEOUT)");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, 0, IOE_READ, NULL, nop_h,
	                        &ran), EINVAL, "epcore_post(event IOE_READ)");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, 0, 0, NULL, nop_h, &ran),
	            EINVAL, "epcore_post(event 0)");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, 0, -1, NULL, nop_h, &ran),
	            EINVAL, "epcore_post(event -1)");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, 0, IOE_USER_DEFINED, NULL,
	                        NULL, &ran), EINVAL,
	            "epcore_post(NULL handler)");
	EXPECT_FAIL(epcore_post(NULL, EPT_EPUMP, 0, IOE_USER_DEFINED, NULL,
	                        nop_h, &ran), EINVAL, "epcore_post(NULL core)");
	EXPECT_FAIL(epcore_post(core, 0, 0, IOE_USER_DEFINED, NULL, nop_h,
	                        &ran), EINVAL, "epcore_post(kind 0)");
	EXPECT_FAIL(epcore_post(core, 3, 0, IOE_USER_DEFINED, NULL, nop_h,
	                        &ran), EINVAL, "epcore_post(kind 3)");
	EXPECT_FAIL(epcore_post(core, -1, -1, IOE_USER_DEFINED, NULL, nop_h,
	                        &ran), EINVAL, "epcore_post(kind -1)");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP | EPT_WORKER, 0,
	                        IOE_USER_DEFINED, NULL, nop_h, &ran), EINVAL,
	            "epcore_post(kind EPT_EPUMP|EPT_WORKER)");
	EXPECT_FAIL(epcore_post(core, EPT_WORKER, 2, IOE_USER_DEFINED, NULL,
	                        nop_h, &ran), ESRCH,
	            "epcore_post(EPT_WORKER, index 2 of 2)");
	EXPECT_FAIL(epcore_post(core, EPT_WORKER, 1000000, IOE_USER_DEFINED,
	                        NULL, nop_h, &ran), ESRCH,
	            "epcore_post(EPT_WORKER, index 10^6)");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, 2, IOE_USER_DEFINED, NULL,
	                        nop_h, &ran), ESRCH,
	            "epcore_post(EPT_EPUMP, index 2 of 2)");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, 255, IOE_USER_DEFINED, NULL,
	                        nop_h, &ran), ESRCH,
	            "epcore_post(EPT_EPUMP, index 255)");
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, 1 << 30, IOE_USER_DEFINED,
	                        NULL, nop_h, &ran), ESRCH,
	            "epcore_post(EPT_EPUMP, index 2^30)");
	/* -1 means "least loaded"; other negatives are no index at all. */
	errno = 0;
	r = epcore_post(core, EPT_WORKER, -2, IOE_USER_DEFINED, NULL, nop_h,
	                &ran);
	tap_ok(r == -1 && (errno == ESRCH || errno == EINVAL),
	       "epcore_post(EPT_WORKER, index -2) -> -1/ESRCH or EINVAL "
	       "(got %d/%s)", r, errname(errno));
	errno = 0;
	r = epcore_post(core, EPT_EPUMP, -7, IOE_USER_DEFINED, NULL, nop_h,
	                &ran);
	tap_ok(r == -1 && (errno == ESRCH || errno == EINVAL),
	       "epcore_post(EPT_EPUMP, index -7) -> -1/ESRCH or EINVAL "
	       "(got %d/%s)", r, errname(errno));
	tu_sleep_ms(50);
	atomic_store(&ran, 0);
	r = epcore_post(core, EPT_EPUMP, 1, IOE_USER_DEFINED, NULL, nop_h,
	                &ran);
	TAP_OK(r == 0 && tu_wait_ge(&ran, 1, WAIT_MS), "a good post still works");

	/* iodev_post */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
		dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL,
		                nop_h, NULL);
		close(sv[1]);
		if (dev == NULL)
			close(sv[0]);
	}
	if (TAP_OK(dev != NULL, "a device for iodev_post")) {
		id = iodev_id(dev);
		EXPECT_FAIL(iodev_post(NULL, id, IOE_USER_DEFINED, NULL, nop_h,
		                       &ran), EINVAL, "iodev_post(NULL core)");
		EXPECT_FAIL(iodev_post(core, id, IOE_USER_DEFINED, NULL, NULL,
		                       &ran), EINVAL, "iodev_post(NULL handler)");
		EXPECT_FAIL(iodev_post(core, id, IOE_USER_DEFINED - 1, NULL,
		                       nop_h, &ran), EINVAL,
		            "iodev_post(event IOE_USER_DEFINED - 1)");
		EXPECT_FAIL(iodev_post(core, id, IOE_READ, NULL, nop_h, &ran),
		            EINVAL, "iodev_post(event IOE_READ)");
		EXPECT_FAIL(iodev_post(core, 0, IOE_USER_DEFINED, NULL, nop_h,
		                       &ran), ENOENT, "iodev_post(id 0)");
		EXPECT_FAIL(iodev_post(core, 0x0123456700abcdefull,
		                       IOE_USER_DEFINED, NULL, nop_h, &ran),
		            ENOENT, "iodev_post(made-up id)");
		EXPECT_FAIL(iodev_post(core, id + (3ull << 32),
		                       IOE_USER_DEFINED, NULL, nop_h, &ran),
		            ENOENT, "iodev_post(live slot, other generation)");
		EXPECT_FAIL(iodev_post(core, UINT64_MAX, IOE_USER_DEFINED, NULL,
		                       nop_h, &ran), ENOENT,
		            "iodev_post(UINT64_MAX)");
		iodev_close(dev);
		EXPECT_FAIL(iodev_post(core, id, IOE_USER_DEFINED, NULL, nop_h,
		                       &ran), ENOENT,
		            "iodev_post(id of a closed, never bound device)");
	}

	/* A device no thread polls, on a core without workers: ESRCH. */
	bare = new_core(1, 0);
	if (bare != NULL) {
		dev = NULL;
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
			dev = iodev_new(bare, sv[0], FDT_USOCK_CONNECTED, NULL,
			                nop_h, NULL);
			close(sv[1]);
			if (dev == NULL)
				close(sv[0]);
		}
		if (TAP_OK(dev != NULL, "an unbound device on a core without "
		           "workers"))
			EXPECT_FAIL(iodev_post(bare, iodev_id(dev),
			                       IOE_USER_DEFINED, NULL, nop_h,
			                       &ran), ESRCH,
			            "iodev_post(unbound device, no workers)");
		epcore_free(bare);
	}

	/* After epcore_stop: ECANCELED. */
	dev = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
		dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL,
		                nop_h, NULL);
		close(sv[1]);
		if (dev == NULL)
			close(sv[0]);
		else
			(void)iodev_bind_epump(dev, BIND_ONE_EPUMP, 0);
	}
	epcore_stop(core);
	EXPECT_FAIL(epcore_post(core, EPT_EPUMP, 0, IOE_USER_DEFINED, NULL,
	                        nop_h, &ran), ECANCELED,
	            "epcore_post(EPT_EPUMP) after epcore_stop");
	EXPECT_FAIL(epcore_post(core, EPT_WORKER, -1, IOE_USER_DEFINED, NULL,
	                        nop_h, &ran), ECANCELED,
	            "epcore_post(EPT_WORKER) after epcore_stop");
	if (dev != NULL)
		EXPECT_FAIL(iodev_post(core, iodev_id(dev), IOE_USER_DEFINED,
		                       NULL, nop_h, &ran), ECANCELED,
		            "iodev_post(live device) after epcore_stop");
	r = epcore_free(core);
	TAP_IS(r, 0, "epcore_free");
}

/* ---- main ---- */

#define RUN(name, call) do {                                     \
	const char *only_ = getenv("T_ONLY");                    \
	if (only_ == NULL || strstr(only_, name) != NULL)        \
		call;                                            \
} while (0)

static void all(void)
{
	RUN("mass", t_mass());
	RUN("kinds", t_kinds());
	RUN("iodev", t_iodev_post(2));
	RUN("iodev", t_iodev_post(0));
	RUN("errors", t_errors());
}

int main(void)
{
	return tap_backends(all);
}
