/*
 * t_timers.c - iotimer(3): timers fire in deadline order (equal deadlines
 * in start order), never before their deadline, exactly once; a stopped
 * timer never fires; stop's return values; ~10^6 starts and stops; timers
 * parked before any epump exists; which thread runs a timer's handler; the
 * accessors; and the errors.
 */
#include <epump.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

#define WAIT_MS 10000u       /* bound of every wait for something due */
#define MADE_UP_ID 0x00ab00cd00ef0123ull
#define FROM_MAIN    (-1)    /* "start it from": besides EPT_EPUMP/WORKER */
#define FROM_FOREIGN (-2)

static uint64_t seed;

/* ---- small helpers ---- */

static uint32_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return (uint32_t)(x >> 32);
}

static void shuffle(int *a, int n, uint64_t *s)
{
	int i;

	for (i = 0; i < n; i++)
		a[i] = i;
	for (i = n - 1; i > 0; i--) {
		int j = (int)(rnd(s) % (uint32_t)(i + 1)), t = a[i];

		a[i] = a[j];
		a[j] = t;
	}
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
	case ENOMEM: return "ENOMEM";
	case EDEADLK: return "EDEADLK";
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

/* Runs fn(arg) in a user-event handler on the given thread and waits. */
struct call {
	void (*fn)(void *);
	void *arg;
	pthread_t thr;
	atomic_long done;
};

static int call_h(void *cbpara, void *para, int event, int fdtype)
{
	struct call *c = cbpara;

	(void)para; (void)event; (void)fdtype;
	c->thr = pthread_self();
	if (c->fn != NULL)
		c->fn(c->arg);
	atomic_store(&c->done, 1);
	return 0;
}

/* Runs fn(arg) in a user event on kind/index, waits for it at most
 * bound_ms (a guard against a hang, not a timing figure). */
static int run_on_ms(epcore_t *core, int kind, int index,
                     void (*fn)(void *), void *arg, pthread_t *thr,
                     unsigned bound_ms)
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
	if (!tu_wait_ge(&c->done, 1, bound_ms))
		return 0; /* leaked on purpose: the handler may still run */
	if (thr != NULL)
		*thr = c->thr;
	free(c);
	return 1;
}

static int run_on(epcore_t *core, int kind, int index, void (*fn)(void *),
                  void *arg, pthread_t *thr)
{
	return run_on_ms(core, kind, index, fn, arg, thr, WAIT_MS);
}

static void *thread_run(void *arg)
{
	struct call *c = arg;

	c->thr = pthread_self();
	c->fn(c->arg);
	atomic_store(&c->done, 1);
	return NULL;
}

/* Runs fn(arg) on a new (foreign) thread and joins it. */
static int run_foreign(void (*fn)(void *), void *arg)
{
	struct call c = { fn, arg, 0, 0 };
	pthread_t t;

	if (pthread_create(&t, NULL, thread_run, &c) != 0)
		return 0;
	pthread_join(t, NULL);
	return 1;
}

/* ---- 1. deadline order, never early, from main / a foreign thread ---- */

#define NORD 200

struct ord {
	epcore_t *core;
	int ms[NORD];
	uint64_t lo[NORD], hi[NORD];  /* the ms clock just before / after start */
	uint64_t t0us[NORD];          /* the us clock just before start */
	uint64_t firedus[NORD];
	uint64_t id[NORD];
	int order[NORD];
	atomic_int count[NORD];
	atomic_long slot, ndone, bad;
	uint64_t rng;
};

static int ord_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct ord *o = cbpara;
	uint64_t now = tu_now_us();
	int i = iotimer_cmdid(obj);
	long k;

	if (event != IOE_TIMEOUT || fdtype != FDT_TIMER || i < 0 ||
	    i >= NORD) {
		atomic_fetch_add(&o->bad, 1);
		return 0;
	}
	if (atomic_fetch_add(&o->count[i], 1) == 0)
		o->firedus[i] = now;
	k = atomic_fetch_add(&o->slot, 1);
	if (k < NORD)
		o->order[k] = i;
	atomic_fetch_add(&o->ndone, 1);
	return 0;
}

static void ord_start_all(void *arg)
{
	struct ord *o = arg;
	int perm[NORD], j;

	shuffle(perm, NORD, &o->rng);
	for (j = 0; j < NORD; j++) {
		int i = perm[j];

		o->lo[i] = tu_now_ms();
		o->t0us[i] = tu_now_us();
		o->id[i] = iotimer_start(o->core, o->ms[i], i, NULL, ord_h, o);
		o->hi[i] = tu_now_ms();
	}
}

/* Checks that the firing order respects the deadlines, within the
 * uncertainty of when each start call read the clock. */
static void ord_check(struct ord *o, const char *from, long early_slack_us,
                      int exact)
{
	int i, p, q, zero = 0, once = 1, inv = 0, early = 0, late = 0;
	long worst_early = 0;

	for (i = 0; i < NORD; i++)
		if (o->id[i] == 0)
			zero++;
	TAP_IS(zero, 0, "every start returned an id");
	tu_wait_ge(&o->ndone, NORD, WAIT_MS);
	tu_sleep_ms(20);
	for (i = 0; i < NORD; i++)
		if (atomic_load(&o->count[i]) != 1)
			once = 0;
	tap_ok(atomic_load(&o->ndone) == NORD && once &&
	       atomic_load(&o->bad) == 0,
	       "%d timers started from %s fired exactly once each", NORD, from);
	if (atomic_load(&o->ndone) < NORD)
		return;
	for (p = 0; p < NORD; p++) {
		for (q = p + 1; q < NORD; q++) {
			int a = o->order[p], b = o->order[q];

			if (exact ? o->ms[a] > o->ms[b]
			          : o->lo[a] + (uint64_t)o->ms[a] >
			                o->hi[b] + (uint64_t)o->ms[b])
				inv++;
		}
	}
	tap_ok(inv == 0, "timers started from %s fire in deadline order "
	       "(%d inverted pairs)", from, inv);
	for (i = 0; i < NORD; i++) {
		long el = (long)(o->firedus[i] - o->t0us[i]);
		long want = (long)o->ms[i] * 1000;

		if (el < want - early_slack_us) {
			early++;
			if (want - el > worst_early)
				worst_early = want - el;
		}
		if (el > want + 2000000)
			late++;
	}
	tap_ok(early == 0, "no timer started from %s fired before its "
	       "deadline (%d early, worst by %ld us)", from, early, worst_early);
	tap_ok(late == 0, "every timer started from %s fired within 2 s of "
	       "its deadline (%d late)", from, late);
}

static void t_order_foreign(int foreign)
{
	struct ord *o = calloc(1, sizeof(*o));
	epcore_t *core = new_core(1, 0);
	int i;

	if (core == NULL || o == NULL)
		goto out;
	o->core = core;
	o->rng = seed + 11 + (uint64_t)foreign;
	for (i = 0; i < NORD; i++)
		o->ms[i] = 30 + i;
	if (foreign)
		run_foreign(ord_start_all, o);
	else
		ord_start_all(o);
	/* Clock granularity is 1 ms: a deadline is "start ms + ms". */
	ord_check(o, foreign ? "a foreign thread" : "the main thread", 1000,
	          0);
out:
	if (core != NULL)
		epcore_free(core);
	free(o);
}

/* From an epump thread: the deadline is "loop time + ms", so the order is
 * exactly by ms; "early" is measured from the handler's entry, allowing
 * 10 ms for the loop time to lag behind it (on a loaded machine). */
