/*
 * timers.c - libepump's timers under load: ns per start, per stop and per
 * fire with COUNT timers (default 10^6) held by one epump thread, and
 * start+stop from a foreign thread (the message path).
 *
 *   timers [-n COUNT] [-f FOREIGN_COUNT] [-s SPREAD_MS]
 *
 * The core has 1 epump thread and 0 workers, so timer handlers run on the
 * epump thread.  The on-thread phases run inside handlers of user events
 * posted with epcore_post(core, EPT_EPUMP, 0, ...): that is the fast path
 * (the caller owns the heap, no message).
 *
 *   start        COUNT iotimer_start() calls, deadlines uniform over
 *                0..SPREAD ms, after one untimed warm-up start+stop pass
 *                (so the slab and the heap array are already grown).
 *   restart      COUNT running timers re-armed with a new timeout, in a
 *                random order (the ids laid out in that order beforehand,
 *                untimed), new deadlines uniform over 0..SPREAD ms.
 *                libepump: iotimer_restart() (the id stays the same).
 *   stop         COUNT iotimer_stop() calls in a random order (the ids
 *                laid out in that order beforehand, untimed).
 *   fire         COUNT timers are started again (in a fresh event, so the
 *                deadlines really are 0..SPREAD ms ahead); the clocks run
 *                from the end of the last start to the COUNT-th timer
 *                handler call, divided by COUNT, minus nothing.  That
 *                includes returning from the event handler, the loop
 *                iterations (epoll_wait, the clock read), popping each
 *                timer from the heap, the fire/stop decision, the handler
 *                call (it only counts) and freeing the timer.  The wall
 *                figure also includes sleeping until the last deadline if
 *                the starts took less than SPREAD ms; the CPU figure does
 *                not (it is the epump thread's CPU time).
 *   foreign-start  FOREIGN_COUNT iotimer_start() calls from the main
 *                thread (not a libepump thread): each is a message to the
 *                epump's inbox; the caller's time only.
 *   foreign-stop FOREIGN_COUNT iotimer_stop() of those, random order; the
 *                caller's time only.
 *   foreign-e2e  from the first foreign start until the epump has served
 *                every message (a user event posted after the last stop
 *                has run); wall time, and CPU time of the caller plus the
 *                epump thread over the same span.
 *
 * Figures are printed, never checked: compare them with the libev peer of
 * the same run (tests/bench/run-timers.sh), not with fixed numbers.
 */
#include <epump.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define WAIT_LIMIT_S 120        /* bound on any wait for the epump */
#define FOREIGN_DELAY_MS 10000  /* foreign timers must not fire */
#define EV_STAGE (IOE_USER_DEFINED + 1)

static epcore_t *core;
static unsigned long n_timers = 1000000, n_foreign;
static int spread_ms = 100;
static uint64_t *ids;           /* ids of the on-thread timers */
static uint64_t *sids;          /* the same in stop order */
static uint64_t *fids;          /* ids of the foreign timers */
static uint64_t *rids;          /* the same in restart order */
static uint32_t *perm, *fperm;  /* stop orders */
static uint32_t *rperm;         /* restart order */
static int *deadline, *fdeadline;
static int *rdeadline;          /* new timeouts of the restart phase */

/* Results, written on the epump thread, read by main after a handshake. */
static struct bench_stamp st_start0, st_start1, st_stop0, st_stop1;
static struct bench_stamp st_restart0, st_restart1;
static struct bench_stamp st_fire0, st_fire1;
static uint64_t ep_cpu_mark, ep_cpu_fence;
static unsigned long fired, failures;
static int failed_errno;
static _Atomic unsigned long stray; /* stopped timers that fired anyway */

/* The handshake: main waits (bounded) until the epump says "done". */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static int done;

