/*
 * timers_libev.c - the peer of tests/bench/timers.c: the same on-thread
 * phases with libev's ev_timer on one ev_loop (libev keeps timers in a
 * 4-ary heap with the deadline cached in each 16-byte entry, as libepump
 * does).  Same command line, deadlines, stop order and output format, so
 * tests/bench/run-timers.sh can divide one by the other.
 *
 *   timers_libev [-n COUNT] [-s SPREAD_MS] [-R]
 *
 *   start  COUNT ev_timer_init + ev_timer_start, deadlines uniform over
 *          0..SPREAD ms, after one untimed warm-up start+stop pass.
 *   restart COUNT running timers re-armed with a new timeout, in the
 *          same random order and with the same new deadlines as timers.c:
 *          libev's own restart, w->repeat = timeout + ev_timer_again, which
 *          moves the watcher within the heap (no stop + start; a timeout
 *          of 0 becomes 1 ns, as ev_timer_again stops a watcher whose
 *          repeat is 0).  With -S: ev_timer_stop + ev_timer_set +
 *          ev_timer_start instead.
 *   stop   COUNT ev_timer_stop in the same random order as timers.c
 *          (their addresses laid out in that order beforehand, untimed,
 *          as timers.c lays out its ids).
 *   fire   COUNT timers started again (after ev_now_update, so the
 *          deadlines are 0..SPREAD ms ahead); the clocks run from the end
 *          of the last start until the COUNT-th callback, inside ev_run:
 *          loop iterations, the backend wait, moving expired timers to
 *          the pending list, and the callback calls (they only count).
 *          The wall figure includes sleeping until the last deadline if
 *          the starts took less than SPREAD ms; the CPU figure does not.
 *
 * libev has no thread-safe start/stop, so there is no foreign phase here.
 *
 * The watchers live in one array, started in address order: the best case
 * for the cache, and the usual one (a watcher sits in its connection's
 * struct, hot when its timer starts).  -R starts them in a random address
 * order instead, the way libepump's slab hands out timer objects after
 * many were freed in a random order: it shows how much of a gap in
 * "start" is memory placement rather than code.
 */
#include <ev.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bench.h"

static struct ev_loop *loop;
static unsigned long n_timers = 1000000;
static int spread_ms = 100;
static ev_timer *tw;
static ev_timer **sw;           /* the watchers in stop order */
static ev_timer **rw;           /* the watchers in restart order */
static int *rdeadline;          /* their new timeouts */
static int stop_start;          /* -S: restart = stop + set + start */
static uint32_t *perm, *place;  /* stop order; watcher i is tw[place[i]] */
static int *deadline;
static unsigned long fired;
static struct bench_stamp st_fire1;

static void on_timer(struct ev_loop *l, ev_timer *w, int revents)
{
	if (++fired == n_timers)
		st_fire1 = bench_now();
}

static void start_all(void)
{
	unsigned long i;

	for (i = 0; i < n_timers; i++) {
		ev_timer *w = &tw[place[i]];

		ev_timer_init(w, on_timer, deadline[i] / 1000.0, 0.);
		ev_timer_start(loop, w);
	}
}

static void restart_all(void)
{
	unsigned long i;

	if (stop_start) {
		for (i = 0; i < n_timers; i++) {
			ev_timer *w = rw[i];

			ev_timer_stop(loop, w);
			ev_timer_set(w, rdeadline[i] / 1000.0, 0.);
			ev_timer_start(loop, w);
		}
		return;
	}
	for (i = 0; i < n_timers; i++) {
		ev_timer *w = rw[i];

		w->repeat = rdeadline[i] ? rdeadline[i] / 1000.0 : 1e-9;
		ev_timer_again(loop, w);
	}
}

static void stop_all(void)
{
	unsigned long i;

	for (i = 0; i < n_timers; i++)
		ev_timer_stop(loop, sw[i]);
}

static const char *backend_name(unsigned int b)
{
	switch (b) {
	case EVBACKEND_SELECT: return "select";
	case EVBACKEND_POLL: return "poll";
	case EVBACKEND_EPOLL: return "epoll";
	case EVBACKEND_KQUEUE: return "kqueue";
	case EVBACKEND_DEVPOLL: return "devpoll";
	case EVBACKEND_PORT: return "port";
	default: return "other";
	}
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: timers_libev [-n COUNT] [-s SPREAD_MS] [-R] [-S]\n"
	    "  -n COUNT        timers on the loop (default 1000000)\n"
	    "  -s SPREAD_MS    deadlines uniform over 0..SPREAD_MS (default 100)\n"
	    "  -R              start the watchers in a random address order\n"
	    "  -S              restart = ev_timer_stop + ev_timer_set +\n"
	    "                  ev_timer_start (default: ev_timer_again)\n");
}