struct ord_ep {
	struct ord *o;
	uint64_t entry_us;
};

static void ord_start_on_epump(void *arg)
{
	struct ord_ep *e = arg;
	struct ord *o = e->o;
	int perm[NORD], j;

	e->entry_us = tu_now_us();
	shuffle(perm, NORD, &o->rng);
	for (j = 0; j < NORD; j++) {
		int i = perm[j];

		o->t0us[i] = e->entry_us;
		o->id[i] = iotimer_start(o->core, o->ms[i], i, NULL, ord_h, o);
	}
}

static void t_order_epump(void)
{
	struct ord *o = calloc(1, sizeof(*o));
	struct ord_ep e = { o, 0 };
	epcore_t *core = new_core(1, 0);
	int i;

	if (core == NULL || o == NULL)
		goto out;
	o->core = core;
	o->rng = seed + 17;
	for (i = 0; i < NORD; i++)
		o->ms[i] = 20 + i;
	TAP_OK(run_on(core, EPT_EPUMP, 0, ord_start_on_epump, &e, NULL),
	       "a handler on the epump started %d timers", NORD);
	ord_check(o, "an epump thread", 10000, 1);
out:
	if (core != NULL)
		epcore_free(core);
	free(o);
}

/* Equal deadlines, started in sequence from one epump: start order. */
struct eq {
	epcore_t *core;
	int n, ms;
	uint64_t id[NORD];
	int order[NORD];
	atomic_long slot, ndone;
};

static int eq_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct eq *q = cbpara;
	long k = atomic_fetch_add(&q->slot, 1);

	(void)event; (void)fdtype;
	if (k < NORD)
		q->order[k] = iotimer_cmdid(obj);
	atomic_fetch_add(&q->ndone, 1);
	return 0;
}

static void eq_start(void *arg)
{
	struct eq *q = arg;
	int i;

	for (i = 0; i < q->n; i++)
		q->id[i] = iotimer_start(q->core, q->ms, i, NULL, eq_h, q);
}

static void eq_check(struct eq *q, const char *what)
{
	int i, zero = 0, misplaced = 0, first = -1;

	for (i = 0; i < q->n; i++)
		if (q->id[i] == 0)
			zero++;
	TAP_IS(zero, 0, "every start returned an id");
	if (!tap_ok(tu_wait_ge(&q->ndone, q->n, WAIT_MS),
	            "%d equal-deadline timers fired (%s)", q->n, what))
		return;
	for (i = 0; i < q->n; i++) {
		if (q->order[i] != i) {
			misplaced++;
			if (first < 0)
				first = i;
		}
	}
	tap_ok(misplaced == 0, "equal deadlines fire in start order (%s): "
	       "%d out of place, first at position %d (timer %d)", what,
	       misplaced, first, first >= 0 ? q->order[first] : -1);
}

static void t_equal_deadlines(void)
{
	struct eq *q = calloc(1, sizeof(*q));
	epcore_t *core = new_core(1, 0);

	if (core == NULL || q == NULL)
		goto out;
	q->core = core;
	q->n = NORD;
	q->ms = 30;
	TAP_OK(run_on(core, EPT_EPUMP, 0, eq_start, q, NULL),
	       "a handler on the epump started %d timers of 30 ms", NORD);
	eq_check(q, "fresh epump");
out:
	if (core != NULL)
		epcore_free(core);
	free(q);
}

/* ---- 2. never before the deadline, and it does fire ---- */

struct early {
	epcore_t *core;
	int n;
	int ms[16];
	uint64_t t0us[16], firedus[16], id[16];
	atomic_long ndone;
	atomic_int count[16];
};

static int early_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct early *e = cbpara;
	int i = iotimer_cmdid(obj);

	(void)event; (void)fdtype;
	if (i >= 0 && i < e->n) {
		if (atomic_fetch_add(&e->count[i], 1) == 0)
			e->firedus[i] = tu_now_us();
	}
	atomic_fetch_add(&e->ndone, 1);
	return 0;
}

static void early_start(void *arg)
{
	struct early *e = arg;
	int i;

	for (i = 0; i < e->n; i++) {
		e->t0us[i] = tu_now_us();
		e->id[i] = iotimer_start(e->core, e->ms[i], i, NULL, early_h, e);
	}
}

static void t_not_early(void)
{
	static const int ms[] = { 0, 1, 2, 5, 10, 20, 50, 100, 150 };
	static const struct { const char *name; int kind; int workers; long
	    slack; } from[] = {
		{ "the main thread", FROM_MAIN, 0, 1000 },
		{ "a foreign thread", FROM_FOREIGN, 0, 1000 },
		{ "an epump handler", EPT_EPUMP, 0, 10000 },
		{ "a worker handler", EPT_WORKER, 2, 1000 },
	};
	size_t f;
	int i;

	for (f = 0; f < sizeof(from) / sizeof(from[0]); f++) {
		struct early *e = calloc(1, sizeof(*e));
		epcore_t *core = new_core(1, from[f].workers);
		int early = 0, late = 0, once = 1;
		long worst = 0, slack = from[f].slack;
		const char *san = getenv("EPUMP_SAN_CFLAGS");

		/* On an epump thread ms counts from the loop's time, read
		 * before the handler ran (iotimer(3)): as early as that time
		 * is old.  A sanitizer build runs several times slower, and
		 * that time gets older: 10 ms is not enough there. */
		if (from[f].kind == EPT_EPUMP && san != NULL && *san != '\0')
			slack *= 5;

		if (core == NULL || e == NULL) {
			if (core != NULL)
				epcore_free(core);
			free(e);
			continue;
		}
		e->core = core;
		e->n = (int)(sizeof(ms) / sizeof(ms[0]));
		for (i = 0; i < e->n; i++)
			e->ms[i] = ms[i];
		if (from[f].kind == FROM_MAIN)
			early_start(e);
		else if (from[f].kind == FROM_FOREIGN)
			run_foreign(early_start, e);
		else
			run_on(core, from[f].kind, 0, early_start, e, NULL);
		tap_ok(tu_wait_ge(&e->ndone, e->n, WAIT_MS),
		       "timers of 0..150 ms started from %s fired",
		       from[f].name);
		tu_sleep_ms(20);
		for (i = 0; i < e->n; i++) {
			long el = (long)(e->firedus[i] - e->t0us[i]);

			if (atomic_load(&e->count[i]) != 1) {
				once = 0;
				continue;
			}
			if (el < (long)e->ms[i] * 1000 - slack) {
				early++;
				if ((long)e->ms[i] * 1000 - el > worst)
					worst = (long)e->ms[i] * 1000 - el;
			}
			if (el > (long)e->ms[i] * 1000 + 2000000)
				late++;
		}
		TAP_OK(once, "each fired exactly once (from %s)", from[f].name);
		tap_ok(early == 0, "none fired before its deadline (from %s; "
		       "%d early, worst by %ld us)", from[f].name, early, worst);
		tap_ok(late == 0, "all fired within 2 s of the deadline (from "
		       "%s; %d late)", from[f].name, late);
		epcore_free(core);
		free(e);
	}
}

/* ---- 3. a stopped timer never fires; stop's return values ---- */

#define NSTOP 10000

struct stopper {
	epcore_t *core;
	uint64_t id[NSTOP];
	int ms[NSTOP];
	int stop_me[NSTOP];          /* chosen to be stopped */
	int stop_r[NSTOP];           /* 0, or the errno of the first stop */
	int perm[NSTOP];
	atomic_int count[NSTOP];
	_Atomic uint64_t seen_id[NSTOP]; /* compared with id[] afterwards:
	                                  * a short timer may fire before
	                                  * main has stored its id */
	atomic_long ndone, bad;
	uint64_t rng;
};