static void signal_done(void)
{
	pthread_mutex_lock(&lock);
	done = 1;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

/* 0 when the epump said done, -1 after WAIT_LIMIT_S seconds. */
static int wait_done(void)
{
	struct timespec ts;
	int r = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += WAIT_LIMIT_S;
	pthread_mutex_lock(&lock);
	while (!done && r == 0)
		r = pthread_cond_timedwait(&cond, &lock, &ts);
	r = done ? 0 : -1;
	done = 0;
	pthread_mutex_unlock(&lock);
	return r;
}

static void note_failure(void)
{
	if (failures++ == 0)
		failed_errno = errno;
}

static int on_timer(void *cbpara, void *obj, int event, int fdtype)
{
	if (++fired == n_timers) {
		st_fire1 = bench_now();
		signal_done();
	}
	return 0;
}

static int on_never(void *cbpara, void *obj, int event, int fdtype)
{
	stray++; /* a timer that should have been stopped fired */
	return 0;
}

static void start_all(void)
{
	unsigned long i;

	for (i = 0; i < n_timers; i++) {
		ids[i] = iotimer_start(core, deadline[i], 0, NULL, on_timer,
		                       NULL);
		if (ids[i] == 0)
			note_failure();
	}
}

/* Lays the ids out in stop order, so the timed loop reads them one
 * after the other, as libev's peer finds its watchers by address: the
 * random access is then the library's own, not the benchmark's. */
static void order_ids(void)
{
	unsigned long i;

	for (i = 0; i < n_timers; i++)
		sids[i] = ids[perm[i]];
}

static void stop_all(void)
{
	unsigned long i;

	for (i = 0; i < n_timers; i++)
		if (sids[i] != 0 && iotimer_stop(core, sids[i]) < 0)
			note_failure();
}

/* Restart every running timer in restart order with its new timeout. */
static void restart_all(void)
{
	unsigned long i;

	for (i = 0; i < n_timers; i++)
		if (rids[i] == 0 ||
		    iotimer_restart(core, rids[i], rdeadline[i]) < 0)
			note_failure();
}

/* Stage 1, on the epump: warm up, then the timed start, restart and
 * stop. */
static int stage_start_stop(void *cbpara, void *para, int event, int fdtype)
{
	unsigned long i;

	start_all();
	order_ids();
	stop_all();
	st_start0 = bench_now();
	start_all();
	st_start1 = bench_now();
	for (i = 0; i < n_timers; i++)
		rids[i] = ids[rperm[i]];
	st_restart0 = bench_now();
	restart_all();
	st_restart1 = bench_now();
	order_ids();
	st_stop0 = bench_now();
	stop_all();
	st_stop1 = bench_now();
	signal_done();
	return 0;
}

/* Stage 2, on the epump: start them again; on_timer ends the phase. */
static int stage_fire(void *cbpara, void *para, int event, int fdtype)
{
	fired = 0;
	start_all();
	st_fire0 = bench_now();
	if (failures > 0)
		signal_done(); /* not all will fire: do not wait for them */
	return 0;
}

/* Stages 3 and 4, on the epump: its CPU clock around the foreign phase. */
static int stage_mark(void *cbpara, void *para, int event, int fdtype)
{
	*(uint64_t *)para = bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	signal_done();
	return 0;
}

static int run_on_epump(IOHandler *stage, void *para, const char *what)
{
	if (epcore_post(core, EPT_EPUMP, 0, EV_STAGE, para, stage, NULL) < 0) {
		fprintf(stderr, "timers: epcore_post (%s): %s\n", what,
		        strerror(errno));
		return -1;
	}
	if (wait_done() < 0) {
		fprintf(stderr, "timers: %s: no answer from the epump in %d s\n",
		        what, WAIT_LIMIT_S);
		return -1;
	}
	if (failures > 0) {
		fprintf(stderr, "timers: %s: %lu timer calls failed (first: %s)\n",
		        what, failures, strerror(failed_errno));
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: timers [-n COUNT] [-f FOREIGN_COUNT] [-s SPREAD_MS]\n"
	    "  -n COUNT        timers on the epump thread (default 1000000)\n"
	    "  -f COUNT        timers started and stopped from a foreign\n"
	    "                  thread (default COUNT/10)\n"
	    "  -s SPREAD_MS    deadlines uniform over 0..SPREAD_MS (default 100)\n");
}

int main(int argc, char **argv)
{
	struct bench_row rows[7];
	struct bench_stamp f0, f1, f2;
	pthread_condattr_t ca;
	char firenote[96];
	unsigned long i;
	long v;
	int c, rc = 1;

	while ((c = getopt(argc, argv, "n:f:s:h")) != -1) {
		switch (c) {
		case 'n':
		case 'f':
			v = bench_parse_count(optarg, BENCH_MAX_COUNT);
			if (v < 0) {
				fprintf(stderr, "timers: -%c wants 1..%lu\n", c,
				        BENCH_MAX_COUNT);
				return 2;
			}
			if (c == 'n')
				n_timers = (unsigned long)v;
			else
				n_foreign = (unsigned long)v;
			break;
		case 's':
			v = bench_parse_count(optarg, 3600000);
			if (v < 0 && strcmp(optarg, "0") != 0) {
				fprintf(stderr, "timers: -s wants 0..3600000\n");
				return 2;
			}
			spread_ms = v < 0 ? 0 : (int)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (n_foreign == 0)
		n_foreign = n_timers / 10 ? n_timers / 10 : 1;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cond, &ca);
	pthread_condattr_destroy(&ca);

	ids = calloc(n_timers, sizeof(*ids));
	sids = calloc(n_timers, sizeof(*sids));
	rids = calloc(n_timers, sizeof(*rids));
	fids = calloc(n_foreign, sizeof(*fids));
	perm = bench_perm(n_timers, 1);
	fperm = bench_perm(n_foreign, 2);
	deadline = bench_deadlines(n_timers, spread_ms, 3);
	fdeadline = bench_deadlines(n_foreign, spread_ms, 4);
	/* Seeds 6 and 7: the restart phase of every peer uses the same. */
	rperm = bench_perm(n_timers, 6);
	rdeadline = bench_deadlines(n_timers, spread_ms, 7);
	if (!ids || !sids || !rids || !fids || !perm || !fperm || !rperm ||
	    !deadline || !fdeadline || !rdeadline) {
		fprintf(stderr, "timers: out of memory\n");
		return 1;
	}

	core = epcore_new(0);
	if (core == NULL || epcore_start_epump(core, 1) != 1) {
		fprintf(stderr, "timers: cannot start an epump: %s\n",
		        strerror(errno));
		return 1;
	}

	/* On the epump thread: start, stop, fire. */
	if (run_on_epump(stage_start_stop, NULL, "start/stop") < 0 ||
	    run_on_epump(stage_fire, NULL, "fire") < 0)
		goto out;

	/* From this (foreign) thread: the message path. */
	if (run_on_epump(stage_mark, &ep_cpu_mark, "mark") < 0)
		goto out;
	f0 = bench_now();
	for (i = 0; i < n_foreign; i++) {
		fids[i] = iotimer_start(core, FOREIGN_DELAY_MS + fdeadline[i],
		                        0, NULL, on_never, NULL);
		if (fids[i] == 0)
			note_failure();
	}
	f1 = bench_now();
	for (i = 0; i < n_foreign; i++)
		if (fids[fperm[i]] != 0 &&
		    iotimer_stop(core, fids[fperm[i]]) < 0)
			note_failure();
	f2 = bench_now();
	if (run_on_epump(stage_mark, &ep_cpu_fence, "fence") < 0)
		goto out;
	if (stray > 0) {
		fprintf(stderr, "timers: %lu stopped timers fired\n",
		        (unsigned long)stray);
		goto out;
	}
	{
		struct bench_stamp f3 = bench_now();

		bench_row_set(&rows[4], "foreign-start", n_foreign, f0, f1);
		bench_row_set(&rows[5], "foreign-stop", n_foreign, f1, f2);
		bench_row_set(&rows[6], "foreign-e2e", n_foreign, f0, f3);
		/* CPU: the caller's own plus the epump's over the span. */
		rows[6].cpu_ns = (f2.cpu_ns - f0.cpu_ns) +
		                 (ep_cpu_fence - ep_cpu_mark);
	}

	bench_row_set(&rows[0], "start", n_timers, st_start0, st_start1);
	bench_row_set(&rows[1], "restart", n_timers, st_restart0, st_restart1);
	bench_row_set(&rows[2], "stop", n_timers, st_stop0, st_stop1);
	bench_row_set(&rows[3], "fire", n_timers, st_fire0, st_fire1);
	rows[1].note = "(iotimer_restart)";
	snprintf(firenote, sizeof(firenote),
	    "(from the last start: %.1f ms wall, %.1f ms cpu)",
	    (double)rows[3].wall_ns / 1e6, (double)rows[3].cpu_ns / 1e6);
	rows[3].note = firenote;
	rows[6].note = "(cpu: caller + epump thread)";

	printf("libepump %s (%s), 1 epump thread, 0 workers: n=%lu, "
	       "foreign n=%lu, deadlines 0..%d ms\n", epump_version(),
	       epcore_backend(core), n_timers, n_foreign, spread_ms);
	bench_print(rows, 7);
	rc = 0;
out:
	epcore_free(core);
	free(ids);
	free(sids);
	free(rids);
	free(fids);
	free(perm);
	free(fperm);
	free(rperm);
	free(deadline);
	free(fdeadline);
	free(rdeadline);
	return rc;
}
