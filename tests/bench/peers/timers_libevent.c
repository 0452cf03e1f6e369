/*
 * timers_libevent.c - a peer of tests/bench/timers.c: the same on-thread
 * phases with libevent's timer events (evtimer_*) on one event_base.
 * libevent keeps timers in a binary min-heap of event pointers (the
 * deadline is read from the event itself).  Same command line, deadlines,
 * orders and output format as timers.c and timers_libev.c, so
 * tests/bench/run-timers.sh can divide one by the other.
 *
 *   timers_libevent [-n COUNT] [-s SPREAD_MS] [-R]
 *
 * The phases run inside a callback of the loop (a zero timeout given to
 * event_base_once), as libepump's run inside an epump handler: the loop's
 * cached time is then what evtimer_add reads, no clock call per add.
 *
 *   start   COUNT evtimer_assign + evtimer_add, deadlines uniform over
 *           0..SPREAD ms, after one untimed warm-up start+stop pass.
 *   restart COUNT running timers re-armed with a new timeout, in the same
 *           random order and with the same new deadlines as timers.c:
 *           evtimer_add on an event that is already added is libevent's
 *           restart (it moves the event within the heap).
 *   stop    COUNT evtimer_del in the same random order as timers.c (the
 *           events' addresses laid out in that order beforehand).
 *   fire    COUNT timers started again in a fresh callback; the clocks run
 *           from the end of the last start until the COUNT-th callback,
 *           inside event_base_loop: loop iterations, the backend wait,
 *           taking expired events off the heap, the callbacks (they only
 *           count).  Wall includes sleeping until the last deadline if the
 *           starts took less than SPREAD ms; CPU does not.
 *
 * The events live in one array, started in address order; -R starts them
 * in a random address order (see timers_libev.c).
 */
#include <event2/event.h>
#include <event2/event_struct.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "../bench.h"

static struct event_base *base;
static unsigned long n_timers = 1000000;
static int spread_ms = 100;
static struct event *tw;
static struct event **sw;       /* the events in stop order */
static struct event **rw;       /* the events in restart order */
static uint32_t *perm, *rperm, *place;
static int *deadline, *rdeadline;
static unsigned long fired;
static struct bench_stamp st_fire0, st_fire1;
static struct bench_row rows[4];

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	if (++fired == n_timers)
		st_fire1 = bench_now();
}

static struct timeval ms_tv(int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

static void start_all(void)
{
	unsigned long i;

	for (i = 0; i < n_timers; i++) {
		struct event *ev = &tw[place[i]];
		struct timeval tv = ms_tv(deadline[i]);

		evtimer_assign(ev, base, on_timer, NULL);
		evtimer_add(ev, &tv);
	}
}

static void restart_all(void)
{
	unsigned long i;

	for (i = 0; i < n_timers; i++) {
		struct timeval tv = ms_tv(rdeadline[i]);

		evtimer_add(rw[i], &tv);
	}
}

static void stop_all(void)
{
	unsigned long i;

	for (i = 0; i < n_timers; i++)
		evtimer_del(sw[i]);
}

/* In a loop callback: warm up, then start, restart, stop. */
static void stage_start_stop(evutil_socket_t fd, short what, void *arg)
{
	struct bench_stamp a, b;

	start_all();
	stop_all();
	a = bench_now();
	start_all();
	b = bench_now();
	bench_row_set(&rows[0], "start", n_timers, a, b);
	a = bench_now();
	restart_all();
	b = bench_now();
	bench_row_set(&rows[1], "restart", n_timers, a, b);
	rows[1].note = "(evtimer_add on an added event)";
	a = bench_now();
	stop_all();
	b = bench_now();
	bench_row_set(&rows[2], "stop", n_timers, a, b);
}

/* In a fresh loop callback: start them all; the loop fires them. */
static void stage_fire(evutil_socket_t fd, short what, void *arg)
{
	fired = 0;
	start_all();
	st_fire0 = bench_now();
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: timers_libevent [-n COUNT] [-s SPREAD_MS] [-R]\n"
	    "  -n COUNT        timers on the loop (default 1000000)\n"
	    "  -s SPREAD_MS    deadlines uniform over 0..SPREAD_MS (default 100)\n"
	    "  -R              start the events in a random address order\n");
}