static int stop_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct stopper *s = cbpara;
	int i = iotimer_cmdid(obj);

	if (event != IOE_TIMEOUT || fdtype != FDT_TIMER || i < 0 ||
	    i >= NSTOP) {
		atomic_fetch_add(&s->bad, 1);
	} else {
		atomic_store(&s->seen_id[i], iotimer_id(obj));
		atomic_fetch_add(&s->count[i], 1);
	}
	atomic_fetch_add(&s->ndone, 1);
	return 0;
}

static void stop_half(void *arg)
{
	struct stopper *s = arg;
	int *perm = s->perm, j;

	shuffle(perm, NSTOP, &s->rng);
	for (j = 0; j < NSTOP; j++) {
		int i = perm[j];

		if (!s->stop_me[i])
			continue;
		errno = 0;
		if (iotimer_stop(s->core, s->id[i]) == 0)
			s->stop_r[i] = 0;
		else
			s->stop_r[i] = errno != 0 ? errno : -1;
	}
}

static void t_stop_half(void)
{
	struct stopper *s = calloc(1, sizeof(*s));
	epcore_t *core = new_core(2, 2);
	int i, zero = 0, nstop = 0, long_not0 = 0, other_err = 0;
	int fired_stopped = 0, enoent_not_once = 0, kept_not_once = 0;
	int n0 = 0, nenoent = 0, second_ok = 0, fired_again = 0;
	long expect = 0;
	uint64_t maxdl, fired_id = 0;
	int r;

	if (core == NULL || s == NULL)
		goto out;
	s->core = core;
	s->rng = seed + 23;
	/* Half the timers are short (0..249 ms) and race the stopper; the
	 * others (400..499 ms) are surely stopped before they are due. */
	for (i = 0; i < NSTOP; i++) {
		s->ms[i] = (i & 1) ? 400 + (int)(rnd(&s->rng) % 100)
		                   : (int)(rnd(&s->rng) % 250);
		s->stop_me[i] = (int)(rnd(&s->rng) & 1);
		nstop += s->stop_me[i];
	}
	maxdl = tu_now_ms() + 500;
	for (i = 0; i < NSTOP; i++) {
		s->id[i] = iotimer_start(core, s->ms[i], i, NULL, stop_h, s);
		if (s->id[i] == 0)
			zero++;
	}
	TAP_IS(zero, 0, "10^4 timers started from main, every start gave an id");
	run_foreign(stop_half, s);
	for (i = 0; i < NSTOP; i++) {
		if (!s->stop_me[i])
			continue;
		if (s->stop_r[i] == 0)
			n0++;
		else if (s->stop_r[i] == ENOENT)
			nenoent++;
		else
			other_err++;
		if ((i & 1) && s->stop_r[i] != 0)
			long_not0++;
	}
	tap_diag("stopper: %d stops, %d returned 0, %d ENOENT (fired first)",
	         nstop, n0, nenoent);
	TAP_IS(other_err, 0, "every stop returned 0 or -1/ENOENT");
	if (tu_now_ms() < maxdl - 100) {
		TAP_IS(long_not0, 0, "every first stop of a not-yet-due "
		       "timer returned 0");
	} else {
		/* Under valgrind or TSan the stops may outlast 400 ms: then
		 * "not yet due" cannot be told apart from "fired first". */
		tap_diag("the stops took past 400 ms: not checking that the "
		         "long timers were all stopped in time (%d were not)",
		         long_not0);
	}
	expect = NSTOP - n0;
	TAP_OK(tu_wait_ge(&s->ndone, expect, WAIT_MS),
	       "the %ld timers not stopped in time fired", expect);
	/* Past every deadline, with a margin for strays. */
	while (tu_now_ms() < maxdl + 150)
		tu_sleep_ms(10);
	for (i = 0; i < NSTOP; i++) {
		int c = atomic_load(&s->count[i]);

		if (s->stop_me[i] && s->stop_r[i] == 0 && c != 0)
			fired_stopped++;
		if (s->stop_me[i] && s->stop_r[i] == ENOENT && c != 1)
			enoent_not_once++;
		if (!s->stop_me[i] && c != 1)
			kept_not_once++;
		if (c != 0 && atomic_load(&s->seen_id[i]) != s->id[i])
			atomic_fetch_add(&s->bad, 1);
	}
	TAP_IS(fired_stopped, 0, "no timer whose stop returned 0 fired");
	TAP_IS(enoent_not_once, 0, "each timer whose stop said ENOENT had "
	       "fired, once");
	TAP_IS(kept_not_once, 0, "each timer not stopped fired exactly once");
	TAP_IS(atomic_load(&s->ndone), expect, "handler calls in all");
	TAP_IS(atomic_load(&s->bad), 0, "handlers saw their own id, "
	       "IOE_TIMEOUT and FDT_TIMER");

	/* Second stops, fired ids, 0 and made-up ids: -1/ENOENT. */
	for (i = 0; i < NSTOP; i++) {
		if (s->stop_me[i] && s->stop_r[i] == 0) {
			errno = 0;
			if (iotimer_stop(core, s->id[i]) == -1 &&
			    errno == ENOENT)
				second_ok++;
		}
		if (!s->stop_me[i] && fired_id == 0)
			fired_id = s->id[i];
		if (!s->stop_me[i]) {
			errno = 0;
			if (!(iotimer_stop(core, s->id[i]) == -1 &&
			      errno == ENOENT))
				fired_again++;
		}
	}
	TAP_IS(second_ok, n0, "a second stop of each stopped timer: "
	       "-1/ENOENT");
	TAP_IS(fired_again, 0, "stop of each timer that has fired: "
	       "-1/ENOENT");
	errno = 0;
	r = iotimer_stop(core, 0);
	tap_ok(r == -1 && errno == ENOENT, "iotimer_stop(core, 0) -> "
	       "-1/ENOENT (got %d/%s)", r, errname(errno));
	errno = 0;
	r = iotimer_stop(core, MADE_UP_ID);
	tap_ok(r == -1 && errno == ENOENT, "iotimer_stop(made-up id) -> "
	       "-1/ENOENT (got %d/%s)", r, errname(errno));
	errno = 0;
	r = iotimer_stop(core, UINT64_MAX);
	tap_ok(r == -1 && errno == ENOENT, "iotimer_stop(UINT64_MAX) -> "
	       "-1/ENOENT (got %d/%s)", r, errname(errno));
	errno = 0;
	r = iotimer_stop(core, fired_id + (7ull << 32));
	tap_ok(r == -1 && errno == ENOENT, "iotimer_stop(a fired id with "
	       "another generation) -> -1/ENOENT (got %d/%s)", r,
	       errname(errno));
	errno = 0;
	r = iotimer_stop(core, fired_id ^ 0x5a5a00ull);
	tap_ok(r == -1 && errno == ENOENT, "iotimer_stop(a fired id with "
	       "another slot) -> -1/ENOENT (got %d/%s)", r, errname(errno));
out:
	if (core != NULL)
		epcore_free(core);
	free(s);
}

/* ---- 4. stop from the own handler; a periodic timer ---- */

#define NPERIOD 10

struct period {
	epcore_t *core;
	atomic_long n;
	uint64_t id[NPERIOD + 1];   /* id returned for firing k */
	uint64_t seen[NPERIOD + 1]; /* iotimer_id() in firing k */
	int self_stop_ok;
	int restart_fail;
};

