/*
 * timers_libuv.c - a peer of tests/bench/timers.c: the same on-thread
 * phases with libuv's uv_timer_t on one uv_loop_t.  libuv keeps timers in
 * a binary min-heap linked through the handles themselves (no array).
 * Same command line, deadlines, orders and output format as timers.c and
 * timers_libev.c, so tests/bench/run-timers.sh can divide one by the
 * other.
 *
 *   timers_libuv [-n COUNT] [-s SPREAD_MS] [-R]
 *
 * Every handle is initialized once (uv_timer_init, untimed: it links the
 * handle into the loop's handle list, which a program does once per
 * handle, not per start).
 *
 *   start   COUNT uv_timer_start, deadlines uniform over 0..SPREAD ms,
 *           after one untimed warm-up start+stop pass.
 *   restart COUNT running timers re-armed with a new timeout, in the same
 *           random order and with the same new deadlines as timers.c:
 *           uv_timer_start on a running timer is libuv's restart (it
 *           stops the timer, then starts it).
 *   stop    COUNT uv_timer_stop in the same random order as timers.c (the
 *           handles' addresses laid out in that order beforehand).
 *   fire    COUNT timers started again (after uv_update_time, so the
 *           deadlines are 0..SPREAD ms ahead); the clocks run from the end
 *           of the last start until the COUNT-th callback, inside uv_run:
 *           loop iterations, the backend wait, taking expired timers off
 *           the heap, the callbacks (they only count).  Wall includes
 *           sleeping until the last deadline if the starts took less than
 *           SPREAD ms; CPU does not.
 *
 * The handles live in one array, started in address order; -R starts them
 * in a random address order (see timers_libev.c).
 */
#include <uv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bench.h"

static uv_loop_t loop;
static unsigned long n_timers = 1000000;
static int spread_ms = 100;
static uv_timer_t *tw;
static uv_timer_t **sw;         /* the handles in stop order */
static uv_timer_t **rw;         /* the handles in restart order */
static uint32_t *perm, *rperm, *place;
static int *deadline, *rdeadline;
static unsigned long fired;
static struct bench_stamp st_fire1;

static void on_timer(uv_timer_t *t)
{
	if (++fired == n_timers)
		st_fire1 = bench_now();
}

static void start_all(void)
{
	unsigned long i;

	for (i = 0; i < n_timers; i++)
		uv_timer_start(&tw[place[i]], on_timer,
		               (uint64_t)deadline[i], 0);
}

static void restart_all(void)
{
	unsigned long i;

	for (i = 0; i < n_timers; i++)
		uv_timer_start(rw[i], on_timer, (uint64_t)rdeadline[i], 0);
}

static void stop_all(void)
{
	unsigned long i;

	for (i = 0; i < n_timers; i++)
		uv_timer_stop(sw[i]);
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: timers_libuv [-n COUNT] [-s SPREAD_MS] [-R]\n"
	    "  -n COUNT        timers on the loop (default 1000000)\n"
	    "  -s SPREAD_MS    deadlines uniform over 0..SPREAD_MS (default 100)\n"
	    "  -R              start the handles in a random address order\n");
}

int main(int argc, char **argv)
{
	struct bench_row rows[4];
	struct bench_stamp a, b;
	char firenote[96];
	long v;
	unsigned long i;
	int opt, runs, scatter = 0;

	while ((opt = getopt(argc, argv, "n:f:s:Rh")) != -1) {
		switch (opt) {
		case 'n':
			v = bench_parse_count(optarg, BENCH_MAX_COUNT);
			if (v < 0) {
				fprintf(stderr, "timers_libuv: -n wants 1..%lu\n",
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
				fprintf(stderr, "timers_libuv: -s wants 0..3600000\n");
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
	if (tw == NULL || sw == NULL || rw == NULL || perm == NULL ||
	    rperm == NULL || place == NULL || deadline == NULL ||
	    rdeadline == NULL || uv_loop_init(&loop) != 0) {
		fprintf(stderr, "timers_libuv: out of memory or no loop\n");
		return 1;
	}
	for (i = 0; !scatter && i < n_timers; i++)
		place[i] = (uint32_t)i;
	for (i = 0; i < n_timers; i++) {
		sw[i] = &tw[place[perm[i]]];
		rw[i] = &tw[place[rperm[i]]];
		uv_timer_init(&loop, &tw[i]);
	}

	uv_update_time(&loop);
	start_all();                    /* warm-up */
	stop_all();
	a = bench_now();
	start_all();
	b = bench_now();
	bench_row_set(&rows[0], "start", n_timers, a, b);
	a = bench_now();
	restart_all();
	b = bench_now();
	bench_row_set(&rows[1], "restart", n_timers, a, b);
	rows[1].note = "(uv_timer_start on a running timer)";
	a = bench_now();
	stop_all();
	b = bench_now();
	bench_row_set(&rows[2], "stop", n_timers, a, b);

	uv_update_time(&loop);
	fired = 0;
	start_all();
	a = bench_now();
	/* Bounded: uv_run returns once no timer is active, i.e. after the
	 * last of the COUNT one-shot timers (<= SPREAD ms); the cap only
	 * guards against surprises. */
	for (runs = 0; fired < n_timers && runs < 1000000; runs++)
		if (!uv_run(&loop, UV_RUN_ONCE) && fired < n_timers)
			break;
	if (fired != n_timers) {
		fprintf(stderr, "timers_libuv: only %lu of %lu timers fired\n",
		        fired, n_timers);
		return 1;
	}
	bench_row_set(&rows[3], "fire", n_timers, a, st_fire1);
	snprintf(firenote, sizeof(firenote),
	    "(from the last start: %.1f ms wall, %.1f ms cpu)",
	    (double)rows[3].wall_ns / 1e6, (double)rows[3].cpu_ns / 1e6);
	rows[3].note = firenote;

	printf("libuv %s, one uv_loop_t: n=%lu, deadlines 0..%d ms%s\n",
	       uv_version_string(), n_timers, spread_ms,
	       scatter ? ", handles in random address order (-R)" : "");
	bench_print(rows, 4);

	for (i = 0; i < n_timers; i++)
		uv_close((uv_handle_t *)&tw[i], NULL);
	uv_run(&loop, UV_RUN_DEFAULT);  /* runs the closes, then returns */
	uv_loop_close(&loop);
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