int main(int argc, char **argv)
{
	struct timeval zero = { 0, 0 };
	char firenote[96];
	long v;
	unsigned long i;
	int opt, runs, scatter = 0;

	while ((opt = getopt(argc, argv, "n:f:s:Rh")) != -1) {
		switch (opt) {
		case 'n':
			v = bench_parse_count(optarg, BENCH_MAX_COUNT);
			if (v < 0) {
				fprintf(stderr, "timers_libevent: -n wants 1..%lu\n",
				        BENCH_MAX_COUNT);
				return 2;
			}
			n_timers = (unsigned long)v;
			break;
		case 'f':
			break; /* timers.c's foreign count: no such phase here */
		case 's':
			v = bench_parse_count(optarg, 3600000);
			if (v < 0 && strcmp(optarg, "0") != 0) {
				fprintf(stderr,
				        "timers_libevent: -s wants 0..3600000\n");
				return 2;
			}
			spread_ms = v < 0 ? 0 : (int)v;
			break;
		case 'R':
			scatter = 1;
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

	/* The same seeds as timers.c: the same deadlines and orders. */
	tw = calloc(n_timers, sizeof(*tw));
	sw = calloc(n_timers, sizeof(*sw));
	rw = calloc(n_timers, sizeof(*rw));
	perm = bench_perm(n_timers, 1);
	rperm = bench_perm(n_timers, 6);
	place = bench_perm(n_timers, scatter ? 5 : 0);
	deadline = bench_deadlines(n_timers, spread_ms, 3);
	rdeadline = bench_deadlines(n_timers, spread_ms, 7);
	base = event_base_new();
	if (tw == NULL || sw == NULL || rw == NULL || perm == NULL ||
	    rperm == NULL || place == NULL || deadline == NULL ||
	    rdeadline == NULL || base == NULL) {
		fprintf(stderr, "timers_libevent: out of memory or no base\n");
		return 1;
	}
	for (i = 0; !scatter && i < n_timers; i++)
		place[i] = (uint32_t)i;
	for (i = 0; i < n_timers; i++) {
		sw[i] = &tw[place[perm[i]]];
		rw[i] = &tw[place[rperm[i]]];
	}

	if (event_base_once(base, -1, EV_TIMEOUT, stage_start_stop, NULL,
	                    &zero) < 0 ||
	    event_base_loop(base, 0) < 0) {
		fprintf(stderr, "timers_libevent: start/stop stage failed\n");
		return 1;
	}
	if (event_base_once(base, -1, EV_TIMEOUT, stage_fire, NULL,
	                    &zero) < 0) {
		fprintf(stderr, "timers_libevent: fire stage failed\n");
		return 1;
	}
	/* Bounded: the loop returns once no event is pending, i.e. after the
	 * last of the COUNT one-shot timers (<= SPREAD ms); the cap only
	 * guards against surprises. */
	for (runs = 0; runs == 0 || (fired < n_timers && runs < 1000000);
	     runs++)
		if (event_base_loop(base, EVLOOP_ONCE) != 0 && fired < n_timers)
			break;
	if (fired != n_timers) {
		fprintf(stderr, "timers_libevent: only %lu of %lu timers fired\n",
		        fired, n_timers);
		return 1;
	}
	bench_row_set(&rows[3], "fire", n_timers, st_fire0, st_fire1);
	snprintf(firenote, sizeof(firenote),
	    "(from the last start: %.1f ms wall, %.1f ms cpu)",
	    (double)rows[3].wall_ns / 1e6, (double)rows[3].cpu_ns / 1e6);
	rows[3].note = firenote;

	printf("libevent %s (%s), one event_base: n=%lu, deadlines 0..%d ms%s\n",
	       event_get_version(), event_base_get_method(base), n_timers,
	       spread_ms,
	       scatter ? ", events in random address order (-R)" : "");
	bench_print(rows, 4);
	event_base_free(base);
	free(tw);
	free(sw);
	free(rw);
	free(perm);
	free(rperm);
	free(place);
	free(deadline);
	free(rdeadline);
	return 0;
}