static int period_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct period *p = cbpara;
	long k = atomic_load(&p->n);
	int r;

	(void)event; (void)fdtype;
	if (k <= NPERIOD)
		p->seen[k] = iotimer_id(obj);
	errno = 0;
	r = iotimer_stop(p->core, iotimer_id(obj));
	if (r == -1 && errno == ENOENT)
		p->self_stop_ok++;
	if (k + 1 < NPERIOD) {
		p->id[k + 1] = iotimer_start(p->core, 5, 7, p, period_h, p);
		if (p->id[k + 1] == 0)
			p->restart_fail++;
	}
	atomic_store(&p->n, k + 1);
	return 0;
}

static void t_periodic(int workers)
{
	struct period *p = calloc(1, sizeof(*p));
	epcore_t *core = new_core(1, workers);
	int i, same = 1, distinct = 1;

	if (core == NULL || p == NULL)
		goto out;
	p->core = core;
	p->id[0] = iotimer_start(core, 5, 7, p, period_h, p);
	TAP_OK(p->id[0] != 0, "periodic timer started (%d workers)", workers);
	TAP_OK(tu_wait_ge(&p->n, NPERIOD, WAIT_MS), "a timer restarting "
	       "itself from its handler fired %d times (%d workers)", NPERIOD,
	       workers);
	tu_sleep_ms(60);
	TAP_IS(atomic_load(&p->n), NPERIOD, "and no more once it stopped "
	       "restarting");
	TAP_IS(p->self_stop_ok, NPERIOD, "iotimer_stop of the own id from "
	       "the handler: -1/ENOENT each time");
	TAP_IS(p->restart_fail, 0, "every restart from the handler gave an id");
	for (i = 0; i < NPERIOD; i++) {
		int j;

		if (p->seen[i] != p->id[i])
			same = 0;
		for (j = 0; j < i; j++)
			if (p->id[j] == p->id[i])
				distinct = 0;
	}
	TAP_OK(same, "iotimer_id in each firing is the id start returned");
	TAP_OK(distinct, "each restart got a new id (ids are never reused)");
out:
	if (core != NULL)
		epcore_free(core);
	free(p);
}

/* ---- 5. ~10^6 started and stopped on an epump, 10^5 from a foreign
 * thread; then equal deadlines again on that much-used epump ---- */

/* (1 << 20) - 100: over 10^6, and it makes the next 200 timers of the
 * same epump the 2^20-th around, where a narrow sequence counter would
 * wrap. */
#define NMILLION ((1 << 20) - 100)
#define NFOREIGN 100000
#define FOREIGN_MS 1000

struct churn {
	epcore_t *core;
	uint64_t *id;
	int *perm;
	int n, ms_base, ms_mod;
	long zero, bad_stop, bad_errno;
	atomic_long fired;
	atomic_long sentinel;
	uint64_t t_end_ms;
};

static int churn_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct churn *c = cbpara;

	(void)obj; (void)event; (void)fdtype;
	atomic_fetch_add(&c->fired, 1);
	return 0;
}

static int sentinel_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct churn *c = cbpara;

	(void)obj; (void)event; (void)fdtype;
	atomic_store(&c->sentinel, 1);
	return 0;
}

static void churn_run(void *arg)
{
	struct churn *c = arg;
	int i;

	for (i = 0; i < c->n; i++) {
		c->id[i] = iotimer_start(c->core, c->ms_base + i % c->ms_mod, 0,
		                         NULL, churn_h, c);
		if (c->id[i] == 0)
			c->zero++;
	}
	for (i = 0; i < c->n; i++) {
		errno = 0;
		if (iotimer_stop(c->core, c->id[c->perm[i]]) != 0) {
			c->bad_stop++;
			if (errno != ENOENT)
				c->bad_errno++;
		}
	}
	c->t_end_ms = tu_now_ms();
}

static void churn_foreign(void *arg)
{
	struct churn *c = arg;

	churn_run(c);
	/* One epump: once this fires, every stopped timer would have. */
	if (iotimer_start(c->core, FOREIGN_MS + 150, 0, NULL, sentinel_h,
	                  c) == 0)
		atomic_store(&c->sentinel, -1);
}

static void t_million(void)
{
	struct churn *c = calloc(1, sizeof(*c));
	struct eq *q = calloc(1, sizeof(*q));
	epcore_t *core = new_core(1, 0);
	uint64_t rng = seed + 31, t0;

	if (core == NULL || c == NULL || q == NULL)
		goto out;
	c->core = core;
	c->id = malloc(NMILLION * sizeof(*c->id));
	c->perm = malloc(NMILLION * sizeof(*c->perm));
	if (c->id == NULL || c->perm == NULL) {
		tap_ok(0, "memory for %d ids", NMILLION);
		goto out;
	}
	c->n = NMILLION;
	c->ms_base = 0;
	c->ms_mod = 50;
	shuffle(c->perm, c->n, &rng);
	t0 = tu_now_ms();
	/* 10^6 starts and stops take seconds, tens of them in a
	 * sanitizer build: a wide guard. */
	TAP_OK(run_on_ms(core, EPT_EPUMP, 0, churn_run, c, NULL, 120000),
	       "a handler on the epump started and stopped %d timers", c->n);
	tap_diag("%d starts + stops on the epump: %llu ms", c->n,
	         (unsigned long long)(tu_now_ms() - t0));
	TAP_IS(c->zero, 0, "every start on the epump gave an id");
	TAP_IS(c->bad_stop, 0, "every stop on the epump returned 0");
	/* Their deadlines (0..49 ms from the loop time) are long past. */
	tu_sleep_ms(150);
	TAP_IS(atomic_load(&c->fired), 0, "none of them fired");

	/* The same epump has now armed NMILLION timers. */
	q->core = core;
	q->n = NORD;
	q->ms = 20;
	TAP_OK(run_on(core, EPT_EPUMP, 0, eq_start, q, NULL),
	       "then %d equal-deadline timers started on that epump", NORD);
	eq_check(q, "after 1048476 timers on the epump");

	/* 10^5 from a foreign thread. */
	c->n = NFOREIGN;
	c->ms_base = FOREIGN_MS;
	c->ms_mod = 100;
	c->zero = c->bad_stop = c->bad_errno = 0;
	shuffle(c->perm, c->n, &rng);
	t0 = tu_now_ms();
	run_foreign(churn_foreign, c);
	tap_diag("%d starts + stops from a foreign thread: %llu ms", c->n,
	         (unsigned long long)(c->t_end_ms - t0));
	TAP_IS(c->zero, 0, "every start from the foreign thread gave an id");
	if (c->t_end_ms - t0 < FOREIGN_MS - 100) {
		tap_ok(c->bad_stop == 0, "every stop from the foreign thread "
		       "returned 0 (%ld did not, %ld with errno other than "
		       "ENOENT)", c->bad_stop, c->bad_errno);
		TAP_OK(tu_wait_ge(&c->sentinel, 1, WAIT_MS), "a later timer "
		       "fired (past all their deadlines)");
		TAP_IS(atomic_load(&c->fired), 0,
		       "none of the stopped timers fired");
	} else {
		/* Under valgrind or TSan the starts and stops outlast the
		 * deadlines: a stop may then rightly find a fired timer. */
		tap_ok(c->bad_errno == 0, "every stop from the foreign thread "
		       "returned 0 or ENOENT (they took %llu ms)",
		       (unsigned long long)(c->t_end_ms - t0));
		TAP_OK(tu_wait_ge(&c->sentinel, 1, WAIT_MS), "a later timer "
		       "fired (past all their deadlines)");
		TAP_IS(atomic_load(&c->fired), c->bad_stop,
		       "only the timers whose stop came too late fired");
	}
out:
	if (core != NULL)
		epcore_free(core);
	if (c != NULL) {
		free(c->id);
		free(c->perm);
	}
	free(c);
	free(q);
}