int main(int argc, char **argv)
{
	struct bench_row rows[4];
	uint32_t *rperm;
	struct bench_stamp a, b, c;
	char firenote[96];
	long v;
	unsigned long i;
	int opt, runs, scatter = 0;

	while ((opt = getopt(argc, argv, "n:f:s:RSh")) != -1) {
		switch (opt) {
		case 'n':
			v = bench_parse_count(optarg, BENCH_MAX_COUNT);
			if (v < 0) {
				fprintf(stderr, "timers_libev: -n wants 1..%lu\n",
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
				fprintf(stderr, "timers_libev: -s wants 0..3600000\n");
				return 2;
			}
			spread_ms = v < 0 ? 0 : (int)v;
			break;
		case 'R':
			scatter = 1;
			break;
		case 'S':
			stop_start = 1;
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

	/* The same seeds as timers.c: the same deadlines and stop order. */
	tw = calloc(n_timers, sizeof(*tw));
	sw = calloc(n_timers, sizeof(*sw));
	rw = calloc(n_timers, sizeof(*rw));
	perm = bench_perm(n_timers, 1);
	rperm = bench_perm(n_timers, 6);
	rdeadline = bench_deadlines(n_timers, spread_ms, 7);
	place = bench_perm(n_timers, scatter ? 5 : 0);
	deadline = bench_deadlines(n_timers, spread_ms, 3);
	loop = ev_loop_new(EVFLAG_AUTO);
	if (tw == NULL || sw == NULL || rw == NULL || perm == NULL ||
	    rperm == NULL || rdeadline == NULL || place == NULL ||
	    deadline == NULL || loop == NULL) {
		fprintf(stderr, "timers_libev: out of memory or no loop\n");
		return 1;
	}
	for (i = 0; !scatter && i < n_timers; i++)
		place[i] = (uint32_t)i;
	for (i = 0; i < n_timers; i++) {
		sw[i] = &tw[place[perm[i]]];
		rw[i] = &tw[place[rperm[i]]];
	}

	ev_now_update(loop);
	start_all();                    /* warm-up: grow the heap array */
	stop_all();
	a = bench_now();
	start_all();
	b = bench_now();
	restart_all();
	c = bench_now();
	bench_row_set(&rows[0], "start", n_timers, a, b);
	bench_row_set(&rows[1], "restart", n_timers, b, c);
	rows[1].note = stop_start ? "(ev_timer_stop + ev_timer_set + "
	    "ev_timer_start)" : "(ev_timer_again)";
	b = bench_now();
	stop_all();
	c = bench_now();
	bench_row_set(&rows[2], "stop", n_timers, b, c);

	ev_now_update(loop);
	fired = 0;
	start_all();
	a = bench_now();
	/* Bounded: ev_run returns once no watcher is active, i.e. after the
	 * last of the COUNT one-shot timers (<= SPREAD ms); the iteration
	 * cap only guards against surprises. */
	for (runs = 0; fired < n_timers && runs < 1000000; runs++)
		if (!ev_run(loop, EVRUN_ONCE) && fired < n_timers)
			break;
	if (fired != n_timers) {
		fprintf(stderr, "timers_libev: only %lu of %lu timers fired\n",
		        fired, n_timers);
		return 1;
	}
	bench_row_set(&rows[3], "fire", n_timers, a, st_fire1);
	snprintf(firenote, sizeof(firenote),
	    "(from the last start: %.1f ms wall, %.1f ms cpu)",
	    (double)rows[3].wall_ns / 1e6, (double)rows[3].cpu_ns / 1e6);
	rows[3].note = firenote;

	printf("libev %d.%d (%s), one ev_loop: n=%lu, deadlines 0..%d ms%s\n",
	       ev_version_major(), ev_version_minor(),
	       backend_name(ev_backend(loop)), n_timers, spread_ms,
	       scatter ? ", watchers in random address order (-R)" : "");
	bench_print(rows, 4);
	ev_loop_destroy(loop);
	free(tw);
	free(sw);
	free(rw);
	free(perm);
	free(rperm);
	free(rdeadline);
	free(place);
	free(deadline);
	return 0;
}