/* ---- 6. timers parked before any epump exists ---- */

struct parked {
	epcore_t *core;
	atomic_int count[4];
	atomic_long n;
	pthread_t thr[4];
	atomic_int main_ret;
	atomic_long main_done;
};

static int parked_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct parked *p = cbpara;
	int i = iotimer_cmdid(obj);

	(void)event; (void)fdtype;
	if (i >= 0 && i < 4) {
		p->thr[i] = pthread_self();
		atomic_fetch_add(&p->count[i], 1);
	}
	atomic_fetch_add(&p->n, 1);
	return 0;
}

static void *main_start_thread(void *arg)
{
	struct parked *p = arg;

	atomic_store(&p->main_ret, epump_main_start(p->core));
	atomic_store(&p->main_done, 1);
	return NULL;
}

/* how: 0 epcore_start_epump, 1 epump_main_start on a thread, 2 with a
 * worker started first (the handlers then run on it). */
static void t_parked(int how)
{
	static const char *const hows[] = { "epcore_start_epump",
	    "epump_main_start", "epcore_start_epump with a worker" };
	struct parked *p = calloc(1, sizeof(*p));
	epcore_t *core = epcore_new(0);
	uint64_t a, b, c, d;
	pthread_t th;
	int r, joined = 0;

	if (core == NULL || p == NULL) {
		tap_ok(0, "epcore_new");
		goto out;
	}
	p->core = core;
	if (how == 2 && epcore_start_worker(core, 1) != 1)
		tap_ok(0, "start a worker");
	a = iotimer_start(core, 0, 0, NULL, parked_h, p);
	b = iotimer_start(core, 20, 1, NULL, parked_h, p);
	c = iotimer_start(core, 10, 2, NULL, parked_h, p);
	d = iotimer_start(core, 5, 3, NULL, parked_h, p);
	TAP_OK(a && b && c && d, "4 timers started with no epump (%s)",
	       hows[how]);
	errno = 0;
	r = iotimer_stop(core, c);
	tap_ok(r == 0, "stop of a parked timer -> 0 (got %d/%s)", r,
	       errname(errno));
	errno = 0;
	r = iotimer_stop(core, c);
	tap_ok(r == -1 && errno == ENOENT, "its second stop -> -1/ENOENT "
	       "(got %d/%s)", r, errname(errno));
	tu_sleep_ms(40);
	TAP_IS(atomic_load(&p->n), 0, "nothing fires while no epump runs");
	if (how == 1) {
		if (pthread_create(&th, NULL, main_start_thread, p) != 0) {
			tap_ok(0, "pthread_create");
			goto out;
		}
		joined = 1;
	} else {
		r = epcore_start_epump(core, 1);
		TAP_IS(r, 1, "first epump started");
	}
	TAP_OK(tu_wait_ge(&p->n, 3, WAIT_MS), "the 3 parked timers not "
	       "stopped fired once an epump ran");
	tu_sleep_ms(60);
	tap_ok(atomic_load(&p->count[0]) == 1 &&
	       atomic_load(&p->count[1]) == 1 &&
	       atomic_load(&p->count[3]) == 1,
	       "each exactly once (%d %d %d)", atomic_load(&p->count[0]),
	       atomic_load(&p->count[1]), atomic_load(&p->count[3]));
	TAP_IS(atomic_load(&p->count[2]), 0, "the one stopped while parked "
	       "never fired");
	if (how == 2) {
		pthread_t w;

		TAP_OK(run_on(core, EPT_WORKER, 0, NULL, NULL, &w) &&
		       pthread_equal(w, p->thr[0]) &&
		       pthread_equal(w, p->thr[1]),
		       "with a worker, parked timers' handlers ran on it");
	}
	errno = 0;
	r = iotimer_stop(core, a);
	tap_ok(r == -1 && errno == ENOENT, "stop of a fired (once parked) "
	       "timer -> -1/ENOENT (got %d/%s)", r, errname(errno));
	if (joined) {
		epcore_stop(core);
		TAP_OK(tu_wait_ge(&p->main_done, 1, WAIT_MS),
		       "epump_main_start returned after epcore_stop");
		if (atomic_load(&p->main_done))
			pthread_join(th, NULL);
		TAP_IS(atomic_load(&p->main_ret), 0, "epump_main_start -> 0");
		if (!atomic_load(&p->main_done)) {
			/* Do not free a core a thread still runs. */
			free(p);
			return;
		}
	}
out:
	if (core != NULL)
		epcore_free(core);
	free(p);
}

/* Stopping parked timers while the first epump adopts them: each stop
 * returns 0, none fires, nothing crashes.  Run in a child process so a
 * crash is reported as a failure of this case only. */
#define NRACE 3000

struct race {
	epcore_t *core;
	uint64_t id[NRACE];
	atomic_int go;
	long bad;
	atomic_long fired;
};

static int race_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct race *r = cbpara;

	(void)obj; (void)event; (void)fdtype;
	atomic_fetch_add(&r->fired, 1);
	return 0;
}

static void *race_stopper(void *arg)
{
	struct race *r = arg;
	int i;

	while (!atomic_load(&r->go))
		;
	for (i = 0; i < NRACE; i++)
		if (iotimer_stop(r->core, r->id[i]) != 0)
			r->bad++;
	return NULL;
}

static int race_child(void)
{
	uint64_t end = tu_now_ms() + 400;
	int round;

	/* The window is short: as many rounds as fit in 400 ms. */
	for (round = 0; round < 50 || tu_now_ms() < end; round++) {
		struct race *r = calloc(1, sizeof(*r));
		epcore_t *core = epcore_new(0);
		pthread_t th;
		int i;

		if (core == NULL || r == NULL)
			return 3;
		r->core = core;
		for (i = 0; i < NRACE; i++)
			if ((r->id[i] = iotimer_start(core, 5000, i, NULL,
			                              race_h, r)) == 0)
				return 4;
		if (pthread_create(&th, NULL, race_stopper, r) != 0)
			return 3;
		atomic_store(&r->go, 1);
		if (epcore_start_epump(core, 1) != 1)
			return 5;
		pthread_join(th, NULL);
		if (r->bad != 0)
			return 6;
		if (atomic_load(&r->fired) != 0)
			return 7;
		epcore_free(core);
		free(r);
	}
	return 0;
}

static void t_parked_race(void)
{
	pid_t pid;
	int st = 0;
	uint64_t end = tu_now_ms() + 30000;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		tap_ok(0, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		_exit(race_child());
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			break;
		if (tu_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			tap_ok(0, "stopping parked timers while the first epump "
			       "adopts them: timed out");
			return;
		}
		tu_sleep_ms(5);
	}
	if (WIFSIGNALED(st))
		tap_ok(0, "stopping parked timers while the first epump adopts "
		       "them: the process died of signal %d (%s)",
		       WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		tap_ok(WEXITSTATUS(st) == 0, "stopping %d parked timers while "
		       "the first epump adopts them (rounds for 400 ms): every "
		       "stop 0, none fired, no crash (child status %d: 6 = a stop "
		       "failed, 7 = a stopped timer fired)", NRACE,
		       WEXITSTATUS(st));
}

/* ---- 7. which thread runs the handler ---- */

#define NTHR 20

struct thr {
	epcore_t *core;
	int ms_step;
	uint64_t id[NTHR];
	pthread_t ran[NTHR];
	atomic_long n;
};

static int thr_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct thr *t = cbpara;
	int i = iotimer_cmdid(obj);

	(void)event; (void)fdtype;
	if (i >= 0 && i < NTHR)
		t->ran[i] = pthread_self();
	atomic_fetch_add(&t->n, 1);
	return 0;
}

static void thr_start(void *arg)
{
	struct thr *t = arg;
	int i;

	for (i = 0; i < NTHR; i++)
		t->id[i] = iotimer_start(t->core, (i % 5) * t->ms_step, i, NULL,
		                         thr_h, t);
}

/* Starts NTHR timers from kind/index (EPT_*, FROM_MAIN or FROM_FOREIGN)
 * and counts how many handlers ran on one of the nset threads in set. */
static int thr_count(epcore_t *core, int kind, int index,
                     const pthread_t *set, int nset, long *fired)
{
	struct thr *t = calloc(1, sizeof(*t));
	int i, k, on = 0;

	if (t == NULL)
		return -1;
	t->core = core;
	t->ms_step = 3;
	if (kind == FROM_MAIN)
		thr_start(t);
	else if (kind == FROM_FOREIGN)
		run_foreign(thr_start, t);
	else
		run_on(core, kind, index, thr_start, t, NULL);
	tu_wait_ge(&t->n, NTHR, WAIT_MS);
	*fired = atomic_load(&t->n);
	for (i = 0; i < NTHR; i++)
		for (k = 0; k < nset; k++)
			if (t->id[i] != 0 && pthread_equal(t->ran[i], set[k])) {
				on++;
				break;
			}
	free(t);
	return on;
}

static void t_threads(void)
{
	epcore_t *core;
	pthread_t w[2], e[2], self = pthread_self();
	long fired;
	int on;

	/* 1 epump, 2 workers. */
	core = new_core(1, 2);
	if (core == NULL)
		return;
	if (!TAP_OK(run_on(core, EPT_WORKER, 0, NULL, NULL, &w[0]) &&
	            run_on(core, EPT_WORKER, 1, NULL, NULL, &w[1]) &&
	            run_on(core, EPT_EPUMP, 0, NULL, NULL, &e[0]),
	            "thread identities of worker 0, worker 1, epump 0")) {
		epcore_free(core);
		return;
	}
	TAP_OK(!pthread_equal(w[0], w[1]) && !pthread_equal(w[0], e[0]) &&
	       !pthread_equal(w[1], e[0]) && !pthread_equal(w[0], self) &&
	       !pthread_equal(w[1], self) && !pthread_equal(e[0], self),
	       "they are 3 distinct threads, none the main thread");
	on = thr_count(core, EPT_WORKER, 1, &w[1], 1, &fired);
	tap_ok(fired == NTHR && on == NTHR, "timers started in a handler on "
	       "worker 1 ran on worker 1 (%d of %ld fired)", on, fired);
	on = thr_count(core, EPT_WORKER, 0, &w[0], 1, &fired);
	tap_ok(fired == NTHR && on == NTHR, "timers started in a handler on "
	       "worker 0 ran on worker 0 (%d of %ld fired)", on, fired);
	on = thr_count(core, FROM_MAIN, 0, w, 2, &fired);
	tap_ok(fired == NTHR && on == NTHR, "with workers, timers started "
	       "from main ran on a worker (%d of %ld)", on, fired);
	on = thr_count(core, EPT_EPUMP, 0, w, 2, &fired);
	tap_ok(fired == NTHR && on == NTHR, "with workers, timers started "
	       "on the epump ran on a worker (%d of %ld)", on, fired);
	epcore_free(core);

	/* 2 epumps, no workers. */
	core = new_core(2, 0);
	if (core == NULL)
		return;
	if (!TAP_OK(run_on(core, EPT_EPUMP, 0, NULL, NULL, &e[0]) &&
	            run_on(core, EPT_EPUMP, 1, NULL, NULL, &e[1]) &&
	            !pthread_equal(e[0], e[1]),
	            "thread identities of epump 0 and 1")) {
		epcore_free(core);
		return;
	}
	on = thr_count(core, FROM_MAIN, 0, e, 2, &fired);
	tap_ok(fired == NTHR && on == NTHR, "no workers: timers started from "
	       "main ran on an epump thread (%d of %ld)", on, fired);
	on = thr_count(core, FROM_FOREIGN, 0, e, 2, &fired);
	tap_ok(fired == NTHR && on == NTHR, "no workers: timers started from "
	       "a foreign thread ran on an epump thread (%d of %ld)", on,
	       fired);
	on = thr_count(core, EPT_EPUMP, 1, &e[1], 1, &fired);
	tap_ok(fired == NTHR && on == NTHR, "no workers: timers started on "
	       "epump 1 ran on epump 1 (%d of %ld)", on, fired);
	on = thr_count(core, EPT_EPUMP, 0, &e[0], 1, &fired);
	tap_ok(fired == NTHR && on == NTHR, "no workers: timers started on "
	       "epump 0 ran on epump 0 (%d of %ld)", on, fired);
	epcore_free(core);
}

/* ---- 8. accessors ---- */

#define NACC 8

struct acc {
	uint64_t id[NACC], seen_id[NACC];
	int seen_cmd[NACC], seen_ev[NACC], seen_fdt[NACC];
	void *seen_para[NACC], *seen_cb[NACC];
	int para[NACC];
	int cb[NACC];
	atomic_long n;
};

static struct acc *acc_g;

static int acc_h(void *cbpara, void *obj, int event, int fdtype)
{
	struct acc *a = acc_g;
	int k = (int)((int *)cbpara - a->cb);

	if (k >= 0 && k < NACC) {
		a->seen_id[k] = iotimer_id(obj);
		a->seen_cmd[k] = iotimer_cmdid(obj);
		a->seen_para[k] = iotimer_para(obj);
		a->seen_ev[k] = event;
		a->seen_fdt[k] = fdtype;
		a->seen_cb[k] = cbpara;
	}
	atomic_fetch_add(&a->n, 1);
	return 0;
}

static void t_accessors(int workers)
{
	static const int cmd[NACC] = { 0, 1, -1, 42, INT_MAX, INT_MIN, 7,
	                               1000 };
	struct acc *a = calloc(1, sizeof(*a));
	epcore_t *core = new_core(1, workers);
	int k, ok = 1, distinct = 1;

	if (core == NULL || a == NULL)
		goto out;
	acc_g = a;
	for (k = 0; k < NACC; k++) {
		a->id[k] = iotimer_start(core, k, cmd[k],
		                         k == 6 ? NULL : &a->para[k], acc_h,
		                         &a->cb[k]);
		if (a->id[k] == 0)
			ok = 0;
	}
	TAP_OK(ok, "%d timers started (%d workers)", NACC, workers);
	TAP_OK(tu_wait_ge(&a->n, NACC, WAIT_MS), "all fired");
	for (k = 0; k < NACC; k++) {
		int j;

		for (j = 0; j < k; j++)
			if (a->id[j] == a->id[k])
				distinct = 0;
	}
	TAP_OK(distinct, "the ids are distinct and non-zero");
	ok = 1;
	for (k = 0; k < NACC; k++)
		if (a->seen_id[k] != a->id[k])
			ok = 0;
	TAP_OK(ok, "iotimer_id in the handler is the id iotimer_start returned");
	ok = 1;
	for (k = 0; k < NACC; k++)
		if (a->seen_cmd[k] != cmd[k])
			ok = 0;
	TAP_OK(ok, "iotimer_cmdid in the handler is the cmdid given");
	ok = 1;
	for (k = 0; k < NACC; k++)
		if (a->seen_para[k] != (k == 6 ? NULL : (void *)&a->para[k]))
			ok = 0;
	TAP_OK(ok, "iotimer_para in the handler is the para given");
	ok = 1;
	for (k = 0; k < NACC; k++)
		if (a->seen_cb[k] != &a->cb[k] || a->seen_ev[k] != IOE_TIMEOUT ||
		    a->seen_fdt[k] != FDT_TIMER)
			ok = 0;
	TAP_OK(ok, "the handler got its cbpara, IOE_TIMEOUT and FDT_TIMER");
out:
	if (core != NULL)
		epcore_free(core);
	acc_g = NULL;
	free(a);
}

/* ---- 9. errors ---- */

static atomic_long err_fired;

static int err_h(void *cbpara, void *obj, int event, int fdtype)
{
	(void)cbpara; (void)obj; (void)event; (void)fdtype;
	atomic_fetch_add(&err_fired, 1);
	return 0;
}

#define EXPECT_ID0(call, want, what) do {                                   \
	uint64_t r_;                                                        \
	int e_;                                                             \
	errno = 0;                                                          \
	r_ = (call);                                                        \
	e_ = errno;                                                         \
	tap_ok(r_ == 0 && e_ == (want), "%s -> 0/%s (got %llu/%s)", (what), \
	       errname(want), (unsigned long long)r_, errname(e_));         \
} while (0)

static void t_errors(void)
{
	epcore_t *core = new_core(1, 0);
	uint64_t pending;
	int r;

	if (core == NULL)
		return;
	atomic_store(&err_fired, 0);
	EXPECT_ID0(iotimer_start(NULL, 10, 0, NULL, err_h, NULL), EINVAL,
	           "iotimer_start(NULL core)");
	EXPECT_ID0(iotimer_start(core, 10, 0, NULL, NULL, NULL), EINVAL,
	           "iotimer_start(NULL handler)");
	EXPECT_ID0(iotimer_start(core, -1, 0, NULL, err_h, NULL), EINVAL,
	           "iotimer_start(ms -1)");
	EXPECT_ID0(iotimer_start(core, INT_MIN, 0, NULL, err_h, NULL), EINVAL,
	           "iotimer_start(ms INT_MIN)");
	errno = 0;
	r = iotimer_stop(NULL, 1);
	tap_ok(r == -1 && errno == EINVAL, "iotimer_stop(NULL core) -> "
	       "-1/EINVAL (got %d/%s)", r, errname(errno));
	errno = 0;
	TAP_OK(iotimer_id(NULL) == 0 && iotimer_cmdid(NULL) == -1 &&
	       iotimer_para(NULL) == NULL,
	       "iotimer_id/cmdid/para(NULL) fail without crashing");
	tu_sleep_ms(30);
	TAP_IS(atomic_load(&err_fired), 0, "failed starts never fire");

	pending = iotimer_start(core, 60, 0, NULL, err_h, NULL);
	TAP_OK(pending != 0, "a 60 ms timer started");
	epcore_stop(core);
	EXPECT_ID0(iotimer_start(core, 10, 0, NULL, err_h, NULL), ECANCELED,
	           "iotimer_start after epcore_stop");
	EXPECT_ID0(iotimer_start(core, 0, 0, NULL, err_h, NULL), ECANCELED,
	           "iotimer_start(ms 0) after epcore_stop");
	tu_sleep_ms(150);
	TAP_IS(atomic_load(&err_fired), 0, "a timer pending at epcore_stop "
	       "is dropped, it never fires");
	r = epcore_free(core);
	TAP_IS(r, 0, "epcore_free with a dropped timer");

	/* A stopped core that never had an epump. */
	core = epcore_new(0);
	if (core == NULL)
		return;
	epcore_stop(core);
	EXPECT_ID0(iotimer_start(core, 10, 0, NULL, err_h, NULL), ECANCELED,
	           "iotimer_start on a stopped core without epumps");
	epcore_free(core);
}

/* ---- main ---- */

#define RUN(name, call) do {                                     \
	const char *only_ = getenv("T_ONLY");                    \
	if (only_ == NULL || strstr(only_, name) != NULL)        \
		call;                                            \
} while (0)

/* ---- 10. restart ---- */

/* Timers restarted later, earlier, and over and over (the idle-timeout
 * idiom), from the epump, a worker or a foreign thread: each fires once,
 * by its last deadline, keeping its id. */
#define RS_N 4  /* 0: untouched, 1: later, 2: earlier, 3: kept alive */
struct rs {
	epcore_t *core;
	uint64_t id[RS_N];
	uint64_t t0_us;
	atomic_long fired[RS_N];
	atomic_llong at_us[RS_N];
	atomic_llong seen_id[RS_N];
	int rc[RS_N];
	int err[RS_N];
	uint64_t last_us;  /* when 3 was last restarted, from t0 */
};

static struct rs *rs_g;
static long rs_keys[RS_N] = { 0, 1, 2, 3 };

static int rs_fire(void *cbpara, void *obj, int event, int fdtype)
{
	int k = (int)*(long *)cbpara;

	(void)event; (void)fdtype;
	atomic_store(&rs_g->at_us[k], (long long)(tu_now_us() - rs_g->t0_us));
	atomic_store(&rs_g->seen_id[k], (long long)iotimer_id(obj));
	atomic_fetch_add(&rs_g->fired[k], 1);
	return 0;
}

static void rs_start(void *arg)
{
	struct rs *r = arg;
	static const int ms[RS_N] = { 100, 100, 400, 500 };
	int k;

	r->t0_us = tu_now_us();
	for (k = 0; k < RS_N; k++)
		r->id[k] = iotimer_start(r->core, ms[k], k, NULL, rs_fire,
		                         &rs_keys[k]);
}

/* At +30 ms: 1 to 250 ms from now, 2 to 50 ms from now. */
static void rs_move(void *arg)
{
	struct rs *r = arg;

	errno = 0;
	r->rc[1] = iotimer_restart(r->core, r->id[1], 250);
	r->err[1] = errno;
	errno = 0;
	r->rc[2] = iotimer_restart(r->core, r->id[2], 50);
	r->err[2] = errno;
}

/* Every 20 ms until +300 ms: 3 back to 500 ms from now (a margin for a
 * loaded machine: a restart from another thread that arrives after the
 * old deadline is dropped, as documented). */
static void rs_keep(void *arg)
{
	struct rs *r = arg;

	errno = 0;
	r->last_us = tu_now_us() - r->t0_us;
	if (iotimer_restart(r->core, r->id[3], 500) != 0) {
		r->rc[3] = -1;
		r->err[3] = errno;
	}
}

static void rs_call(struct rs *r, int from, void (*fn)(void *))
{
	if (from == 0)
		(void)run_on(r->core, EPT_EPUMP, 0, fn, r, NULL);
	else if (from == 1)
		(void)run_on(r->core, EPT_WORKER, 0, fn, r, NULL);
	else
		(void)run_foreign(fn, r);
}

static void t_restart(int from)
{
	static const char *names[] = { "epump", "worker", "foreign thread" };
	const char *fr = names[from];
	struct rs *r = calloc(1, sizeof(*r));
	epcore_t *core = new_core(1, from == 1 ? 2 : 0);
	uint64_t until;
	int k, ok;

	if (r == NULL || core == NULL)
		goto out;
	r->core = core;
	rs_g = r;
	rs_call(r, from, rs_start);
	ok = 1;
	for (k = 0; k < RS_N; k++)
		ok &= r->id[k] != 0;
	TAP_OK(ok, "restart from %s: 4 timers started", fr);
	while (tu_now_us() - r->t0_us < 30000)
		tu_sleep_ms(1);
	rs_call(r, from, rs_move);
	TAP_OK(r->rc[1] == 0 && r->rc[2] == 0,
	       "restart from %s: later and earlier restarts return 0 "
	       "(%d/%s, %d/%s)", fr, r->rc[1], errname(r->err[1]), r->rc[2],
	       errname(r->err[2]));
	until = r->t0_us + 300000;
	while (tu_now_us() < until) {
		rs_call(r, from, rs_keep);
		tu_sleep_ms(20);
	}
	TAP_OK(r->rc[3] == 0, "restart from %s: the kept-alive timer "
	       "restarted every 20 ms (last error %s)", fr, errname(r->err[3]));
	TAP_OK(atomic_load(&r->fired[3]) == 0,
	       "restart from %s: restarted every 20 ms to 500 ms, it did not "
	       "fire (fired %ld)", fr, atomic_load(&r->fired[3]));
	for (k = 0; k < RS_N; k++)
		(void)tu_wait_ge(&r->fired[k], 1, WAIT_MS);
	tu_sleep_ms(100); /* room for a wrong second firing */
	ok = 1;
	for (k = 0; k < RS_N; k++)
		ok &= atomic_load(&r->fired[k]) == 1;
	TAP_OK(ok, "restart from %s: each timer fired exactly once "
	       "(%ld %ld %ld %ld)", fr, atomic_load(&r->fired[0]),
	       atomic_load(&r->fired[1]), atomic_load(&r->fired[2]),
	       atomic_load(&r->fired[3]));
	ok = 1;
	for (k = 0; k < RS_N; k++)
		ok &= (uint64_t)atomic_load(&r->seen_id[k]) == r->id[k];
	TAP_OK(ok, "restart from %s: each kept its id", fr);
	TAP_OK(atomic_load(&r->at_us[0]) >= 98000,
	       "restart from %s: the untouched timer fired at its deadline "
	       "(%lld ms)", fr, atomic_load(&r->at_us[0]) / 1000);
	TAP_OK(atomic_load(&r->at_us[1]) >= 278000,
	       "restart from %s: the timer restarted later fired by the new "
	       "deadline, not the old (%lld ms, want >= 278)", fr,
	       atomic_load(&r->at_us[1]) / 1000);
	TAP_OK(atomic_load(&r->at_us[2]) >= 78000 &&
	       atomic_load(&r->at_us[2]) < 400000,
	       "restart from %s: the timer restarted earlier fired by the new "
	       "deadline (%lld ms, want 78..400)", fr,
	       atomic_load(&r->at_us[2]) / 1000);
	/* From an epump the deadline counts from the loop's time, which may
	 * lag the call by a little on a loaded machine: 15 ms of slack. */
	TAP_OK(atomic_load(&r->at_us[3]) >= (long long)r->last_us + 485000,
	       "restart from %s: the kept-alive timer fired 500 ms after its "
	       "last restart (%lld ms, last restart at %llu ms)", fr,
	       atomic_load(&r->at_us[3]) / 1000,
	       (unsigned long long)r->last_us / 1000);
	errno = 0;
	k = iotimer_restart(core, r->id[1], 10);
	TAP_OK(k == -1 && errno == ENOENT, "restart from %s: restart of a "
	       "fired timer -> -1/ENOENT (got %d/%s)", fr, k, errname(errno));
out:
	if (core != NULL)
		epcore_free(core);
	rs_g = NULL;
	free(r);
}

static void t_restart_errors(void)
{
	epcore_t *core = new_core(1, 0);
	uint64_t id;
	int r;

	if (core == NULL)
		return;
	errno = 0;
	r = iotimer_restart(NULL, 1, 10);
	TAP_OK(r == -1 && errno == EINVAL, "iotimer_restart(NULL core) -> "
	       "-1/EINVAL (got %d/%s)", r, errname(errno));
	id = iotimer_start(core, 10000, 0, NULL, err_h, NULL);
	errno = 0;
	r = iotimer_restart(core, id, -1);
	TAP_OK(r == -1 && errno == EINVAL, "iotimer_restart(ms -1) -> "
	       "-1/EINVAL (got %d/%s)", r, errname(errno));
	errno = 0;
	r = iotimer_restart(core, 0, 10);
	TAP_OK(r == -1 && errno == ENOENT, "iotimer_restart(id 0) -> "
	       "-1/ENOENT (got %d/%s)", r, errname(errno));
	(void)iotimer_stop(core, id);
	errno = 0;
	r = iotimer_restart(core, id, 10);
	TAP_OK(r == -1 && errno == ENOENT, "iotimer_restart(a stopped timer) "
	       "-> -1/ENOENT (got %d/%s)", r, errname(errno));
	epcore_free(core);
}

/* A timer started and restarted before any epump runs (parked). */
static void t_restart_parked(void)
{
	epcore_t *core = epcore_new(0);
	struct rs *r = calloc(1, sizeof(*r));
	int rc;

	if (core == NULL || r == NULL)
		goto out;
	rs_g = r;
	r->t0_us = tu_now_us();
	r->id[0] = iotimer_start(core, 20, 0, NULL, rs_fire, &rs_keys[0]);
	rc = iotimer_restart(core, r->id[0], 200);
	TAP_OK(r->id[0] != 0 && rc == 0, "a parked timer restarted (%d/%s)",
	       rc, errname(errno));
	if (epcore_start_epump(core, 1) != 1)
		goto out;
	(void)tu_wait_ge(&r->fired[0], 1, WAIT_MS);
	TAP_OK(atomic_load(&r->fired[0]) == 1 &&
	       atomic_load(&r->at_us[0]) >= 198000,
	       "the parked timer fired once by its restarted deadline (%ld, "
	       "%lld ms)", atomic_load(&r->fired[0]),
	       atomic_load(&r->at_us[0]) / 1000);
out:
	if (core != NULL)
		epcore_free(core);
	rs_g = NULL;
	free(r);
}

static void all(void)
{
	RUN("order", t_order_foreign(0));
	RUN("order", t_order_foreign(1));
	RUN("order", t_order_epump());
	RUN("equal", t_equal_deadlines());
	RUN("early", t_not_early());
	RUN("stop", t_stop_half());
	RUN("periodic", t_periodic(0));
	RUN("periodic", t_periodic(2));
	RUN("million", t_million());
	RUN("parked", t_parked(0));
	RUN("parked", t_parked(1));
	RUN("parked", t_parked(2));
	RUN("race", t_parked_race());
	RUN("threads", t_threads());
	RUN("accessors", t_accessors(0));
	RUN("accessors", t_accessors(2));
	RUN("errors", t_errors());
	RUN("restart", t_restart(0));
	RUN("restart", t_restart(1));
	RUN("restart", t_restart(2));
	RUN("restart", t_restart_errors());
	RUN("restart", t_restart_parked());
}

int main(void)
{
	const char *s = getenv("T_SEED");

	seed = s != NULL ? strtoull(s, NULL, 0)
	                 : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
	if (seed == 0)
		seed = 1;
	printf("# seed %llu (T_SEED to repeat)\n", (unsigned long long)seed);
	return tap_backends(all);
}
